/*
 * postgres_stepup.c - the rows of stepup.h on PostgreSQL (tables of migration 005).
 *
 * The statements are prepared by postgres.c at every connect (store_postgres_stepup_stmts).
 * Binary parameters and results like postgres_app.c. Every write is one statement, so each is
 * atomic on its own: the compare-and-set of a challenge, the spending of a grant (one UPDATE
 * whose row lock makes a racing spender on another node re-check used_ns = 0 and find nothing),
 * the signature claim (INSERT .. ON CONFLICT DO NOTHING) and the key limit (INSERT .. SELECT ..
 * WHERE count < max, like passkeys: two registrations racing on two nodes at the limit can
 * both pass it, by one key each; the limit bounds storage, not security).
 */
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/postgres_private.h"
#include "store/stepup.h"
#include "store/stepup_backend.h"
#include "util/assert.h"

#define STEPUP_CHALLENGE_KEEP_NS (86400ll * 1000000000ll)

#define PG_KEY_COLUMNS "id, user_id, public_key, name, created_ns, revoked_ns"
#define PG_CHALLENGE_COLUMNS                                                                       \
    "id, user_id, session_id, binding, webauthn_hash, rules::bigint, created_ns, expires_ns, "      \
    "completed_ns, method::bigint, used_ns"

#define PG_STEPUP_STMT_TABLE(X)                                                                    \
    X(SSTMT_FACTS,                                                                                 \
      "SELECT (EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1::bytea AND active = 1))::int::"   \
      "bigint, (SELECT count(*) FROM passkeys WHERE user_id = $1::bytea AND revoked_ns = 0), "     \
      "(SELECT count(*) FROM device_keys WHERE user_id = $1::bytea AND revoked_ns = 0), "          \
      "(EXISTS (SELECT 1 FROM payments WHERE from_user = $1::bytea AND to_user = $3::bytea))::"    \
      "int::bigint, coalesce((SELECT created_ns FROM sessions WHERE user_id = $1::bytea AND id = " \
      "$2::bytea LIMIT 1), 0)::bigint, (EXISTS (SELECT 1 FROM stepup_challenges WHERE "            \
      "session_id = $2::bytea AND user_id = $1::bytea AND completed_ns > 0))::int::bigint")        \
    X(SSTMT_CHALLENGE_INSERT,                                                                      \
      "WITH d AS (DELETE FROM stepup_challenges WHERE expires_ns < $7::bigint - "                  \
      "86400000000000) INSERT INTO stepup_challenges (id, user_id, session_id, binding, "          \
      "webauthn_hash, rules, created_ns, expires_ns, completed_ns, method, used_ns) VALUES "       \
      "($1::bytea, $2::bytea, $3::bytea, $4::bytea, $5::bytea, $6::integer, $7::bigint, "          \
      "$8::bigint, 0, 0, 0)")                                                                      \
    X(SSTMT_CHALLENGE_GET,                                                                         \
      "SELECT " PG_CHALLENGE_COLUMNS " FROM stepup_challenges WHERE id = $1::bytea")               \
    X(SSTMT_CHALLENGE_COMPLETE,                                                                    \
      "UPDATE stepup_challenges SET completed_ns = $3::bigint, method = $4::integer WHERE id = "    \
      "$1::bytea AND user_id = $2::bytea AND completed_ns = 0 AND expires_ns > $3::bigint")        \
    X(SSTMT_GRANT_USE,                                                                             \
      "UPDATE stepup_challenges SET used_ns = $3::bigint WHERE id = (SELECT id FROM "              \
      "stepup_challenges WHERE user_id = $1::bytea AND binding = $2::bytea AND completed_ns > 0 "  \
      "AND used_ns = 0 AND expires_ns > $3::bigint LIMIT 1) AND used_ns = 0 RETURNING id")         \
    X(SSTMT_KEY_INSERT,                                                                            \
      "INSERT INTO device_keys (" PG_KEY_COLUMNS ") SELECT $1::bytea, $2::bytea, $3::bytea, "      \
      "$4::text, $5::bigint, 0 WHERE (SELECT count(*) FROM device_keys WHERE user_id = "           \
      "$2::bytea) < $6::bigint")                                                                   \
    X(SSTMT_KEY_GET, "SELECT " PG_KEY_COLUMNS " FROM device_keys WHERE id = $1::bytea")            \
    X(SSTMT_KEYS_LIST, "SELECT " PG_KEY_COLUMNS " FROM device_keys WHERE user_id = $1::bytea "     \
                       "ORDER BY created_ns, id LIMIT $2::bigint")                                 \
    X(SSTMT_KEY_REVOKE, "UPDATE device_keys SET revoked_ns = $3::bigint WHERE id = $2::bytea "     \
                        "AND user_id = $1::bytea AND revoked_ns = 0")                              \
    X(SSTMT_SIGNATURE_CLAIM,                                                                       \
      "WITH d AS (DELETE FROM device_signatures WHERE expires_ns < $4::bigint) INSERT INTO "       \
      "device_signatures (signature_hash, key_id, expires_ns) VALUES ($1::bytea, $2::bytea, "      \
      "$3::bigint) ON CONFLICT (signature_hash) DO NOTHING")                                       \
    X(SSTMT_PAYMENT_SIGNATURE_GET, "SELECT device_key_id, device_timestamp, device_signature, "    \
                                   "device_body_hash FROM payments WHERE id = $1::bytea")          \
    X(SSTMT_PAYMENT_SIGNATURES_WRITE,                                                              \
      "UPDATE payments p SET device_key_id = u.key_id, device_timestamp = u.ts, "                  \
      "device_signature = u.sig, device_body_hash = u.body FROM unnest($1::bytea[], "              \
      "$2::bytea[], $3::bigint[], $4::bytea[], $5::bytea[]) AS u(id, key_id, ts, sig, body) "      \
      "WHERE p.id = u.id")

enum pg_stepup_stmt {
#define PG_STEPUP_ENUM(id, sql) id,
    PG_STEPUP_STMT_TABLE(PG_STEPUP_ENUM)
#undef PG_STEPUP_ENUM
        SSTMT_COUNT
};

/* Names are unique across the backend: the "STEPUP_" prefix keeps them apart from app.c's. */
const struct pg_stmt store_postgres_stepup_stmts[SSTMT_COUNT] = {
#define PG_STEPUP_ROW(id, sql) {"STEPUP_" #id, sql},
    PG_STEPUP_STMT_TABLE(PG_STEPUP_ROW)
#undef PG_STEPUP_ROW
};
const uint32_t store_postgres_stepup_stmt_count = SSTMT_COUNT;

static enum tl_err stepup_run(struct store *store, enum pg_stepup_stmt which,
                              const struct pg_params *p, PGresult **out)
{
    const char *name = store_postgres_stepup_stmts[which].name;
    return store_postgres_run(store, name, p, name, out);
}

/* A write: *changes the rows it changed (NULL: not wanted). */
static enum tl_err stepup_write(struct store *store, enum pg_stepup_stmt which,
                                const struct pg_params *p, uint64_t *changes)
{
    PGresult *res = NULL;
    char *end = NULL;
    TL_ASSERT(!store->in_batch);
    enum tl_err err = stepup_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    const char *text = PQcmdTuples(res);
    uint64_t n = strtoull(text, &end, 10);
    if (text[0] == '\0' || end == NULL || *end != '\0') {
        err = store_postgres_corrupt(store_postgres_stepup_stmts[which].name);
    } else if (changes != NULL) {
        *changes = n;
    }
    PQclear(res);
    return err;
}

typedef bool (*pg_stepup_decode_fn)(const PGresult *res, int row, void *out);

/* A read of at most one row. */
static enum tl_err stepup_lookup(struct store *store, enum pg_stepup_stmt which,
                                 const struct pg_params *p, pg_stepup_decode_fn decode, void *out,
                                 bool *found)
{
    PGresult *res = NULL;
    enum tl_err err = stepup_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) > 1 || (PQntuples(res) == 1 && !decode(res, 0, out))) {
        err = store_postgres_corrupt(store_postgres_stepup_stmts[which].name);
    } else {
        *found = PQntuples(res) == 1;
    }
    PQclear(res);
    return err;
}

static bool col_bytes(const PGresult *res, int row, int col, void *out, int size)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != size) {
        return false;
    }
    memcpy(out, PQgetvalue(res, row, col), (size_t)size);
    return true;
}

/* ---- Decoders ---- */

static bool row_facts(const PGresult *res, int row, void *out)
{
    struct store_stepup_facts *f = out;
    uint64_t v[6];
    for (int i = 0; i < 6; i++) {
        if (!pg_col_uint(res, row, i, 0, INT64_MAX, &v[i])) {
            return false;
        }
    }
    if (v[1] > UINT32_MAX || v[2] > UINT32_MAX) {
        return false;
    }
    f->totp_active = v[0] != 0;
    f->passkey_count = (uint32_t)v[1];
    f->device_key_count = (uint32_t)v[2];
    f->paid_before = v[3] != 0;
    f->session_created_ns = v[4];
    f->session_stepped_up = v[5] != 0;
    return true;
}

static bool row_challenge(const PGresult *res, int row, void *out)
{
    struct store_stepup_challenge *c = out;
    uint64_t rules = 0;
    uint64_t method = 0;
    memset(c, 0, sizeof(*c));
    bool ok = pg_col_id(res, row, 0, &c->id) && pg_col_id(res, row, 1, &c->user_id);
    ok = ok && pg_col_id(res, row, 2, &c->session_id);
    ok = ok && col_bytes(res, row, 3, c->binding, STORE_STEPUP_BINDING_BYTES);
    ok = ok && col_bytes(res, row, 4, c->webauthn_hash, STORE_HASH_BYTES);
    ok = ok && pg_col_uint(res, row, 5, 1, UINT32_MAX, &rules);
    ok = ok && pg_col_uint(res, row, 6, 0, INT64_MAX, &c->created_ns);
    ok = ok && pg_col_uint(res, row, 7, 0, INT64_MAX, &c->expires_ns);
    ok = ok && pg_col_uint(res, row, 8, 0, INT64_MAX, &c->completed_ns);
    ok = ok && pg_col_uint(res, row, 9, 0, STORE_STEPUP_METHOD_PASSKEY, &method);
    ok = ok && pg_col_uint(res, row, 10, 0, INT64_MAX, &c->used_ns);
    c->rules = (uint32_t)rules;
    c->method = (uint8_t)method;
    return ok && !id128_is_zero(c->id);
}

static bool row_key(const PGresult *res, int row, void *out)
{
    struct store_device_key *k = out;
    memset(k, 0, sizeof(*k));
    bool ok = pg_col_id(res, row, 0, &k->id) && pg_col_id(res, row, 1, &k->user_id);
    ok = ok && col_bytes(res, row, 2, k->public_key, STORE_DEVICE_KEY_BYTES);
    ok = ok && pg_col_text(res, row, 3, k->name, sizeof(k->name), false);
    ok = ok && pg_col_uint(res, row, 4, 1, INT64_MAX, &k->created_ns);
    ok = ok && pg_col_uint(res, row, 5, 0, INT64_MAX, &k->revoked_ns);
    return ok && !id128_is_zero(k->id);
}

static bool row_payment_signature(const PGresult *res, int row, void *out)
{
    struct store_payment_signature *s = out;
    if (PQgetisnull(res, row, 0)) {
        return true; /* unsigned: the key id stays zero */
    }
    bool ok = pg_col_id(res, row, 0, &s->key_id) && !id128_is_zero(s->key_id);
    ok = ok && pg_col_uint(res, row, 1, 0, INT64_MAX, &s->timestamp_s);
    ok = ok && col_bytes(res, row, 2, s->signature, STORE_DEVICE_SIGNATURE_BYTES);
    ok = ok && col_bytes(res, row, 3, s->body_hash, STORE_DEVICE_BODY_HASH_BYTES);
    return ok;
}

static bool row_id(const PGresult *res, int row, void *out)
{
    return pg_col_id(res, row, 0, out) && !id128_is_zero(*(struct id128 *)out);
}

/* ---- Operations ---- */

static enum tl_err pg_stepup_facts(struct store *store, struct id128 user_id,
                                   struct id128 session_id, struct id128 to_user,
                                   struct store_stepup_facts *out)
{
    struct pg_params p;
    bool found = false;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_id(&p, session_id);
    pg_param_id(&p, to_user);
    enum tl_err err = stepup_lookup(store, SSTMT_FACTS, &p, row_facts, out, &found);
    if (err == TL_OK && !found) {
        err = store_postgres_corrupt("stepup: facts: no row");
    }
    return err;
}

static enum tl_err pg_stepup_challenge_create(struct store *store,
                                              const struct store_stepup_challenge *c)
{
    struct pg_params p;
    uint64_t changes = 0;
    pg_params_init(&p);
    pg_param_id(&p, c->id);
    pg_param_id(&p, c->user_id);
    pg_param_id(&p, c->session_id);
    pg_param_bytes(&p, c->binding, STORE_STEPUP_BINDING_BYTES);
    pg_param_bytes(&p, c->webauthn_hash, STORE_HASH_BYTES);
    pg_param_i32(&p, (int32_t)c->rules);
    pg_param_u64_clamped(&p, c->created_ns);
    pg_param_u64_clamped(&p, c->expires_ns);
    enum tl_err err = stepup_write(store, SSTMT_CHALLENGE_INSERT, &p, &changes);
    return err == TL_OK && changes != 1 ? store_postgres_corrupt("stepup: challenge insert") : err;
}

static enum tl_err pg_stepup_challenge_get(struct store *store, struct id128 id,
                                           struct store_stepup_challenge *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return stepup_lookup(store, SSTMT_CHALLENGE_GET, &p, row_challenge, out, found);
}

static enum tl_err pg_stepup_challenge_complete(struct store *store, struct id128 user_id,
                                                struct id128 id, uint8_t method, uint64_t now_ns)
{
    struct pg_params p;
    uint64_t changes = 0;
    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_i32(&p, method);
    enum tl_err err = stepup_write(store, SSTMT_CHALLENGE_COMPLETE, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_CONFLICT : err;
}

static enum tl_err pg_stepup_grant_use(struct store *store, struct id128 user_id,
                                       const uint8_t binding[STORE_STEPUP_BINDING_BYTES],
                                       uint64_t now_ns, bool *used, struct id128 *out_id)
{
    struct pg_params p;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_bytes(&p, binding, STORE_STEPUP_BINDING_BYTES);
    pg_param_u64_clamped(&p, now_ns);
    return stepup_lookup(store, SSTMT_GRANT_USE, &p, row_id, out_id, used);
}

static enum tl_err pg_device_key_create(struct store *store, const struct store_device_key *k)
{
    struct pg_params p;
    PGresult *res = NULL;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_id(&p, k->id);
    pg_param_id(&p, k->user_id);
    pg_param_bytes(&p, k->public_key, STORE_DEVICE_KEY_BYTES);
    pg_param_text(&p, k->name);
    pg_param_u64_clamped(&p, k->created_ns);
    pg_param_i64(&p, STORE_DEVICE_KEYS_USER_MAX);
    const char *name = store_postgres_stepup_stmts[SSTMT_KEY_INSERT].name;
    enum tl_err err = store_postgres_run_unique(store, name, &p, name, &res, NULL, 0);
    if (err != TL_OK) {
        return err; /* TL_ERR_CONFLICT: the public key is registered */
    }
    err = strcmp(PQcmdTuples(res), "1") == 0 ? TL_OK : TL_ERR_LIMIT;
    PQclear(res);
    return err;
}

static enum tl_err pg_device_key_get(struct store *store, struct id128 id,
                                     struct store_device_key *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return stepup_lookup(store, SSTMT_KEY_GET, &p, row_key, out, found);
}

static enum tl_err pg_device_keys_list(struct store *store, struct id128 user_id,
                                       struct store_device_key *out, uint32_t max,
                                       uint32_t *out_count)
{
    struct pg_params p;
    PGresult *res = NULL;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i64(&p, max);
    enum tl_err err = stepup_run(store, SSTMT_KEYS_LIST, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    if (rows < 0 || (uint32_t)rows > max) {
        err = store_postgres_corrupt("stepup: device keys list");
    }
    for (int i = 0; err == TL_OK && i < rows; i++) {
        if (!row_key(res, i, &out[i])) {
            err = store_postgres_corrupt("stepup: device keys list");
        }
    }
    if (err == TL_OK) {
        *out_count = (uint32_t)rows;
    }
    PQclear(res);
    return err;
}

static enum tl_err pg_device_key_revoke(struct store *store, struct id128 user_id,
                                        struct id128 id, uint64_t now_ns)
{
    struct pg_params p;
    uint64_t changes = 0;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_id(&p, id);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err = stepup_write(store, SSTMT_KEY_REVOKE, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err pg_signature_claim(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                      struct id128 key_id, uint64_t expires_ns, uint64_t now_ns,
                                      bool *claimed)
{
    struct pg_params p;
    uint64_t changes = 0;
    pg_params_init(&p);
    pg_param_bytes(&p, hash, STORE_HASH_BYTES);
    pg_param_id(&p, key_id);
    pg_param_u64_clamped(&p, expires_ns);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err = stepup_write(store, SSTMT_SIGNATURE_CLAIM, &p, &changes);
    if (err == TL_OK) {
        *claimed = changes == 1;
    }
    return err;
}

static enum tl_err pg_payment_signature_get(struct store *store, struct id128 payment_id,
                                            struct store_payment_signature *out, bool *found)
{
    struct pg_params p;
    struct store_payment_signature s;
    bool row = false;
    memset(&s, 0, sizeof(s));
    pg_params_init(&p);
    pg_param_id(&p, payment_id);
    enum tl_err err =
        stepup_lookup(store, SSTMT_PAYMENT_SIGNATURE_GET, &p, row_payment_signature, &s, &row);
    if (err != TL_OK) {
        return err;
    }
    *found = row && !id128_is_zero(s.key_id);
    if (*found) {
        s.payment_id = payment_id;
        *out = s;
    }
    return TL_OK;
}

enum tl_err store_postgres_stepup_records_send(struct store *store,
                                               const struct store_record *records, uint32_t count)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        n += records[i].kind == STORE_RECORD_PAYMENT_SIGNATURE ? 1u : 0u;
    }
    if (n == 0) {
        return TL_OK;
    }
    enum tl_err err = pg_buf_reset(buf, 4 * pg_array_bytes_max(n, STORE_DEVICE_SIGNATURE_BYTES) +
                                            pg_array_bytes_max(n, 8));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
#define SIGNATURE_ARRAY(oid, append)                                                               \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, n);                                                           \
        for (uint32_t i = 0; i < count; i++) {                                                     \
            struct store_payment_signature x;                                                      \
            if (records[i].kind != STORE_RECORD_PAYMENT_SIGNATURE) {                               \
                continue;                                                                          \
            }                                                                                      \
            store_record_payment_signature_decode(&records[i], &x);                                \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    SIGNATURE_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x.payment_id));
    SIGNATURE_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x.key_id));
    SIGNATURE_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x.timestamp_s));
    SIGNATURE_ARRAY(PG_OID_BYTEA, pg_array_bytes(buf, x.signature, STORE_DEVICE_SIGNATURE_BYTES));
    SIGNATURE_ARRAY(PG_OID_BYTEA, pg_array_bytes(buf, x.body_hash, STORE_DEVICE_BODY_HASH_BYTES));
#undef SIGNATURE_ARRAY
    pg_params_resolve(&p, buf);
    /* Every payment named must be there (inserted earlier in the same pipeline). */
    return store_postgres_pipeline_send(store,
                                        store_postgres_stepup_stmts[SSTMT_PAYMENT_SIGNATURES_WRITE].name,
                                        &p, "records_write: payment signature", PG_EXPECT_EXACT,
                                        n, TL_ERR_CORRUPT);
}

static enum tl_err pg_stepup_record_write(struct store *store, const struct store_record *record)
{
    TL_ASSERT(record->kind == STORE_RECORD_PAYMENT_SIGNATURE);
    return store_postgres_stepup_records_send(store, record, 1);
}

const struct store_stepup_ops store_postgres_stepup_ops = {
    .facts = pg_stepup_facts,
    .challenge_create = pg_stepup_challenge_create,
    .challenge_get = pg_stepup_challenge_get,
    .challenge_complete = pg_stepup_challenge_complete,
    .grant_use = pg_stepup_grant_use,
    .device_key_create = pg_device_key_create,
    .device_key_get = pg_device_key_get,
    .device_keys_list = pg_device_keys_list,
    .device_key_revoke = pg_device_key_revoke,
    .signature_claim = pg_signature_claim,
    .payment_signature_get = pg_payment_signature_get,
    .record_write = pg_stepup_record_write,
};
