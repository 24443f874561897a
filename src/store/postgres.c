/*
 * postgres.c - the shared backend: one PostgreSQL database that many tallyd nodes write.
 *
 * One handle is one libpq connection (config.path is its conninfo), used by one thread at a
 * time. The writer's handle applies migrations at open; reader handles open their own
 * connection in a read-only session (default_transaction_read_only) and see committed data
 * only. Every statement is prepared at connect, sent with binary parameters and read with
 * binary results; batches send whole columns as arrays (INSERT .. SELECT FROM unnest(...)), so
 * a commit costs one statement per phase, however many rows it writes.
 *
 * The write path (store_exclusive is false: other nodes write too): batch_begin opens a READ
 * COMMITTED transaction; accounts_get locks the accounts the batch touches with SELECT ..
 * ORDER BY id FOR UPDATE, so two nodes lock in the same order and never deadlock, and every
 * balance the ledger starts from is the latest committed one; the commit phases are pipelined
 * (sent back to back, answers read once) and checked, then COMMIT. synchronous_commit is on
 * for the session, so COMMIT returns only once the WAL is flushed.
 *
 * A lost connection fails the call that found it with TL_ERR_STORAGE (a batch in flight is
 * lost with its transaction: nothing of it is visible). The next call reconnects, at once the
 * first time and then with a doubling backoff, and prepares the statements again, so the
 * handle recovers when the database (or a promoted replica) answers again.
 *
 * Driver errors are logged here with the "store.postgres:" prefix and never returned. Only the
 * primary message, SQLSTATE and constraint are logged: the detail lines can quote row values
 * (an email in a unique violation).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/backend.h"
#include "store/audit_backend.h"
#include "store/postgres_private.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/limits.h"

/* Reconnect backoff: the first attempt after a loss is immediate, then 100 ms doubling. */
#define PG_BACKOFF_MS_MIN 100u
#define PG_BACKOFF_MS_MAX 5000u
/* Accounts one scan page reads: bounds the memory of a startup scan. */
#define PG_SCAN_PAGE_ROWS 8192
/* Statements one commit pipelines: accounts, postings, holds, outbox, payments, notes,
 * signatures, idempotency, claims, audit entries, limit running totals (11 so far). */
#define PG_PIPELINE_MAX 16
/* Longest conninfo we accept (it is copied for reconnects). */
#define PG_CONNINFO_BYTES_MAX 4096
/* Serialises migrations of one database across nodes (pg_advisory_xact_lock); "tallymig". */
#define PG_MIGRATE_LOCK_KEY "8386103194290055527"
/*
 * Batches of all nodes take turns: batch_begin takes this transaction-level advisory lock, held
 * until COMMIT or ROLLBACK. Ledger timestamps are then assigned by one batch at a time, after
 * it read the newest stored one, so they stay unique and increase in commit order across nodes
 * (history cursors and the outbox never see an older timestamp commit after a newer one, and
 * any chain over batches stays linear); and everything a batch prefetches (holds, duplicate
 * transfer ids) is current. Accounts are still locked row by row in id order (accounts_get),
 * which is what keeps balances right should batches ever run side by side. "tallybat".
 */

#define NS_PER_MS 1000000ull

/* Column lists shared by the statements and the row decoders below; change them together. */
#define ACCOUNT_COLUMNS                                                                            \
    "id, user_data, debits_pending, debits_posted, credits_pending, credits_posted, "              \
    "timestamp, posting_last, currency, kind, flags"
enum account_column {
    ACOL_ID,
    ACOL_USER_DATA,
    ACOL_DEBITS_PENDING,
    ACOL_DEBITS_POSTED,
    ACOL_CREDITS_PENDING,
    ACOL_CREDITS_POSTED,
    ACOL_TIMESTAMP,
    ACOL_POSTING_LAST,
    ACOL_CURRENCY,
    ACOL_KIND,
    ACOL_FLAGS,
    ACOL_COUNT
};

/* Transfers are read back with the accounts' ids joined in (LEFT JOIN, so a transfer whose
 * account row is missing reads as corrupt instead of vanishing). */
#define TRANSFER_SELECT                                                                            \
    "SELECT t.timestamp, t.id, d.id, c.id, t.pending_id, t.user_ref, t.amount, t.timeout_s, "      \
    "t.currency, t.code, t.flags, t.pending_status, t.debit_debits_pending, "                      \
    "t.debit_debits_posted, t.debit_credits_pending, t.debit_credits_posted, "                     \
    "t.credit_debits_pending, t.credit_debits_posted, t.credit_credits_pending, "                  \
    "t.credit_credits_posted, t.debit_prev, t.credit_prev FROM transfers t "                       \
    "LEFT JOIN accounts d ON d.timestamp = t.debit_account_ts "                                    \
    "LEFT JOIN accounts c ON c.timestamp = t.credit_account_ts "
enum transfer_column {
    TCOL_TIMESTAMP,
    TCOL_ID,
    TCOL_DEBIT_ACCOUNT,
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

#define EXPIRES_AT "(t.timestamp + t.timeout_s * 1000000000)" /* as in transfers_open_expiry */
#define PENDING_EXPIRED_SQL                                                                        \
    TRANSFER_SELECT "WHERE t.pending_status = 1 AND t.timeout_s > 0 AND " EXPIRES_AT               \
                    " <= $1::bigint ORDER BY " EXPIRES_AT ", t.timestamp LIMIT $2::bigint"

/*
 * History walks each side's (account, timestamp) index from the cursor in the direction of
 * travel, keeps limit rows of each, merges them (no transfer has the same account on both
 * sides) and joins the rows in.
 */
#define HISTORY_SIDE(side, cmp, order)                                                             \
    "(SELECT t.timestamp FROM transfers t JOIN a ON t." side "_account_ts = a.timestamp "          \
    "WHERE t.timestamp " cmp " $2::bigint ORDER BY t.timestamp " order " LIMIT $3::bigint)"
#define HISTORY_SQL(cmp, order)                                                                    \
    "WITH a AS (SELECT timestamp FROM accounts WHERE id = $1::bytea), h AS (" HISTORY_SIDE(        \
        "debit", cmp,                                                                              \
        order) " UNION ALL " HISTORY_SIDE("credit", cmp,                                           \
                                          order) " ORDER BY 1 " order                              \
                                                 " LIMIT $3::bigint) " TRANSFER_SELECT             \
                                                 "JOIN h ON h.timestamp = t.timestamp ORDER BY "   \
                                                 "t.timestamp " order

/* Every statement the backend runs, prepared at connect. */
#define PG_STMT_TABLE(X)                                                                           \
    X(STMT_TIMESTAMP_LAST, "SELECT greatest((SELECT coalesce(max(timestamp), 0) FROM transfers), " \
                           "(SELECT coalesce(max(timestamp), 0) FROM accounts))")                  \
    X(STMT_ACCOUNT_GET, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = $1::bytea")           \
    X(STMT_ACCOUNTS_LOCK, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ANY($1::bytea[]) "  \
                          "ORDER BY id FOR UPDATE")                                                \
    X(STMT_ACCOUNTS_SCAN, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id > $1::bytea "         \
                          "ORDER BY id LIMIT $2::bigint")                                          \
    X(STMT_ACCOUNTS_WRITE,                                                                         \
      "INSERT INTO accounts (" ACCOUNT_COLUMNS ") SELECT * FROM unnest($1::bytea[], "              \
      "$2::bytea[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], "        \
      "$8::bigint[], $9::integer[], $10::integer[], $11::bigint[]) ON CONFLICT (id) DO UPDATE "    \
      "SET debits_pending = EXCLUDED.debits_pending, debits_posted = EXCLUDED.debits_posted, "     \
      "credits_pending = EXCLUDED.credits_pending, credits_posted = EXCLUDED.credits_posted, "     \
      "posting_last = EXCLUDED.posting_last WHERE accounts.timestamp = EXCLUDED.timestamp")        \
    X(STMT_TRANSFER_GET, TRANSFER_SELECT "WHERE t.id = $1::bytea")                                 \
    X(STMT_TRANSFERS_GET, TRANSFER_SELECT "WHERE t.id = ANY($1::bytea[]) ORDER BY t.id")           \
    X(STMT_POSTINGS_WRITE,                                                                         \
      "INSERT INTO transfers (timestamp, id, debit_account_ts, credit_account_ts, pending_id, "    \
      "user_ref, amount, timeout_s, currency, code, flags, pending_status, "                       \
      "debit_debits_pending, debit_debits_posted, debit_credits_pending, debit_credits_posted, "   \
      "credit_debits_pending, credit_debits_posted, credit_credits_pending, "                      \
      "credit_credits_posted, debit_prev, credit_prev) "                                           \
      "SELECT u.ts, u.id, d.timestamp, c.timestamp, u.pending_id, u.user_ref, u.amount, "          \
      "u.timeout_s, u.currency, u.code, u.flags, u.status, u.ddp, u.ddo, u.dcp, u.dco, u.cdp, "    \
      "u.cdo, u.ccp, u.cco, u.dprev, u.cprev FROM unnest($1::bigint[], $2::bytea[], "              \
      "$3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bigint[], $8::bigint[], "           \
      "$9::integer[], $10::integer[], $11::integer[], $12::integer[], $13::bigint[], "             \
      "$14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], "                \
      "$19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[]) AS u(ts, id, debit_id, "        \
      "credit_id, pending_id, user_ref, amount, timeout_s, currency, code, flags, status, ddp, "   \
      "ddo, dcp, dco, cdp, cdo, ccp, cco, dprev, cprev) "                                          \
      "JOIN accounts d ON d.id = u.debit_id JOIN accounts c ON c.id = u.credit_id")                \
    X(STMT_PENDING_WRITE, "UPDATE transfers t SET pending_status = u.status FROM "                 \
                          "unnest($1::bytea[], $2::integer[]) AS u(id, status) "                   \
                          "WHERE t.id = u.id AND t.pending_status IN (1, u.status)")               \
    X(STMT_PENDING_EXPIRED, PENDING_EXPIRED_SQL)                                                   \
    X(STMT_PENDING_EXPIRED_LOCK, PENDING_EXPIRED_SQL " FOR UPDATE OF t SKIP LOCKED")               \
    X(STMT_HISTORY_OLDER, HISTORY_SQL("<", "DESC"))                                                \
    X(STMT_HISTORY_NEWER, HISTORY_SQL(">", "ASC"))                                                 \
    X(STMT_OUTBOX_WRITE, "INSERT INTO outbox (key, topic, data, created) SELECT u.key, u.topic, "  \
                         "u.data, $4::bigint FROM unnest($1::bytea[], $2::text[], $3::bytea[]) "   \
                         "WITH ORDINALITY AS u(key, topic, data, n) ORDER BY u.n")                 \
    X(STMT_OUTBOX_LIST, "SELECT seq, key, topic, data FROM outbox WHERE seq > $1::bigint "         \
                        "ORDER BY seq LIMIT $2::bigint")

enum pg_stmt_id {
#define PG_STMT_ENUM(id, sql) id,
    PG_STMT_TABLE(PG_STMT_ENUM)
#undef PG_STMT_ENUM
        STMT_COUNT
};

static const struct pg_stmt pg_stmts[STMT_COUNT] = {
#define PG_STMT_ROW(id, sql) {#id, sql},
    PG_STMT_TABLE(PG_STMT_ROW)
#undef PG_STMT_ROW
};

/* What the commit must find when it reads one pipelined statement's answer. */
struct pg_expect {
    const char *what;
    enum pg_expect_rows rows_kind;
    uint64_t rows;
    enum tl_err mismatch_err;
};

/* One batch id and where its answer goes, for matching rows sorted by id back to callers. */
struct pg_id_slot {
    struct id128 id;
    uint32_t index;
};

struct store_postgres {
    struct store base;    /* first: the handle callers hold */
    char *conninfo;       /* owned copy, for reconnects */
    PGconn *conn;         /* NULL until the first connect succeeds */
    bool ready;           /* conn is up, its session set and every statement prepared */
    uint64_t retry_at_ns; /* monotonic time of the next reconnect attempt; 0 = at once */
    uint32_t backoff_ms;
    bool in_txn; /* a batch transaction is open on conn */
    bool piping; /* the commit pipeline is open */
    struct pg_expect expects[PG_PIPELINE_MAX];
    uint32_t expect_count;
    struct pg_buf buf;        /* array parameters, reused */
    struct pg_id_slot *slots; /* accounts_get / transfers_get scratch, grown on demand */
    uint32_t slot_max;
    struct store_postgres_audit_head audit_head; /* read by batch_begin (postgres_audit.c) */
    uint64_t limits_prune_due_ns; /* postgres_app.c: the bucket end that brings the next prune */
};

static struct store_postgres *pg_from(struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops == &store_postgres_ops);
    return (struct store_postgres *)store;
}

struct store_postgres_audit_head *store_postgres_audit_head_of(struct store *store)
{
    return &pg_from(store)->audit_head;
}

uint64_t *store_postgres_limits_prune_due_of(struct store *store)
{
    return &pg_from(store)->limits_prune_due_ns;
}

/* ---- Errors ---- */

/* Copies text into out as one line: control characters become spaces, trailing ones go. */
static void pg_one_line(const char *text, char *out, size_t out_bytes)
{
    size_t n = 0;
    TL_ASSERT(out_bytes > 0);
    for (; text != NULL && text[n] != '\0' && n + 1 < out_bytes; n++) {
        unsigned char c = (unsigned char)text[n];
        out[n] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

/* Logs why a statement failed. res may be NULL (then the connection's message is used). */
static void pg_log(const char *what, PGconn *conn, const PGresult *res)
{
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *sqlstate = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res != NULL ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    char line[512];

    if (primary == NULL) {
        primary = conn != NULL ? PQerrorMessage(conn) : "no connection";
    }
    pg_one_line(primary, line, sizeof(line));
    fprintf(stderr, "store.postgres: %s: %s (%s%s%s)\n", what, line[0] ? line : "unknown error",
            sqlstate ? sqlstate : "no sqlstate", constraint ? ", constraint " : "",
            constraint ? constraint : "");
}

/* Data or index corruption reported by the server is TL_ERR_CORRUPT; all else is storage. */
static enum tl_err pg_err_map(const PGresult *res)
{
    const char *sqlstate = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (sqlstate != NULL && (strcmp(sqlstate, "XX001") == 0 || strcmp(sqlstate, "XX002") == 0)) {
        return TL_ERR_CORRUPT;
    }
    return TL_ERR_STORAGE;
}

static bool pg_is_unique_violation(const PGresult *res)
{
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return sqlstate != NULL && strcmp(sqlstate, "23505") == 0;
}

/* After any failure: a connection that broke must be made again before the next call. */
static void pg_note_failure(struct store_postgres *s)
{
    if (s->conn != NULL && PQstatus(s->conn) != CONNECTION_OK) {
        s->ready = false;
    }
}

enum tl_err store_postgres_corrupt(const char *what)
{
    fprintf(stderr, "store.postgres: %s: stored row fails integrity check\n", what);
    return TL_ERR_CORRUPT;
}

enum tl_err store_postgres_rows_decode(const PGresult *res, const char *what,
                                       store_postgres_decode_fn decode, void *items,
                                       size_t item_bytes, uint32_t limit, bool reverse,
                                       uint32_t *out_count, bool *has_more)
{
    int rows = PQntuples(res);
    uint32_t count = rows > (int)limit ? limit : (uint32_t)rows;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t slot = reverse ? count - 1 - i : i;
        if (!decode(res, (int)i, (char *)items + (size_t)slot * item_bytes)) {
            return store_postgres_corrupt(what);
        }
    }
    *out_count = count;
    if (has_more != NULL) {
        *has_more = rows > (int)limit;
    }
    return TL_OK;
}

/* ---- Array buffers ---- */

enum tl_err pg_buf_reset(struct pg_buf *buf, size_t bytes_max)
{
    buf->used = 0;
    if (bytes_max > buf->capacity) {
        uint8_t *bytes = malloc(bytes_max);
        if (bytes == NULL) {
            return TL_ERR_NOMEM;
        }
        free(buf->bytes);
        buf->bytes = bytes;
        buf->capacity = bytes_max;
    }
    return TL_OK;
}

void pg_buf_free(struct pg_buf *buf)
{
    free(buf->bytes);
    memset(buf, 0, sizeof(*buf));
}

static uint8_t *pg_buf_take(struct pg_buf *buf, size_t bytes)
{
    uint8_t *at;
    TL_ASSERT(bytes <= buf->capacity - buf->used); /* pg_buf_reset reserved too little */
    at = buf->bytes + buf->used;
    buf->used += bytes;
    return at;
}

void pg_array_begin(struct pg_params *p, struct pg_buf *buf, uint32_t element_oid, uint32_t count)
{
    uint32_t i = pg_param_next(p);
    uint8_t *header = pg_buf_take(buf, 20);

    TL_ASSERT(count > 0);
    TL_ASSERT(count <= INT32_MAX);
    pg_put_be32(header, 1);     /* dimensions */
    pg_put_be32(header + 4, 1); /* may hold NULLs (ignored by the server when none) */
    pg_put_be32(header + 8, element_oid);
    pg_put_be32(header + 12, count); /* length of the dimension */
    pg_put_be32(header + 16, 1);     /* its lower bound */
    p->in_buf[i] = true;
    p->buf_offset[i] = buf->used - 20;
    p->formats[i] = 1;
}

void pg_array_i64(struct pg_buf *buf, int64_t v)
{
    uint8_t *at = pg_buf_take(buf, 12);
    pg_put_be32(at, 8);
    pg_put_be64(at + 4, (uint64_t)v);
}

void pg_array_i32(struct pg_buf *buf, int32_t v)
{
    uint8_t *at = pg_buf_take(buf, 8);
    pg_put_be32(at, 4);
    pg_put_be32(at + 4, (uint32_t)v);
}

void pg_array_id(struct pg_buf *buf, struct id128 id)
{
    uint8_t *at = pg_buf_take(buf, 4 + ID128_BYTES);
    pg_put_be32(at, ID128_BYTES);
    id128_to_bytes(id, at + 4);
}

void pg_array_id_optional(struct pg_buf *buf, struct id128 id)
{
    if (id128_is_zero(id)) {
        pg_put_be32(pg_buf_take(buf, 4), UINT32_MAX); /* -1: NULL */
        return;
    }
    pg_array_id(buf, id);
}

void pg_array_bytes(struct pg_buf *buf, const void *data, uint32_t bytes)
{
    uint8_t *at;
    TL_ASSERT(bytes <= INT32_MAX);
    at = pg_buf_take(buf, 4 + (size_t)bytes);
    pg_put_be32(at, bytes);
    if (bytes > 0) {
        memcpy(at + 4, data, bytes);
    }
}

void pg_array_text(struct pg_buf *buf, const char *text)
{
    size_t bytes = strlen(text);
    TL_ASSERT(bytes <= TL_RECORD_BYTES_MAX);
    pg_array_bytes(buf, text, (uint32_t)bytes);
}

void pg_params_resolve(struct pg_params *p, const struct pg_buf *buf)
{
    for (uint32_t i = 0; i < p->count; i++) {
        if (!p->in_buf[i]) {
            continue;
        }
        /* The length is everything up to the next array, or to the end of the buffer. */
        size_t end = buf->used;
        for (uint32_t j = i + 1; j < p->count; j++) {
            if (p->in_buf[j]) {
                end = p->buf_offset[j];
                break;
            }
        }
        TL_ASSERT(end >= p->buf_offset[i] + 20);
        TL_ASSERT(end - p->buf_offset[i] <= INT32_MAX);
        p->values[i] = (const char *)buf->bytes + p->buf_offset[i];
        p->lengths[i] = (int)(end - p->buf_offset[i]);
    }
}

struct pg_buf *store_postgres_buf(struct store *store)
{
    return &pg_from(store)->buf;
}

/* ---- Connection: session, version check, statements, reconnect ---- */

/* Runs SQL with the simple protocol (several statements allowed); expects no error. */
static enum tl_err pg_exec(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(res);
    enum tl_err err = TL_OK;

    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        pg_log(what, conn, res);
        err = pg_err_map(res);
    }
    PQclear(res);
    return err;
}

/* The stored schema version; TL_ERR_STORAGE when there is none (no schema_version table). */
static enum tl_err pg_version_read(PGconn *conn, uint32_t *out)
{
    PGresult *res =
        PQexecParams(conn, "SELECT version FROM schema_version", 0, NULL, NULL, NULL, NULL, 1);
    enum tl_err err = TL_OK;
    int32_t version;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_log("schema_version", conn, res);
        err = pg_err_map(res);
    } else if (PQntuples(res) != 1 || PQnfields(res) != 1 ||
               !pg_col_int_range(res, 0, 0, 0, INT32_MAX, &version)) {
        err = store_postgres_corrupt("schema_version");
    } else {
        *out = (uint32_t)version;
    }
    PQclear(res);
    return err;
}

/*
 * Applies every migration above the stored version in one transaction, under an advisory lock
 * that serialises nodes migrating the same database at once (the second finds nothing to do).
 * A crash leaves either the old schema or the new one.
 */
static enum tl_err pg_migrate(PGconn *conn)
{
    char sql[96];
    uint32_t version = 0;
    enum tl_err err;

    TL_ASSERT(store_postgres_migration_count == STORE_SCHEMA_VERSION);
    err = pg_exec(conn, "BEGIN", "migrate: begin");
    if (err != TL_OK) {
        return err;
    }
    err = pg_exec(conn,
                  "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK_KEY ");"
                  "CREATE TABLE IF NOT EXISTS schema_version (one boolean PRIMARY KEY DEFAULT "
                  "true CHECK (one), version integer NOT NULL CHECK (version >= 0));"
                  "INSERT INTO schema_version (version) VALUES (0) ON CONFLICT DO NOTHING",
                  "migrate: lock");
    err = err == TL_OK ? pg_version_read(conn, &version) : err;
    if (err == TL_OK && version > STORE_SCHEMA_VERSION) {
        fprintf(stderr, "store.postgres: schema version %u is newer than this binary's %u\n",
                version, STORE_SCHEMA_VERSION);
        err = TL_ERR_STORAGE;
    }
    for (uint32_t i = version; err == TL_OK && i < STORE_SCHEMA_VERSION; i++) {
        TL_ASSERT(store_postgres_migrations[i].version == i + 1);
        err = pg_exec(conn, store_postgres_migrations[i].sql, store_postgres_migrations[i].name);
    }
    int n =
        snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %u", STORE_SCHEMA_VERSION);
    TL_ASSERT(n > 0 && (size_t)n < sizeof(sql));
    err = err == TL_OK ? pg_exec(conn, sql, "migrate: version") : err;
    err = err == TL_OK ? pg_exec(conn, "COMMIT", "migrate: commit") : err;
    if (err != TL_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        (void)pg_exec(conn, "ROLLBACK", "migrate: rollback");
    }
    return err;
}

/* Prepares a set of statements in one round trip (pipelined). */
static enum tl_err pg_prepare_set(PGconn *conn, const struct pg_stmt *stmts, uint32_t count)
{
    enum tl_err err = TL_OK;
    PGresult *res;

    if (PQenterPipelineMode(conn) != 1) {
        pg_log("prepare: pipeline", conn, NULL);
        return TL_ERR_STORAGE;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (PQsendPrepare(conn, stmts[i].name, stmts[i].sql, 0, NULL) != 1) {
            pg_log(stmts[i].name, conn, NULL);
            err = TL_ERR_STORAGE;
            count = i;
            break;
        }
    }
    if (PQpipelineSync(conn) != 1) {
        pg_log("prepare: sync", conn, NULL);
        (void)PQexitPipelineMode(conn);
        return TL_ERR_STORAGE;
    }
    for (uint32_t i = 0; i < count; i++) {
        res = PQgetResult(conn);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && err == TL_OK) {
            pg_log(stmts[i].name, conn, res);
            err = TL_ERR_STORAGE;
        }
        PQclear(res);
        while ((res = PQgetResult(conn)) != NULL) { /* the end of statement i's answers */
            PQclear(res);
        }
    }
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType status = PQresultStatus(res);
        PQclear(res);
        if (status == PGRES_PIPELINE_SYNC) {
            break;
        }
    }
    if (PQexitPipelineMode(conn) != 1) {
        pg_log("prepare: pipeline end", conn, NULL);
        err = TL_ERR_STORAGE;
    }
    return err;
}

/* Notices (from the server) are not errors; the session keeps them below warning anyway. */
static void pg_notice(void *arg, const char *message)
{
    char line[512];
    (void)arg;
    pg_one_line(message, line, sizeof(line));
    fprintf(stderr, "store.postgres: notice: %s\n", line);
}

/*
 * Opens a new connection, sets the session up, migrates (writer, first connect only), checks
 * the version and prepares every statement. On TL_OK s->conn is ready; on error it is closed.
 */
static enum tl_err pg_connect(struct store_postgres *s, bool migrate)
{
    uint32_t version = 0;
    enum tl_err err;

    if (s->conn != NULL) {
        PQfinish(s->conn);
    }
    s->ready = false;
    s->conn = PQconnectdb(s->conninfo);
    if (s->conn == NULL) {
        return TL_ERR_NOMEM;
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        pg_log("connect", s->conn, NULL);
        err = TL_ERR_STORAGE;
        goto out_close;
    }
    (void)PQsetNoticeProcessor(s->conn, pg_notice, NULL);
    /*
     * Durable on commit whatever the server's default; readers can never write. Every
     * execution of a prepared statement is planned for its parameters and the tables' sizes
     * now: a generic plan cached while a table was small (a new database, before autovacuum
     * first analyzes it) kept the writer's prefetch a sequential scan of transfers, slower with
     * every batch (docs/performance.md, "PostgreSQL over HTTP").
     */
    err = pg_exec(s->conn,
                  s->base.read_only
                      ? "SET client_min_messages = warning; SET synchronous_commit = on; "
                        "SET default_transaction_read_only = on; "
                        "SET plan_cache_mode = force_custom_plan"
                      : "SET client_min_messages = warning; SET synchronous_commit = on; "
                        "SET default_transaction_read_only = off; "
                        "SET plan_cache_mode = force_custom_plan",
                  "session");
    err = err == TL_OK && migrate ? pg_migrate(s->conn) : err;
    err = err == TL_OK ? pg_version_read(s->conn, &version) : err;
    if (err == TL_OK && version != STORE_SCHEMA_VERSION) {
        fprintf(stderr, "store.postgres: schema version %u, this binary needs %u\n", version,
                STORE_SCHEMA_VERSION);
        err = TL_ERR_STORAGE;
    }
    err = err == TL_OK ? pg_prepare_set(s->conn, pg_stmts, STMT_COUNT) : err;
    err = err == TL_OK
              ? pg_prepare_set(s->conn, store_postgres_app_stmts, store_postgres_app_stmt_count)
              : err;
    err = err == TL_OK ? pg_prepare_set(s->conn, store_postgres_refunds_stmts,
                                        store_postgres_refunds_stmt_count)
                       : err;
    err = err == TL_OK ? pg_prepare_set(s->conn, store_postgres_plans_stmts,
                                        store_postgres_plans_stmt_count)
                       : err;
    err = err == TL_OK ? pg_prepare_set(s->conn, store_postgres_notes_stmts,
                                        store_postgres_notes_stmt_count)
                       : err;
    err = err == TL_OK ? pg_prepare_set(s->conn, store_postgres_stepup_stmts,
                                        store_postgres_stepup_stmt_count)
                       : err;
    err = err == TL_OK ? pg_prepare_set(s->conn, store_postgres_audit_stmts,
                                        store_postgres_audit_stmt_count)
                       : err;
    err = err == TL_OK ? pg_prepare_set(s->conn, store_postgres_records_stmts,
                                        store_postgres_records_stmt_count)
                       : err;
    if (err != TL_OK) {
        goto out_close;
    }
    s->ready = true;
    return TL_OK;
out_close:
    PQfinish(s->conn);
    s->conn = NULL;
    return err;
}

enum tl_err store_postgres_ready(struct store *store)
{
    struct store_postgres *s = pg_from(store);
    uint64_t now_ns;
    enum tl_err err;

    if (s->ready && PQstatus(s->conn) == CONNECTION_OK) {
        return TL_OK;
    }
    s->ready = false;
    if (s->in_txn) {
        return TL_ERR_STORAGE; /* the batch died with its connection; abort ends it */
    }
    now_ns = clock_mono_ns();
    if (now_ns < s->retry_at_ns) {
        fprintf(stderr, "store.postgres: not connected; next attempt in %llu ms\n",
                (unsigned long long)((s->retry_at_ns - now_ns) / NS_PER_MS));
        return TL_ERR_STORAGE;
    }
    err = pg_connect(s, false);
    if (err != TL_OK) {
        s->backoff_ms = s->backoff_ms == 0 ? PG_BACKOFF_MS_MIN : s->backoff_ms * 2;
        if (s->backoff_ms > PG_BACKOFF_MS_MAX) {
            s->backoff_ms = PG_BACKOFF_MS_MAX;
        }
        s->retry_at_ns = now_ns + s->backoff_ms * NS_PER_MS;
        return err == TL_ERR_NOMEM ? err : TL_ERR_STORAGE;
    }
    fprintf(stderr, "store.postgres: reconnected\n");
    s->backoff_ms = 0;
    s->retry_at_ns = 0;
    return TL_OK;
}

/* ---- Running statements ---- */

static enum tl_err pg_run_once(struct store_postgres *s, const char *stmt,
                               const struct pg_params *p, const char *what, PGresult **out,
                               bool allow_unique, char *constraint, size_t constraint_bytes)
{
    enum tl_err err = store_postgres_ready(&s->base);
    PGresult *res;
    ExecStatusType status;

    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(!s->piping);
    res = PQexecPrepared(s->conn, stmt, p != NULL ? (int)p->count : 0, p ? p->values : NULL,
                         p ? p->lengths : NULL, p ? p->formats : NULL, 1);
    status = PQresultStatus(res);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        *out = res;
        return TL_OK;
    }
    if (allow_unique && res != NULL && pg_is_unique_violation(res)) {
        const char *name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
        if (constraint != NULL) {
            pg_one_line(name != NULL ? name : "", constraint, constraint_bytes);
        }
        PQclear(res);
        return TL_ERR_CONFLICT;
    }
    pg_log(what, s->conn, res);
    err = pg_err_map(res);
    PQclear(res);
    pg_note_failure(s);
    return err;
}

/*
 * Runs one prepared statement. A read-only handle outside a transaction that finds its
 * connection lost (a server restart, a failover) reconnects and runs the statement once more:
 * a read has no effect to repeat, so the caller need not see the loss. Without this every
 * reader handle of a node answers one 503 after a failover, whenever it is next used. A
 * writable handle never retries: a write whose answer was lost may have committed.
 */
static enum tl_err pg_run(struct store_postgres *s, const char *stmt, const struct pg_params *p,
                          const char *what, PGresult **out, bool allow_unique, char *constraint,
                          size_t constraint_bytes)
{
    bool was_ready = s->ready;
    enum tl_err err =
        pg_run_once(s, stmt, p, what, out, allow_unique, constraint, constraint_bytes);
    if (err == TL_ERR_STORAGE && was_ready && !s->ready && s->base.read_only && !s->in_txn) {
        err = pg_run_once(s, stmt, p, what, out, allow_unique, constraint, constraint_bytes);
        if (err == TL_OK) {
            TL_ASSERT(s->ready);
        }
    }
    return err;
}

enum tl_err store_postgres_run(struct store *store, const char *stmt, const struct pg_params *p,
                               const char *what, PGresult **out)
{
    return pg_run(pg_from(store), stmt, p, what, out, false, NULL, 0);
}

enum tl_err store_postgres_run_unique(struct store *store, const char *stmt,
                                      const struct pg_params *p, const char *what, PGresult **out,
                                      char *constraint, size_t constraint_bytes)
{
    return pg_run(pg_from(store), stmt, p, what, out, true, constraint, constraint_bytes);
}

enum tl_err store_postgres_pipeline_send(struct store *store, const char *stmt,
                                         const struct pg_params *p, const char *what,
                                         enum pg_expect_rows expect, uint64_t rows,
                                         enum tl_err mismatch_err)
{
    struct store_postgres *s = pg_from(store);

    TL_ASSERT(s->in_txn);
    TL_ASSERT(s->expect_count < PG_PIPELINE_MAX);
    if (!s->ready || PQstatus(s->conn) != CONNECTION_OK) {
        s->ready = false;
        fprintf(stderr, "store.postgres: %s: connection lost\n", what);
        return TL_ERR_STORAGE;
    }
    if (!s->piping) {
        if (PQenterPipelineMode(s->conn) != 1) {
            pg_log(what, s->conn, NULL);
            return TL_ERR_STORAGE;
        }
        s->piping = true;
    }
    if (PQsendQueryPrepared(s->conn, stmt, (int)p->count, p->values, p->lengths, p->formats, 1) !=
        1) {
        pg_log(what, s->conn, NULL);
        pg_note_failure(s);
        return TL_ERR_STORAGE;
    }
    s->expects[s->expect_count++] = (struct pg_expect){what, expect, rows, mismatch_err};
    return TL_OK;
}

/* Checks one pipelined statement's answer against what it must be. */
static enum tl_err pg_expect_check(struct store_postgres *s, const struct pg_expect *e,
                                   PGresult *res)
{
    ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_PIPELINE_ABORTED) {
        return TL_ERR_STORAGE; /* an earlier statement failed and was reported */
    }
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        pg_log(e->what, s->conn, res);
        return pg_err_map(res);
    }
    if (e->rows_kind == PG_EXPECT_EXACT) {
        const char *tuples = PQcmdTuples(res);
        char *end = NULL;
        unsigned long long n = strtoull(tuples, &end, 10);
        if (tuples[0] == '\0' || *end != '\0' || n != e->rows) {
            fprintf(stderr, "store.postgres: %s: %s of %llu rows\n", e->what, tuples,
                    (unsigned long long)e->rows);
            return e->mismatch_err;
        }
    }
    return TL_OK;
}

/*
 * Ends the commit pipeline: a sync, then every answer in order. Returns the first failure
 * (later statements were skipped by the server). The connection leaves pipeline mode either
 * way unless it broke.
 */
static enum tl_err pg_pipeline_finish(struct store_postgres *s)
{
    enum tl_err err = TL_OK;
    PGresult *res;

    TL_ASSERT(s->piping);
    if (PQpipelineSync(s->conn) != 1) {
        pg_log("commit: sync", s->conn, NULL);
        err = TL_ERR_STORAGE;
        goto out;
    }
    for (uint32_t i = 0; i < s->expect_count; i++) {
        res = PQgetResult(s->conn);
        if (res == NULL) {
            pg_log(s->expects[i].what, s->conn, NULL);
            err = TL_ERR_STORAGE;
            goto out;
        }
        enum tl_err one = pg_expect_check(s, &s->expects[i], res);
        err = err == TL_OK ? one : err;
        PQclear(res);
        while ((res = PQgetResult(s->conn)) != NULL) {
            PQclear(res);
        }
    }
    while ((res = PQgetResult(s->conn)) != NULL) {
        ExecStatusType status = PQresultStatus(res);
        PQclear(res);
        if (status == PGRES_PIPELINE_SYNC) {
            break;
        }
    }
out:
    s->expect_count = 0;
    if (PQexitPipelineMode(s->conn) == 1) {
        s->piping = false;
    } else {
        s->ready = false; /* a broken pipeline: only a new connection clears it */
    }
    pg_note_failure(s);
    return err;
}

/* ---- Rows ---- */

static bool col_balance(const PGresult *res, int row, int first, struct ledger_balance *out)
{
    bool ok = pg_col_i64(res, row, first, &out->debits_pending);
    ok = ok && pg_col_i64(res, row, first + 1, &out->debits_posted);
    ok = ok && pg_col_i64(res, row, first + 2, &out->credits_pending);
    return ok && pg_col_i64(res, row, first + 3, &out->credits_posted);
}

static bool row_account(const PGresult *res, int row, struct ledger_account *out)
{
    struct ledger_account a;
    int32_t currency, kind;
    uint64_t flags;
    bool ok;

    TL_ASSERT(PQnfields(res) == ACOL_COUNT);
    memset(&a, 0, sizeof(a));
    ok = pg_col_id(res, row, ACOL_ID, &a.id);
    ok = ok && pg_col_id(res, row, ACOL_USER_DATA, &a.user_data);
    ok = ok && pg_col_i64(res, row, ACOL_DEBITS_PENDING, &a.debits_pending);
    ok = ok && pg_col_i64(res, row, ACOL_DEBITS_POSTED, &a.debits_posted);
    ok = ok && pg_col_i64(res, row, ACOL_CREDITS_PENDING, &a.credits_pending);
    ok = ok && pg_col_i64(res, row, ACOL_CREDITS_POSTED, &a.credits_posted);
    ok = ok && pg_col_uint(res, row, ACOL_TIMESTAMP, 1, INT64_MAX, &a.timestamp);
    ok = ok && pg_col_uint(res, row, ACOL_POSTING_LAST, 0, INT64_MAX, &a.posting_last);
    ok = ok && pg_col_int_range(res, row, ACOL_CURRENCY, 0, UINT16_MAX, &currency);
    ok = ok && pg_col_int_range(res, row, ACOL_KIND, 0, UINT16_MAX, &kind);
    ok = ok && pg_col_uint(res, row, ACOL_FLAGS, 0, UINT32_MAX, &flags);
    if (!ok || id128_is_zero(a.id)) {
        return false;
    }
    a.currency = (uint16_t)currency;
    a.kind = (uint16_t)kind;
    a.flags = (uint32_t)flags;
    *out = a;
    return true;
}

static bool row_posting(const PGresult *res, int row, struct ledger_posting *out)
{
    struct ledger_posting p;
    struct ledger_transfer *t = &p.transfer;
    uint64_t timeout_s;
    int32_t status;
    bool ok;

    TL_ASSERT(PQnfields(res) == TCOL_COUNT);
    memset(&p, 0, sizeof(p));
    ok = pg_col_uint(res, row, TCOL_TIMESTAMP, 1, INT64_MAX, &t->timestamp);
    ok = ok && pg_col_id(res, row, TCOL_ID, &t->id);
    ok = ok && pg_col_id(res, row, TCOL_DEBIT_ACCOUNT, &t->debit_account_id);
    ok = ok && pg_col_id(res, row, TCOL_CREDIT_ACCOUNT, &t->credit_account_id);
    ok = ok && pg_col_id_optional(res, row, TCOL_PENDING_ID, &t->pending_id);
    ok = ok && pg_col_id_optional(res, row, TCOL_USER_REF, &t->user_ref);
    ok = ok && pg_col_i64(res, row, TCOL_AMOUNT, &t->amount);
    ok = ok && pg_col_uint(res, row, TCOL_TIMEOUT_S, 0, UINT32_MAX, &timeout_s);
    ok = ok && pg_col_u16(res, row, TCOL_CURRENCY, &t->currency);
    ok = ok && pg_col_u16(res, row, TCOL_CODE, &t->code);
    ok = ok && pg_col_u16(res, row, TCOL_FLAGS, &t->flags);
    ok = ok && pg_col_int_range(res, row, TCOL_PENDING_STATUS, 0, LEDGER_PENDING_EXPIRED, &status);
    ok = ok && col_balance(res, row, TCOL_DEBIT_AFTER, &p.debit_after);
    ok = ok && col_balance(res, row, TCOL_CREDIT_AFTER, &p.credit_after);
    ok = ok && pg_col_uint(res, row, TCOL_DEBIT_PREV, 0, INT64_MAX, &p.debit_prev);
    ok = ok && pg_col_uint(res, row, TCOL_CREDIT_PREV, 0, INT64_MAX, &p.credit_prev);
    if (!ok || id128_is_zero(t->id)) {
        return false;
    }
    t->timeout_s = (uint32_t)timeout_s;
    p.pending_status = (uint8_t)status;
    *out = p;
    return true;
}

/* One row by id with a prepared statement; *found says whether *out holds it. */
static enum tl_err pg_lookup_account(struct store_postgres *s, struct id128 id,
                                     struct ledger_account *out, bool *found)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    pg_params_init(&p);
    pg_param_id(&p, id);
    err = store_postgres_run(&s->base, "STMT_ACCOUNT_GET", &p, "account_get", &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) > 1 || (PQntuples(res) == 1 && !row_account(res, 0, out))) {
        err = store_postgres_corrupt("account_get");
    } else {
        *found = PQntuples(res) == 1;
    }
    PQclear(res);
    return err;
}

/* ---- Open and close ---- */

static void pg_close(struct store *store)
{
    struct store_postgres *s = pg_from(store);
    if (s->conn != NULL) {
        PQfinish(s->conn); /* an open transaction is rolled back by the server */
    }
    pg_buf_free(&s->buf);
    free(s->slots);
    free(s->conninfo);
    free(s);
}

static enum tl_err pg_open(const struct store_config *config, struct store **out)
{
    struct store_postgres *s;
    size_t conninfo_bytes;
    enum tl_err err;

    TL_ASSERT(config->path != NULL);
    conninfo_bytes = strnlen(config->path, PG_CONNINFO_BYTES_MAX);
    if (conninfo_bytes == PG_CONNINFO_BYTES_MAX) {
        fprintf(stderr, "store.postgres: conninfo longer than %d bytes\n", PG_CONNINFO_BYTES_MAX);
        return TL_ERR_INVALID_REQUEST;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TL_ERR_NOMEM;
    }
    store_init(&s->base, &store_postgres_ops, config->read_only);
    s->conninfo = malloc(conninfo_bytes + 1);
    if (s->conninfo == NULL) {
        err = TL_ERR_NOMEM;
        goto out_close;
    }
    memcpy(s->conninfo, config->path, conninfo_bytes + 1);
    /* A reader never creates anything: a database without our schema is an error. */
    err = pg_connect(s, !config->read_only);
    if (err != TL_OK) {
        goto out_close;
    }
    *out = &s->base;
    return TL_OK;
out_close:
    pg_close(&s->base);
    return err;
}

static enum tl_err pg_schema_version(struct store *store, uint32_t *out_version)
{
    struct store_postgres *s = pg_from(store);
    enum tl_err err = store_postgres_ready(store);
    if (err != TL_OK) {
        return err;
    }
    err = pg_version_read(s->conn, out_version);
    pg_note_failure(s);
    return err;
}

static bool pg_exclusive(const struct store *store)
{
    TL_ASSERT(store->ops == &store_postgres_ops);
    return false; /* other nodes write the same database */
}

static enum tl_err pg_ping(struct store *store)
{
    uint32_t version = 0;
    enum tl_err err = pg_schema_version(store, &version);
    if (err == TL_OK && version != STORE_SCHEMA_VERSION) {
        fprintf(stderr, "store.postgres: ping: schema version %u, this binary needs %u\n", version,
                STORE_SCHEMA_VERSION);
        err = TL_ERR_STORAGE;
    }
    return err;
}

/* ---- Startup ---- */

/* Pages through the accounts in id order, PG_SCAN_PAGE_ROWS at a time, so memory stays
 * bounded however many accounts there are. */
static enum tl_err pg_accounts_scan(struct store *store,
                                    enum tl_err (*fn)(void *ctx, const struct ledger_account *a),
                                    void *ctx)
{
    struct ledger_account account;
    struct id128 after = id128_make(0, 0);
    bool first = true;
    int rows;

    do {
        struct pg_params p;
        PGresult *res = NULL;
        enum tl_err err;

        pg_params_init(&p);
        if (first) {
            pg_param_bytes(&p, NULL, 0); /* the empty bytea sorts before every id */
        } else {
            pg_param_id(&p, after);
        }
        pg_param_i64(&p, PG_SCAN_PAGE_ROWS);
        err = store_postgres_run(store, "STMT_ACCOUNTS_SCAN", &p, "accounts_scan", &res);
        if (err != TL_OK) {
            return err;
        }
        rows = PQntuples(res);
        for (int i = 0; i < rows && err == TL_OK; i++) {
            if (!row_account(res, i, &account) || (!first && id128_cmp(account.id, after) <= 0)) {
                err = store_postgres_corrupt("accounts_scan");
                break;
            }
            err = fn(ctx, &account);
            after = account.id;
            first = false;
        }
        PQclear(res);
        if (err != TL_OK) {
            return err;
        }
    } while (rows == PG_SCAN_PAGE_ROWS);
    return TL_OK;
}

static enum tl_err pg_timestamp_last(struct store *store, uint64_t *out)
{
    PGresult *res = NULL;
    enum tl_err err =
        store_postgres_run(store, "STMT_TIMESTAMP_LAST", NULL, "timestamp_last", &res);
    uint64_t timestamp;

    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) != 1 || !pg_col_uint(res, 0, 0, 0, INT64_MAX, &timestamp)) {
        err = store_postgres_corrupt("timestamp_last");
    } else {
        *out = timestamp;
    }
    PQclear(res);
    return err;
}

/* ---- The write path ---- */

/* Runs batch_begin's statements; the last one's answer is the audit chain's head, read under
 * the batch lock in the same round trip. An error after BEGIN leaves the transaction for
 * the caller's failure path, as pg_exec does. */
static enum tl_err pg_exec_head(struct store_postgres *s, const char *sql)
{
    PGresult *res = PQexec(s->conn, sql);
    enum tl_err err = TL_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_log("begin", s->conn, res);
        err = pg_err_map(res);
    } else {
        err = store_postgres_audit_head_parse(res, &s->audit_head);
    }
    PQclear(res);
    if (err != TL_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        (void)pg_exec(s->conn, "ROLLBACK", "begin: rollback");
    }
    return err;
}

static enum tl_err pg_batch_begin(struct store *store)
{
    struct store_postgres *s = pg_from(store);
    enum tl_err err = store_postgres_ready(store);

    TL_ASSERT(!s->in_txn);
    TL_ASSERT(!s->piping);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(PQtransactionStatus(s->conn) == PQTRANS_IDLE);
    /* READ COMMITTED, so every statement sees what other nodes committed before it, and the
     * batch lock in the same round trip: see PG_BATCH_LOCK_KEY. */
    s->audit_head.valid = false;
    err = pg_exec_head(s, "BEGIN ISOLATION LEVEL READ COMMITTED; "
                          "SELECT pg_advisory_xact_lock(" PG_BATCH_LOCK_KEY "); "
                          STORE_POSTGRES_AUDIT_HEAD_SQL);
    if (err != TL_OK) {
        pg_note_failure(s);
        return err;
    }
    s->in_txn = true;
    s->expect_count = 0;
    return TL_OK;
}

static int pg_slot_cmp(const void *a, const void *b)
{
    const struct pg_id_slot *x = a;
    const struct pg_id_slot *y = b;
    int c = id128_cmp(x->id, y->id);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* Sorts the asked ids (with where each answer goes) into s->slots. */
static enum tl_err pg_slots_fill(struct store_postgres *s, const struct id128 *ids, uint32_t count)
{
    if (count > s->slot_max) {
        struct pg_id_slot *slots = malloc((size_t)count * sizeof(*slots));
        if (slots == NULL) {
            return TL_ERR_NOMEM;
        }
        free(s->slots);
        s->slots = slots;
        s->slot_max = count;
    }
    for (uint32_t i = 0; i < count; i++) {
        s->slots[i].id = ids[i];
        s->slots[i].index = i;
    }
    qsort(s->slots, count, sizeof(*s->slots), pg_slot_cmp);
    return TL_OK;
}

/* Runs a statement whose only parameter is the array of ids. */
static enum tl_err pg_run_ids(struct store_postgres *s, const char *stmt, const struct id128 *ids,
                              uint32_t count, const char *what, PGresult **out)
{
    struct pg_params p;
    enum tl_err err = pg_buf_reset(&s->buf, pg_array_bytes_max(count, ID128_BYTES));

    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
    pg_array_begin(&p, &s->buf, PG_OID_BYTEA, count);
    for (uint32_t i = 0; i < count; i++) {
        pg_array_id(&s->buf, ids[i]);
    }
    pg_params_resolve(&p, &s->buf);
    return store_postgres_run(&s->base, stmt, &p, what, out);
}

/*
 * Locks and loads the accounts. The rows come back in id order, locked in that order (the
 * lock is taken above the sort), so concurrent batches of several nodes queue on their first
 * common account instead of deadlocking; the ids are matched to the answers by a merge.
 */
static enum tl_err pg_accounts_get(struct store *store, const struct id128 *ids, uint32_t count,
                                   struct ledger_account *out, bool *found)
{
    struct store_postgres *s = pg_from(store);
    struct ledger_account account;
    PGresult *res = NULL;
    uint32_t slot = 0;
    enum tl_err err;

    TL_ASSERT(s->in_txn);
    if (count == 0) {
        return TL_OK;
    }
    err = pg_slots_fill(s, ids, count);
    err =
        err == TL_OK ? pg_run_ids(s, "STMT_ACCOUNTS_LOCK", ids, count, "accounts_get", &res) : err;
    if (err != TL_OK) {
        return err;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        if (!row_account(res, row, &account)) {
            err = store_postgres_corrupt("accounts_get");
            goto out;
        }
        while (slot < count && id128_cmp(s->slots[slot].id, account.id) < 0) {
            found[s->slots[slot++].index] = false;
        }
        if (slot == count || !id128_eq(s->slots[slot].id, account.id)) {
            err = store_postgres_corrupt("accounts_get: order");
            goto out;
        }
        while (slot < count && id128_eq(s->slots[slot].id, account.id)) {
            out[s->slots[slot].index] = account;
            found[s->slots[slot++].index] = true;
        }
    }
    while (slot < count) {
        found[s->slots[slot++].index] = false;
    }
out:
    PQclear(res);
    return err;
}

static enum tl_err pg_transfers_get(struct store *store, const struct id128 *ids, uint32_t count,
                                    struct ledger_transfer *out, enum ledger_pending_status *status,
                                    bool *found)
{
    struct store_postgres *s = pg_from(store);
    struct ledger_posting posting;
    PGresult *res = NULL;
    uint32_t slot = 0;
    enum tl_err err;

    if (count == 0) {
        return TL_OK;
    }
    err = pg_slots_fill(s, ids, count);
    err =
        err == TL_OK ? pg_run_ids(s, "STMT_TRANSFERS_GET", ids, count, "transfers_get", &res) : err;
    if (err != TL_OK) {
        return err;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        if (!row_posting(res, row, &posting)) {
            err = store_postgres_corrupt("transfers_get");
            goto out;
        }
        while (slot < count && id128_cmp(s->slots[slot].id, posting.transfer.id) < 0) {
            found[s->slots[slot++].index] = false;
        }
        if (slot == count || !id128_eq(s->slots[slot].id, posting.transfer.id)) {
            err = store_postgres_corrupt("transfers_get: order");
            goto out;
        }
        while (slot < count && id128_eq(s->slots[slot].id, posting.transfer.id)) {
            uint32_t i = s->slots[slot++].index;
            out[i] = posting.transfer;
            status[i] = (enum ledger_pending_status)posting.pending_status;
            found[i] = true;
        }
    }
    while (slot < count) {
        found[s->slots[slot++].index] = false;
    }
out:
    PQclear(res);
    return err;
}

/* Inside a batch the holds are locked (SKIP LOCKED: a hold another node is expiring right now
 * is left to it); outside, a plain read. */
static enum tl_err pg_pending_expired(struct store *store, uint64_t now_ns, uint32_t limit,
                                      struct ledger_transfer *out, uint32_t *out_count)
{
    struct store_postgres *s = pg_from(store);
    struct ledger_posting posting;
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;
    int rows;

    if (limit == 0) {
        *out_count = 0;
        return TL_OK;
    }
    pg_params_init(&p);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_i64(&p, limit);
    err =
        store_postgres_run(store, s->in_txn ? "STMT_PENDING_EXPIRED_LOCK" : "STMT_PENDING_EXPIRED",
                           &p, "pending_expired", &res);
    if (err != TL_OK) {
        return err;
    }
    rows = PQntuples(res);
    if (rows < 0 || (uint32_t)rows > limit) {
        err = store_postgres_corrupt("pending_expired");
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        if (!row_posting(res, i, &posting) || posting.pending_status != LEDGER_PENDING_OPEN) {
            err = store_postgres_corrupt("pending_expired");
            goto out;
        }
        out[i] = posting.transfer;
    }
    *out_count = (uint32_t)rows;
out:
    PQclear(res);
    return err;
}

/* ---- Commit phases: each sends one statement into the pipeline; commit reads them ---- */

static int pg_account_ptr_cmp(const void *a, const void *b)
{
    return id128_cmp((*(const struct ledger_account *const *)a)->id,
                     (*(const struct ledger_account *const *)b)->id);
}

/*
 * One upsert for every changed account, in id order (the order accounts_get locked them in):
 * an existing account (same id, same key) gets its balances and chain head; a new one is
 * inserted. An id stored under another key updates nothing and a key taken by another id
 * violates the primary key: either way the batch fails, like SQLite's.
 */
static enum tl_err pg_accounts_write(struct store *store,
                                     const struct ledger_account *const *accounts, uint32_t count)
{
    struct store_postgres *s = pg_from(store);
    const struct ledger_account **sorted;
    struct pg_params p;
    enum tl_err err;

    TL_ASSERT(s->in_txn);
    if (count == 0) {
        return TL_OK;
    }
    err = pg_buf_reset(&s->buf, 11 * pg_array_bytes_max(count, ID128_BYTES));
    if (err != TL_OK) {
        return err;
    }
    sorted = malloc((size_t)count * sizeof(*sorted));
    if (sorted == NULL) {
        return TL_ERR_NOMEM;
    }
    memcpy(sorted, accounts, (size_t)count * sizeof(*sorted));
    qsort(sorted, count, sizeof(*sorted), pg_account_ptr_cmp);
    pg_params_init(&p);
#define ACCOUNT_ARRAY(oid, append)                                                                 \
    do {                                                                                           \
        pg_array_begin(&p, &s->buf, oid, count);                                                   \
        for (uint32_t i = 0; i < count; i++) {                                                     \
            const struct ledger_account *a = sorted[i];                                            \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    ACCOUNT_ARRAY(PG_OID_BYTEA, pg_array_id(&s->buf, a->id));
    ACCOUNT_ARRAY(PG_OID_BYTEA, pg_array_id(&s->buf, a->user_data));
    ACCOUNT_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, a->debits_pending));
    ACCOUNT_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, a->debits_posted));
    ACCOUNT_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, a->credits_pending));
    ACCOUNT_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, a->credits_posted));
    ACCOUNT_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, (int64_t)a->timestamp));
    ACCOUNT_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, (int64_t)a->posting_last));
    ACCOUNT_ARRAY(PG_OID_INT4, pg_array_i32(&s->buf, a->currency));
    ACCOUNT_ARRAY(PG_OID_INT4, pg_array_i32(&s->buf, a->kind));
    ACCOUNT_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, a->flags));
#undef ACCOUNT_ARRAY
    free(sorted);
    pg_params_resolve(&p, &s->buf);
    return store_postgres_pipeline_send(store, "STMT_ACCOUNTS_WRITE", &p, "accounts_write",
                                        PG_EXPECT_EXACT, count, TL_ERR_STORAGE);
}

/*
 * All postings in one INSERT .. SELECT FROM unnest, the accounts' keys joined in by id. A
 * posting naming an account that exists nowhere joins nothing: the row count says so
 * (TL_ERR_CORRUPT); a transfer id or timestamp that exists violates a unique key.
 */
static enum tl_err pg_postings_write(struct store *store, const struct ledger_posting *postings,
                                     uint32_t count)
{
    struct store_postgres *s = pg_from(store);
    struct pg_params p;
    enum tl_err err;

    TL_ASSERT(s->in_txn);
    if (count == 0) {
        return TL_OK;
    }
    err = pg_buf_reset(&s->buf, 22 * pg_array_bytes_max(count, ID128_BYTES));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
#define POSTING_ARRAY(oid, append)                                                                 \
    do {                                                                                           \
        pg_array_begin(&p, &s->buf, oid, count);                                                   \
        for (uint32_t i = 0; i < count; i++) {                                                     \
            const struct ledger_posting *x = &postings[i];                                         \
            const struct ledger_transfer *t = &x->transfer;                                        \
            (void)t;                                                                               \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, (int64_t)t->timestamp));
    POSTING_ARRAY(PG_OID_BYTEA, pg_array_id(&s->buf, t->id));
    POSTING_ARRAY(PG_OID_BYTEA, pg_array_id(&s->buf, t->debit_account_id));
    POSTING_ARRAY(PG_OID_BYTEA, pg_array_id(&s->buf, t->credit_account_id));
    POSTING_ARRAY(PG_OID_BYTEA, pg_array_id_optional(&s->buf, t->pending_id));
    POSTING_ARRAY(PG_OID_BYTEA, pg_array_id_optional(&s->buf, t->user_ref));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, t->amount));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, t->timeout_s));
    POSTING_ARRAY(PG_OID_INT4, pg_array_i32(&s->buf, t->currency));
    POSTING_ARRAY(PG_OID_INT4, pg_array_i32(&s->buf, t->code));
    POSTING_ARRAY(PG_OID_INT4, pg_array_i32(&s->buf, t->flags));
    POSTING_ARRAY(PG_OID_INT4, pg_array_i32(&s->buf, x->pending_status));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->debit_after.debits_pending));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->debit_after.debits_posted));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->debit_after.credits_pending));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->debit_after.credits_posted));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->credit_after.debits_pending));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->credit_after.debits_posted));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->credit_after.credits_pending));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, x->credit_after.credits_posted));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, (int64_t)x->debit_prev));
    POSTING_ARRAY(PG_OID_INT8, pg_array_i64(&s->buf, (int64_t)x->credit_prev));
#undef POSTING_ARRAY
    pg_params_resolve(&p, &s->buf);
    return store_postgres_pipeline_send(store, "STMT_POSTINGS_WRITE", &p, "postings_write",
                                        PG_EXPECT_EXACT, count, TL_ERR_CORRUPT);
}

/* A hold resolved by the ledger must exist and be open (or already carry that status when it
 * was created and resolved in this batch); anything else means store and ledger disagree. */
static enum tl_err pg_pending_write(struct store *store,
                                    const struct ledger_pending_update *updates, uint32_t count)
{
    struct store_postgres *s = pg_from(store);
    struct pg_params p;
    enum tl_err err;

    TL_ASSERT(s->in_txn);
    if (count == 0) {
        return TL_OK;
    }
    err = pg_buf_reset(&s->buf, 2 * pg_array_bytes_max(count, ID128_BYTES));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
    pg_array_begin(&p, &s->buf, PG_OID_BYTEA, count);
    for (uint32_t i = 0; i < count; i++) {
        pg_array_id(&s->buf, updates[i].pending_id);
    }
    pg_array_begin(&p, &s->buf, PG_OID_INT4, count);
    for (uint32_t i = 0; i < count; i++) {
        pg_array_i32(&s->buf, updates[i].status);
    }
    pg_params_resolve(&p, &s->buf);
    return store_postgres_pipeline_send(store, "STMT_PENDING_WRITE", &p,
                                        "pending_write: hold not found or not open",
                                        PG_EXPECT_EXACT, count, TL_ERR_CORRUPT);
}

static int64_t pg_wall_ns(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    TL_ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Outbox rows in one statement, in record order; payment and idempotency rows are
 * postgres_app.c's, one statement per kind. */
static enum tl_err pg_records_write(struct store *store, const struct store_record *records,
                                    uint32_t count)
{
    struct store_postgres *s = pg_from(store);
    uint32_t outbox = 0;
    size_t data_bytes = 0;
    struct pg_params p;
    enum tl_err err;

    TL_ASSERT(s->in_txn);
    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_OUTBOX) {
            outbox++;
            data_bytes += sizeof(records[i].topic) + records[i].data_bytes;
        }
    }
    if (outbox > 0) {
        err = pg_buf_reset(&s->buf, 3 * pg_array_bytes_max(outbox, ID128_BYTES) + data_bytes);
        if (err != TL_OK) {
            return err;
        }
        pg_params_init(&p);
        pg_array_begin(&p, &s->buf, PG_OID_BYTEA, outbox);
        for (uint32_t i = 0; i < count; i++) {
            if (records[i].kind == STORE_RECORD_OUTBOX) {
                pg_array_id(&s->buf, records[i].key);
            }
        }
        pg_array_begin(&p, &s->buf, PG_OID_TEXT, outbox);
        for (uint32_t i = 0; i < count; i++) {
            if (records[i].kind == STORE_RECORD_OUTBOX) {
                pg_array_text(&s->buf, records[i].topic);
            }
        }
        pg_array_begin(&p, &s->buf, PG_OID_BYTEA, outbox);
        for (uint32_t i = 0; i < count; i++) {
            if (records[i].kind == STORE_RECORD_OUTBOX) {
                pg_array_bytes(&s->buf, records[i].data, records[i].data_bytes);
            }
        }
        pg_params_resolve(&p, &s->buf);
        pg_param_i64(&p, pg_wall_ns());
        err = store_postgres_pipeline_send(store, "STMT_OUTBOX_WRITE", &p, "records_write: outbox",
                                           PG_EXPECT_EXACT, outbox, TL_ERR_STORAGE);
        if (err != TL_OK) {
            return err;
        }
    }
    err = store_postgres_app_records_send(store, records, count);
    return err == TL_OK ? store_postgres_audit_records_send(store, records, count) : err;
}

/* Reads every pipelined answer, then commits. synchronous_commit is on: COMMIT returns once
 * the WAL is flushed. An answer that fails leaves the transaction open for abort to end. */
static enum tl_err pg_commit(struct store *store)
{
    struct store_postgres *s = pg_from(store);
    enum tl_err err = TL_OK;
    PGresult *res;

    TL_ASSERT(s->in_txn);
    if (s->piping) {
        err = pg_pipeline_finish(s);
        if (err != TL_OK) {
            return err;
        }
    }
    if (!s->ready) {
        return TL_ERR_STORAGE;
    }
    res = PQexec(s->conn, "COMMIT");
    /* COMMIT of a transaction that failed answers ROLLBACK without an error. */
    if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        pg_log("commit", s->conn, res);
        err = TL_ERR_STORAGE;
    }
    PQclear(res);
    pg_note_failure(s);
    if (err == TL_OK) {
        s->in_txn = false;
    }
    return err;
}

/*
 * Ends the batch transaction. A pipeline still open is drained first (its errors were the
 * batch's and are logged). A connection left in a state only a new one clears (broken, or a
 * pipeline or transaction that would not end) is closed: the next call reconnects.
 */
static void pg_abort(struct store *store)
{
    struct store_postgres *s = pg_from(store);
    PGresult *res;

    if (s->piping && s->ready) {
        (void)pg_pipeline_finish(s);
    }
    s->expect_count = 0;
    if (s->in_txn && s->ready && !s->piping && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        res = PQexec(s->conn, "ROLLBACK");
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            pg_log("rollback", s->conn, res);
        }
        PQclear(res);
    }
    if (s->conn != NULL && (s->piping || PQstatus(s->conn) != CONNECTION_OK ||
                            PQtransactionStatus(s->conn) != PQTRANS_IDLE)) {
        PQfinish(s->conn);
        s->conn = NULL;
        s->ready = false;
        s->piping = false;
    }
    s->in_txn = false;
}

/* ---- Reads ---- */

static enum tl_err pg_account_get(struct store *store, struct id128 id, struct ledger_account *out,
                                  bool *found)
{
    enum tl_err err = pg_lookup_account(pg_from(store), id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    return err;
}

static enum tl_err pg_transfer_get(struct store *store, struct id128 id, struct ledger_posting *out,
                                   bool *found)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    pg_params_init(&p);
    pg_param_id(&p, id);
    err = store_postgres_run(store, "STMT_TRANSFER_GET", &p, "transfer_get", &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) > 1 || (PQntuples(res) == 1 && !row_posting(res, 0, out))) {
        err = store_postgres_corrupt("transfer_get");
    } else {
        *found = PQntuples(res) == 1;
    }
    PQclear(res);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->transfer.id, id));
    return err;
}

/*
 * Older pages walk down from the cursor; newer pages walk up from it and are reversed, so
 * every page is newest first. limit + 1 rows are read: the extra one only says *has_more.
 */
static enum tl_err pg_history(struct store *store, struct id128 account_id,
                              const struct store_page *page, struct ledger_posting *out,
                              uint32_t *out_count, bool *has_more)
{
    bool newer = page->ending_before_ts != 0;
    uint64_t cursor = newer ? page->ending_before_ts : page->starting_after_ts;
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;
    uint32_t count;
    int rows;

    if (cursor == 0) {
        cursor = UINT64_MAX;
    }
    pg_params_init(&p);
    pg_param_id(&p, account_id);
    pg_param_u64_clamped(&p, cursor);
    pg_param_i64(&p, (int64_t)page->limit + 1);
    err = store_postgres_run(store, newer ? "STMT_HISTORY_NEWER" : "STMT_HISTORY_OLDER", &p,
                             "history", &res);
    if (err != TL_OK) {
        return err;
    }
    rows = PQntuples(res);
    count = rows > (int)page->limit ? page->limit : (uint32_t)rows;
    for (uint32_t i = 0; i < count; i++) {
        if (!row_posting(res, (int)i, &out[newer ? count - 1 - i : i])) {
            err = store_postgres_corrupt("history");
            goto out;
        }
    }
    *out_count = count;
    *has_more = rows > (int)page->limit;
out:
    PQclear(res);
    return err;
}

static enum tl_err outbox_row(const PGresult *res, int row, struct store_outbox_row *out)
{
    uint64_t seq;
    struct id128 key;
    int data_bytes;

    memset(out, 0, sizeof(*out));
    if (!pg_col_uint(res, row, 0, 1, INT64_MAX, &seq) || !pg_col_id(res, row, 1, &key) ||
        !pg_col_text(res, row, 2, out->topic, sizeof(out->topic), false) ||
        PQgetisnull(res, row, 3)) {
        return store_postgres_corrupt("outbox_list");
    }
    data_bytes = PQgetlength(res, row, 3);
    if (data_bytes < 0 || data_bytes > TL_RECORD_BYTES_MAX) {
        return store_postgres_corrupt("outbox_list");
    }
    out->data = malloc((size_t)data_bytes + 1);
    if (out->data == NULL) {
        return TL_ERR_NOMEM;
    }
    memcpy(out->data, PQgetvalue(res, row, 3), (size_t)data_bytes);
    out->data[data_bytes] = '\0';
    out->data_bytes = (uint32_t)data_bytes;
    out->seq = seq;
    out->key = key;
    return TL_OK;
}

static enum tl_err pg_outbox_list(struct store *store, uint64_t after_seq, uint32_t limit,
                                  struct store_outbox_row *out, uint32_t *out_count)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;
    uint32_t count = 0;

    if (limit == 0) {
        *out_count = 0;
        return TL_OK;
    }
    pg_params_init(&p);
    pg_param_u64_clamped(&p, after_seq);
    pg_param_i64(&p, limit);
    err = store_postgres_run(store, "STMT_OUTBOX_LIST", &p, "outbox_list", &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) < 0 || (uint32_t)PQntuples(res) > limit) {
        err = store_postgres_corrupt("outbox_list");
        goto out;
    }
    for (; count < (uint32_t)PQntuples(res); count++) {
        err = outbox_row(res, (int)count, &out[count]);
        if (err != TL_OK) {
            store_outbox_rows_free(out, count);
            goto out;
        }
        TL_ASSERT(out[count].seq > after_seq);
    }
    *out_count = count;
out:
    PQclear(res);
    return err;
}

const struct store_ops store_postgres_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .exclusive = pg_exclusive,
    .ping = pg_ping,
    .accounts_scan = pg_accounts_scan,
    .timestamp_last = pg_timestamp_last,
    .batch_begin = pg_batch_begin,
    .accounts_get = pg_accounts_get,
    .transfers_get = pg_transfers_get,
    .pending_expired = pg_pending_expired,
    .accounts_write = pg_accounts_write,
    .postings_write = pg_postings_write,
    .pending_write = pg_pending_write,
    .records_write = pg_records_write,
    .commit = pg_commit,
    .abort = pg_abort,
    .account_get = pg_account_get,
    .transfer_get = pg_transfer_get,
    .history = pg_history,
    .outbox_list = pg_outbox_list,
    .app = &store_postgres_app_ops,
};
