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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/app_backend.h"
#include "store/store.h"
#include "util/assert.h"
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

/* ---- Helpers both files use; defined in sqlite.c (or inline here for the hot binders). ---- */

/* Logs a driver error with the "store.sqlite:" prefix (the SQL error text is fine in logs)
 * and maps it: TL_ERR_CORRUPT for a corrupt or non-database file, else TL_ERR_STORAGE. db may
 * be NULL. rc must not be SQLITE_OK. */
enum tl_err store_sqlite_fail(sqlite3 *db, int rc, const char *what);
/* Logs a stored row that does not decode (the database holds something we never write);
 * always TL_ERR_CORRUPT. */
enum tl_err store_sqlite_corrupt(const char *what);

/* A decoder of one result row into *row; false when a stored value is not one we wrote. */
typedef bool (*store_sqlite_decode_fn)(sqlite3_stmt *stmt, void *row);

/*
 * Steps a statement whose parameters are bound and which returns at most one row, decodes it
 * into row, and resets the statement. *found says whether row was filled; it is set only on
 * TL_OK. Errors are logged under what: TL_ERR_CORRUPT (a row that does not decode) or the
 * mapped driver error.
 */
enum tl_err store_sqlite_step_one(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                                  store_sqlite_decode_fn decode, void *row, bool *found);

/*
 * Reads one page of a keyset-paged statement whose parameters are ?1 an id (16 bytes), ?2 the
 * cursor time and ?3 the row limit: binds them, reads page->limit + 1 rows of item_bytes each
 * into out (the extra row only says *has_more), and resets the statement. The statement walks
 * in the direction of travel: a newer page (page->ending_before_ts != 0) reads oldest first and
 * is reversed, so every page is newest first. out holds page->limit items. Errors as in
 * store_sqlite_step_one; *out_count and *has_more are set only on TL_OK.
 */
enum tl_err store_sqlite_page_read(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                                   struct id128 id, const struct store_page *page,
                                   store_sqlite_decode_fn decode, void *out, size_t item_bytes,
                                   uint32_t *out_count, bool *has_more);

/* Reverses items[0..count) of item_bytes each in place. Cannot fail. */
void store_sqlite_reverse(void *items, uint32_t count, size_t item_bytes);

/* Runs a statement that returns no rows and resets it; the SQLite result code. */
static inline int store_sqlite_run(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        rc = SQLITE_MISUSE; /* our statements that reach here never return rows */
    }
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(stmt);
    return rc;
}

/* Binding: every bind failure is our bug (wrong index or over SQLite's limits). */
static inline void store_sqlite_bind_i64(sqlite3_stmt *stmt, int index, int64_t value)
{
    int rc = sqlite3_bind_int64(stmt, index, value);
    TL_ASSERT(rc == SQLITE_OK);
}

static inline void store_sqlite_bind_u64(sqlite3_stmt *stmt, int index, uint64_t value)
{
    TL_ASSERT(value <= (uint64_t)INT64_MAX);
    store_sqlite_bind_i64(stmt, index, (int64_t)value);
}

/* Decoding: false when a stored value is not one we could have written. An id is a 16-byte
 * blob (zero allowed here). */
static inline bool store_sqlite_col_id(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_BLOB) {
        return false;
    }
    if (sqlite3_column_bytes(stmt, index) != ID128_BYTES) {
        return false;
    }
    *out = id128_from_bytes(sqlite3_column_blob(stmt, index));
    return true;
}

/* An integer column. */
static inline bool store_sqlite_col_i64(sqlite3_stmt *stmt, int index, int64_t *out)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_INTEGER) {
        return false;
    }
    *out = sqlite3_column_int64(stmt, index);
    return true;
}

#endif
