/*
 * sqlite.c - the embedded backend: one SQLite database file in WAL mode.
 *
 * One handle is one connection, used by one thread at a time. The writer's handle applies
 * migrations and keeps a large page cache; reader handles open the same file query_only and
 * see only committed data. Every statement is prepared once at open and kept for the handle's
 * life. Durability: journal_mode=WAL with synchronous=FULL fsyncs the WAL before COMMIT
 * returns. Driver errors are logged here with the "store.sqlite:" prefix and never returned.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/audit_backend.h"
#include "store/backend.h"
#include "store/sqlite_private.h"
#include "util/assert.h"
#include "util/limits.h"

/*
 * Physical settings. Page size is a trade between two workloads we measured: a batch of 8190
 * random transfers dirties thousands of pages, and there 16 KiB pages wrote fewer WAL frames;
 * but the API's batches are small (tens of payments), each dirties a few dozen pages whatever
 * their size, and there 4 KiB pages write a quarter of the bytes and doubled HTTP payment
 * throughput (docs/performance.md). The API is the workload that matters. Commits never
 * checkpoint (wal_autocheckpoint = 0): the checkpointer thread of sqlite_shared.c copies the
 * WAL back beside them. Readers rely on mmap and a small cache.
 *
 * The writer's cache is small on purpose: clean pages of the file come through mmap, so it holds
 * the pages batches wrote (the hot accounts and the right edges of the indexes). SQLite 3.40's
 * page cache scans its whole hash table (every cached page header) at COMMIT whenever the cache
 * holds a page numbered past the end of the database, and a b-tree split does exactly that: it
 * swaps two page numbers through a spare one, the page after the 1 GiB locking page (262145
 * with 4 KiB pages). So below 1 GiB, every batch that split a page paid one pass over the cache
 * at COMMIT: with 512 MiB of cache, 22% of the writer's time in a long run of payments with an
 * Idempotency-Key. 16 MiB keeps that pass short and still holds a full batch of 8190 transfers'
 * pages (docs/performance.md, session 7).
 */
#define SQLITE_PAGE_BYTES 4096
#define SQLITE_BUSY_TIMEOUT_MS 5000
#define SQLITE_WRITER_CACHE_KIB (16 * 1024)
#define SQLITE_READER_CACHE_KIB (32 * 1024)
#define SQLITE_MMAP_BYTES (1024ll * 1024 * 1024)
#define SQLITE_JOURNAL_SIZE_LIMIT_BYTES (256ll * 1024 * 1024)

#define NS_PER_S 1000000000ll
/* Transfers per multi-row INSERT statement (postings_write). */
#define SQLITE_POSTING_ROWS 32

/* Column lists shared by the statements and the row decoders below; change them together. */
#define ACCOUNT_COLUMNS STORE_SQLITE_ACCOUNT_COLUMNS
enum account_column {
    ACOL_ID,
    ACOL_USER_DATA,
    ACOL_DEBITS_PENDING,
    ACOL_DEBITS_POSTED,
    ACOL_CREDITS_PENDING,
    ACOL_CREDITS_POSTED,
    ACOL_TIMESTAMP,
    ACOL_CURRENCY,
    ACOL_KIND,
    ACOL_FLAGS,
    ACOL_POSTING_LAST,
    ACOL_COUNT
};

/*
 * Transfers are written with the accounts' integer keys (accounts.timestamp) and read back
 * with the accounts' ids joined in, at the same column positions. A LEFT JOIN so that a
 * transfer whose account row is missing reads as corrupt instead of vanishing.
 */
#define TRANSFER_INSERT_COLUMNS                                                                    \
    "timestamp, id, debit_account_ts, credit_account_ts, pending_id, user_ref, amount, "           \
    "timeout_s, currency, code, flags, pending_status, debit_debits_pending, "                     \
    "debit_debits_posted, debit_credits_pending, debit_credits_posted, credit_debits_pending, "    \
    "credit_debits_posted, credit_credits_pending, credit_credits_posted, debit_prev, credit_prev"
#define TRANSFER_SELECT                                                                            \
    "SELECT t.timestamp, t.id, d.id, c.id, t.pending_id, t.user_ref, t.amount, t.timeout_s, "      \
    "t.currency, t.code, t.flags, t.pending_status, t.debit_debits_pending, "                      \
    "t.debit_debits_posted, t.debit_credits_pending, t.debit_credits_posted, "                     \
    "t.credit_debits_pending, t.credit_debits_posted, t.credit_credits_pending, "                  \
    "t.credit_credits_posted, t.debit_prev, t.credit_prev FROM transfers t "                                                    \
    "LEFT JOIN accounts d ON d.timestamp = t.debit_account_ts "                                    \
    "LEFT JOIN accounts c ON c.timestamp = t.credit_account_ts "
enum transfer_column {
    TCOL_TIMESTAMP,
    TCOL_ID,
    TCOL_DEBIT_ACCOUNT, /* written: accounts.timestamp; read: accounts.id */
    TCOL_CREDIT_ACCOUNT,
    TCOL_PENDING_ID,
    TCOL_USER_REF,
    TCOL_AMOUNT,
    TCOL_TIMEOUT_S,
    TCOL_CURRENCY,
    TCOL_CODE,
    TCOL_FLAGS,
    TCOL_PENDING_STATUS,
    TCOL_DEBIT_AFTER, /* 4 columns: debits_pending, debits_posted, credits_pending, _posted */
    TCOL_CREDIT_AFTER = TCOL_DEBIT_AFTER + 4,
    TCOL_DEBIT_PREV = TCOL_CREDIT_AFTER + 4,
    TCOL_CREDIT_PREV,
    TCOL_COUNT
};

#define EXPIRES_AT "t.timestamp + t.timeout_s * 1000000000" /* as in transfers_open_expiry */

/* Every statement the backend runs, prepared at open. Parameters are numbered. */
#define SQLITE_STMT_TABLE(X)                                                                       \
    X(STMT_BEGIN, "BEGIN IMMEDIATE")                                                               \
    X(STMT_COMMIT, "COMMIT")                                                                       \
    X(STMT_ROLLBACK, "ROLLBACK")                                                                   \
    X(STMT_USER_VERSION, "PRAGMA user_version")                                                    \
    X(STMT_TIMESTAMP_LAST, "SELECT max(coalesce((SELECT max(timestamp) FROM transfers), 0), "      \
                           "coalesce((SELECT max(timestamp) FROM accounts), 0))")                  \
    X(STMT_ACCOUNT_GET, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?1")                  \
    X(STMT_ACCOUNTS_SCAN, "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY id")                  \
    X(STMT_ACCOUNT_FLUSH, STORE_SQLITE_ACCOUNT_FLUSH_SQL)                                          \
    X(STMT_META_SET, STORE_SQLITE_META_SET_SQL)                                                    \
    X(STMT_ACCOUNT_INSERT, "INSERT INTO accounts (" ACCOUNT_COLUMNS ") VALUES "                    \
                           "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")                       \
    X(STMT_ACCOUNT_TAIL,                                                                           \
      "SELECT timestamp, debit_account_ts = ?1, debit_debits_pending, debit_debits_posted, "       \
      "debit_credits_pending, debit_credits_posted, credit_debits_pending, "                       \
      "credit_debits_posted, credit_credits_pending, credit_credits_posted FROM transfers "        \
      "WHERE timestamp > (SELECT value FROM store_meta WHERE name = 'replay_after') AND "          \
      "(debit_account_ts = ?1 OR credit_account_ts = ?1) ORDER BY timestamp DESC LIMIT 1")         \
    X(STMT_TRANSFER_INSERT, "INSERT INTO transfers (" TRANSFER_INSERT_COLUMNS ") VALUES (?1, "     \
                            "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "       \
                            "?16, ?17, ?18, ?19, ?20, ?21, ?22)")                                  \
    X(STMT_TRANSFER_GET, TRANSFER_SELECT "WHERE t.id = ?1")                                        \
    X(STMT_TRANSFER_AT, TRANSFER_SELECT "WHERE t.timestamp = ?1")                                  \
    X(STMT_PENDING_UPDATE, "UPDATE transfers SET pending_status = ?2 WHERE id = ?1 AND "           \
                           "pending_status IN (1, ?2)")                                            \
    X(STMT_PENDING_EXPIRED,                                                                        \
      TRANSFER_SELECT "WHERE t.pending_status = 1 AND t.timeout_s > 0 "                            \
                      "AND " EXPIRES_AT " <= ?1 ORDER BY " EXPIRES_AT ", t.timestamp LIMIT ?2")    \
    X(STMT_OUTBOX_INSERT, "INSERT INTO outbox (key, topic, data, created) "                        \
                          "VALUES (?1, ?2, ?3, ?4)")                                               \
    X(STMT_OUTBOX_LIST, "SELECT seq, key, topic, data FROM outbox WHERE seq > ?1 "                 \
                        "ORDER BY seq LIMIT ?2")

enum sqlite_stmt {
#define SQLITE_STMT_ENUM(id, sql) id,
    SQLITE_STMT_TABLE(SQLITE_STMT_ENUM)
#undef SQLITE_STMT_ENUM
        STMT_COUNT
};

static const char *const sqlite_stmt_sql[STMT_COUNT] = {
#define SQLITE_STMT_SQL(id, sql) sql,
    SQLITE_STMT_TABLE(SQLITE_STMT_SQL)
#undef SQLITE_STMT_SQL
};

/* For logs: "STMT_TRANSFER_GET". */
static const char *const sqlite_stmt_name[STMT_COUNT] = {
#define SQLITE_STMT_NAME(id, sql) #id,
    SQLITE_STMT_TABLE(SQLITE_STMT_NAME)
#undef SQLITE_STMT_NAME
};

/* One slot of the commit's account-key table: a batch account's id and accounts.timestamp. */
struct account_slot {
    struct id128 id;
    uint64_t timestamp; /* 0 = empty (the ledger never assigns 0) */
};

struct store_sqlite {
    struct store base; /* first: the handle callers hold */
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT];
    sqlite3_stmt *posting_rows; /* INSERT of SQLITE_POSTING_ROWS transfers */
    /* Commit scratch, grown on demand and kept for the handle's life: the batch's accounts
     * sorted by key, and a table from their ids to keys for the postings that follow. */
    const struct ledger_account **accounts_sorted;
    uint32_t accounts_sorted_max;
    struct account_slot *slots;
    uint32_t slot_count; /* a power of two, at least twice the batch's accounts; 0 = none */
    bool slots_valid;    /* filled by accounts_write of the open batch */
    struct store_sqlite_app *app; /* the application rows' statements (sqlite_app.c) */
    sqlite3_stmt **stepup_stmts; /* sqlite_stepup.c's, prepared on first use */
    struct store_sqlite_file file; /* which database, to find its shared state */
    struct sqlite_shared *shared;  /* writable handles: the process's state of the file */
    struct store_sqlite_batch batch;
    bool batch_locked; /* between shared_begin and publish or end */
};

static struct store_sqlite *sqlite_from(struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops == &store_sqlite_ops);
    return (struct store_sqlite *)store;
}

/* ---- Errors ---- */

static enum tl_err sqlite_err_map(int rc)
{
    int primary = rc & 0xff;
    TL_ASSERT(primary != SQLITE_OK);
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
        return TL_ERR_CORRUPT;
    }
    return TL_ERR_STORAGE;
}

enum tl_err store_sqlite_fail(sqlite3 *db, int rc, const char *what)
{
    fprintf(stderr, "store.sqlite: %s: %s (%d)\n", what, db ? sqlite3_errmsg(db) : "no handle", rc);
    return sqlite_err_map(rc);
}

enum tl_err store_sqlite_corrupt(const char *what)
{
    fprintf(stderr, "store.sqlite: %s: stored row fails integrity check\n", what);
    return TL_ERR_CORRUPT;
}

/* ---- Binding: every bind failure is our bug (wrong index or a blob over SQLite's limit). */

/* bytes must stay valid until the statement is reset (SQLITE_STATIC: no copy). */
static void bind_id(sqlite3_stmt *stmt, int index, const uint8_t bytes[ID128_BYTES])
{
    int rc = sqlite3_bind_blob(stmt, index, bytes, ID128_BYTES, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

/* Zero ids of optional references are stored as NULL. */
static void bind_id_optional(sqlite3_stmt *stmt, int index, struct id128 id,
                             uint8_t bytes[ID128_BYTES])
{
    int rc;
    if (id128_is_zero(id)) {
        rc = sqlite3_bind_null(stmt, index);
        TL_ASSERT(rc == SQLITE_OK);
        return;
    }
    id128_to_bytes(id, bytes);
    bind_id(stmt, index, bytes);
}

/* ---- Decoding: false when a stored value is not one we could have written. ---- */

static bool col_id_optional(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    if (sqlite3_column_type(stmt, index) == SQLITE_NULL) {
        *out = id128_make(0, 0);
        return true;
    }
    return store_sqlite_col_id(stmt, index, out);
}

/* An integer in 0..max. */
static bool col_uint(sqlite3_stmt *stmt, int index, uint64_t max, uint64_t *out)
{
    int64_t value;
    if (!store_sqlite_col_i64(stmt, index, &value)) {
        return false;
    }
    if (value < 0 || (uint64_t)value > max) {
        return false;
    }
    *out = (uint64_t)value;
    return true;
}

static bool col_u16(sqlite3_stmt *stmt, int index, uint16_t *out)
{
    uint64_t value;
    if (!col_uint(stmt, index, UINT16_MAX, &value)) {
        return false;
    }
    *out = (uint16_t)value;
    return true;
}

static bool col_u32(sqlite3_stmt *stmt, int index, uint32_t *out)
{
    uint64_t value;
    if (!col_uint(stmt, index, UINT32_MAX, &value)) {
        return false;
    }
    *out = (uint32_t)value;
    return true;
}

static bool col_balance(sqlite3_stmt *stmt, int first, struct ledger_balance *out)
{
    bool ok = store_sqlite_col_i64(stmt, first, &out->debits_pending);
    ok = ok && store_sqlite_col_i64(stmt, first + 1, &out->debits_posted);
    ok = ok && store_sqlite_col_i64(stmt, first + 2, &out->credits_pending);
    return ok && store_sqlite_col_i64(stmt, first + 3, &out->credits_posted);
}

bool store_sqlite_row_account(sqlite3_stmt *stmt, struct ledger_account *out)
{
    struct ledger_account a;
    uint64_t timestamp;
    uint64_t posting_last;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == ACOL_COUNT);
    memset(&a, 0, sizeof(a));
    ok = store_sqlite_col_id(stmt, ACOL_ID, &a.id);
    ok = ok && store_sqlite_col_id(stmt, ACOL_USER_DATA, &a.user_data);
    ok = ok && store_sqlite_col_i64(stmt, ACOL_DEBITS_PENDING, &a.debits_pending);
    ok = ok && store_sqlite_col_i64(stmt, ACOL_DEBITS_POSTED, &a.debits_posted);
    ok = ok && store_sqlite_col_i64(stmt, ACOL_CREDITS_PENDING, &a.credits_pending);
    ok = ok && store_sqlite_col_i64(stmt, ACOL_CREDITS_POSTED, &a.credits_posted);
    ok = ok && col_uint(stmt, ACOL_TIMESTAMP, INT64_MAX, &timestamp);
    ok = ok && col_u16(stmt, ACOL_CURRENCY, &a.currency);
    ok = ok && col_u16(stmt, ACOL_KIND, &a.kind);
    ok = ok && col_u32(stmt, ACOL_FLAGS, &a.flags);
    ok = ok && col_uint(stmt, ACOL_POSTING_LAST, INT64_MAX, &posting_last);
    if (!ok || id128_is_zero(a.id)) {
        return false;
    }
    a.timestamp = timestamp;
    a.posting_last = posting_last;
    *out = a;
    return true;
}

static bool row_posting(sqlite3_stmt *stmt, struct ledger_posting *out)
{
    struct ledger_posting p;
    struct ledger_transfer *t = &p.transfer;
    uint64_t status;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == TCOL_COUNT);
    memset(&p, 0, sizeof(p));
    ok = col_uint(stmt, TCOL_TIMESTAMP, INT64_MAX, &t->timestamp);
    ok = ok && store_sqlite_col_id(stmt, TCOL_ID, &t->id);
    ok = ok && store_sqlite_col_id(stmt, TCOL_DEBIT_ACCOUNT, &t->debit_account_id);
    ok = ok && store_sqlite_col_id(stmt, TCOL_CREDIT_ACCOUNT, &t->credit_account_id);
    ok = ok && col_id_optional(stmt, TCOL_PENDING_ID, &t->pending_id);
    ok = ok && col_id_optional(stmt, TCOL_USER_REF, &t->user_ref);
    ok = ok && store_sqlite_col_i64(stmt, TCOL_AMOUNT, &t->amount);
    ok = ok && col_u32(stmt, TCOL_TIMEOUT_S, &t->timeout_s);
    ok = ok && col_u16(stmt, TCOL_CURRENCY, &t->currency);
    ok = ok && col_u16(stmt, TCOL_CODE, &t->code);
    ok = ok && col_u16(stmt, TCOL_FLAGS, &t->flags);
    ok = ok && col_uint(stmt, TCOL_PENDING_STATUS, LEDGER_PENDING_EXPIRED, &status);
    ok = ok && col_balance(stmt, TCOL_DEBIT_AFTER, &p.debit_after);
    ok = ok && col_balance(stmt, TCOL_CREDIT_AFTER, &p.credit_after);
    ok = ok && col_uint(stmt, TCOL_DEBIT_PREV, INT64_MAX, &p.debit_prev);
    ok = ok && col_uint(stmt, TCOL_CREDIT_PREV, INT64_MAX, &p.credit_prev);
    if (!ok || t->timestamp == 0 || id128_is_zero(t->id)) {
        return false;
    }
    p.pending_status = (uint8_t)status;
    *out = p;
    return true;
}

/* ---- Open, pragmas, migrations ---- */

static enum tl_err sqlite_exec(sqlite3 *db, const char *sql, const char *what)
{
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "store.sqlite: %s: %s (%d)\n", what, message ? message : "?", rc);
        sqlite3_free(message);
        return sqlite_err_map(rc);
    }
    return TL_OK;
}

/* Runs "PRAGMA name = value" built from a number. */
static enum tl_err sqlite_pragma_set(sqlite3 *db, const char *name, long long value)
{
    char sql[96];
    int n = snprintf(sql, sizeof(sql), "PRAGMA %s = %lld", name, value);
    TL_ASSERT(n > 0 && (size_t)n < sizeof(sql));
    return sqlite_exec(db, sql, name);
}

static enum tl_err sqlite_user_version(sqlite3 *db, uint32_t *out)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_ERR_STORAGE;
    int64_t version;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        err = store_sqlite_fail(db, rc, "user_version");
        goto out;
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        err = store_sqlite_fail(db, rc, "user_version");
        goto out;
    }
    version = sqlite3_column_int64(stmt, 0);
    if (version < 0 || version > UINT32_MAX) {
        err = store_sqlite_corrupt("user_version");
        goto out;
    }
    *out = (uint32_t)version;
    err = TL_OK;
out:
    sqlite3_finalize(stmt);
    return err;
}

/* WAL needs the answer checked: a database on a filesystem without shared memory stays in
 * another journal mode, which would break the durability and reader assumptions. */
static enum tl_err sqlite_wal_enable(sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_ERR_STORAGE;
    const char *mode;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        err = store_sqlite_fail(db, rc, "journal_mode");
        goto out;
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        err = store_sqlite_fail(db, rc, "journal_mode");
        goto out;
    }
    mode = (const char *)sqlite3_column_text(stmt, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0) {
        fprintf(stderr, "store.sqlite: journal_mode: got %s, need wal\n", mode ? mode : "?");
        goto out;
    }
    err = TL_OK;
out:
    sqlite3_finalize(stmt);
    return err;
}

static enum tl_err sqlite_configure_writer(sqlite3 *db)
{
    enum tl_err err;
    /* page_size only takes effect on a new, empty database, before WAL is enabled. */
    err = sqlite_pragma_set(db, "page_size", SQLITE_PAGE_BYTES);
    err = err == TL_OK ? sqlite_wal_enable(db) : err;
    err = err == TL_OK ? sqlite_exec(db, "PRAGMA synchronous = FULL", "synchronous") : err;
    /* The ledger core validates every reference; SQLite need not check them again. */
    err = err == TL_OK ? sqlite_exec(db, "PRAGMA foreign_keys = OFF", "foreign_keys") : err;
    err = err == TL_OK ? sqlite_exec(db, "PRAGMA temp_store = MEMORY", "temp_store") : err;
    err = err == TL_OK ? sqlite_pragma_set(db, "cache_size", -SQLITE_WRITER_CACHE_KIB) : err;
    err = err == TL_OK ? sqlite_pragma_set(db, "mmap_size", SQLITE_MMAP_BYTES) : err;
    err = err == TL_OK
              ? sqlite_pragma_set(db, "wal_autocheckpoint", 0)
              : err;
    err = err == TL_OK
              ? sqlite_pragma_set(db, "journal_size_limit", SQLITE_JOURNAL_SIZE_LIMIT_BYTES)
              : err;
    return err;
}

static enum tl_err sqlite_configure_reader(sqlite3 *db)
{
    enum tl_err err;
    err = sqlite_exec(db, "PRAGMA query_only = ON", "query_only");
    err = err == TL_OK ? sqlite_exec(db, "PRAGMA temp_store = MEMORY", "temp_store") : err;
    err = err == TL_OK ? sqlite_pragma_set(db, "cache_size", -SQLITE_READER_CACHE_KIB) : err;
    err = err == TL_OK ? sqlite_pragma_set(db, "mmap_size", SQLITE_MMAP_BYTES) : err;
    return err;
}

/* Applies every migration above the stored version in one transaction, so a crash leaves
 * either the old schema or the new one. Two writers opening at once serialise on the lock
 * and the second finds nothing to do. */
static enum tl_err sqlite_migrate(sqlite3 *db)
{
    uint32_t version = 0;
    enum tl_err err;

    TL_ASSERT(store_sqlite_migration_count == STORE_SCHEMA_VERSION);
    err = sqlite_user_version(db, &version);
    if (err != TL_OK || version == STORE_SCHEMA_VERSION) {
        goto out;
    }
    err = sqlite_exec(db, "BEGIN IMMEDIATE", "migrate: begin");
    if (err != TL_OK) {
        goto out;
    }
    err = sqlite_user_version(db, &version);
    if (err == TL_OK && version > STORE_SCHEMA_VERSION) {
        fprintf(stderr, "store.sqlite: schema version %u is newer than this binary's %u\n", version,
                STORE_SCHEMA_VERSION);
        err = TL_ERR_STORAGE;
    }
    for (uint32_t i = version; err == TL_OK && i < STORE_SCHEMA_VERSION; i++) {
        TL_ASSERT(store_sqlite_migrations[i].version == i + 1);
        err = sqlite_exec(db, store_sqlite_migrations[i].sql, store_sqlite_migrations[i].name);
    }
    err = err == TL_OK ? sqlite_pragma_set(db, "user_version", STORE_SCHEMA_VERSION) : err;
    err = err == TL_OK ? sqlite_exec(db, "COMMIT", "migrate: commit") : err;
    if (err != TL_OK && !sqlite3_get_autocommit(db)) {
        sqlite_exec(db, "ROLLBACK", "migrate: rollback");
    }
out:
    return err;
}

static enum tl_err sqlite_prepare_all(struct store_sqlite *s)
{
    /* "INSERT INTO transfers (...) VALUES (?1, ..., ?22), (?23, ...), ..." */
    char sql[SQLITE_POSTING_ROWS * TCOL_COUNT * 7 + 512];
    size_t used = (size_t)snprintf(sql, sizeof sql,
                                   "INSERT INTO transfers (" TRANSFER_INSERT_COLUMNS ") VALUES ");
    for (int r = 0; r < SQLITE_POSTING_ROWS; r++) {
        for (int c = 0; c < TCOL_COUNT; c++) {
            TL_ASSERT(used < sizeof sql);
            used += (size_t)snprintf(sql + used, sizeof sql - used, "%s?%d%s",
                                     c == 0 ? (r == 0 ? "(" : ", (") : ", ",
                                     r * TCOL_COUNT + c + 1, c == TCOL_COUNT - 1 ? ")" : "");
        }
    }
    TL_ASSERT(used < sizeof sql);
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->posting_rows, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(s->db, rc, "posting_rows");
    }
    for (int i = 0; i < STMT_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, sqlite_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            return store_sqlite_fail(s->db, rc, sqlite_stmt_name[i]);
        }
        TL_ASSERT(s->stmts[i] != NULL);
    }
    return TL_OK;
}

static void sqlite_close(struct store *store)
{
    struct store_sqlite *s = sqlite_from(store);
    if (s->db != NULL && !sqlite3_get_autocommit(s->db)) {
        sqlite_exec(s->db, "ROLLBACK", "close: rollback");
    }
    for (int i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(s->stmts[i]);
    }
    sqlite3_finalize(s->posting_rows);
    store_sqlite_app_close(s->app);
    store_sqlite_stepup_close(s->stepup_stmts);
    TL_ASSERT(!s->batch_locked);
    if (s->shared != NULL) {
        store_sqlite_shared_detach(s->shared, s->db);
    }
    store_sqlite_batch_free(&s->batch);
    free(s->accounts_sorted);
    free(s->slots);
    if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK) {
        store_sqlite_fail(s->db, SQLITE_BUSY, "close");
    }
    free(s);
}

/*
 * SQLite's memory statistics take a process-wide mutex on every allocation (about a tenth of a
 * commit's instructions); nothing reads them. This must run before SQLite initialises, so it
 * runs once before the first open; if another part of the process started SQLite first, the
 * call is refused and the default stays, which is only slower.
 */
static void sqlite_global_init(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static pthread_once_t sqlite_global_once = PTHREAD_ONCE_INIT;

static enum tl_err sqlite_open(const struct store_config *config, struct store **out)
{
    struct store_sqlite *s;
    enum tl_err err;
    uint32_t version = 0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    int rc;

    TL_ASSERT(config->path != NULL);
    rc = pthread_once(&sqlite_global_once, sqlite_global_init);
    TL_ASSERT(rc == 0);
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TL_ERR_NOMEM;
    }
    store_init(&s->base, &store_sqlite_ops, config->read_only);
    /* A reader never creates the file: a missing database is an error, not an empty one. */
    if (!config->read_only) {
        flags |= SQLITE_OPEN_CREATE;
    }
    rc = sqlite3_open_v2(config->path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        err = store_sqlite_fail(s->db, rc, "open");
        goto out_close;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, SQLITE_BUSY_TIMEOUT_MS);
    err = config->read_only ? sqlite_configure_reader(s->db) : sqlite_configure_writer(s->db);
    err = err == TL_OK && !config->read_only ? sqlite_migrate(s->db) : err;
    if (err != TL_OK) {
        goto out_close;
    }
    err = sqlite_user_version(s->db, &version);
    if (err == TL_OK && version != STORE_SCHEMA_VERSION) {
        fprintf(stderr, "store.sqlite: schema version %u, this binary needs %u\n", version,
                STORE_SCHEMA_VERSION);
        err = TL_ERR_STORAGE;
    }
    err = err == TL_OK ? sqlite_prepare_all(s) : err;
    err = err == TL_OK ? store_sqlite_app_open(s->db, &s->app) : err;
    err = err == TL_OK ? store_sqlite_file_id(config->path, &s->file) : err;
    /* A writable handle shares the process's committed accounts of this file (and brings
     * lagging account rows up to date when it is the first). */
    err = err == TL_OK && !config->read_only
              ? store_sqlite_shared_attach(s->db, config->path, &s->shared)
              : err;
    if (err != TL_OK) {
        goto out_close;
    }
    *out = &s->base;
    return TL_OK;
out_close:
    sqlite_close(&s->base);
    return err;
}

static enum tl_err sqlite_schema_version(struct store *store, uint32_t *out_version)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt = s->stmts[STMT_USER_VERSION];
    enum tl_err err;
    int64_t version;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        err = store_sqlite_fail(s->db, rc, "schema_version");
        goto out;
    }
    version = sqlite3_column_int64(stmt, 0);
    if (version < 0 || version > UINT32_MAX) {
        err = store_sqlite_corrupt("schema_version");
        goto out;
    }
    *out_version = (uint32_t)version;
    err = TL_OK;
out:
    sqlite3_reset(stmt);
    return err;
}

struct sqlite_shared *store_sqlite_shared_of(struct store *store)
{
    return sqlite_from(store)->shared;
}

const struct store_sqlite_file *store_sqlite_file_of(struct store *store)
{
    return &sqlite_from(store)->file;
}

static bool sqlite_exclusive(const struct store *store)
{
    TL_ASSERT(store->ops == &store_sqlite_ops);
    return true; /* one process writes an SQLite file */
}

static enum tl_err sqlite_ping(struct store *store)
{
    uint32_t version = 0;
    enum tl_err err = sqlite_schema_version(store, &version);
    TL_ASSERT(err != TL_OK || version == STORE_SCHEMA_VERSION);
    return err;
}

static enum tl_err sqlite_account_get(struct store *store, struct id128 id,
                                      struct ledger_account *out, bool *found);

/* ---- Startup ---- */

static enum tl_err
sqlite_accounts_scan(struct store *store,
                     enum tl_err (*fn)(void *ctx, const struct ledger_account *a), void *ctx)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt = s->stmts[STMT_ACCOUNTS_SCAN];
    struct ledger_account account;
    enum tl_err err = TL_OK;
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!store_sqlite_row_account(stmt, &account)) {
            err = store_sqlite_corrupt("accounts_scan");
            goto out;
        }
        if (s->shared != NULL) {
            store_sqlite_shared_overlay(s->shared, &account);
        }
        err = fn(ctx, &account);
        if (err != TL_OK) {
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        err = store_sqlite_fail(s->db, rc, "accounts_scan");
    }
out:
    sqlite3_reset(stmt);
    return err;
}

static enum tl_err sqlite_timestamp_last(struct store *store, uint64_t *out)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt = s->stmts[STMT_TIMESTAMP_LAST];
    enum tl_err err;
    uint64_t timestamp;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        err = store_sqlite_fail(s->db, rc, "timestamp_last");
        goto out;
    }
    if (!col_uint(stmt, 0, INT64_MAX, &timestamp)) {
        err = store_sqlite_corrupt("timestamp_last");
        goto out;
    }
    *out = timestamp;
    err = TL_OK;
out:
    sqlite3_reset(stmt);
    return err;
}

/* ---- The write path ---- */

/* Ends the batch's hold on the shared state without publishing (abort, failed begin). */
static void sqlite_batch_unlock(struct store_sqlite *s)
{
    if (s->batch_locked) {
        store_sqlite_shared_end(s->shared, &s->batch);
        s->batch_locked = false;
    }
}

static enum tl_err sqlite_batch_begin(struct store *store)
{
    struct store_sqlite *s = sqlite_from(store);
    int rc;
    TL_ASSERT(sqlite3_get_autocommit(s->db));
    TL_ASSERT(!s->batch_locked);
    if (s->shared != NULL) {
        store_sqlite_shared_catch_up(s->shared, s->db);
        store_sqlite_shared_begin(s->shared, &s->batch);
        s->batch_locked = true;
    }
    rc = store_sqlite_run(s->stmts[STMT_BEGIN]);
    if (rc != SQLITE_OK) {
        sqlite_batch_unlock(s);
        return store_sqlite_fail(s->db, rc, "begin");
    }
    TL_ASSERT(!sqlite3_get_autocommit(s->db));
    return TL_OK;
}

/* ---- Statement helpers shared with sqlite_app.c (sqlite_private.h) ---- */

enum tl_err store_sqlite_step_one(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                                  store_sqlite_decode_fn decode, void *row, bool *found)
{
    enum tl_err err = TL_OK;
    int rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW && !decode(stmt, row)) {
        err = store_sqlite_corrupt(what);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, what);
    }
    if (err == TL_OK) {
        *found = rc == SQLITE_ROW;
    }
    sqlite3_reset(stmt);
    return err;
}

void store_sqlite_reverse(void *items, uint32_t count, size_t item_bytes)
{
    unsigned char *bytes = items;

    TL_ASSERT(count == 0 || items != NULL);
    TL_ASSERT(item_bytes > 0);
    for (uint32_t i = 0, j = count; i + 1 < j; i++, j--) {
        unsigned char *low = bytes + (size_t)i * item_bytes;
        unsigned char *high = bytes + (size_t)(j - 1) * item_bytes;
        for (size_t k = 0; k < item_bytes; k++) {
            unsigned char tmp = low[k];
            low[k] = high[k];
            high[k] = tmp;
        }
    }
}

enum tl_err store_sqlite_page_read(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                                   struct id128 id, const struct store_page *page,
                                   store_sqlite_decode_fn decode, void *out, size_t item_bytes,
                                   uint32_t *out_count, bool *has_more)
{
    bool newer = page->ending_before_ts != 0;
    uint64_t cursor = newer ? page->ending_before_ts : page->starting_after_ts;
    unsigned char *items = out;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    bool more = false;
    int rc;

    TL_ASSERT(page->limit >= 1);
    TL_ASSERT(page->limit <= TL_PAGE_LIMIT_MAX);
    /* Cursors past INT64_MAX name no stored time: "older than" them is everything. */
    if (cursor == 0 || cursor > (uint64_t)INT64_MAX) {
        cursor = (uint64_t)INT64_MAX;
    }
    id128_to_bytes(id, bytes);
    bind_id(stmt, 1, bytes);
    store_sqlite_bind_u64(stmt, 2, cursor);
    store_sqlite_bind_i64(stmt, 3, (int64_t)page->limit + 1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == page->limit) {
            more = true;
            continue;
        }
        if (!decode(stmt, items + (size_t)count * item_bytes)) {
            err = store_sqlite_corrupt(what);
            goto out;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, what);
        goto out;
    }
    if (newer) {
        store_sqlite_reverse(out, count, item_bytes);
    }
    *out_count = count;
    *has_more = more;
out:
    sqlite3_reset(stmt);
    return err;
}

/* One point lookup by id with a prepared statement; *found says whether *row holds it. */
static enum tl_err sqlite_lookup(struct store_sqlite *s, enum sqlite_stmt which, struct id128 id,
                                 store_sqlite_decode_fn decode, void *row, bool *found)
{
    sqlite3_stmt *stmt = s->stmts[which];
    uint8_t bytes[ID128_BYTES];

    id128_to_bytes(id, bytes);
    bind_id(stmt, 1, bytes);
    return store_sqlite_step_one(s->db, stmt, sqlite_stmt_name[which], decode, row, found);
}

static bool decode_account(sqlite3_stmt *stmt, void *row)
{
    return store_sqlite_row_account(stmt, row);
}

static bool decode_posting(sqlite3_stmt *stmt, void *row)
{
    return row_posting(stmt, row);
}

static enum tl_err sqlite_accounts_get(struct store *store, const struct id128 *ids, uint32_t count,
                                       struct ledger_account *out, bool *found)
{
    for (uint32_t i = 0; i < count; i++) {
        enum tl_err err = sqlite_account_get(store, ids[i], &out[i], &found[i]);
        if (err != TL_OK) {
            return err;
        }
    }
    return TL_OK;
}

static enum tl_err sqlite_transfers_get(struct store *store, const struct id128 *ids,
                                        uint32_t count, struct ledger_transfer *out,
                                        enum ledger_pending_status *status, bool *found)
{
    struct store_sqlite *s = sqlite_from(store);
    struct ledger_posting posting;
    for (uint32_t i = 0; i < count; i++) {
        if (s->batch_locked && store_sqlite_shared_transfer_new(s->shared, ids[i])) {
            found[i] = false; /* above every stored id */
            continue;
        }
        enum tl_err err =
            sqlite_lookup(s, STMT_TRANSFER_GET, ids[i], decode_posting, &posting, &found[i]);
        if (err != TL_OK) {
            return err;
        }
        if (found[i]) {
            TL_ASSERT(id128_eq(posting.transfer.id, ids[i]));
            out[i] = posting.transfer;
            status[i] = (enum ledger_pending_status)posting.pending_status;
        }
    }
    return TL_OK;
}

static enum tl_err sqlite_pending_expired(struct store *store, uint64_t now_ns, uint32_t limit,
                                          struct ledger_transfer *out, uint32_t *out_count)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt = s->stmts[STMT_PENDING_EXPIRED];
    struct ledger_posting posting;
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;

    store_sqlite_bind_u64(stmt, 1, now_ns > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : now_ns);
    store_sqlite_bind_i64(stmt, 2, limit);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        TL_ASSERT(count < limit);
        if (!row_posting(stmt, &posting) || posting.pending_status != LEDGER_PENDING_OPEN) {
            err = store_sqlite_corrupt("pending_expired");
            goto out;
        }
        out[count++] = posting.transfer;
    }
    if (rc != SQLITE_DONE) {
        err = store_sqlite_fail(s->db, rc, "pending_expired");
        goto out;
    }
    *out_count = count;
out:
    sqlite3_reset(stmt);
    return err;
}

/* ---- The commit's account keys ---- */

static int account_timestamp_cmp(const void *a, const void *b)
{
    uint64_t x = (*(const struct ledger_account *const *)a)->timestamp;
    uint64_t y = (*(const struct ledger_account *const *)b)->timestamp;
    return x < y ? -1 : x > y;
}

/* Makes room for count accounts in the commit scratch. TL_ERR_NOMEM leaves it as it was. */
static enum tl_err scratch_reserve(struct store_sqlite *s, uint32_t count)
{
    uint32_t slot_count = 64;
    while (slot_count < 2 * (uint64_t)count) {
        slot_count *= 2;
    }
    if (count > s->accounts_sorted_max) {
        const struct ledger_account **sorted = malloc(count * sizeof(*sorted));
        if (sorted == NULL) {
            return TL_ERR_NOMEM;
        }
        free(s->accounts_sorted);
        s->accounts_sorted = sorted;
        s->accounts_sorted_max = count;
    }
    if (slot_count > s->slot_count) {
        struct account_slot *slots = malloc(slot_count * sizeof(*slots));
        if (slots == NULL) {
            return TL_ERR_NOMEM;
        }
        free(s->slots);
        s->slots = slots;
        s->slot_count = slot_count;
    }
    memset(s->slots, 0, s->slot_count * sizeof(*s->slots));
    return TL_OK;
}

/* Open addressing with linear probing; the table is at most half full. */
static void slots_put(struct store_sqlite *s, struct id128 id, uint64_t timestamp)
{
    uint32_t mask = s->slot_count - 1;
    uint32_t i = (uint32_t)id128_hash(id) & mask;
    TL_ASSERT(timestamp != 0);
    while (s->slots[i].timestamp != 0) {
        TL_ASSERT(!id128_eq(s->slots[i].id, id)); /* the ledger lists each account once */
        i = (i + 1) & mask;
    }
    s->slots[i].id = id;
    s->slots[i].timestamp = timestamp;
}

static uint64_t slots_get(const struct store_sqlite *s, struct id128 id)
{
    uint32_t mask = s->slot_count - 1;
    uint32_t i = (uint32_t)id128_hash(id) & mask;
    while (s->slots[i].timestamp != 0) {
        if (id128_eq(s->slots[i].id, id)) {
            return s->slots[i].timestamp;
        }
        i = (i + 1) & mask;
    }
    return 0;
}

/* accounts.timestamp of an account: from the batch's accounts, else from the process's
 * directory (a posting whose account the batch did not change). TL_ERR_CORRUPT when no such
 * account exists. */
static enum tl_err account_key(struct store_sqlite *s, struct id128 id, uint64_t *out)
{
    TL_ASSERT(s->slots_valid);
    *out = slots_get(s, id);
    if (*out != 0 || store_sqlite_shared_key(s->shared, id, out)) {
        return TL_OK;
    }
    fprintf(stderr, "store.sqlite: postings_write: posting names an unknown account\n");
    return TL_ERR_CORRUPT;
}

/* ---- Commit phases ---- */

/* Binds a new account to STMT_ACCOUNT_INSERT. */
static void bind_account(sqlite3_stmt *stmt, const struct ledger_account *a,
                         uint8_t bytes[2][ID128_BYTES])
{
    id128_to_bytes(a->id, bytes[0]);
    bind_id(stmt, ACOL_ID + 1, bytes[0]);
    id128_to_bytes(a->user_data, bytes[1]);
    bind_id(stmt, ACOL_USER_DATA + 1, bytes[1]);
    store_sqlite_bind_i64(stmt, ACOL_DEBITS_PENDING + 1, a->debits_pending);
    store_sqlite_bind_i64(stmt, ACOL_DEBITS_POSTED + 1, a->debits_posted);
    store_sqlite_bind_i64(stmt, ACOL_CREDITS_PENDING + 1, a->credits_pending);
    store_sqlite_bind_i64(stmt, ACOL_CREDITS_POSTED + 1, a->credits_posted);
    store_sqlite_bind_u64(stmt, ACOL_TIMESTAMP + 1, a->timestamp);
    store_sqlite_bind_i64(stmt, ACOL_CURRENCY + 1, a->currency);
    store_sqlite_bind_i64(stmt, ACOL_KIND + 1, a->kind);
    store_sqlite_bind_i64(stmt, ACOL_FLAGS + 1, a->flags);
    store_sqlite_bind_u64(stmt, ACOL_POSTING_LAST + 1, a->posting_last);
}

/*
 * Inserts the rows of the batch's new accounts (in key order: they append at the table's
 * right edge) with their final state; a key or id that is taken fails the insert and the
 * batch. Changed accounts are not written here: their postings carry the new balances, and
 * the commit rewrites a slice of lagging rows (sqlite_shared.c). Records each id's key for
 * postings_write.
 */
static enum tl_err sqlite_accounts_write(struct store *store,
                                         const struct ledger_account *const *accounts,
                                         uint32_t count)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *insert = s->stmts[STMT_ACCOUNT_INSERT];
    uint8_t bytes[2][ID128_BYTES];
    enum tl_err err;
    uint32_t created;

    TL_ASSERT(!sqlite3_get_autocommit(s->db));
    TL_ASSERT(!s->slots_valid);
    TL_ASSERT(s->batch_locked);
    err = scratch_reserve(s, count);
    err = err == TL_OK ? store_sqlite_shared_stage(s->shared, &s->batch, accounts, count) : err;
    if (err != TL_OK) {
        return err;
    }
    for (uint32_t i = 0; i < count; i++) {
        slots_put(s, accounts[i]->id, accounts[i]->timestamp);
    }
    created = s->batch.created_count;
    for (uint32_t i = 0; i < created; i++) {
        s->accounts_sorted[i] = s->batch.created[i];
    }
    if (created > 1) {
        qsort(s->accounts_sorted, created, sizeof(*s->accounts_sorted), account_timestamp_cmp);
    }
    for (uint32_t i = 0; i < created; i++) {
        bind_account(insert, s->accounts_sorted[i], bytes);
        int rc = store_sqlite_run(insert);
        if (rc != SQLITE_OK) {
            return store_sqlite_fail(s->db, rc, "accounts_write: insert");
        }
    }
    s->slots_valid = true;
    return TL_OK;
}

/* Binds one posting to STMT_TRANSFER_INSERT; ids point into bytes until the reset. */
static void bind_posting(sqlite3_stmt *stmt, int base, const struct ledger_posting *p,
                         const uint64_t account_ts[2], uint8_t bytes[3][ID128_BYTES])
{
    const struct ledger_transfer *t = &p->transfer;
    const struct ledger_balance *d = &p->debit_after;
    const struct ledger_balance *c = &p->credit_after;

    store_sqlite_bind_u64(stmt, base + TCOL_TIMESTAMP + 1, t->timestamp);
    id128_to_bytes(t->id, bytes[0]);
    bind_id(stmt, base + TCOL_ID + 1, bytes[0]);
    store_sqlite_bind_u64(stmt, base + TCOL_DEBIT_ACCOUNT + 1, account_ts[0]);
    store_sqlite_bind_u64(stmt, base + TCOL_CREDIT_ACCOUNT + 1, account_ts[1]);
    bind_id_optional(stmt, base + TCOL_PENDING_ID + 1, t->pending_id, bytes[1]);
    bind_id_optional(stmt, base + TCOL_USER_REF + 1, t->user_ref, bytes[2]);
    store_sqlite_bind_i64(stmt, base + TCOL_AMOUNT + 1, t->amount);
    store_sqlite_bind_i64(stmt, base + TCOL_TIMEOUT_S + 1, t->timeout_s);
    store_sqlite_bind_i64(stmt, base + TCOL_CURRENCY + 1, t->currency);
    store_sqlite_bind_i64(stmt, base + TCOL_CODE + 1, t->code);
    store_sqlite_bind_i64(stmt, base + TCOL_FLAGS + 1, t->flags);
    store_sqlite_bind_i64(stmt, base + TCOL_PENDING_STATUS + 1, p->pending_status);
    store_sqlite_bind_i64(stmt, base + TCOL_DEBIT_AFTER + 1, d->debits_pending);
    store_sqlite_bind_i64(stmt, base + TCOL_DEBIT_AFTER + 2, d->debits_posted);
    store_sqlite_bind_i64(stmt, base + TCOL_DEBIT_AFTER + 3, d->credits_pending);
    store_sqlite_bind_i64(stmt, base + TCOL_DEBIT_AFTER + 4, d->credits_posted);
    store_sqlite_bind_i64(stmt, base + TCOL_CREDIT_AFTER + 1, c->debits_pending);
    store_sqlite_bind_i64(stmt, base + TCOL_CREDIT_AFTER + 2, c->debits_posted);
    store_sqlite_bind_i64(stmt, base + TCOL_CREDIT_AFTER + 3, c->credits_pending);
    store_sqlite_bind_i64(stmt, base + TCOL_CREDIT_AFTER + 4, c->credits_posted);
    store_sqlite_bind_u64(stmt, base + TCOL_DEBIT_PREV + 1, p->debit_prev);
    store_sqlite_bind_u64(stmt, base + TCOL_CREDIT_PREV + 1, p->credit_prev);
}

static enum tl_err sqlite_postings_write(struct store *store, const struct ledger_posting *postings,
                                         uint32_t count)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt;
    uint8_t bytes[SQLITE_POSTING_ROWS][3][ID128_BYTES];
    uint64_t account_ts[2];
    uint32_t rows;
    enum tl_err err;

    TL_ASSERT(!sqlite3_get_autocommit(s->db));
    TL_ASSERT(s->slots_valid);
    for (uint32_t i = 0; i < count; i += rows) {
        /* Whole groups of SQLITE_POSTING_ROWS through the multi-row insert, the rest one by
         * one: a statement per row costs about a third of the insert. */
        rows = count - i >= SQLITE_POSTING_ROWS ? SQLITE_POSTING_ROWS : 1;
        stmt = rows > 1 ? s->posting_rows : s->stmts[STMT_TRANSFER_INSERT];
        for (uint32_t r = 0; r < rows; r++) {
            const struct ledger_posting *p = &postings[i + r];
            store_sqlite_shared_postings(&s->batch, postings[0].transfer.timestamp,
                                         p->transfer.timestamp, p->transfer.id);
            err = account_key(s, p->transfer.debit_account_id, &account_ts[0]);
            err = err == TL_OK ? account_key(s, p->transfer.credit_account_id, &account_ts[1])
                               : err;
            if (err != TL_OK) {
                sqlite3_reset(stmt);
                return err;
            }
            bind_posting(stmt, (int)(r * TCOL_COUNT), p, account_ts, bytes[r]);
        }
        int rc = store_sqlite_run(stmt);
        if (rc != SQLITE_OK) {
            return store_sqlite_fail(s->db, rc, "postings_write");
        }
    }
    return TL_OK;
}

/* A hold resolved by the ledger must exist and be open (or already carry that status when
 * it was created and resolved in this batch); anything else means store and ledger disagree. */
static enum tl_err sqlite_pending_write(struct store *store,
                                        const struct ledger_pending_update *updates, uint32_t count)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt = s->stmts[STMT_PENDING_UPDATE];
    uint8_t bytes[ID128_BYTES];

    TL_ASSERT(!sqlite3_get_autocommit(s->db));
    for (uint32_t i = 0; i < count; i++) {
        id128_to_bytes(updates[i].pending_id, bytes);
        bind_id(stmt, 1, bytes);
        store_sqlite_bind_i64(stmt, 2, updates[i].status);
        int rc = store_sqlite_run(stmt);
        if (rc != SQLITE_OK) {
            return store_sqlite_fail(s->db, rc, "pending_write");
        }
        if (sqlite3_changes(s->db) != 1) {
            fprintf(stderr, "store.sqlite: pending_write: hold not found or not open\n");
            return TL_ERR_CORRUPT;
        }
    }
    return TL_OK;
}

static int64_t sqlite_now_ns(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    TL_ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static enum tl_err sqlite_records_write(struct store *store, const struct store_record *records,
                                        uint32_t count)
{
    static const uint8_t empty[1] = {0};
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt = s->stmts[STMT_OUTBOX_INSERT];
    int64_t created_ns = count > 0 ? sqlite_now_ns() : 0;
    uint8_t bytes[ID128_BYTES];

    TL_ASSERT(!sqlite3_get_autocommit(s->db));
    store_sqlite_audit_batch_start(store); /* audit entries chain onto the head read now */
    for (uint32_t i = 0; i < count; i++) {
        const struct store_record *r = &records[i];
        if (r->kind == STORE_RECORD_LIMIT_USAGE) {
            /* Appended to limit_usage_log; the totals are sqlite_limits.c's (schema v8). */
            enum tl_err err = store_sqlite_shared_limits_append(s->shared, &s->batch, s->db, r);
            if (err != TL_OK) {
                return err;
            }
            continue;
        }
        if (r->kind != STORE_RECORD_OUTBOX) {
            /* Payment and idempotency rows (app.h) are sqlite_app.c's. */
            enum tl_err err = store_sqlite_app_ops.record_write(store, r);
            if (err != TL_OK) {
                return err;
            }
            continue;
        }
        id128_to_bytes(r->key, bytes);
        bind_id(stmt, 1, bytes);
        int rc = sqlite3_bind_text(stmt, 2, r->topic, -1, SQLITE_STATIC);
        TL_ASSERT(rc == SQLITE_OK);
        /* A NULL pointer would bind SQL NULL; an empty payload is an empty blob. */
        rc = sqlite3_bind_blob(stmt, 3, r->data_bytes > 0 ? r->data : empty, (int)r->data_bytes,
                               SQLITE_STATIC);
        TL_ASSERT(rc == SQLITE_OK);
        store_sqlite_bind_i64(stmt, 4, created_ns);
        rc = store_sqlite_run(stmt);
        if (rc != SQLITE_OK) {
            return store_sqlite_fail(s->db, rc, "records_write");
        }
    }
    return TL_OK;
}

/* Rewrites a slice of lagging account rows (and, when due, the lagging limit totals), commits,
 * and only then shows the batch's accounts and limit usage to readers. */
static enum tl_err sqlite_commit(struct store *store)
{
    struct store_sqlite *s = sqlite_from(store);
    enum tl_err err;
    int rc;

    TL_ASSERT(!sqlite3_get_autocommit(s->db));
    TL_ASSERT(s->batch_locked);
    s->slots_valid = false;
    err = store_sqlite_shared_flush(s->shared, &s->batch, s->db, s->stmts[STMT_ACCOUNT_FLUSH],
                                    s->stmts[STMT_META_SET]);
    err = err == TL_OK ? store_sqlite_audit_batch_flush(store) : err;
    err = err == TL_OK ? store_sqlite_shared_limits_flush(s->shared, &s->batch, s->db) : err;
    if (err != TL_OK) {
        return err; /* store.c aborts */
    }
    rc = store_sqlite_run(s->stmts[STMT_COMMIT]);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(s->db, rc, "commit"); /* store.c aborts */
    }
    TL_ASSERT(sqlite3_get_autocommit(s->db));
    store_sqlite_audit_batch_publish(store); /* under the commit lock, like the accounts */
    store_sqlite_shared_publish(s->shared, &s->batch);
    s->batch_locked = false;
    return TL_OK;
}

static void sqlite_abort(struct store *store)
{
    struct store_sqlite *s = sqlite_from(store);
    s->slots_valid = false;
    /* SQLite may already have rolled back on its own (an I/O error, a full disk). */
    if (!sqlite3_get_autocommit(s->db)) {
        int rc = store_sqlite_run(s->stmts[STMT_ROLLBACK]);
        if (rc != SQLITE_OK) {
            /* Only an I/O error gets here; the next begin then fails and says so too. */
            store_sqlite_fail(s->db, rc, "rollback");
        }
    }
    sqlite_batch_unlock(s);
    store_sqlite_audit_batch_abort(store);
}

/* ---- Reads ---- */

/*
 * A process with no writing handle of the file (a tool reading it beside tallyd) reads the
 * row, which may lag, and takes the balances from the account's newest posting after
 * replay_after when there is one. Scans the postings after replay_after (a few batches).
 */
static enum tl_err account_tail(struct store_sqlite *s, struct ledger_account *a)
{
    sqlite3_stmt *stmt = s->stmts[STMT_ACCOUNT_TAIL];
    enum tl_err err = TL_OK;
    uint64_t ts;
    int rc;

    store_sqlite_bind_u64(stmt, 1, a->timestamp);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        int first = sqlite3_column_int64(stmt, 1) != 0 ? 2 : 6;
        struct ledger_balance b;
        if (!col_uint(stmt, 0, INT64_MAX, &ts) || !col_balance(stmt, first, &b)) {
            err = store_sqlite_corrupt("account tail");
        } else {
            a->debits_pending = b.debits_pending;
            a->debits_posted = b.debits_posted;
            a->credits_pending = b.credits_pending;
            a->credits_posted = b.credits_posted;
            a->posting_last = ts;
        }
    } else if (rc != SQLITE_DONE) {
        err = store_sqlite_fail(s->db, rc, "account tail");
    }
    sqlite3_reset(stmt);
    return err;
}

/* The newest committed state: from the process's directory when a handle writes the file,
 * else from the store. */
static enum tl_err sqlite_account_get(struct store *store, struct id128 id,
                                      struct ledger_account *out, bool *found)
{
    struct store_sqlite *s = sqlite_from(store);
    enum tl_err err;

    if (store_sqlite_shared_account(&s->file, id, out, found)) {
        return TL_OK;
    }
    err = sqlite_lookup(s, STMT_ACCOUNT_GET, id, decode_account, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    if (err == TL_OK && *found) {
        err = account_tail(s, out);
    }
    return err;
}

static enum tl_err sqlite_transfer_get(struct store *store, struct id128 id,
                                       struct ledger_posting *out, bool *found)
{
    struct store_sqlite *s = sqlite_from(store);
    enum tl_err err = sqlite_lookup(s, STMT_TRANSFER_GET, id, decode_posting, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->transfer.id, id));
    return err;
}

uint32_t store_sqlite_ring_order(void *items, uint64_t seen, uint32_t limit, size_t item_bytes)
{
    unsigned char *bytes = items;
    uint32_t count = seen > limit ? limit : (uint32_t)seen;

    TL_ASSERT(limit >= 1);
    TL_ASSERT(items != NULL);
    if (seen > limit) {
        /* The oldest item kept (the first put, in walk order) is at seen % limit. */
        uint32_t r = (uint32_t)(seen % limit);
        store_sqlite_reverse(bytes, r, item_bytes);
        store_sqlite_reverse(bytes + (size_t)r * item_bytes, count - r, item_bytes);
        store_sqlite_reverse(bytes, count, item_bytes);
    }
    return count;
}

enum tl_err store_sqlite_chain_head(struct store *store, struct id128 account_id, uint64_t *out_key,
                                    uint64_t *out_last, bool *found)
{
    struct ledger_account account;
    enum tl_err err = sqlite_account_get(store, account_id, &account, found);

    if (err != TL_OK || !*found) {
        return err;
    }
    TL_ASSERT(id128_eq(account.id, account_id));
    /* An account's postings come after it: a head at or before its key is no chain. */
    if (account.timestamp == 0 ||
        (account.posting_last != 0 && account.posting_last <= account.timestamp)) {
        return store_sqlite_corrupt("chain head");
    }
    *out_key = account.timestamp;
    *out_last = account.posting_last;
    return TL_OK;
}

/* The posting at timestamp ts: a link of a chain, so it must exist. */
static enum tl_err posting_at(struct store_sqlite *s, uint64_t ts, struct ledger_posting *out)
{
    sqlite3_stmt *stmt = s->stmts[STMT_TRANSFER_AT];
    bool found = false;
    enum tl_err err;

    store_sqlite_bind_u64(stmt, 1, ts);
    err = store_sqlite_step_one(s->db, stmt, "history", decode_posting, out, &found);
    if (err == TL_OK && !found) {
        err = store_sqlite_corrupt("history: a link names no posting");
    }
    return err;
}

/* The link before p in account's chain: false when p is not the account's. */
static bool posting_link(const struct ledger_posting *p, struct id128 account, uint64_t *prev)
{
    if (id128_eq(p->transfer.debit_account_id, account)) {
        *prev = p->debit_prev;
    } else if (id128_eq(p->transfer.credit_account_id, account)) {
        *prev = p->credit_prev;
    } else {
        return false;
    }
    return true;
}

/* Follows account's chain one link back from p; TL_ERR_CORRUPT when a link is broken. */
static enum tl_err chain_next(const struct ledger_posting *p, struct id128 account,
                              uint64_t *next)
{
    if (!posting_link(p, account, next) || *next >= p->transfer.timestamp) {
        return store_sqlite_corrupt("history: a broken chain");
    }
    return TL_OK;
}

/*
 * History follows the account's chain from its newest posting (posting_last) back through
 * the postings' links, so it needs no index: each step is one lookup by timestamp. An older
 * page starts at the cursor when the cursor is one of the account's postings (what a client
 * paging with the previous page's last entry sends), else walks down to it from the newest.
 * A newer page walks down from the newest to the cursor, keeping the last limit postings it
 * passed in a ring: the cost grows with the distance from the newest, which is where clients
 * paging back towards the newest are.
 */
static enum tl_err sqlite_history(struct store *store, struct id128 account_id,
                                  const struct store_page *page, struct ledger_posting *out,
                                  uint32_t *out_count, bool *has_more)
{
    struct store_sqlite *s = sqlite_from(store);
    struct ledger_account account;
    struct ledger_posting p;
    uint64_t after = page->starting_after_ts;
    uint64_t before = page->ending_before_ts;
    uint64_t next;
    uint32_t count = 0;
    uint64_t seen = 0;
    bool more = false;
    bool found = false;
    enum tl_err err;

    err = sqlite_account_get(store, account_id, &account, &found);
    if (err != TL_OK) {
        return err;
    }
    next = found ? account.posting_last : 0;
    if (after > (uint64_t)INT64_MAX) {
        after = 0; /* past every stored time: older than it is everything */
    }
    if (after != 0 && next > after) {
        sqlite3_stmt *stmt = s->stmts[STMT_TRANSFER_AT];
        store_sqlite_bind_u64(stmt, 1, after);
        err = store_sqlite_step_one(s->db, stmt, "history", decode_posting, &p, &found);
        if (err != TL_OK) {
            return err;
        }
        /* Not a posting of this account: walk down from the newest. */
        if (found && posting_link(&p, account_id, &next)) {
            TL_ASSERT(next < after);
        }
    }
    while (next != 0 && err == TL_OK) {
        err = posting_at(s, next, &p);
        if (err != TL_OK) {
            break;
        }
        uint64_t ts = p.transfer.timestamp;
        if (before != 0) {
            if (ts <= before) {
                break;
            }
            out[seen % page->limit] = p;
            seen++;
        } else if (after == 0 || ts < after) {
            if (count == page->limit) {
                more = true;
                break;
            }
            out[count++] = p;
        }
        err = chain_next(&p, account_id, &next);
    }
    if (err != TL_OK) {
        return err;
    }
    if (before != 0) {
        more = seen > page->limit;
        count = store_sqlite_ring_order(out, seen, page->limit, sizeof(*out));
    }
    *out_count = count;
    *has_more = more;
    return TL_OK;
}

static enum tl_err outbox_row(sqlite3_stmt *stmt, struct store_outbox_row *out)
{
    uint64_t seq;
    struct id128 key;
    const unsigned char *topic;
    int topic_bytes;
    int data_bytes;

    if (!col_uint(stmt, 0, INT64_MAX, &seq) || !store_sqlite_col_id(stmt, 1, &key)) {
        return store_sqlite_corrupt("outbox_list");
    }
    topic = sqlite3_column_text(stmt, 2);
    topic_bytes = sqlite3_column_bytes(stmt, 2);
    if (topic == NULL || topic_bytes < 1 || (size_t)topic_bytes >= sizeof(out->topic)) {
        return store_sqlite_corrupt("outbox_list");
    }
    if (sqlite3_column_type(stmt, 3) != SQLITE_BLOB) {
        return store_sqlite_corrupt("outbox_list");
    }
    data_bytes = sqlite3_column_bytes(stmt, 3);
    if (data_bytes < 0 || data_bytes > TL_RECORD_BYTES_MAX) {
        return store_sqlite_corrupt("outbox_list");
    }
    memset(out, 0, sizeof(*out));
    out->data = malloc((size_t)data_bytes + 1);
    if (out->data == NULL) {
        return TL_ERR_NOMEM;
    }
    if (data_bytes > 0) {
        memcpy(out->data, sqlite3_column_blob(stmt, 3), (size_t)data_bytes);
    }
    out->data[data_bytes] = '\0';
    out->data_bytes = (uint32_t)data_bytes;
    out->seq = seq;
    out->key = key;
    memcpy(out->topic, topic, (size_t)topic_bytes);
    return TL_OK;
}

static enum tl_err sqlite_outbox_list(struct store *store, uint64_t after_seq, uint32_t limit,
                                      struct store_outbox_row *out, uint32_t *out_count)
{
    struct store_sqlite *s = sqlite_from(store);
    sqlite3_stmt *stmt = s->stmts[STMT_OUTBOX_LIST];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;

    store_sqlite_bind_u64(stmt, 1,
                          after_seq > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : after_seq);
    store_sqlite_bind_i64(stmt, 2, limit);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        TL_ASSERT(count < limit);
        err = outbox_row(stmt, &out[count]);
        if (err != TL_OK) {
            goto out_free;
        }
        TL_ASSERT(out[count].seq > after_seq);
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = store_sqlite_fail(s->db, rc, "outbox_list");
        goto out_free;
    }
    *out_count = count;
    sqlite3_reset(stmt);
    return TL_OK;
out_free:
    store_outbox_rows_free(out, count);
    sqlite3_reset(stmt);
    return err;
}

struct sqlite3 *store_sqlite_db(struct store *store)
{
    struct store_sqlite *s = sqlite_from(store);
    TL_ASSERT(s->db != NULL);
    return s->db;
}

struct store_sqlite_app *store_sqlite_app_of(struct store *store)
{
    struct store_sqlite *s = sqlite_from(store);
    TL_ASSERT(s->app != NULL); /* made at open */
    return s->app;
}

sqlite3_stmt ***store_sqlite_stepup_slot(struct store *store, sqlite3 **out_db)
{
    struct store_sqlite *s = sqlite_from(store);
    TL_ASSERT(s->db != NULL);
    *out_db = s->db;
    return &s->stepup_stmts;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .exclusive = sqlite_exclusive,
    .ping = sqlite_ping,
    .accounts_scan = sqlite_accounts_scan,
    .timestamp_last = sqlite_timestamp_last,
    .batch_begin = sqlite_batch_begin,
    .accounts_get = sqlite_accounts_get,
    .transfers_get = sqlite_transfers_get,
    .pending_expired = sqlite_pending_expired,
    .accounts_write = sqlite_accounts_write,
    .postings_write = sqlite_postings_write,
    .pending_write = sqlite_pending_write,
    .records_write = sqlite_records_write,
    .commit = sqlite_commit,
    .abort = sqlite_abort,
    .account_get = sqlite_account_get,
    .transfer_get = sqlite_transfer_get,
    .history = sqlite_history,
    .outbox_list = sqlite_outbox_list,
    .app = &store_sqlite_app_ops,
};
