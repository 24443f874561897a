/*
 * sqlite_stepup.c - the rows of stepup.h on SQLite (tables of migration 005).
 *
 * The statements are prepared on a handle's first call and kept in the handle's slot
 * (store_sqlite_stepup_slot) until it closes. Direct writes run on the handle they are called on,
 * outside any batch; record_write runs inside the writer's batch. Driver errors are logged
 * through store_sqlite_fail and never returned.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_private.h"
#include "store/stepup.h"
#include "util/assert.h"

/* Challenges are deleted this long after they expired. */
#define STEPUP_CHALLENGE_KEEP_NS (86400ull * 1000000000ull)

#define KEY_COLUMNS "id, user_id, public_key, name, created_ns, revoked_ns"
enum key_column { KCOL_ID, KCOL_USER_ID, KCOL_PUBLIC_KEY, KCOL_NAME, KCOL_CREATED, KCOL_REVOKED };
#define CHALLENGE_COLUMNS                                                                          \
    "id, user_id, session_id, binding, webauthn_hash, rules, created_ns, expires_ns, "              \
    "completed_ns, method, used_ns"
enum challenge_column {
    CCOL_ID,
    CCOL_USER_ID,
    CCOL_SESSION_ID,
    CCOL_BINDING,
    CCOL_WEBAUTHN,
    CCOL_RULES,
    CCOL_CREATED,
    CCOL_EXPIRES,
    CCOL_COMPLETED,
    CCOL_METHOD,
    CCOL_USED,
};

#define STEPUP_STMT_TABLE(X)                                                                       \
    X(SSTMT_FACTS,                                                                                 \
      "SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND active = 1), "                 \
      "(SELECT count(*) FROM passkeys WHERE user_id = ?1 AND revoked_ns = 0), "                    \
      "(SELECT count(*) FROM device_keys WHERE user_id = ?1 AND revoked_ns = 0), "                 \
      "EXISTS (SELECT 1 FROM payment_pairs WHERE from_user = ?1 AND to_user = ?3), "               \
      "coalesce((SELECT created_ns FROM sessions WHERE user_id = ?1 AND id = ?2), 0), "            \
      "EXISTS (SELECT 1 FROM stepup_challenges WHERE session_id = ?2 AND user_id = ?1 AND "        \
      "completed_ns > 0)")                                                                         \
    X(SSTMT_CHALLENGE_PRUNE, "DELETE FROM stepup_challenges WHERE expires_ns < ?1")                \
    X(SSTMT_CHALLENGE_INSERT, "INSERT INTO stepup_challenges (" CHALLENGE_COLUMNS ") VALUES (?1, " \
                              "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")                         \
    X(SSTMT_CHALLENGE_GET, "SELECT " CHALLENGE_COLUMNS " FROM stepup_challenges WHERE id = ?1")   \
    X(SSTMT_CHALLENGE_COMPLETE, "UPDATE stepup_challenges SET completed_ns = ?3, method = ?4 "     \
                                "WHERE id = ?1 AND user_id = ?2 AND completed_ns = 0 AND "         \
                                "expires_ns > ?3")                                                 \
    X(SSTMT_GRANT_USE, "UPDATE stepup_challenges SET used_ns = ?3 WHERE id = (SELECT id FROM "     \
                       "stepup_challenges WHERE user_id = ?1 AND binding = ?2 AND "                \
                       "completed_ns > 0 AND used_ns = 0 AND expires_ns > ?3 LIMIT 1) AND "        \
                       "used_ns = 0 RETURNING id")                                                 \
    X(SSTMT_KEY_COUNT, "SELECT count(*) FROM device_keys WHERE user_id = ?1")                      \
    X(SSTMT_KEY_INSERT, "INSERT INTO device_keys (" KEY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, "   \
                        "?6)")                                                                     \
    X(SSTMT_KEY_GET, "SELECT " KEY_COLUMNS " FROM device_keys WHERE id = ?1")                      \
    X(SSTMT_KEYS_LIST, "SELECT " KEY_COLUMNS " FROM device_keys WHERE user_id = ?1 ORDER BY "      \
                       "created_ns, id LIMIT ?2")                                                  \
    X(SSTMT_KEY_REVOKE, "UPDATE device_keys SET revoked_ns = ?3 WHERE id = ?2 AND user_id = ?1 "   \
                        "AND revoked_ns = 0")                                                      \
    X(SSTMT_SIGNATURE_PRUNE, "DELETE FROM device_signatures WHERE expires_ns < ?1")                \
    X(SSTMT_SIGNATURE_INSERT, "INSERT OR IGNORE INTO device_signatures (signature_hash, key_id, "  \
                              "expires_ns) VALUES (?1, ?2, ?3)")                                   \
    X(SSTMT_PAYMENT_SIGNATURE_GET, "SELECT device_key_id, device_timestamp, device_signature, "    \
                                   "device_body_hash FROM payments WHERE id = ?1")                 \
    X(SSTMT_PAYMENT_SIGNATURE_SET, "UPDATE payments SET device_key_id = ?2, device_timestamp = "   \
                                   "?3, device_signature = ?4, device_body_hash = ?5 WHERE id = ?1")

enum stepup_stmt {
#define STEPUP_STMT_ENUM(id, sql) id,
    STEPUP_STMT_TABLE(STEPUP_STMT_ENUM)
#undef STEPUP_STMT_ENUM
        SSTMT_COUNT
};

static const char *const stepup_stmt_sql[SSTMT_COUNT] = {
#define STEPUP_STMT_SQL(id, sql) sql,
    STEPUP_STMT_TABLE(STEPUP_STMT_SQL)
#undef STEPUP_STMT_SQL
};

void store_sqlite_stepup_close(sqlite3_stmt **stmts)
{
    if (stmts == NULL) {
        return;
    }
    for (int i = 0; i < SSTMT_COUNT; i++) {
        sqlite3_finalize(stmts[i]);
    }
    free(stmts);
}

/* The handle's statement `which`, prepared on its first use. */
static enum tl_err stepup_stmt(struct store *store, enum stepup_stmt which, sqlite3 **out_db,
                               sqlite3_stmt **out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt ***slot = store_sqlite_stepup_slot(store, &db);
    if (*slot == NULL) {
        *slot = calloc(SSTMT_COUNT, sizeof(**slot));
        if (*slot == NULL) {
            return TL_ERR_NOMEM;
        }
    }
    sqlite3_stmt **stmts = *slot;
    if (stmts[which] == NULL) {
        int rc = sqlite3_prepare_v3(db, stepup_stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &stmts[which], NULL);
        if (rc != SQLITE_OK) {
            return store_sqlite_fail(db, rc, "stepup: prepare");
        }
    }
    *out_db = db;
    *out = stmts[which];
    return TL_OK;
}

/* ---- Binding and decoding ---- */

static void bind_bytes(sqlite3_stmt *stmt, int index, const void *bytes, int size)
{
    int rc = sqlite3_bind_blob(stmt, index, bytes, size, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

static void bind_id(sqlite3_stmt *stmt, int index, struct id128 id, uint8_t bytes[ID128_BYTES])
{
    id128_to_bytes(id, bytes);
    bind_bytes(stmt, index, bytes, ID128_BYTES);
}

static bool col_bytes(sqlite3_stmt *stmt, int index, void *out, int size)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_BLOB ||
        sqlite3_column_bytes(stmt, index) != size) {
        return false;
    }
    memcpy(out, sqlite3_column_blob(stmt, index), (size_t)size);
    return true;
}

static bool col_u64(sqlite3_stmt *stmt, int index, uint64_t *out)
{
    int64_t v = 0;
    if (!store_sqlite_col_i64(stmt, index, &v) || v < 0) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static bool row_key(sqlite3_stmt *stmt, void *row)
{
    struct store_device_key *k = row;
    memset(k, 0, sizeof(*k));
    bool ok = store_sqlite_col_id(stmt, KCOL_ID, &k->id) && !id128_is_zero(k->id);
    ok = ok && store_sqlite_col_id(stmt, KCOL_USER_ID, &k->user_id);
    ok = ok && col_bytes(stmt, KCOL_PUBLIC_KEY, k->public_key, STORE_DEVICE_KEY_BYTES);
    ok = ok && sqlite3_column_type(stmt, KCOL_NAME) == SQLITE_TEXT;
    int name_bytes = ok ? sqlite3_column_bytes(stmt, KCOL_NAME) : 0;
    ok = ok && name_bytes > 0 && name_bytes < STORE_DEVICE_KEY_NAME_BYTES_MAX;
    if (ok) {
        memcpy(k->name, sqlite3_column_text(stmt, KCOL_NAME), (size_t)name_bytes);
        k->name[name_bytes] = '\0';
        ok = strlen(k->name) == (size_t)name_bytes;
    }
    ok = ok && col_u64(stmt, KCOL_CREATED, &k->created_ns) && k->created_ns > 0;
    ok = ok && col_u64(stmt, KCOL_REVOKED, &k->revoked_ns);
    return ok;
}

static bool row_challenge(sqlite3_stmt *stmt, void *row)
{
    struct store_stepup_challenge *c = row;
    uint64_t rules = 0;
    uint64_t method = 0;
    memset(c, 0, sizeof(*c));
    bool ok = store_sqlite_col_id(stmt, CCOL_ID, &c->id) && !id128_is_zero(c->id);
    ok = ok && store_sqlite_col_id(stmt, CCOL_USER_ID, &c->user_id);
    ok = ok && store_sqlite_col_id(stmt, CCOL_SESSION_ID, &c->session_id);
    ok = ok && col_bytes(stmt, CCOL_BINDING, c->binding, STORE_STEPUP_BINDING_BYTES);
    ok = ok && col_bytes(stmt, CCOL_WEBAUTHN, c->webauthn_hash, STORE_HASH_BYTES);
    ok = ok && col_u64(stmt, CCOL_RULES, &rules) && rules > 0 && rules <= UINT32_MAX;
    ok = ok && col_u64(stmt, CCOL_CREATED, &c->created_ns);
    ok = ok && col_u64(stmt, CCOL_EXPIRES, &c->expires_ns);
    ok = ok && col_u64(stmt, CCOL_COMPLETED, &c->completed_ns);
    ok = ok && col_u64(stmt, CCOL_METHOD, &method) && method <= STORE_STEPUP_METHOD_PASSKEY;
    ok = ok && col_u64(stmt, CCOL_USED, &c->used_ns);
    c->rules = (uint32_t)rules;
    c->method = (uint8_t)method;
    return ok;
}

/* ---- Reads ---- */

static bool row_facts(sqlite3_stmt *stmt, void *row)
{
    struct store_stepup_facts *f = row;
    uint64_t totp = 0, passkeys = 0, keys = 0, paid = 0, stepped = 0;
    bool ok = col_u64(stmt, 0, &totp) && col_u64(stmt, 1, &passkeys) && col_u64(stmt, 2, &keys);
    ok = ok && col_u64(stmt, 3, &paid) && col_u64(stmt, 4, &f->session_created_ns);
    ok = ok && col_u64(stmt, 5, &stepped) && passkeys <= UINT32_MAX && keys <= UINT32_MAX;
    f->totp_active = totp != 0;
    f->passkey_count = (uint32_t)passkeys;
    f->device_key_count = (uint32_t)keys;
    f->paid_before = paid != 0;
    f->session_stepped_up = stepped != 0;
    return ok;
}

static enum tl_err sqlite_stepup_facts(struct store *store, struct id128 user_id,
                                       struct id128 session_id, struct id128 to_user,
                                       struct store_stepup_facts *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[3][ID128_BYTES];
    bool found = false;
    enum tl_err err = stepup_stmt(store, SSTMT_FACTS, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, user_id, bytes[0]);
    bind_id(stmt, 2, session_id, bytes[1]);
    bind_id(stmt, 3, to_user, bytes[2]);
    err = store_sqlite_step_one(db, stmt, "stepup: facts", row_facts, out, &found);
    if (err == TL_OK && !found) {
        err = store_sqlite_corrupt("stepup: facts: no row");
    }
    return err;
}

static enum tl_err sqlite_stepup_challenge_get(struct store *store, struct id128 id,
                                               struct store_stepup_challenge *out, bool *found)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = stepup_stmt(store, SSTMT_CHALLENGE_GET, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes);
    return store_sqlite_step_one(db, stmt, "stepup: challenge get", row_challenge, out, found);
}

static enum tl_err sqlite_device_key_get(struct store *store, struct id128 id,
                                         struct store_device_key *out, bool *found)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = stepup_stmt(store, SSTMT_KEY_GET, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes);
    return store_sqlite_step_one(db, stmt, "stepup: device key get", row_key, out, found);
}

static enum tl_err sqlite_device_keys_list(struct store *store, struct id128 user_id,
                                           struct store_device_key *out, uint32_t max,
                                           uint32_t *out_count)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    uint32_t count = 0;
    int rc;
    enum tl_err err = stepup_stmt(store, SSTMT_KEYS_LIST, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, user_id, bytes);
    store_sqlite_bind_i64(stmt, 2, max);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        TL_ASSERT(count < max);
        if (!row_key(stmt, &out[count])) {
            sqlite3_reset(stmt);
            return store_sqlite_corrupt("stepup: device keys list");
        }
        count++;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        return store_sqlite_fail(db, rc, "stepup: device keys list");
    }
    *out_count = count;
    return TL_OK;
}

static bool row_payment_signature(sqlite3_stmt *stmt, void *row)
{
    struct store_payment_signature *s = row;
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
        s->timestamp_s = 0; /* unsigned: no key id */
        return true;
    }
    bool ok = store_sqlite_col_id(stmt, 0, &s->key_id) && !id128_is_zero(s->key_id);
    ok = ok && col_u64(stmt, 1, &s->timestamp_s);
    ok = ok && col_bytes(stmt, 2, s->signature, STORE_DEVICE_SIGNATURE_BYTES);
    ok = ok && col_bytes(stmt, 3, s->body_hash, STORE_DEVICE_BODY_HASH_BYTES);
    return ok;
}

static enum tl_err sqlite_payment_signature_get(struct store *store, struct id128 payment_id,
                                                struct store_payment_signature *out, bool *found)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    struct store_payment_signature s;
    bool row = false;
    enum tl_err err = stepup_stmt(store, SSTMT_PAYMENT_SIGNATURE_GET, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    memset(&s, 0, sizeof(s));
    bind_id(stmt, 1, payment_id, bytes);
    err = store_sqlite_step_one(db, stmt, "stepup: payment signature", row_payment_signature, &s,
                                &row);
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

/* ---- Writes ---- */

/* Runs a bound statement that returns no rows; *changes the rows it changed. */
static enum tl_err stepup_run(sqlite3 *db, sqlite3_stmt *stmt, const char *what, int *changes)
{
    int rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, what);
    }
    if (changes != NULL) {
        *changes = sqlite3_changes(db);
    }
    return TL_OK;
}

static enum tl_err sqlite_stepup_challenge_create(struct store *store,
                                                  const struct store_stepup_challenge *c)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[3][ID128_BYTES];
    enum tl_err err = stepup_stmt(store, SSTMT_CHALLENGE_PRUNE, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    uint64_t before = c->created_ns > STEPUP_CHALLENGE_KEEP_NS
                          ? c->created_ns - STEPUP_CHALLENGE_KEEP_NS
                          : 0;
    store_sqlite_bind_u64(stmt, 1, before);
    err = stepup_run(db, stmt, "stepup: challenge prune", NULL);
    err = err == TL_OK ? stepup_stmt(store, SSTMT_CHALLENGE_INSERT, &db, &stmt) : err;
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, CCOL_ID + 1, c->id, bytes[0]);
    bind_id(stmt, CCOL_USER_ID + 1, c->user_id, bytes[1]);
    bind_id(stmt, CCOL_SESSION_ID + 1, c->session_id, bytes[2]);
    bind_bytes(stmt, CCOL_BINDING + 1, c->binding, STORE_STEPUP_BINDING_BYTES);
    bind_bytes(stmt, CCOL_WEBAUTHN + 1, c->webauthn_hash, STORE_HASH_BYTES);
    store_sqlite_bind_i64(stmt, CCOL_RULES + 1, c->rules);
    store_sqlite_bind_u64(stmt, CCOL_CREATED + 1, c->created_ns);
    store_sqlite_bind_u64(stmt, CCOL_EXPIRES + 1, c->expires_ns);
    store_sqlite_bind_u64(stmt, CCOL_COMPLETED + 1, 0);
    store_sqlite_bind_i64(stmt, CCOL_METHOD + 1, STORE_STEPUP_METHOD_NONE);
    store_sqlite_bind_u64(stmt, CCOL_USED + 1, 0);
    return stepup_run(db, stmt, "stepup: challenge insert", NULL);
}

static enum tl_err sqlite_stepup_challenge_complete(struct store *store, struct id128 user_id,
                                                    struct id128 id, uint8_t method,
                                                    uint64_t now_ns)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    int changes = 0;
    enum tl_err err = stepup_stmt(store, SSTMT_CHALLENGE_COMPLETE, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes[0]);
    bind_id(stmt, 2, user_id, bytes[1]);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    store_sqlite_bind_i64(stmt, 4, method);
    err = stepup_run(db, stmt, "stepup: challenge complete", &changes);
    if (err == TL_OK && changes != 1) {
        TL_ASSERT(changes == 0);
        err = TL_ERR_CONFLICT;
    }
    return err;
}

static bool row_id(sqlite3_stmt *stmt, void *row)
{
    return store_sqlite_col_id(stmt, 0, row) && !id128_is_zero(*(struct id128 *)row);
}

static enum tl_err sqlite_stepup_grant_use(struct store *store, struct id128 user_id,
                                           const uint8_t binding[STORE_STEPUP_BINDING_BYTES],
                                           uint64_t now_ns, bool *used, struct id128 *out_id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = stepup_stmt(store, SSTMT_GRANT_USE, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, user_id, bytes);
    bind_bytes(stmt, 2, binding, STORE_STEPUP_BINDING_BYTES);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    return store_sqlite_step_one(db, stmt, "stepup: grant use", row_id, out_id, used);
}

static bool row_count(sqlite3_stmt *stmt, void *row)
{
    return col_u64(stmt, 0, row);
}

/* Count and insert in one write transaction, so two racing registrations cannot pass the
 * limit together. */
static enum tl_err sqlite_device_key_insert(struct store *store, const struct store_device_key *k)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    uint64_t count = 0;
    bool found = false;
    enum tl_err err = stepup_stmt(store, SSTMT_KEY_COUNT, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, k->user_id, bytes[0]);
    err = store_sqlite_step_one(db, stmt, "stepup: device key count", row_count, &count, &found);
    if (err == TL_OK && count >= STORE_DEVICE_KEYS_USER_MAX) {
        return TL_ERR_LIMIT;
    }
    err = err == TL_OK ? stepup_stmt(store, SSTMT_KEY_INSERT, &db, &stmt) : err;
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, KCOL_ID + 1, k->id, bytes[0]);
    bind_id(stmt, KCOL_USER_ID + 1, k->user_id, bytes[1]);
    bind_bytes(stmt, KCOL_PUBLIC_KEY + 1, k->public_key, STORE_DEVICE_KEY_BYTES);
    int rc = sqlite3_bind_text(stmt, KCOL_NAME + 1, k->name, -1, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
    store_sqlite_bind_u64(stmt, KCOL_CREATED + 1, k->created_ns);
    store_sqlite_bind_u64(stmt, KCOL_REVOKED + 1, 0);
    rc = store_sqlite_run(stmt);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return TL_ERR_CONFLICT;
    }
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "stepup: device key insert");
    }
    return TL_OK;
}

static enum tl_err sqlite_device_key_create(struct store *store, const struct store_device_key *k)
{
    sqlite3 *db = NULL;
    (void)store_sqlite_stepup_slot(store, &db);
    TL_ASSERT(sqlite3_get_autocommit(db));
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "stepup: device key begin");
    }
    enum tl_err err = sqlite_device_key_insert(store, k);
    if (err == TL_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        err = rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, "stepup: device key commit");
    }
    if (!sqlite3_get_autocommit(db)) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return err;
}

static enum tl_err sqlite_device_key_revoke(struct store *store, struct id128 user_id,
                                            struct id128 id, uint64_t now_ns)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    int changes = 0;
    enum tl_err err = stepup_stmt(store, SSTMT_KEY_REVOKE, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, user_id, bytes[0]);
    bind_id(stmt, 2, id, bytes[1]);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    err = stepup_run(db, stmt, "stepup: device key revoke", &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err sqlite_signature_claim(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                          struct id128 key_id, uint64_t expires_ns,
                                          uint64_t now_ns, bool *claimed)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    int changes = 0;
    enum tl_err err = stepup_stmt(store, SSTMT_SIGNATURE_PRUNE, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    store_sqlite_bind_u64(stmt, 1, now_ns);
    err = stepup_run(db, stmt, "stepup: signatures prune", NULL);
    err = err == TL_OK ? stepup_stmt(store, SSTMT_SIGNATURE_INSERT, &db, &stmt) : err;
    if (err != TL_OK) {
        return err;
    }
    bind_bytes(stmt, 1, hash, STORE_HASH_BYTES);
    bind_id(stmt, 2, key_id, bytes);
    store_sqlite_bind_u64(stmt, 3, expires_ns);
    err = stepup_run(db, stmt, "stepup: signature claim", &changes);
    if (err == TL_OK) {
        *claimed = changes == 1;
    }
    return err;
}

/* Inside the batch: the payment row the same batch inserted gets its signature. */
static enum tl_err sqlite_stepup_record_write(struct store *store,
                                              const struct store_record *record)
{
    struct store_payment_signature s;
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    int changes = 0;
    store_record_payment_signature_decode(record, &s);
    enum tl_err err = stepup_stmt(store, SSTMT_PAYMENT_SIGNATURE_SET, &db, &stmt);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(!sqlite3_get_autocommit(db));
    bind_id(stmt, 1, s.payment_id, bytes[0]);
    bind_id(stmt, 2, s.key_id, bytes[1]);
    store_sqlite_bind_u64(stmt, 3, s.timestamp_s);
    bind_bytes(stmt, 4, s.signature, STORE_DEVICE_SIGNATURE_BYTES);
    bind_bytes(stmt, 5, s.body_hash, STORE_DEVICE_BODY_HASH_BYTES);
    err = stepup_run(db, stmt, "records_write: payment signature", &changes);
    if (err == TL_OK && changes != 1) {
        return store_sqlite_corrupt("records_write: payment signature without its payment");
    }
    return err;
}

const struct store_stepup_ops store_sqlite_stepup_ops = {
    .facts = sqlite_stepup_facts,
    .challenge_create = sqlite_stepup_challenge_create,
    .challenge_get = sqlite_stepup_challenge_get,
    .challenge_complete = sqlite_stepup_challenge_complete,
    .grant_use = sqlite_stepup_grant_use,
    .device_key_create = sqlite_device_key_create,
    .device_key_get = sqlite_device_key_get,
    .device_keys_list = sqlite_device_keys_list,
    .device_key_revoke = sqlite_device_key_revoke,
    .signature_claim = sqlite_signature_claim,
    .payment_signature_get = sqlite_payment_signature_get,
    .record_write = sqlite_stepup_record_write,
};
