/*
 * postgres_notes.c - the PostgreSQL side of the schema v5 rows (app_notes.c): encryption
 * keys, sealed payment notes, session last-seen.
 *
 * Its statements are prepared by postgres.c at every connect with the others
 * (store_postgres_notes_stmts). The notes of a batch are sent in the commit pipeline in one
 * INSERT .. SELECT FROM unnest, like the payment rows they belong to; reading the notes of a
 * page of payments is one statement (payment_id = ANY).
 */
#include <stdlib.h>
#include <string.h>

#include "store/app.h"
#include "store/backend.h"
#include "store/postgres_private.h"
#include "util/assert.h"
#include "util/limits.h"

#define NOTES_KEY_COLUMNS "user_id, public_key, created_ns, updated_ns"

const struct pg_stmt store_postgres_notes_stmts[] = {
    {"NSTMT_KEY_PUT",
     "INSERT INTO encryption_keys (" NOTES_KEY_COLUMNS ") VALUES ($1::bytea, $2::bytea, "
     "$3::bigint, $3::bigint) ON CONFLICT (user_id) DO UPDATE SET public_key = "
     "excluded.public_key, updated_ns = excluded.updated_ns RETURNING " NOTES_KEY_COLUMNS},
    {"NSTMT_KEY_GET", "SELECT " NOTES_KEY_COLUMNS " FROM encryption_keys WHERE user_id = $1::bytea"},
    {"NSTMT_KEY_DELETE", "DELETE FROM encryption_keys WHERE user_id = $1::bytea"},
    {"NSTMT_NOTES_GET", "SELECT payment_id, recipient_box, sender_box FROM payment_notes WHERE "
                        "payment_id = ANY($1::bytea[])"},
    {"NSTMT_NOTES_WRITE", "INSERT INTO payment_notes (payment_id, recipient_box, sender_box) "
                          "SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[])"},
    {"NSTMT_SESSION_TOUCH", "UPDATE sessions SET last_seen_ns = $2::bigint WHERE token_hash = "
                            "$1::bytea AND last_seen_ns <= $3::bigint"},
    {"NSTMT_SESSIONS_SEEN", "SELECT id, last_seen_ns FROM sessions WHERE user_id = $1::bytea AND "
                            "revoked = 0 AND expires_ns > $2::bigint ORDER BY created_ns DESC, id "
                            "DESC LIMIT $3::bigint"},
};
const uint32_t store_postgres_notes_stmt_count =
    sizeof(store_postgres_notes_stmts) / sizeof(store_postgres_notes_stmts[0]);

/* A bytea of min..max bytes into out. */
static bool notes_col_blob(const PGresult *res, int row, int col, uint32_t min, uint32_t max,
                           uint8_t *out, uint32_t *out_bytes)
{
    if (PQgetisnull(res, row, col)) {
        return false;
    }
    int bytes = PQgetlength(res, row, col);
    if (bytes < (int)min || bytes > (int)max) {
        return false;
    }
    memcpy(out, PQgetvalue(res, row, col), (size_t)bytes);
    *out_bytes = (uint32_t)bytes;
    return true;
}

static bool notes_row_key(const PGresult *res, int row, struct store_encryption_key *out)
{
    uint32_t bytes = 0;
    if (PQnfields(res) != 4) {
        return false;
    }
    return pg_col_id(res, row, 0, &out->user_id) &&
           notes_col_blob(res, row, 1, STORE_ENCRYPTION_KEY_BYTES, STORE_ENCRYPTION_KEY_BYTES,
                          out->public_key, &bytes) &&
           pg_col_uint(res, row, 2, 1, INT64_MAX, &out->created_ns) &&
           pg_col_uint(res, row, 3, 1, INT64_MAX, &out->updated_ns) &&
           out->created_ns <= out->updated_ns;
}

/* Runs a statement that answers at most one key row. */
static enum tl_err notes_key_run(struct store *store, const char *stmt, const struct pg_params *p,
                                 const char *what, struct store_encryption_key *out, bool *found)
{
    PGresult *res = NULL;
    enum tl_err err = store_postgres_run(store, stmt, p, what, &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    if (rows > 1 || (rows == 1 && !notes_row_key(res, 0, out))) {
        err = store_postgres_corrupt(what);
    } else {
        *found = rows == 1;
    }
    PQclear(res);
    return err;
}

enum tl_err store_postgres_notes_key_put(struct store *store,
                                         const struct store_encryption_key *key,
                                         struct store_encryption_key *out)
{
    struct pg_params p;
    bool found = false;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_id(&p, key->user_id);
    pg_param_bytes(&p, key->public_key, STORE_ENCRYPTION_KEY_BYTES);
    pg_param_u64_clamped(&p, key->updated_ns);
    enum tl_err err =
        notes_key_run(store, "NSTMT_KEY_PUT", &p, "encryption_key_put", out, &found);
    if (err == TL_OK && !found) {
        err = store_postgres_corrupt("encryption_key_put: no row returned");
    }
    return err;
}

enum tl_err store_postgres_notes_key_get(struct store *store, struct id128 user_id,
                                         struct store_encryption_key *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    return notes_key_run(store, "NSTMT_KEY_GET", &p, "encryption_key_get", out, found);
}

enum tl_err store_postgres_notes_key_delete(struct store *store, struct id128 user_id)
{
    struct pg_params p;
    PGresult *res = NULL;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    enum tl_err err =
        store_postgres_run(store, "NSTMT_KEY_DELETE", &p, "encryption_key_delete", &res);
    if (err != TL_OK) {
        return err;
    }
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        err = TL_ERR_NOT_FOUND;
    }
    PQclear(res);
    return err;
}

/* Places each answered note at the index of its id. */
static enum tl_err notes_match(const PGresult *res, const struct id128 *ids, uint32_t count,
                               struct store_payment_note *out, bool *found)
{
    int rows = PQntuples(res);
    if (PQnfields(res) != 3 || rows < 0 || (uint32_t)rows > count) {
        return store_postgres_corrupt("payment_notes_get");
    }
    for (int row = 0; row < rows; row++) {
        struct id128 id;
        uint32_t at = count;
        if (!pg_col_id(res, row, 0, &id)) {
            return store_postgres_corrupt("payment_notes_get");
        }
        for (uint32_t i = 0; i < count && at == count; i++) {
            at = id128_eq(ids[i], id) && !found[i] ? i : at;
        }
        struct store_payment_note *note = &out[at < count ? at : 0];
        if (at == count ||
            !notes_col_blob(res, row, 1, STORE_SEALED_NOTE_BYTES_MIN, STORE_SEALED_NOTE_BYTES_MAX,
                            note->recipient_box, &note->recipient_bytes) ||
            !notes_col_blob(res, row, 2, STORE_SEALED_NOTE_BYTES_MIN, STORE_SEALED_NOTE_BYTES_MAX,
                            note->sender_box, &note->sender_bytes)) {
            return store_postgres_corrupt("payment_notes_get");
        }
        note->payment_id = id;
        found[at] = true;
    }
    return TL_OK;
}

enum tl_err store_postgres_notes_get(struct store *store, const struct id128 *ids, uint32_t count,
                                     struct store_payment_note *out, bool *found)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    PGresult *res = NULL;

    enum tl_err err = pg_buf_reset(buf, pg_array_bytes_max(count, ID128_BYTES));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
    pg_array_begin(&p, buf, PG_OID_BYTEA, count);
    for (uint32_t i = 0; i < count; i++) {
        pg_array_id(buf, ids[i]);
    }
    pg_params_resolve(&p, buf);
    err = store_postgres_run(store, "NSTMT_NOTES_GET", &p, "payment_notes_get", &res);
    if (err != TL_OK) {
        return err;
    }
    bool *seen = calloc(count, sizeof(*seen));
    if (seen == NULL) {
        PQclear(res);
        return TL_ERR_NOMEM;
    }
    err = notes_match(res, ids, count, out, seen);
    PQclear(res);
    if (err == TL_OK) {
        memcpy(found, seen, count * sizeof(*seen));
    }
    free(seen);
    return err;
}

enum tl_err store_postgres_notes_session_touch(struct store *store,
                                               const uint8_t token_hash[STORE_HASH_BYTES],
                                               uint64_t now_ns, uint64_t interval_ns)
{
    struct pg_params p;
    PGresult *res = NULL;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_bytes(&p, token_hash, STORE_HASH_BYTES);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_u64_clamped(&p, now_ns - interval_ns);
    enum tl_err err =
        store_postgres_run(store, "NSTMT_SESSION_TOUCH", &p, "session_touch", &res);
    if (err == TL_OK) {
        PQclear(res);
    }
    return err;
}

enum tl_err store_postgres_notes_sessions_seen(struct store *store, struct id128 user_id,
                                               uint64_t now_ns, struct store_session_seen *out,
                                               uint32_t max, uint32_t *out_count)
{
    struct pg_params p;
    PGresult *res = NULL;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_i64(&p, max);
    enum tl_err err = store_postgres_run(store, "NSTMT_SESSIONS_SEEN", &p, "sessions_seen", &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    if (PQnfields(res) != 2 || rows < 0 || (uint32_t)rows > max) {
        err = store_postgres_corrupt("sessions_seen");
    }
    for (int row = 0; err == TL_OK && row < rows; row++) {
        if (!pg_col_id(res, row, 0, &out[row].id) ||
            !pg_col_uint(res, row, 1, 0, INT64_MAX, &out[row].last_seen_ns)) {
            err = store_postgres_corrupt("sessions_seen");
        }
    }
    PQclear(res);
    if (err == TL_OK) {
        *out_count = (uint32_t)rows;
    }
    return err;
}

enum tl_err store_postgres_notes_send(struct store *store, const struct store_record *records,
                                      uint32_t count, uint32_t notes)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    struct store_payment_note *rows = malloc((size_t)notes * sizeof(*rows));
    uint32_t n = 0;

    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_PAYMENT_NOTE) {
            store_record_payment_note_decode(&records[i], &rows[n++]);
        }
    }
    TL_ASSERT(n == notes);
    enum tl_err err = pg_buf_reset(buf, pg_array_bytes_max(notes, ID128_BYTES) +
                                            2 * pg_array_bytes_max(notes, STORE_SEALED_NOTE_BYTES_MAX));
    if (err != TL_OK) {
        free(rows);
        return err;
    }
    pg_params_init(&p);
    pg_array_begin(&p, buf, PG_OID_BYTEA, notes);
    for (uint32_t i = 0; i < notes; i++) {
        pg_array_id(buf, rows[i].payment_id);
    }
    pg_array_begin(&p, buf, PG_OID_BYTEA, notes);
    for (uint32_t i = 0; i < notes; i++) {
        pg_array_bytes(buf, rows[i].recipient_box, rows[i].recipient_bytes);
    }
    pg_array_begin(&p, buf, PG_OID_BYTEA, notes);
    for (uint32_t i = 0; i < notes; i++) {
        pg_array_bytes(buf, rows[i].sender_box, rows[i].sender_bytes);
    }
    free(rows);
    pg_params_resolve(&p, buf);
    return store_postgres_pipeline_send(store, "NSTMT_NOTES_WRITE", &p, "records_write: note",
                                        PG_EXPECT_EXACT, notes, TL_ERR_STORAGE);
}
