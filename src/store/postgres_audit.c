/*
 * postgres_audit.c - the audit log (schema v5) on PostgreSQL: chained appends, listings, the
 * scan the verifier reads, checkpoints and sealing (audit_backend.h).
 *
 * The chain has one head across nodes. A batch reads it in batch_begin's round trip, right
 * after taking the batch advisory lock, and sends its entries as one INSERT from arrays. A
 * direct append reads the head, chains the entry onto it and inserts it with a statement that
 * takes the same lock first: while a batch runs it waits, and when another append or batch
 * took that seq in the meantime the primary key refuses the row (nothing written) and the
 * append reads the head again. An entry never changes, so a seq that is still free after its
 * predecessor's hash was read continues the chain correctly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit_backend.h"
#include "store/audit_chain.h"
#include "store/backend.h"
#include "store/postgres_private.h"
#include "util/assert.h"

/* Times a direct append reads the head again after losing its seq to another appender. */
#define AUDIT_APPEND_ATTEMPTS_MAX 16

#define AUDIT_COLUMNS                                                                              \
    "seq, created_ns, user_id, kind, subject, counterparty_id, amount, currency, request_id, "     \
    "ip, prev_hash, hash"
#define AUDIT_COLUMN_COUNT 12
#define AUDIT_PARAMS                                                                               \
    "$1::bigint, $2::bigint, $3::bytea, $4::text, $5::text, $6::bytea, $7::bigint, $8::integer, "  \
    "$9::text, $10::text, $11::bytea, $12::bytea"
#define AUDIT_ARRAYS                                                                               \
    "$1::bigint[], $2::bigint[], $3::bytea[], $4::text[], $5::text[], $6::bytea[], $7::bigint[], " \
    "$8::integer[], $9::text[], $10::text[], $11::bytea[], $12::bytea[]"
/* A user's entries ($1) from a cursor ($2) in the direction of travel, $3 of them. */
#define AUDIT_USER_SQL(cmp, order)                                                                 \
    "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE seq IN (SELECT seq FROM (SELECT seq FROM "      \
    "audit_log WHERE user_id = $1::bytea AND seq " cmp " $2::bigint ORDER BY seq " order           \
    " LIMIT $3::bigint) a UNION ALL SELECT seq FROM (SELECT seq FROM audit_log WHERE "             \
    "counterparty_id = $1::bytea AND seq " cmp " $2::bigint ORDER BY seq " order                   \
    " LIMIT $3::bigint) b) ORDER BY seq " order " LIMIT $3::bigint"

const struct pg_stmt store_postgres_audit_stmts[] = {
    {"AUDIT_HEAD", "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"},
    {"AUDIT_APPEND", "WITH l AS (SELECT pg_advisory_xact_lock(" PG_BATCH_LOCK_KEY ")) "
                     "INSERT INTO audit_log (" AUDIT_COLUMNS ") SELECT " AUDIT_PARAMS " FROM l"},
    {"AUDIT_WRITE",
     "INSERT INTO audit_log (" AUDIT_COLUMNS ") SELECT * FROM unnest(" AUDIT_ARRAYS ")"},
    {"AUDIT_OLDER", AUDIT_USER_SQL("<", "DESC")},
    {"AUDIT_NEWER", AUDIT_USER_SQL(">", "ASC")},
    {"AUDIT_SCAN", "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE seq > $1::bigint ORDER BY seq "
                   "LIMIT $2::bigint"},
    {"AUDIT_SEAL", "UPDATE audit_log SET prev_hash = $2::bytea, hash = $3::bytea WHERE seq = "
                   "$1::bigint AND hash IS NULL"},
    {"AUDIT_CHECKPOINT_INSERT", "INSERT INTO audit_checkpoints (seq, created_ns, hash, mac) "
                                "VALUES ($1::bigint, $2::bigint, $3::bytea, $4::bytea) "
                                "ON CONFLICT (seq) DO NOTHING"},
    {"AUDIT_CHECKPOINTS_LIST", "SELECT seq, created_ns, hash, mac FROM audit_checkpoints WHERE "
                               "seq > $1::bigint ORDER BY seq LIMIT $2::bigint"},
};
const uint32_t store_postgres_audit_stmt_count =
    sizeof(store_postgres_audit_stmts) / sizeof(store_postgres_audit_stmts[0]);

/* ---- Decoding ---- */

/* A 32-byte hash; NULL (an unsealed entry) gives zeros and *present false. */
static bool col_hash(const PGresult *res, int row, int col, uint8_t out[STORE_AUDIT_HASH_BYTES],
                     bool *present)
{
    *present = !PQgetisnull(res, row, col);
    if (!*present) {
        memset(out, 0, STORE_AUDIT_HASH_BYTES);
        return true;
    }
    if (PQgetlength(res, row, col) != STORE_AUDIT_HASH_BYTES) {
        return false;
    }
    memcpy(out, PQgetvalue(res, row, col), STORE_AUDIT_HASH_BYTES);
    return true;
}

static bool row_entry(const PGresult *res, int row, struct store_audit *out)
{
    struct store_audit e;
    int32_t currency = 0;
    bool prev_present = false;
    bool hash_present = false;
    TL_ASSERT(PQnfields(res) == AUDIT_COLUMN_COUNT);
    memset(&e, 0, sizeof(e));
    bool ok = pg_col_uint(res, row, 0, 1, INT64_MAX, &e.seq) &&
              pg_col_uint(res, row, 1, 1, INT64_MAX, &e.created_ns) &&
              pg_col_id(res, row, 2, &e.user_id) &&
              pg_col_text(res, row, 3, e.kind, sizeof(e.kind), false) &&
              pg_col_text(res, row, 4, e.subject, sizeof(e.subject), true) &&
              pg_col_id_optional(res, row, 5, &e.counterparty_id) &&
              pg_col_i64(res, row, 6, &e.amount) &&
              pg_col_int_range(res, row, 7, 0, UINT16_MAX, &currency) &&
              pg_col_text(res, row, 8, e.request_id, sizeof(e.request_id), true) &&
              pg_col_text(res, row, 9, e.ip, sizeof(e.ip), true) &&
              col_hash(res, row, 10, e.prev_hash, &prev_present) &&
              col_hash(res, row, 11, e.hash, &hash_present) && prev_present == hash_present;
    if (!ok) {
        return false;
    }
    e.currency = (uint16_t)currency;
    e.sealed = hash_present;
    *out = e;
    return true;
}

/* Rows of res into out (at most max): TL_ERR_CORRUPT when one does not decode. */
static enum tl_err rows_entries(const PGresult *res, const char *what, struct store_audit *out,
                                uint32_t max, uint32_t *out_count)
{
    int rows = PQntuples(res);
    if (rows < 0 || (uint32_t)rows > max) {
        return store_postgres_corrupt(what);
    }
    for (int i = 0; i < rows; i++) {
        if (!row_entry(res, i, &out[i])) {
            return store_postgres_corrupt(what);
        }
    }
    *out_count = (uint32_t)rows;
    return TL_OK;
}

static void params_entry(struct pg_params *p, const struct store_audit *e)
{
    TL_ASSERT(e->sealed);
    pg_params_init(p);
    pg_param_u64_clamped(p, e->seq);
    pg_param_u64_clamped(p, e->created_ns);
    pg_param_id(p, e->user_id);
    pg_param_text(p, e->kind);
    pg_param_text(p, e->subject);
    if (id128_is_zero(e->counterparty_id)) {
        pg_param_null(p);
    } else {
        pg_param_id(p, e->counterparty_id);
    }
    pg_param_i64(p, e->amount);
    pg_param_i32(p, e->currency);
    pg_param_text(p, e->request_id);
    pg_param_text(p, e->ip);
    pg_param_bytes(p, e->prev_hash, STORE_AUDIT_HASH_BYTES);
    pg_param_bytes(p, e->hash, STORE_AUDIT_HASH_BYTES);
}

/* ---- The head ---- */

enum tl_err store_postgres_audit_head(struct store *store, uint64_t *out_seq,
                                      uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
    struct pg_params p;
    PGresult *res = NULL;
    bool present = false;
    uint64_t seq = 0;
    pg_params_init(&p);
    enum tl_err err = store_postgres_run(store, "AUDIT_HEAD", &p, "audit: head", &res);
    if (err != TL_OK) {
        return err;
    }
    uint8_t hash[STORE_AUDIT_HASH_BYTES];
    memset(hash, 0, sizeof(hash));
    if (PQntuples(res) == 1 && (!pg_col_uint(res, 0, 0, 1, INT64_MAX, &seq) ||
                                !col_hash(res, 0, 1, hash, &present) || !present)) {
        err = store_postgres_corrupt("audit: head");
    } else if (PQntuples(res) > 1) {
        err = store_postgres_corrupt("audit: head");
    }
    PQclear(res);
    if (err == TL_OK) {
        *out_seq = seq;
        memcpy(out_hash, hash, sizeof(hash));
    }
    return err;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

enum tl_err store_postgres_audit_head_parse(const PGresult *res,
                                            struct store_postgres_audit_head *out)
{
    struct store_postgres_audit_head head;
    memset(&head, 0, sizeof(head));
    if (PQntuples(res) > 1 || PQnfields(res) != 2) {
        return store_postgres_corrupt("audit: batch head");
    }
    if (PQntuples(res) == 1) {
        const char *seq = PQgetvalue(res, 0, 0);
        const char *hex = PQgetvalue(res, 0, 1);
        char *end = NULL;
        unsigned long long v = strtoull(seq, &end, 10);
        if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) || end == seq || *end != '\0' ||
            v == 0 || v > INT64_MAX || strlen(hex) != 2 * STORE_AUDIT_HASH_BYTES) {
            return store_postgres_corrupt("audit: batch head");
        }
        for (int i = 0; i < STORE_AUDIT_HASH_BYTES; i++) {
            int high = hex_value(hex[2 * i]);
            int low = hex_value(hex[2 * i + 1]);
            if (high < 0 || low < 0) {
                return store_postgres_corrupt("audit: batch head");
            }
            head.hash[i] = (uint8_t)(high << 4 | low);
        }
        head.seq = v;
    }
    head.valid = true;
    *out = head;
    return TL_OK;
}

/* ---- Appends ---- */

enum tl_err store_postgres_audit_append(struct store *store, const struct store_audit *entry,
                                        uint64_t *out_seq)
{
    TL_ASSERT(!store->in_batch);
    for (int attempt = 0; attempt < AUDIT_APPEND_ATTEMPTS_MAX; attempt++) {
        struct store_audit e = *entry;
        uint8_t prev[STORE_AUDIT_HASH_BYTES];
        uint64_t head_seq = 0;
        struct pg_params p;
        PGresult *res = NULL;
        enum tl_err err = store_postgres_audit_head(store, &head_seq, prev);
        if (err != TL_OK) {
            return err;
        }
        store_audit_chain(&e, head_seq + 1, prev);
        params_entry(&p, &e);
        err = store_postgres_run_unique(store, "AUDIT_APPEND", &p, "audit: append", &res, NULL, 0);
        PQclear(res);
        if (err == TL_OK) {
            *out_seq = e.seq;
            return TL_OK;
        }
        if (err != TL_ERR_CONFLICT) {
            return err;
        }
    }
    fprintf(stderr, "store.postgres: audit: append: the head moved %d times; giving up\n",
            AUDIT_APPEND_ATTEMPTS_MAX);
    return TL_ERR_BUSY;
}

enum tl_err store_postgres_audit_records_send(struct store *store,
                                              const struct store_record *records, uint32_t count)
{
    struct store_postgres_audit_head *head = store_postgres_audit_head_of(store);
    struct pg_buf *buf = store_postgres_buf(store);
    struct store_audit *entries = NULL;
    uint32_t n = 0;
    struct pg_params p;
    for (uint32_t i = 0; i < count; i++) {
        n += records[i].kind == STORE_RECORD_AUDIT ? 1u : 0u;
    }
    if (n == 0) {
        return TL_OK;
    }
    TL_ASSERT(head->valid); /* read by batch_begin under the batch lock */
    entries = malloc((size_t)n * sizeof(*entries));
    enum tl_err err = entries != NULL ? TL_OK : TL_ERR_NOMEM;
    for (uint32_t i = 0, j = 0; err == TL_OK && i < count; i++) {
        if (records[i].kind == STORE_RECORD_AUDIT) {
            store_record_audit_decode(&records[i], &entries[j]);
            store_audit_chain(&entries[j], head->seq + j + 1,
                              j == 0 ? head->hash : entries[j - 1].hash);
            j++;
        }
    }
    if (err == TL_OK) {
        err = pg_buf_reset(buf, 12 * pg_array_bytes_max(n, STORE_AUDIT_REQUEST_ID_BYTES_MAX));
    }
    if (err == TL_OK) {
        pg_params_init(&p);
#define AUDIT_ARRAY(oid, append)                                                                   \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, n);                                                           \
        for (uint32_t j = 0; j < n; j++) {                                                         \
            const struct store_audit *x = &entries[j];                                             \
            append;                                                                                \
        }                                                                                          \
    } while (0)
        AUDIT_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->seq));
        AUDIT_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->created_ns));
        AUDIT_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->user_id));
        AUDIT_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->kind));
        AUDIT_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->subject));
        AUDIT_ARRAY(PG_OID_BYTEA, pg_array_id_optional(buf, x->counterparty_id));
        AUDIT_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->amount));
        AUDIT_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->currency));
        AUDIT_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->request_id));
        AUDIT_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->ip));
        AUDIT_ARRAY(PG_OID_BYTEA, pg_array_bytes(buf, x->prev_hash, STORE_AUDIT_HASH_BYTES));
        AUDIT_ARRAY(PG_OID_BYTEA, pg_array_bytes(buf, x->hash, STORE_AUDIT_HASH_BYTES));
#undef AUDIT_ARRAY
        pg_params_resolve(&p, buf);
        err = store_postgres_pipeline_send(store, "AUDIT_WRITE", &p, "records_write: audit",
                                           PG_EXPECT_EXACT, n, TL_ERR_STORAGE);
    }
    if (err == TL_OK) {
        head->seq = entries[n - 1].seq;
        memcpy(head->hash, entries[n - 1].hash, sizeof(head->hash));
    }
    free(entries);
    return err;
}

/* ---- Reads ---- */

enum tl_err store_postgres_audit_list(struct store *store, struct id128 user_id,
                                      const struct store_audit_page *page, struct store_audit *out,
                                      uint32_t *out_count, bool *has_more)
{
    bool newer = page->ending_before_seq != 0;
    const char *which = newer ? "AUDIT_NEWER" : "AUDIT_OLDER";
    uint64_t cursor = newer ? page->ending_before_seq : page->starting_after_seq;
    struct pg_params p;
    PGresult *res = NULL;
    if (cursor == 0) {
        cursor = INT64_MAX; /* older than everything stored */
    }
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, cursor);
    pg_param_i64(&p, (int64_t)page->limit + 1);
    enum tl_err err = store_postgres_run(store, which, &p, which, &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    uint32_t count = rows > (int)page->limit ? page->limit : (uint32_t)rows;
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        if (!row_entry(res, (int)i, &out[newer ? count - 1 - i : i])) {
            err = store_postgres_corrupt(which);
        }
    }
    if (err == TL_OK) {
        *out_count = count;
        *has_more = rows > (int)page->limit;
    }
    PQclear(res);
    return err;
}

enum tl_err store_postgres_audit_scan(struct store *store, uint64_t after_seq, uint32_t limit,
                                      struct store_audit *out, uint32_t *out_count)
{
    struct pg_params p;
    PGresult *res = NULL;
    pg_params_init(&p);
    pg_param_u64_clamped(&p, after_seq);
    pg_param_i64(&p, limit);
    enum tl_err err = store_postgres_run(store, "AUDIT_SCAN", &p, "audit: scan", &res);
    if (err == TL_OK) {
        err = rows_entries(res, "audit: scan", out, limit, out_count);
        PQclear(res);
    }
    return err;
}

/* ---- Checkpoints ---- */

enum tl_err store_postgres_audit_checkpoint_put(struct store *store,
                                                const struct store_audit_checkpoint *c,
                                                bool *inserted)
{
    struct pg_params p;
    PGresult *res = NULL;
    pg_params_init(&p);
    pg_param_u64_clamped(&p, c->seq);
    pg_param_u64_clamped(&p, c->created_ns);
    pg_param_bytes(&p, c->hash, STORE_AUDIT_HASH_BYTES);
    pg_param_bytes(&p, c->mac, STORE_AUDIT_HASH_BYTES);
    enum tl_err err =
        store_postgres_run(store, "AUDIT_CHECKPOINT_INSERT", &p, "audit: checkpoint", &res);
    if (err == TL_OK) {
        *inserted = strcmp(PQcmdTuples(res), "1") == 0;
        PQclear(res);
    }
    return err;
}

enum tl_err store_postgres_audit_checkpoints_list(struct store *store, uint64_t after_seq,
                                                  uint32_t limit,
                                                  struct store_audit_checkpoint *out,
                                                  uint32_t *out_count)
{
    struct pg_params p;
    PGresult *res = NULL;
    pg_params_init(&p);
    pg_param_u64_clamped(&p, after_seq);
    pg_param_i64(&p, limit);
    enum tl_err err =
        store_postgres_run(store, "AUDIT_CHECKPOINTS_LIST", &p, "audit: checkpoints", &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    if (rows < 0 || (uint32_t)rows > limit || PQnfields(res) != 4) {
        err = store_postgres_corrupt("audit: checkpoints");
    }
    for (int i = 0; err == TL_OK && i < rows; i++) {
        bool hash_present = false;
        bool mac_present = false;
        struct store_audit_checkpoint *c = &out[i];
        if (!pg_col_uint(res, i, 0, 1, INT64_MAX, &c->seq) ||
            !pg_col_uint(res, i, 1, 1, INT64_MAX, &c->created_ns) ||
            !col_hash(res, i, 2, c->hash, &hash_present) || !hash_present ||
            !col_hash(res, i, 3, c->mac, &mac_present) || !mac_present) {
            err = store_postgres_corrupt("audit: checkpoints");
        }
    }
    if (err == TL_OK) {
        *out_count = (uint32_t)rows;
    }
    PQclear(res);
    return err;
}

/* ---- Sealing the copied version 4 entries ---- */

/* Each seal is its own statement and only fills hashes that are NULL: nodes opening at once
 * compute the same hashes from the same rows, and the second finds nothing left to fill. */
static enum tl_err seal_one(struct store *store, struct store_audit *e,
                            const uint8_t prev[STORE_AUDIT_HASH_BYTES])
{
    struct pg_params p;
    PGresult *res = NULL;
    store_audit_chain(e, e->seq, prev);
    pg_params_init(&p);
    pg_param_u64_clamped(&p, e->seq);
    pg_param_bytes(&p, e->prev_hash, STORE_AUDIT_HASH_BYTES);
    pg_param_bytes(&p, e->hash, STORE_AUDIT_HASH_BYTES);
    enum tl_err err = store_postgres_run(store, "AUDIT_SEAL", &p, "audit: seal", &res);
    PQclear(res);
    return err;
}

enum tl_err store_postgres_audit_seal(struct store *store, uint32_t *out_sealed)
{
    uint8_t prev[STORE_AUDIT_HASH_BYTES];
    struct store_audit *page = malloc(STORE_AUDIT_SCAN_MAX * sizeof(*page));
    uint32_t sealed = 0;
    uint32_t count = 0;
    bool done = false;
    enum tl_err err = page != NULL ? TL_OK : TL_ERR_NOMEM;
    memset(prev, 0, sizeof(prev));
    /* The unsealed run from seq 1, each entry chained on the one before; it stops at the first
     * sealed entry or gap (the verifier reports those). */
    while (err == TL_OK && !done) {
        err = store_postgres_audit_scan(store, sealed, STORE_AUDIT_SCAN_MAX, page, &count);
        done = err != TL_OK || count < STORE_AUDIT_SCAN_MAX;
        for (uint32_t i = 0; err == TL_OK && i < count; i++) {
            if (page[i].sealed || page[i].seq != (uint64_t)sealed + 1) {
                done = true;
                break;
            }
            err = seal_one(store, &page[i], prev);
            memcpy(prev, page[i].hash, sizeof(prev));
            sealed += err == TL_OK ? 1u : 0u;
        }
    }
    free(page);
    if (err == TL_OK) {
        *out_sealed = sealed;
    }
    return err;
}
