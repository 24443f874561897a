/*
 * postgres_private.h - what postgres.c and postgres_app.c share; private to the PostgreSQL
 * backend.
 *
 * postgres.c owns the handle: its connection (reconnected with backoff after a loss), the
 * prepared statements of both files (prepared at every connect), the batch transaction and the
 * commit pipeline. postgres_app.c owns the SQL and row codecs of the application rows. Both
 * talk the binary protocol: parameters and results are binary (big-endian integers, raw bytes),
 * arrays in PostgreSQL's binary array format, so nothing is printed or parsed as text except
 * text columns. Nothing outside these two files includes this header.
 */
#ifndef TL_STORE_POSTGRES_PRIVATE_H
#define TL_STORE_POSTGRES_PRIVATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/app_backend.h"
#include "store/stepup_backend.h"
#include "store/store.h"
#include "util/assert.h"
#include "util/err.h"
#include "util/id128.h"

/* Type OIDs of the array elements we send (stable catalog values, pg_type.dat). */
#define PG_OID_BYTEA 17u
#define PG_OID_INT8 20u
#define PG_OID_INT4 23u
#define PG_OID_TEXT 25u

/* ---- Prepared statements ---- */

/* One statement: its name on the connection (unique across the backend) and its SQL. */
struct pg_stmt {
    const char *name;
    const char *sql;
};

/* postgres_app.c: the application rows' statements, prepared by postgres.c at every connect. */
extern const struct pg_stmt store_postgres_app_stmts[];
extern const uint32_t store_postgres_app_stmt_count;

extern const struct store_app_ops store_postgres_app_ops;

/* postgres_refunds.c: refunds, reversals and disputes (app_backend.h, schema v5) and their
 * statements, prepared by postgres.c at every connect. */
extern const struct pg_stmt store_postgres_refunds_stmts[];
extern const uint32_t store_postgres_refunds_stmt_count;
enum tl_err store_postgres_refund_put(struct store *store, const struct store_refund *row);
enum tl_err store_postgres_refund_get(struct store *store, struct id128 id,
                                      struct store_refund *out, bool *found);
enum tl_err store_postgres_refunds_list(struct store *store, struct id128 payment_id,
                                        const struct store_request_page *page,
                                        struct store_refund *out, uint32_t *out_count,
                                        bool *has_more);
enum tl_err store_postgres_refund_totals(struct store *store, struct id128 payment_id,
                                         int64_t *out_refunded, int64_t *out_reversed);
enum tl_err store_postgres_dispute_create(struct store *store, const struct store_dispute *d);
enum tl_err store_postgres_dispute_get(struct store *store, struct id128 id,
                                       struct store_dispute *out, bool *found);
enum tl_err store_postgres_disputes_list(struct store *store, struct id128 payment_id,
                                         uint8_t status, const struct store_request_page *page,
                                         struct store_dispute *out, uint32_t *out_count,
                                         bool *has_more);
enum tl_err store_postgres_dispute_resolve(struct store *store, struct id128 id, uint8_t status,
                                           const char *note, struct id128 reversal_id,
                                           uint64_t now_ns, bool *resolved);
/* postgres_plans.c: the statements of escrows and scheduled payments (plans.h). */
extern const struct pg_stmt store_postgres_plans_stmts[];
extern const uint32_t store_postgres_plans_stmt_count;
/* postgres_records.c: the statements of conversion rows (records.h, schema v6). */
extern const struct pg_stmt store_postgres_records_stmts[];
extern const uint32_t store_postgres_records_stmt_count;
/* postgres_stepup.c: the rows of stepup.h (schema v5), its statements (prepared by postgres.c
 * at every connect like the app's) and the batch's payment-signature records, sent in the
 * commit pipeline after the payments they update. */
extern const struct store_stepup_ops store_postgres_stepup_ops;
extern const struct pg_stmt store_postgres_stepup_stmts[];
extern const uint32_t store_postgres_stepup_stmt_count;
enum tl_err store_postgres_stepup_records_send(struct store *store,
                                               const struct store_record *records, uint32_t count);

/* ---- Parameters: binary unless text, borrowed until the statement is sent ---- */

#define PG_PARAMS_MAX 24

struct pg_params {
    uint32_t count;
    const char *values[PG_PARAMS_MAX];
    int lengths[PG_PARAMS_MAX];
    int formats[PG_PARAMS_MAX];
    uint8_t scalars[PG_PARAMS_MAX][ID128_BYTES]; /* the bytes of binary scalars */
    /* Arrays live in a growable buffer (struct pg_buf) and are named by offset until
     * pg_params_resolve turns the offsets into pointers, right before the send. */
    bool in_buf[PG_PARAMS_MAX];
    size_t buf_offset[PG_PARAMS_MAX];
};

static inline void pg_params_init(struct pg_params *p)
{
    memset(p, 0, sizeof(*p));
}

static inline uint32_t pg_param_next(struct pg_params *p)
{
    TL_ASSERT(p->count < PG_PARAMS_MAX);
    return p->count++;
}

static inline void pg_put_be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static inline void pg_put_be32(uint8_t *out, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static inline uint64_t pg_get_be64(const uint8_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | in[i];
    }
    return v;
}

static inline uint32_t pg_get_be32(const uint8_t *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = v << 8 | in[i];
    }
    return v;
}

/* A bigint. */
static inline void pg_param_i64(struct pg_params *p, int64_t v)
{
    uint32_t i = pg_param_next(p);
    pg_put_be64(p->scalars[i], (uint64_t)v);
    p->values[i] = (const char *)p->scalars[i];
    p->lengths[i] = 8;
    p->formats[i] = 1;
}

/* A bigint from a uint64 the store wrote or compares with: clamped to INT64_MAX (no stored
 * time or sequence is larger, so "before UINT64_MAX" means "before everything"). */
static inline void pg_param_u64_clamped(struct pg_params *p, uint64_t v)
{
    pg_param_i64(p, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* An integer (int4). */
static inline void pg_param_i32(struct pg_params *p, int32_t v)
{
    uint32_t i = pg_param_next(p);
    pg_put_be32(p->scalars[i], (uint32_t)v);
    p->values[i] = (const char *)p->scalars[i];
    p->lengths[i] = 4;
    p->formats[i] = 1;
}

/* A 16-byte id as bytea. */
static inline void pg_param_id(struct pg_params *p, struct id128 id)
{
    uint32_t i = pg_param_next(p);
    id128_to_bytes(id, p->scalars[i]);
    p->values[i] = (const char *)p->scalars[i];
    p->lengths[i] = ID128_BYTES;
    p->formats[i] = 1;
}

/* Raw bytes as bytea, borrowed. An empty value is an empty bytea, never NULL. */
static inline void pg_param_bytes(struct pg_params *p, const void *data, uint32_t bytes)
{
    static const char empty[1] = {0};
    uint32_t i = pg_param_next(p);
    TL_ASSERT(bytes <= INT32_MAX);
    p->values[i] = bytes > 0 ? (const char *)data : empty;
    p->lengths[i] = (int)bytes;
    p->formats[i] = 1;
}

/* NUL-terminated text, borrowed (text format: the server checks it is valid UTF-8). */
static inline void pg_param_text(struct pg_params *p, const char *text)
{
    uint32_t i = pg_param_next(p);
    TL_ASSERT(text != NULL);
    p->values[i] = text;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

/* SQL NULL. */
static inline void pg_param_null(struct pg_params *p)
{
    uint32_t i = pg_param_next(p);
    p->values[i] = NULL;
    p->lengths[i] = 0;
    p->formats[i] = 1;
}

/* ---- Binary arrays in a growable buffer ---- */

/* Owned by the handle, reused by every statement that sends arrays. */
struct pg_buf {
    uint8_t *bytes;
    size_t used;
    size_t capacity;
};

/* Empties the buffer and makes room for bytes_max bytes; the appends below must stay within
 * it (they assert). TL_ERR_NOMEM leaves the buffer empty. */
enum tl_err pg_buf_reset(struct pg_buf *buf, size_t bytes_max);
void pg_buf_free(struct pg_buf *buf);

/* Bytes of a one-dimensional array of count elements of at most element_bytes_max each. */
static inline size_t pg_array_bytes_max(uint32_t count, size_t element_bytes_max)
{
    return 20 + (size_t)count * (4 + element_bytes_max);
}

/* Starts a one-dimensional array of count elements of type element_oid as the next parameter;
 * exactly count elements must follow. */
void pg_array_begin(struct pg_params *p, struct pg_buf *buf, uint32_t element_oid, uint32_t count);
void pg_array_i64(struct pg_buf *buf, int64_t v);
void pg_array_i32(struct pg_buf *buf, int32_t v);
void pg_array_id(struct pg_buf *buf, struct id128 id);
/* A zero id is NULL. */
void pg_array_id_optional(struct pg_buf *buf, struct id128 id);
void pg_array_bytes(struct pg_buf *buf, const void *data, uint32_t bytes);
/* NUL-terminated text (bytes up to the NUL). */
void pg_array_text(struct pg_buf *buf, const char *text);

/* Points the array parameters into buf; call after the last append, before sending. */
void pg_params_resolve(struct pg_params *p, const struct pg_buf *buf);

/* ---- Running statements (postgres.c) ---- */

/* The array buffer of a handle, for postgres_app.c. Cannot fail. */
struct pg_buf *store_postgres_buf(struct store *store);
/* The handle's next limit-totals prune (postgres_app.c): a batch that adds to a bucket ending
 * at or after it deletes the dead rows, then moves it LIMITS_PRUNE_STEP_NS past that end.
 * 0 on a new handle: its first such batch prunes. Only a hint: a batch that rolls back after
 * moving it delays the next prune, it never loses one (the DELETE is not incremental). */
uint64_t *store_postgres_limits_prune_due_of(struct store *store);

/*
 * Makes sure the handle is connected: after a lost connection the next call reconnects (the
 * first attempt at once, later ones after a backoff) and prepares every statement again.
 * TL_ERR_STORAGE (logged) while the database cannot be reached.
 */
enum tl_err store_postgres_ready(struct store *store);

/*
 * Runs a prepared statement synchronously with binary results. On TL_OK *out holds a result of
 * status PGRES_TUPLES_OK or PGRES_COMMAND_OK that the caller PQclear()s; on error nothing is
 * returned and the cause is logged under what. TL_ERR_CONFLICT when allow_unique is set and the
 * statement hit a unique violation (logged at no level: the caller expected it; the
 * constraint's name is copied into constraint, constraint_bytes long, when it is not NULL).
 */
enum tl_err store_postgres_run(struct store *store, const char *stmt, const struct pg_params *p,
                               const char *what, PGresult **out);
enum tl_err store_postgres_run_unique(struct store *store, const char *stmt,
                                      const struct pg_params *p, const char *what, PGresult **out,
                                      char *constraint, size_t constraint_bytes);

/* What a statement sent in the commit pipeline must answer. */
enum pg_expect_rows {
    PG_EXPECT_ANY = 0,   /* any row count */
    PG_EXPECT_EXACT = 1, /* exactly rows rows affected, else mismatch_err */
};

/*
 * Sends a prepared statement in the open batch's commit pipeline without waiting; the commit
 * phase reads every answer in order and fails the batch with the first error (a statement's
 * error maps like store_postgres_run's; a row-count mismatch returns mismatch_err and logs
 * what). TL_ERR_STORAGE when the send fails.
 */
enum tl_err store_postgres_pipeline_send(struct store *store, const char *stmt,
                                         const struct pg_params *p, const char *what,
                                         enum pg_expect_rows expect, uint64_t rows,
                                         enum tl_err mismatch_err);

/* Logs a stored row that does not decode (the database holds something we never write);
 * always TL_ERR_CORRUPT. */
enum tl_err store_postgres_corrupt(const char *what);

/* Decodes row `row` of res into item; false when a value is not one we could have written. */
typedef bool (*store_postgres_decode_fn)(const PGresult *res, int row, void *item);

/*
 * Decodes at most limit rows of res into items (item_bytes each), in the rows' order or,
 * with reverse, the last decoded row first (a page read oldest first, stored newest first).
 * A row past limit only sets *has_more (has_more may be NULL). *out_count and *has_more are
 * set only on TL_OK; a row that does not decode is TL_ERR_CORRUPT naming what. res stays
 * the caller's.
 */
enum tl_err store_postgres_rows_decode(const PGresult *res, const char *what,
                                       store_postgres_decode_fn decode, void *items,
                                       size_t item_bytes, uint32_t limit, bool reverse,
                                       uint32_t *out_count, bool *has_more);

/* postgres_app.c: sends the batch's payment and idempotency records (kinds of app.h) in the
 * commit pipeline, one statement per kind. */
enum tl_err store_postgres_app_records_send(struct store *store, const struct store_record *records,
                                            uint32_t count);

/* ---- Decoding binary result columns: false when a value is not one we could have written */

static inline bool pg_col_i64(const PGresult *res, int row, int col, int64_t *out)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8) {
        return false;
    }
    *out = (int64_t)pg_get_be64((const uint8_t *)PQgetvalue(res, row, col));
    return true;
}

static inline bool pg_col_i32(const PGresult *res, int row, int col, int32_t *out)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 4) {
        return false;
    }
    *out = (int32_t)pg_get_be32((const uint8_t *)PQgetvalue(res, row, col));
    return true;
}

/* A bigint in min..max. */
static inline bool pg_col_uint(const PGresult *res, int row, int col, uint64_t min, uint64_t max,
                               uint64_t *out)
{
    int64_t v;
    if (!pg_col_i64(res, row, col, &v) || v < 0 || (uint64_t)v < min || (uint64_t)v > max) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* An integer (int4) in min..max. */
static inline bool pg_col_int_range(const PGresult *res, int row, int col, int32_t min, int32_t max,
                                    int32_t *out)
{
    int32_t v;
    if (!pg_col_i32(res, row, col, &v) || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static inline bool pg_col_u16(const PGresult *res, int row, int col, uint16_t *out)
{
    int32_t v;
    if (!pg_col_int_range(res, row, col, 0, UINT16_MAX, &v)) {
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

/* A 16-byte id (zero allowed here). */
static inline bool pg_col_id(const PGresult *res, int row, int col, struct id128 *out)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != ID128_BYTES) {
        return false;
    }
    *out = id128_from_bytes((const uint8_t *)PQgetvalue(res, row, col));
    return true;
}

/* NULL is the zero id. */
static inline bool pg_col_id_optional(const PGresult *res, int row, int col, struct id128 *out)
{
    if (PQgetisnull(res, row, col)) {
        *out = id128_make(0, 0);
        return true;
    }
    return pg_col_id(res, row, col, out);
}

/* Text without NUL bytes that fits out with its terminator; empty only when empty_ok. */
static inline bool pg_col_text(const PGresult *res, int row, int col, char *out, size_t out_bytes,
                               bool empty_ok)
{
    int bytes;
    const char *text;

    if (PQgetisnull(res, row, col)) {
        return false;
    }
    bytes = PQgetlength(res, row, col);
    text = PQgetvalue(res, row, col);
    if (bytes < 0 || (size_t)bytes >= out_bytes || (bytes == 0 && !empty_ok)) {
        return false;
    }
    if (memchr(text, '\0', (size_t)bytes) != NULL) {
        return false;
    }
    memcpy(out, text, (size_t)bytes);
    out[bytes] = '\0';
    return true;
}

/* The transaction-level advisory lock every batch takes (postgres.c, batch_begin): batches of
 * all nodes commit one at a time, so timestamps and outbox seqs commit in order. An outbox row
 * written outside a batch (postgres_app.c) takes it too. */
#define PG_BATCH_LOCK_KEY "8386103194289332596"

/* ---- postgres_notes.c: the schema v5 notes rows (app_backend.h ops of the same names) ---- */

/* Its statements, prepared by postgres.c at every connect after the app statements. */
extern const struct pg_stmt store_postgres_notes_stmts[];
extern const uint32_t store_postgres_notes_stmt_count;

enum tl_err store_postgres_notes_key_put(struct store *store,
                                         const struct store_encryption_key *key,
                                         struct store_encryption_key *out);
enum tl_err store_postgres_notes_key_get(struct store *store, struct id128 user_id,
                                         struct store_encryption_key *out, bool *found);
enum tl_err store_postgres_notes_key_delete(struct store *store, struct id128 user_id);
enum tl_err store_postgres_notes_get(struct store *store, const struct id128 *ids, uint32_t count,
                                     struct store_payment_note *out, bool *found);
enum tl_err store_postgres_notes_session_touch(struct store *store,
                                               const uint8_t token_hash[STORE_HASH_BYTES],
                                               uint64_t now_ns, uint64_t interval_ns);
enum tl_err store_postgres_notes_sessions_seen(struct store *store, struct id128 user_id,
                                               uint64_t now_ns, struct store_session_seen *out,
                                               uint32_t max, uint32_t *out_count);
/* Sends the batch's notes (STORE_RECORD_PAYMENT_NOTE records, notes of them) in the commit
 * pipeline, one INSERT for all; a payment id that has a note fails the batch. */
enum tl_err store_postgres_notes_send(struct store *store, const struct store_record *records,
                                      uint32_t count, uint32_t notes);
/* ---- postgres_audit.c: the audit log (schema v5; store/audit_backend.h) ---- */

struct store_postgres_audit_head;
extern const struct pg_stmt store_postgres_audit_stmts[];
extern const uint32_t store_postgres_audit_stmt_count;
/* postgres.c: the head the open batch read in batch_begin. Cannot fail. */
struct store_postgres_audit_head *store_postgres_audit_head_of(struct store *store);
/* The text result of STORE_POSTGRES_AUDIT_HEAD_SQL into *out (valid). TL_ERR_CORRUPT. */
enum tl_err store_postgres_audit_head_parse(const PGresult *res,
                                            struct store_postgres_audit_head *out);
/* Sends the batch's audit records, chained after the batch's head, as one INSERT. */
enum tl_err store_postgres_audit_records_send(struct store *store,
                                              const struct store_record *records, uint32_t count);
enum tl_err store_postgres_audit_append(struct store *store, const struct store_audit *entry,
                                        uint64_t *out_seq);
enum tl_err store_postgres_audit_list(struct store *store, struct id128 user_id,
                                      const struct store_audit_page *page, struct store_audit *out,
                                      uint32_t *out_count, bool *has_more);
enum tl_err store_postgres_audit_scan(struct store *store, uint64_t after_seq, uint32_t limit,
                                      struct store_audit *out, uint32_t *out_count);
enum tl_err store_postgres_audit_head(struct store *store, uint64_t *out_seq,
                                      uint8_t out_hash[STORE_AUDIT_HASH_BYTES]);
enum tl_err store_postgres_audit_checkpoint_put(struct store *store,
                                                const struct store_audit_checkpoint *checkpoint,
                                                bool *inserted);
enum tl_err store_postgres_audit_checkpoints_list(struct store *store, uint64_t after_seq,
                                                  uint32_t limit,
                                                  struct store_audit_checkpoint *out,
                                                  uint32_t *out_count);
enum tl_err store_postgres_audit_seal(struct store *store, uint32_t *out_sealed);

#endif
