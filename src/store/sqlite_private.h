/*
 * sqlite_private.h - what sqlite.c and sqlite_app.c share; private to the SQLite backend.
 *
 * sqlite.c owns the handle and its connection; sqlite_app.c owns the application rows' state
 * for that connection (its prepared statements), made at open and freed at close. Nothing
 * outside these two files includes this header.
 */
#ifndef TL_STORE_SQLITE_PRIVATE_H
#define TL_STORE_SQLITE_PRIVATE_H

#include <sqlite3.h>

#include "store/app_backend.h"
#include "store/store.h"
#include "util/err.h"

/* Per-handle state of sqlite_app.c. */
struct store_sqlite_app;

/* sqlite.c: the app state of an SQLite handle (store->ops must be store_sqlite_ops). Cannot
 * fail. */
struct store_sqlite_app *store_sqlite_app_of(struct store *store);

/* sqlite_app.c: prepares the app statements on db, which must be at the current schema
 * version. TL_ERR_STORAGE (logged) or TL_ERR_NOMEM; *out is set only on TL_OK. db is borrowed
 * and must outlive the state. */
enum tl_err store_sqlite_app_open(sqlite3 *db, struct store_sqlite_app **out);
/* Finalizes the statements and frees the state; takes NULL. Cannot fail. */
void store_sqlite_app_close(struct store_sqlite_app *app);

extern const struct store_app_ops store_sqlite_app_ops;

#endif
