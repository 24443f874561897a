/*
 * backend.h - what a storage backend implements; private to src/store/.
 *
 * store.c is the only caller of these functions. It checks arguments, keeps the batch state
 * (begin, commit, abort) and walks a commit through fixed phases; a backend only talks to its
 * database. A backend embeds struct store as its first member and fills a struct store_ops
 * with its functions. A backend never includes api or json headers and never returns driver
 * text to callers: driver errors go to stderr with the backend's prefix.
 *
 * Adding a backend: a .c file with one const struct store_ops, a row in store.c's backend
 * table, and its migrations under migrations/ with the same version numbers (postgres.c is the
 * second one).
 */
#ifndef TL_STORE_BACKEND_H
#define TL_STORE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct store_app_ops; /* app_backend.h: the application rows of app.h */
struct sqlite3;

/*
 * The schema version this binary writes and reads. Version N means migrations 1..N applied,
 * and it names the same tables, columns and meaning on every backend; each backend ships
 * exactly STORE_SCHEMA_VERSION migrations. What only serves lookups is each backend's own:
 * indexes, and what SQLite keeps instead of per-user indexes (schema v7: the audit links and
 * audit_heads; v9: payment_pairs, derived from payments), where PostgreSQL keeps indexes
 * (v10: limit_totals by end, which SQLite does not need).
 */
#define STORE_SCHEMA_VERSION 10u

/*
 * Every function that returns enum tl_err returns TL_OK, TL_ERR_STORAGE (the database refused
 * or failed; the cause is logged) or TL_ERR_CORRUPT (stored data fails an integrity check),
 * plus TL_ERR_NOMEM where it allocates. Arguments were checked by store.c; outputs are filled
 * only on TL_OK.
 *
 * The commit phases (accounts_write .. commit) run in this order inside the transaction
 * opened by batch_begin, each exactly once per commit (with count 0 when there is nothing to
 * write), so a backend may carry state from one phase to the next within a commit. When one
 * fails, store.c calls abort, which must leave no transaction open and must tolerate being
 * called with none open.
 */
struct store_ops {
    const char *name;
    enum tl_err (*open)(const struct store_config *config, struct store **out);
    void (*close)(struct store *store);
    enum tl_err (*schema_version)(struct store *store, uint32_t *out_version);
    bool (*exclusive)(const struct store *store);
    enum tl_err (*ping)(struct store *store);

    enum tl_err (*accounts_scan)(struct store *store,
                                 enum tl_err (*fn)(void *ctx, const struct ledger_account *a),
                                 void *ctx);
    enum tl_err (*timestamp_last)(struct store *store, uint64_t *out);

    enum tl_err (*batch_begin)(struct store *store);
    enum tl_err (*accounts_get)(struct store *store, const struct id128 *ids, uint32_t count,
                                struct ledger_account *out, bool *found);
    enum tl_err (*transfers_get)(struct store *store, const struct id128 *ids, uint32_t count,
                                 struct ledger_transfer *out, enum ledger_pending_status *status,
                                 bool *found);
    enum tl_err (*pending_expired)(struct store *store, uint64_t now_ns, uint32_t limit,
                                   struct ledger_transfer *out, uint32_t *out_count);

    /* Commit phases, in order. */
    enum tl_err (*accounts_write)(struct store *store, const struct ledger_account *const *accounts,
                                  uint32_t count);
    enum tl_err (*postings_write)(struct store *store, const struct ledger_posting *postings,
                                  uint32_t count);
    enum tl_err (*pending_write)(struct store *store, const struct ledger_pending_update *updates,
                                 uint32_t count);
    enum tl_err (*records_write)(struct store *store, const struct store_record *records,
                                 uint32_t count);
    enum tl_err (*commit)(struct store *store);
    void (*abort)(struct store *store);

    enum tl_err (*account_get)(struct store *store, struct id128 id, struct ledger_account *out,
                               bool *found);
    enum tl_err (*transfer_get)(struct store *store, struct id128 id, struct ledger_posting *out,
                                bool *found);
    /* page was checked: limit in 1..TL_PAGE_LIMIT_MAX, at most one cursor set. */
    enum tl_err (*history)(struct store *store, struct id128 account_id,
                           const struct store_page *page, struct ledger_posting *out,
                           uint32_t *out_count, bool *has_more);
    enum tl_err (*outbox_list)(struct store *store, uint64_t after_seq, uint32_t limit,
                               struct store_outbox_row *out, uint32_t *out_count);

    /* The application rows of app.h (app_backend.h); NULL while a backend has none. */
    const struct store_app_ops *app;
};

/* The head of every backend's handle. store.c owns the fields after ops. */
struct store {
    const struct store_ops *ops;
    bool read_only;
    bool in_batch; /* between a successful batch_begin and commit or abort */
};

/* Fills the head of a handle the backend just allocated. Cannot fail. */
void store_init(struct store *store, const struct store_ops *ops, bool read_only);

/* One migration: the SQL that takes a database from version - 1 to version. */
struct store_migration {
    uint32_t version;
    const char *name; /* the file it came from, for logs */
    const char *sql;
};

/* Generated at build time from migrations/sqlite_NNN_*.sql (see migrations/embed_sql.py). */
extern const struct store_migration store_sqlite_migrations[];
extern const uint32_t store_sqlite_migration_count;
/* Likewise from migrations/postgres_NNN_*.sql. */
extern const struct store_migration store_postgres_migrations[];
extern const uint32_t store_postgres_migration_count;

/* The SQLite connection behind a handle of the sqlite backend, for code in src/store that
 * adds tables to the same database and transaction (the application rows). Cannot fail. */
struct sqlite3 *store_sqlite_db(struct store *store);

/* Backends store.c knows by name. */
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_postgres_ops;
extern const struct store_ops store_fault_ops;

#endif
