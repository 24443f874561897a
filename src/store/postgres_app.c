/*
 * postgres_app.c - the application rows of app.h on PostgreSQL (tables of migration 002).
 *
 * The statements below are prepared by postgres.c on every connection of a handle. Direct
 * writes are each one statement, so each is its own transaction without a BEGIN: a user and
 * their first wallet are one INSERT with a data-modifying WITH, a user's deletion one DELETE
 * with two more. Unique violations name their constraint (migration 002 spells the names), so a
 * taken handle, email or phone is told apart without a second look, even when another node
 * inserted it a moment ago. Payment and idempotency records are sent in the writer's commit
 * pipeline, one statement per kind. Handles and emails are lowered here (ASCII only, as the
 * contract says) rather than by the server, whose lower() also folds non-ASCII letters.
 * Driver errors are logged by postgres.c with the "store.postgres:" prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/postgres_private.h"
#include "util/assert.h"
#include "util/limits.h"

/* Rows one prune statement deletes, so that it never holds row locks for long. */
#define APP_PRUNE_CHUNK_ROWS 1000
/* A wallet open that races another node's retries its statement this many times. */
#define APP_WALLET_OPEN_TRIES 3

#define USER_COLUMNS "id, handle, email, phone, display_name, password_hash, created_ns"
enum user_column {
    UCOL_ID,
    UCOL_HANDLE,
    UCOL_EMAIL,
    UCOL_PHONE,
    UCOL_DISPLAY_NAME,
    UCOL_PASSWORD_HASH,
    UCOL_CREATED_NS,
    UCOL_COUNT
};

#define WALLET_COLUMNS "id, user_id, currency, created_ns"
enum wallet_column { WCOL_ID, WCOL_USER_ID, WCOL_CURRENCY, WCOL_CREATED_NS, WCOL_COUNT };

#define SESSION_COLUMNS "token_hash, id, user_id, created_ns, expires_ns, revoked"
enum session_column {
    SCOL_TOKEN_HASH,
    SCOL_ID,
    SCOL_USER_ID,
    SCOL_CREATED_NS,
    SCOL_EXPIRES_NS,
    SCOL_REVOKED,
    SCOL_COUNT
};

#define PAYMENT_COLUMNS                                                                            \
    "created_ns, id, from_user, to_user, from_wallet, to_wallet, amount, fee, currency, "          \
    "status, sender_available_after, recipient_available_after, to_text, note"
#define PAYMENT_SELECT                                                                             \
    "SELECT p.created_ns, p.id, p.from_user, p.to_user, p.from_wallet, p.to_wallet, "              \
    "p.amount, p.fee, p.currency, p.status, p.sender_available_after, "                            \
    "p.recipient_available_after, p.to_text, p.note FROM payments p "
enum payment_column {
    PCOL_CREATED_NS,
    PCOL_ID,
    PCOL_FROM_USER,
    PCOL_TO_USER,
    PCOL_FROM_WALLET,
    PCOL_TO_WALLET,
    PCOL_AMOUNT,
    PCOL_FEE,
    PCOL_CURRENCY,
    PCOL_STATUS,
    PCOL_SENDER_AFTER,
    PCOL_RECIPIENT_AFTER,
    PCOL_TO_TEXT,
    PCOL_NOTE,
    PCOL_COUNT
};

#define IDEMPOTENCY_COLUMNS "scope, key, request_hash, status, created_ns, body"
enum idempotency_column {
    ICOL_SCOPE,
    ICOL_KEY,
    ICOL_REQUEST_HASH,
    ICOL_STATUS,
    ICOL_CREATED_NS,
    ICOL_BODY,
    ICOL_COUNT
};

/*
 * A user's payments from a cursor in the direction of travel ($1 user, $2 cursor, $3 rows).
 * One direction walks one index range; ANY merges the sent and received ranges (UNION also
 * drops a payment that is both), keeps $3 of them, then joins the rows in.
 */
#define PAYMENTS_ONE_SQL(side, cmp, order)                                                         \
    PAYMENT_SELECT "WHERE p." side " = $1::bytea AND p.created_ns " cmp                            \
                   " $2::bigint ORDER BY p.created_ns " order " LIMIT $3::bigint"
#define PAYMENTS_SIDE(side, cmp, order)                                                            \
    "(SELECT created_ns FROM payments WHERE " side " = $1::bytea AND created_ns " cmp              \
    " $2::bigint ORDER BY created_ns " order " LIMIT $3::bigint)"
#define PAYMENTS_ANY_SQL(cmp, order)                                                               \
    "WITH h AS (" PAYMENTS_SIDE("from_user", cmp, order) " UNION " PAYMENTS_SIDE(                  \
        "to_user", cmp,                                                                            \
        order) " ORDER BY 1 " order " LIMIT $3::bigint) " PAYMENT_SELECT                           \
               "JOIN h ON h.created_ns = p.created_ns ORDER BY p.created_ns " order

/* Every statement, prepared by postgres.c at connect. */
#define APP_STMT_TABLE(X)                                                                          \
    X(ASTMT_USER_CONFLICTS, "SELECT EXISTS (SELECT 1 FROM users WHERE handle = $1::text), "        \
                            "EXISTS (SELECT 1 FROM users WHERE email = $2::text), "                \
                            "EXISTS (SELECT 1 FROM users WHERE phone = $3::text)")                 \
    X(ASTMT_USER_CREATE,                                                                           \
      "WITH u AS (INSERT INTO users (" USER_COLUMNS ") VALUES ($1::bytea, $2::text, $3::text, "    \
      "$4::text, $5::text, $6::text, $7::bigint)) INSERT INTO wallets (" WALLET_COLUMNS ") "       \
      "VALUES ($8::bytea, $9::bytea, $10::integer, $11::bigint)")                                  \
    X(ASTMT_USER_GET, "SELECT " USER_COLUMNS " FROM users WHERE id = $1::bytea")                   \
    X(ASTMT_USER_BY_HANDLE, "SELECT " USER_COLUMNS " FROM users WHERE handle = $1::text")          \
    X(ASTMT_USER_BY_EMAIL, "SELECT " USER_COLUMNS " FROM users WHERE email = $1::text")            \
    X(ASTMT_USER_BY_PHONE, "SELECT " USER_COLUMNS " FROM users WHERE phone = $1::text")            \
    X(ASTMT_USER_DELETE, "WITH s AS (DELETE FROM sessions WHERE user_id = $1::bytea), "            \
                         "w AS (DELETE FROM wallets WHERE user_id = $1::bytea) "                   \
                         "DELETE FROM users WHERE id = $1::bytea")                                 \
    X(ASTMT_WALLET_OPEN,                                                                           \
      "WITH ins AS (INSERT INTO wallets (" WALLET_COLUMNS ") VALUES ($1::bytea, $2::bytea, "       \
      "$3::integer, $4::bigint) ON CONFLICT (user_id, currency) DO NOTHING "                       \
      "RETURNING " WALLET_COLUMNS ") SELECT " WALLET_COLUMNS ", true FROM ins UNION ALL "          \
      "SELECT " WALLET_COLUMNS ", false FROM wallets WHERE user_id = $2::bytea AND "               \
      "currency = $3::integer AND NOT EXISTS (SELECT 1 FROM ins)")                                 \
    X(ASTMT_WALLET_GET, "SELECT " WALLET_COLUMNS " FROM wallets WHERE id = $1::bytea")             \
    X(ASTMT_WALLET_FIND, "SELECT " WALLET_COLUMNS " FROM wallets WHERE user_id = $1::bytea "       \
                         "AND currency = $2::integer")                                             \
    X(ASTMT_WALLETS_LIST, "SELECT " WALLET_COLUMNS " FROM wallets WHERE user_id = $1::bytea "      \
                          "ORDER BY created_ns, id LIMIT $2::bigint")                              \
    X(ASTMT_SESSION_INSERT, "INSERT INTO sessions (" SESSION_COLUMNS ") VALUES ($1::bytea, "       \
                            "$2::bytea, $3::bytea, $4::bigint, $5::bigint, $6::integer)")          \
    X(ASTMT_SESSION_GET, "SELECT " SESSION_COLUMNS " FROM sessions WHERE token_hash = $1::bytea")  \
    X(ASTMT_SESSION_REVOKE, "UPDATE sessions SET revoked = 1 WHERE token_hash = $1::bytea")        \
    X(ASTMT_PAYMENT_GET, PAYMENT_SELECT "WHERE p.id = $1::bytea")                                  \
    X(ASTMT_PAYMENTS_ANY_OLDER, PAYMENTS_ANY_SQL("<", "DESC"))                                     \
    X(ASTMT_PAYMENTS_ANY_NEWER, PAYMENTS_ANY_SQL(">", "ASC"))                                      \
    X(ASTMT_PAYMENTS_SENT_OLDER, PAYMENTS_ONE_SQL("from_user", "<", "DESC"))                       \
    X(ASTMT_PAYMENTS_SENT_NEWER, PAYMENTS_ONE_SQL("from_user", ">", "ASC"))                        \
    X(ASTMT_PAYMENTS_RECEIVED_OLDER, PAYMENTS_ONE_SQL("to_user", "<", "DESC"))                     \
    X(ASTMT_PAYMENTS_RECEIVED_NEWER, PAYMENTS_ONE_SQL("to_user", ">", "ASC"))                      \
    X(ASTMT_PAYMENTS_WRITE,                                                                        \
      "INSERT INTO payments (" PAYMENT_COLUMNS ") SELECT * FROM unnest($1::bigint[], "             \
      "$2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bigint[], "            \
      "$8::bigint[], $9::integer[], $10::integer[], $11::bigint[], $12::bigint[], $13::text[], "   \
      "$14::text[])")                                                                              \
    X(ASTMT_IDEMPOTENCY_PUT,                                                                       \
      "INSERT INTO idempotency (" IDEMPOTENCY_COLUMNS ") VALUES "                                  \
      "($1::text, $2::text, $3::bytea, $4::integer, $5::bigint, $6::bytea) "                       \
      "ON CONFLICT (scope, key) DO NOTHING")                                                       \
    X(ASTMT_IDEMPOTENCY_WRITE,                                                                     \
      "INSERT INTO idempotency (" IDEMPOTENCY_COLUMNS ") SELECT u.scope, u.key, u.request_hash, "  \
      "u.status, u.created_ns, u.body FROM unnest($1::text[], $2::text[], $3::bytea[], "           \
      "$4::integer[], $5::bigint[], $6::bytea[]) WITH ORDINALITY AS u(scope, key, request_hash, "  \
      "status, created_ns, body, n) ORDER BY u.n ON CONFLICT (scope, key) DO NOTHING")             \
    X(ASTMT_IDEMPOTENCY_GET, "SELECT " IDEMPOTENCY_COLUMNS " FROM idempotency WHERE "              \
                             "scope = $1::text AND key = $2::text")                                \
    X(ASTMT_IDEMPOTENCY_PRUNE,                                                                     \
      "DELETE FROM idempotency i USING (SELECT scope, key FROM idempotency WHERE "                 \
      "created_ns < $1::bigint ORDER BY created_ns LIMIT $2::bigint) d "                           \
      "WHERE i.scope = d.scope AND i.key = d.key")

enum app_stmt {
#define APP_STMT_ENUM(id, sql) id,
    APP_STMT_TABLE(APP_STMT_ENUM)
#undef APP_STMT_ENUM
        ASTMT_COUNT
};

const struct pg_stmt store_postgres_app_stmts[ASTMT_COUNT] = {
#define APP_STMT_ROW(id, sql) {#id, sql},
    APP_STMT_TABLE(APP_STMT_ROW)
#undef APP_STMT_ROW
};
const uint32_t store_postgres_app_stmt_count = ASTMT_COUNT;

static const char *const app_stmt_name[ASTMT_COUNT] = {
#define APP_STMT_NAME(id, sql) #id,
    APP_STMT_TABLE(APP_STMT_NAME)
#undef APP_STMT_NAME
};

static enum tl_err app_run(struct store *store, enum app_stmt which, const struct pg_params *p,
                           PGresult **out)
{
    return store_postgres_run(store, app_stmt_name[which], p, app_stmt_name[which], out);
}

/* The direct writes never run inside the handle's batch. */
static void app_assert_no_batch(const struct store *store)
{
    TL_ASSERT(!store->in_batch);
}

/* ASCII lower case into out (app.c checked that text fits its field). */
static void app_lower(const char *text, char *out, size_t out_bytes)
{
    size_t n = strlen(text);
    TL_ASSERT(n < out_bytes);
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

/* ---- Decoding: false when a stored value is not one we could have written. ---- */

/* The ids of application rows are never zero. */
static bool col_id(const PGresult *res, int row, int col, struct id128 *out)
{
    return pg_col_id(res, row, col, out) && !id128_is_zero(*out);
}

static bool col_hash(const PGresult *res, int row, int col, uint8_t out[STORE_HASH_BYTES])
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != STORE_HASH_BYTES) {
        return false;
    }
    memcpy(out, PQgetvalue(res, row, col), STORE_HASH_BYTES);
    return true;
}

/* A time the store wrote: 1..INT64_MAX. */
static bool col_time(const PGresult *res, int row, int col, uint64_t *out)
{
    return pg_col_uint(res, row, col, 1, INT64_MAX, out);
}

static bool col_bool(const PGresult *res, int row, int col, bool *out)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 1) {
        return false;
    }
    *out = PQgetvalue(res, row, col)[0] != 0;
    return true;
}

static bool row_user(const PGresult *res, int row, void *item)
{
    struct store_user u;
    bool ok;

    TL_ASSERT(PQnfields(res) == UCOL_COUNT);
    memset(&u, 0, sizeof(u));
    ok = col_id(res, row, UCOL_ID, &u.id);
    ok = ok && pg_col_text(res, row, UCOL_HANDLE, u.handle, sizeof(u.handle), false);
    ok = ok && pg_col_text(res, row, UCOL_EMAIL, u.email, sizeof(u.email), false);
    if (ok && !PQgetisnull(res, row, UCOL_PHONE)) {
        ok = pg_col_text(res, row, UCOL_PHONE, u.phone, sizeof(u.phone), false);
    }
    ok = ok &&
         pg_col_text(res, row, UCOL_DISPLAY_NAME, u.display_name, sizeof(u.display_name), true);
    ok = ok &&
         pg_col_text(res, row, UCOL_PASSWORD_HASH, u.password_hash, sizeof(u.password_hash), false);
    ok = ok && col_time(res, row, UCOL_CREATED_NS, &u.created_ns);
    if (!ok) {
        return false;
    }
    *(struct store_user *)item = u;
    return true;
}

static bool row_wallet(const PGresult *res, int row, void *item)
{
    struct store_wallet w;
    int32_t currency;
    bool ok;

    TL_ASSERT(PQnfields(res) >= WCOL_COUNT);
    memset(&w, 0, sizeof(w));
    ok = col_id(res, row, WCOL_ID, &w.id);
    ok = ok && col_id(res, row, WCOL_USER_ID, &w.user_id);
    ok = ok && pg_col_int_range(res, row, WCOL_CURRENCY, 1, UINT16_MAX, &currency);
    ok = ok && col_time(res, row, WCOL_CREATED_NS, &w.created_ns);
    if (!ok) {
        return false;
    }
    w.currency = (uint16_t)currency;
    *(struct store_wallet *)item = w;
    return true;
}

static bool row_session(const PGresult *res, int row, void *item)
{
    struct store_session s;
    int32_t revoked;
    bool ok;

    TL_ASSERT(PQnfields(res) == SCOL_COUNT);
    memset(&s, 0, sizeof(s));
    ok = col_hash(res, row, SCOL_TOKEN_HASH, s.token_hash);
    ok = ok && col_id(res, row, SCOL_ID, &s.id);
    ok = ok && col_id(res, row, SCOL_USER_ID, &s.user_id);
    ok = ok && col_time(res, row, SCOL_CREATED_NS, &s.created_ns);
    ok = ok && col_time(res, row, SCOL_EXPIRES_NS, &s.expires_ns);
    ok = ok && pg_col_int_range(res, row, SCOL_REVOKED, 0, 1, &revoked);
    if (!ok) {
        return false;
    }
    s.revoked = revoked == 1;
    *(struct store_session *)item = s;
    return true;
}

static bool row_payment(const PGresult *res, int row, void *item)
{
    struct store_payment *out = item;
    int32_t currency, status;
    bool ok;

    TL_ASSERT(PQnfields(res) == PCOL_COUNT);
    memset(out, 0, sizeof(*out));
    ok = col_time(res, row, PCOL_CREATED_NS, &out->created_ns);
    ok = ok && col_id(res, row, PCOL_ID, &out->id);
    ok = ok && col_id(res, row, PCOL_FROM_USER, &out->from_user);
    ok = ok && col_id(res, row, PCOL_TO_USER, &out->to_user);
    ok = ok && col_id(res, row, PCOL_FROM_WALLET, &out->from_wallet);
    ok = ok && col_id(res, row, PCOL_TO_WALLET, &out->to_wallet);
    ok = ok && pg_col_i64(res, row, PCOL_AMOUNT, &out->amount);
    ok = ok && pg_col_i64(res, row, PCOL_FEE, &out->fee);
    ok = ok && pg_col_int_range(res, row, PCOL_CURRENCY, 1, UINT16_MAX, &currency);
    ok = ok && pg_col_int_range(res, row, PCOL_STATUS, STORE_PAYMENT_SUCCEEDED,
                                STORE_PAYMENT_SUCCEEDED, &status);
    ok = ok && pg_col_i64(res, row, PCOL_SENDER_AFTER, &out->sender_available_after);
    ok = ok && pg_col_i64(res, row, PCOL_RECIPIENT_AFTER, &out->recipient_available_after);
    ok = ok && pg_col_text(res, row, PCOL_TO_TEXT, out->to_text, sizeof(out->to_text), true);
    ok = ok && pg_col_text(res, row, PCOL_NOTE, out->note, sizeof(out->note), true);
    if (!ok || out->amount <= 0 || out->fee < 0) {
        return false;
    }
    out->currency = (uint16_t)currency;
    out->status = (uint8_t)status;
    return true;
}

/* On TL_OK out->body is malloc'd and NUL-terminated. */
static enum tl_err row_idempotency(const PGresult *res, int row, struct store_idempotency *out)
{
    struct store_idempotency r;
    int32_t status;
    char *body;
    int body_bytes;
    bool ok;

    TL_ASSERT(PQnfields(res) == ICOL_COUNT);
    memset(&r, 0, sizeof(r));
    ok = pg_col_text(res, row, ICOL_SCOPE, r.scope, sizeof(r.scope), false);
    ok = ok && pg_col_text(res, row, ICOL_KEY, r.key, sizeof(r.key), false);
    ok = ok && col_hash(res, row, ICOL_REQUEST_HASH, r.request_hash);
    ok = ok && pg_col_int_range(res, row, ICOL_STATUS, 0, UINT16_MAX, &status);
    ok = ok && col_time(res, row, ICOL_CREATED_NS, &r.created_ns);
    ok = ok && !PQgetisnull(res, row, ICOL_BODY);
    body_bytes = ok ? PQgetlength(res, row, ICOL_BODY) : 0;
    if (!ok || body_bytes < 0 || body_bytes > TL_RECORD_BYTES_MAX) {
        return store_postgres_corrupt("idempotency_get");
    }
    body = malloc((size_t)body_bytes + 1);
    if (body == NULL) {
        return TL_ERR_NOMEM;
    }
    memcpy(body, PQgetvalue(res, row, ICOL_BODY), (size_t)body_bytes);
    body[body_bytes] = '\0';
    r.status = (uint16_t)status;
    r.body = body;
    r.body_bytes = (uint32_t)body_bytes;
    *out = r;
    return TL_OK;
}

typedef bool (*app_decode_fn)(const PGresult *res, int row, void *item);

/* Runs a statement that returns at most one row and decodes it into item. */
static enum tl_err app_lookup(struct store *store, enum app_stmt which, const struct pg_params *p,
                              app_decode_fn decode, void *item, bool *found)
{
    PGresult *res = NULL;
    enum tl_err err = app_run(store, which, p, &res);

    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) > 1 || (PQntuples(res) == 1 && !decode(res, 0, item))) {
        err = store_postgres_corrupt(app_stmt_name[which]);
    } else {
        *found = PQntuples(res) == 1;
    }
    PQclear(res);
    return err;
}

/* ---- Users ---- */

/* Which unique field of user is taken already, NONE when none is: one round trip. */
static enum tl_err user_conflict_find(struct store *store, const char *handle, const char *email,
                                      const char *phone, enum store_user_conflict *out)
{
    static const enum store_user_conflict order[3] = {
        STORE_USER_CONFLICT_HANDLE, STORE_USER_CONFLICT_EMAIL, STORE_USER_CONFLICT_PHONE};
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    pg_params_init(&p);
    pg_param_text(&p, handle);
    pg_param_text(&p, email);
    if (phone[0] != '\0') {
        pg_param_text(&p, phone);
    } else {
        pg_param_null(&p);
    }
    err = app_run(store, ASTMT_USER_CONFLICTS, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    *out = STORE_USER_CONFLICT_NONE;
    for (int i = 0; i < 3; i++) {
        bool taken = false;
        if (PQntuples(res) != 1 || !col_bool(res, 0, i, &taken)) {
            err = store_postgres_corrupt("user_create: conflicts");
            break;
        }
        if (taken) {
            *out = order[i];
            break;
        }
    }
    PQclear(res);
    return err;
}

/* The field a unique violation on users names; NONE for the id or a wallet key. */
static enum store_user_conflict user_conflict_of(const char *constraint)
{
    if (strcmp(constraint, "users_handle_key") == 0) {
        return STORE_USER_CONFLICT_HANDLE;
    }
    if (strcmp(constraint, "users_email_key") == 0) {
        return STORE_USER_CONFLICT_EMAIL;
    }
    if (strcmp(constraint, "users_phone_key") == 0) {
        return STORE_USER_CONFLICT_PHONE;
    }
    return STORE_USER_CONFLICT_NONE;
}

/*
 * Looks for taken fields first (so that several taken fields name the handle first), then
 * inserts user and wallet in one statement. A field taken in between by another writer is
 * named by the violated constraint; a violation on the ids is a storage error.
 */
static enum tl_err pg_app_user_create(struct store *store, const struct store_user *user,
                                      const struct store_wallet *wallet,
                                      enum store_user_conflict *conflict)
{
    char handle[STORE_HANDLE_BYTES_MAX];
    char email[STORE_EMAIL_BYTES_MAX];
    char constraint[64];
    enum store_user_conflict which = STORE_USER_CONFLICT_NONE;
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    app_lower(user->handle, handle, sizeof(handle));
    app_lower(user->email, email, sizeof(email));
    err = user_conflict_find(store, handle, email, user->phone, &which);
    if (err != TL_OK) {
        return err;
    }
    if (which != STORE_USER_CONFLICT_NONE) {
        *conflict = which;
        return TL_ERR_CONFLICT;
    }
    pg_params_init(&p);
    pg_param_id(&p, user->id);
    pg_param_text(&p, handle);
    pg_param_text(&p, email);
    if (user->phone[0] != '\0') {
        pg_param_text(&p, user->phone);
    } else {
        pg_param_null(&p);
    }
    pg_param_text(&p, user->display_name);
    pg_param_text(&p, user->password_hash);
    pg_param_u64_clamped(&p, user->created_ns);
    pg_param_id(&p, wallet->id);
    pg_param_id(&p, wallet->user_id);
    pg_param_i32(&p, wallet->currency);
    pg_param_u64_clamped(&p, wallet->created_ns);
    err = store_postgres_run_unique(store, "ASTMT_USER_CREATE", &p, "user_create", &res, constraint,
                                    sizeof(constraint));
    if (err == TL_ERR_CONFLICT) {
        which = user_conflict_of(constraint);
        if (which == STORE_USER_CONFLICT_NONE) {
            fprintf(stderr, "store.postgres: user_create: %s taken\n", constraint);
            return TL_ERR_STORAGE;
        }
        *conflict = which;
        return TL_ERR_CONFLICT;
    }
    if (err != TL_OK) {
        return err;
    }
    PQclear(res);
    return TL_OK;
}

/* Deleting a user that does not exist (any more) succeeds: compensation may be retried. */
static enum tl_err pg_app_user_delete(struct store *store, struct id128 user_id)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    err = app_run(store, ASTMT_USER_DELETE, &p, &res);
    PQclear(res);
    return err;
}

static enum tl_err pg_app_user_get(struct store *store, struct id128 id, struct store_user *out,
                                   bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return app_lookup(store, ASTMT_USER_GET, &p, row_user, out, found);
}

static enum tl_err pg_app_user_find(struct store *store, const char *handle, const char *email,
                                    const char *phone, struct store_user *out, bool *found)
{
    char lowered[STORE_EMAIL_BYTES_MAX];
    enum app_stmt which = ASTMT_USER_BY_PHONE;
    struct pg_params p;

    static_assert(STORE_EMAIL_BYTES_MAX >= STORE_HANDLE_BYTES_MAX, "lowered holds a handle");
    pg_params_init(&p);
    if (handle != NULL) {
        app_lower(handle, lowered, sizeof(lowered));
        pg_param_text(&p, lowered);
        which = ASTMT_USER_BY_HANDLE;
    } else if (email != NULL) {
        app_lower(email, lowered, sizeof(lowered));
        pg_param_text(&p, lowered);
        which = ASTMT_USER_BY_EMAIL;
    } else {
        TL_ASSERT(phone != NULL);
        pg_param_text(&p, phone);
    }
    return app_lookup(store, which, &p, row_user, out, found);
}

/* ---- Wallets ---- */

/*
 * One statement inserts the wallet or, when the user has one in that currency, returns that
 * row. A row another node inserted after this statement's snapshot is neither inserted nor
 * seen: the statement runs again with a fresh snapshot, which sees it.
 */
static enum tl_err pg_app_wallet_open(struct store *store, const struct store_wallet *wallet,
                                      struct store_wallet *out, bool *created)
{
    struct pg_params p;
    enum tl_err err = TL_OK;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_id(&p, wallet->id);
    pg_param_id(&p, wallet->user_id);
    pg_param_i32(&p, wallet->currency);
    pg_param_u64_clamped(&p, wallet->created_ns);
    for (int attempt = 0; attempt < APP_WALLET_OPEN_TRIES; attempt++) {
        PGresult *res = NULL;
        bool inserted = false;
        err = app_run(store, ASTMT_WALLET_OPEN, &p, &res);
        if (err != TL_OK) {
            return err;
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            continue;
        }
        if (PQntuples(res) != 1 || PQnfields(res) != WCOL_COUNT + 1 || !row_wallet(res, 0, out) ||
            !col_bool(res, 0, WCOL_COUNT, &inserted)) {
            PQclear(res);
            return store_postgres_corrupt("wallet_open");
        }
        PQclear(res);
        *created = inserted;
        return TL_OK;
    }
    fprintf(stderr, "store.postgres: wallet_open: row neither inserted nor found\n");
    return TL_ERR_STORAGE;
}

static enum tl_err pg_app_wallet_get(struct store *store, struct id128 id, struct store_wallet *out,
                                     bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return app_lookup(store, ASTMT_WALLET_GET, &p, row_wallet, out, found);
}

static enum tl_err pg_app_wallet_find(struct store *store, struct id128 user_id, uint16_t currency,
                                      struct store_wallet *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i32(&p, currency);
    return app_lookup(store, ASTMT_WALLET_FIND, &p, row_wallet, out, found);
}

/* Reads max + 1 rows: the extra one only says there are more than max. */
static enum tl_err pg_app_wallets_list(struct store *store, struct id128 user_id,
                                       struct store_wallet *out, uint32_t max, uint32_t *out_count)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;
    int rows;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i64(&p, (int64_t)max + 1);
    err = app_run(store, ASTMT_WALLETS_LIST, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    rows = PQntuples(res);
    if (rows < 0 || (uint32_t)rows > max) {
        err = rows < 0 ? store_postgres_corrupt("wallets_list") : TL_ERR_LIMIT;
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        if (!row_wallet(res, i, &out[i]) || !id128_eq(out[i].user_id, user_id)) {
            err = store_postgres_corrupt("wallets_list");
            goto out;
        }
    }
    *out_count = (uint32_t)rows;
out:
    PQclear(res);
    return err;
}

/* ---- Sessions ---- */

static enum tl_err pg_app_session_create(struct store *store, const struct store_session *session)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_bytes(&p, session->token_hash, STORE_HASH_BYTES);
    pg_param_id(&p, session->id);
    pg_param_id(&p, session->user_id);
    pg_param_u64_clamped(&p, session->created_ns);
    pg_param_u64_clamped(&p, session->expires_ns);
    pg_param_i32(&p, session->revoked ? 1 : 0);
    err = app_run(store, ASTMT_SESSION_INSERT, &p, &res);
    PQclear(res);
    return err;
}

static enum tl_err pg_app_session_get(struct store *store,
                                      const uint8_t token_hash[STORE_HASH_BYTES],
                                      struct store_session *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_bytes(&p, token_hash, STORE_HASH_BYTES);
    return app_lookup(store, ASTMT_SESSION_GET, &p, row_session, out, found);
}

/* An UPDATE counts the rows it matched, revoked before or not. */
static enum tl_err pg_app_session_revoke(struct store *store,
                                         const uint8_t token_hash[STORE_HASH_BYTES])
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_bytes(&p, token_hash, STORE_HASH_BYTES);
    err = app_run(store, ASTMT_SESSION_REVOKE, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    err = strcmp(PQcmdTuples(res), "0") == 0 ? TL_ERR_NOT_FOUND : TL_OK;
    PQclear(res);
    return err;
}

/* ---- Payments ---- */

static enum tl_err pg_app_payment_get(struct store *store, struct id128 id,
                                      struct store_payment *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return app_lookup(store, ASTMT_PAYMENT_GET, &p, row_payment, out, found);
}

static enum app_stmt payments_stmt(enum store_direction direction, bool newer)
{
    switch (direction) {
    case STORE_DIRECTION_ANY:
        return newer ? ASTMT_PAYMENTS_ANY_NEWER : ASTMT_PAYMENTS_ANY_OLDER;
    case STORE_DIRECTION_SENT:
        return newer ? ASTMT_PAYMENTS_SENT_NEWER : ASTMT_PAYMENTS_SENT_OLDER;
    case STORE_DIRECTION_RECEIVED:
        return newer ? ASTMT_PAYMENTS_RECEIVED_NEWER : ASTMT_PAYMENTS_RECEIVED_OLDER;
    }
    TL_UNREACHABLE();
    return ASTMT_PAYMENTS_ANY_OLDER;
}

/*
 * Older pages walk down from the cursor; newer pages walk up from it and are reversed, so
 * every page is newest first (the cursor semantics of store_history). limit + 1 rows are
 * read: the extra one only says *has_more.
 */
static enum tl_err pg_app_payments_list(struct store *store, struct id128 user_id,
                                        enum store_direction direction,
                                        const struct store_page *page, struct store_payment *out,
                                        uint32_t *out_count, bool *has_more)
{
    bool newer = page->ending_before_ts != 0;
    uint64_t cursor = newer ? page->ending_before_ts : page->starting_after_ts;
    enum app_stmt which = payments_stmt(direction, newer);
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;
    uint32_t count;
    int rows;

    if (cursor == 0) {
        cursor = UINT64_MAX;
    }
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, cursor);
    pg_param_i64(&p, (int64_t)page->limit + 1);
    err = app_run(store, which, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    rows = PQntuples(res);
    count = rows > (int)page->limit ? page->limit : (uint32_t)rows;
    for (uint32_t i = 0; i < count; i++) {
        if (!row_payment(res, (int)i, &out[newer ? count - 1 - i : i])) {
            err = store_postgres_corrupt(app_stmt_name[which]);
            goto out;
        }
    }
    *out_count = count;
    *has_more = rows > (int)page->limit;
out:
    PQclear(res);
    return err;
}

/* ---- Idempotency ---- */

/* The first row for a scope and key stays: a second put inserts nothing and says so. */
static enum tl_err pg_app_idempotency_put(struct store *store, const struct store_idempotency *row)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_text(&p, row->scope);
    pg_param_text(&p, row->key);
    pg_param_bytes(&p, row->request_hash, STORE_HASH_BYTES);
    pg_param_i32(&p, row->status);
    pg_param_u64_clamped(&p, row->created_ns);
    pg_param_bytes(&p, row->body, row->body_bytes);
    err = app_run(store, ASTMT_IDEMPOTENCY_PUT, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    err = strcmp(PQcmdTuples(res), "1") == 0 ? TL_OK : TL_ERR_CONFLICT;
    PQclear(res);
    return err;
}

static enum tl_err pg_app_idempotency_get(struct store *store, const char *scope, const char *key,
                                          struct store_idempotency *out, bool *found)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    pg_params_init(&p);
    pg_param_text(&p, scope);
    pg_param_text(&p, key);
    err = app_run(store, ASTMT_IDEMPOTENCY_GET, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) > 1) {
        err = store_postgres_corrupt("idempotency_get");
    } else if (PQntuples(res) == 1) {
        err = row_idempotency(res, 0, out);
    }
    if (err == TL_OK) {
        *found = PQntuples(res) == 1;
    }
    PQclear(res);
    return err;
}

/* Deletes in chunks, each its own transaction, so no statement holds many row locks. */
static enum tl_err pg_app_idempotency_prune(struct store *store, uint64_t before_ns,
                                            uint32_t *out_deleted)
{
    uint64_t deleted = 0;
    uint64_t changes;

    app_assert_no_batch(store);
    do {
        struct pg_params p;
        PGresult *res = NULL;
        char *end = NULL;
        enum tl_err err;

        pg_params_init(&p);
        pg_param_u64_clamped(&p, before_ns);
        pg_param_i64(&p, APP_PRUNE_CHUNK_ROWS);
        err = app_run(store, ASTMT_IDEMPOTENCY_PRUNE, &p, &res);
        if (err != TL_OK) {
            return err;
        }
        changes = strtoull(PQcmdTuples(res), &end, 10);
        bool parsed = end != NULL && *end == '\0' && PQcmdTuples(res)[0] != '\0';
        PQclear(res);
        if (!parsed || changes > APP_PRUNE_CHUNK_ROWS) {
            return store_postgres_corrupt("idempotency_prune");
        }
        deleted += changes;
    } while (changes == APP_PRUNE_CHUNK_ROWS);
    *out_deleted = deleted > UINT32_MAX ? UINT32_MAX : (uint32_t)deleted;
    return TL_OK;
}

/* ---- Records inside the batch ---- */

/* Payments of the batch in one INSERT; a payment id or time that exists fails the batch. */
static enum tl_err payments_send(struct store *store, const struct store_record *records,
                                 uint32_t count, uint32_t payments)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct store_payment *rows = malloc((size_t)payments * sizeof(*rows));
    struct pg_params p;
    uint32_t n = 0;
    enum tl_err err;

    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_PAYMENT) {
            store_record_payment_decode(&records[i], &rows[n++]);
        }
    }
    TL_ASSERT(n == payments);
    err = pg_buf_reset(buf, 12 * pg_array_bytes_max(payments, ID128_BYTES) +
                                2 * pg_array_bytes_max(payments, STORE_NOTE_BYTES_MAX));
    if (err != TL_OK) {
        free(rows);
        return err;
    }
    pg_params_init(&p);
#define PAYMENT_ARRAY(oid, append)                                                                 \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, payments);                                                    \
        for (uint32_t i = 0; i < payments; i++) {                                                  \
            const struct store_payment *x = &rows[i];                                              \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    PAYMENT_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->created_ns));
    PAYMENT_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->id));
    PAYMENT_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->from_user));
    PAYMENT_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->to_user));
    PAYMENT_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->from_wallet));
    PAYMENT_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->to_wallet));
    PAYMENT_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->amount));
    PAYMENT_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->fee));
    PAYMENT_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->currency));
    PAYMENT_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->status));
    PAYMENT_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->sender_available_after));
    PAYMENT_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->recipient_available_after));
    PAYMENT_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->to_text));
    PAYMENT_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->note));
#undef PAYMENT_ARRAY
    free(rows);
    pg_params_resolve(&p, buf);
    return store_postgres_pipeline_send(store, "ASTMT_PAYMENTS_WRITE", &p, "records_write: payment",
                                        PG_EXPECT_EXACT, payments, TL_ERR_STORAGE);
}

/* Idempotency rows of the batch in one INSERT, in record order: the first row for a scope and
 * key wins, within the batch, across batches and over a direct put. */
static enum tl_err idempotency_send(struct store *store, const struct store_record *records,
                                    uint32_t count, uint32_t rows_count, size_t body_bytes)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    enum tl_err err;

    err = pg_buf_reset(buf, 6 * pg_array_bytes_max(rows_count, STORE_IDEMPOTENCY_KEY_BYTES_MAX) +
                                body_bytes);
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
#define IDEMPOTENCY_ARRAY(oid, append)                                                             \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, rows_count);                                                  \
        for (uint32_t i = 0; i < count; i++) {                                                     \
            struct store_idempotency x;                                                            \
            if (records[i].kind != STORE_RECORD_IDEMPOTENCY) {                                     \
                continue;                                                                          \
            }                                                                                      \
            store_record_idempotency_decode(&records[i], &x);                                      \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    IDEMPOTENCY_ARRAY(PG_OID_TEXT, pg_array_text(buf, x.scope));
    IDEMPOTENCY_ARRAY(PG_OID_TEXT, pg_array_text(buf, x.key));
    IDEMPOTENCY_ARRAY(PG_OID_BYTEA, pg_array_bytes(buf, x.request_hash, STORE_HASH_BYTES));
    IDEMPOTENCY_ARRAY(PG_OID_INT4, pg_array_i32(buf, x.status));
    IDEMPOTENCY_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x.created_ns));
    IDEMPOTENCY_ARRAY(PG_OID_BYTEA, pg_array_bytes(buf, x.body, x.body_bytes));
#undef IDEMPOTENCY_ARRAY
    pg_params_resolve(&p, buf);
    return store_postgres_pipeline_send(store, "ASTMT_IDEMPOTENCY_WRITE", &p,
                                        "records_write: idempotency", PG_EXPECT_ANY, 0,
                                        TL_ERR_STORAGE);
}

enum tl_err store_postgres_app_records_send(struct store *store, const struct store_record *records,
                                            uint32_t count)
{
    uint32_t payments = 0;
    uint32_t idempotency = 0;
    size_t body_bytes = 0;
    enum tl_err err = TL_OK;

    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_PAYMENT) {
            payments++;
        } else if (records[i].kind == STORE_RECORD_IDEMPOTENCY) {
            idempotency++;
            body_bytes += records[i].data_bytes;
        }
    }
    if (payments > 0) {
        err = payments_send(store, records, count, payments);
    }
    if (err == TL_OK && idempotency > 0) {
        err = idempotency_send(store, records, count, idempotency, body_bytes);
    }
    return err;
}

static enum tl_err pg_app_record_write(struct store *store, const struct store_record *record)
{
    TL_ASSERT(record->kind == STORE_RECORD_PAYMENT || record->kind == STORE_RECORD_IDEMPOTENCY);
    return store_postgres_app_records_send(store, record, 1);
}

const struct store_app_ops store_postgres_app_ops = {
    .user_create = pg_app_user_create,
    .user_delete = pg_app_user_delete,
    .user_get = pg_app_user_get,
    .user_find = pg_app_user_find,
    .wallet_open = pg_app_wallet_open,
    .wallet_get = pg_app_wallet_get,
    .wallet_find = pg_app_wallet_find,
    .wallets_list = pg_app_wallets_list,
    .session_create = pg_app_session_create,
    .session_get = pg_app_session_get,
    .session_revoke = pg_app_session_revoke,
    .payment_get = pg_app_payment_get,
    .payments_list = pg_app_payments_list,
    .idempotency_put = pg_app_idempotency_put,
    .idempotency_get = pg_app_idempotency_get,
    .idempotency_prune = pg_app_idempotency_prune,
    .record_write = pg_app_record_write,
};
