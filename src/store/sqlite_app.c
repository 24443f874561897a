/*
 * sqlite_app.c - the application rows of app.h on SQLite (tables of migration 002).
 *
 * Each SQLite handle has one struct store_sqlite_app, made at open: the connection (borrowed
 * from sqlite.c) and every statement below, prepared once. Direct writes run on the handle
 * they are called on, outside any batch: a write of several statements in BEGIN IMMEDIATE ..
 * COMMIT, a single statement as its own (autocommit) transaction; both wait for the writer's
 * batch through the busy timeout sqlite.c sets. record_write runs inside the writer's batch.
 * Driver errors are logged with the "store.sqlite:" prefix and never returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/sqlite_private.h"
#include "util/assert.h"
#include "util/limits.h"

/* Rows one prune transaction deletes, so that it never holds the write lock for long. */
#define APP_PRUNE_CHUNK_ROWS 1000

/* Column lists shared by the statements and the row decoders below; change them together. */
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
 * A user's payments from a cursor in the direction of travel (?1 user, ?2 cursor, ?3 rows).
 * One direction walks one index range; ANY merges the sent and received ranges (a UNION of
 * two ordered index ranges, which also drops a payment that is both), keeps ?3 of them, then
 * joins the rows in, like the ledger's history.
 */
#define PAYMENTS_ONE_SQL(side, cmp, order)                                                         \
    PAYMENT_SELECT "WHERE p." side " = ?1 AND p.created_ns " cmp                                   \
                   " ?2 ORDER BY p.created_ns " order " LIMIT ?3"
#define PAYMENTS_SIDE(side, cmp)                                                                   \
    "SELECT created_ns FROM payments WHERE " side " = ?1 AND created_ns " cmp " ?2"
#define PAYMENTS_ANY_SQL(cmp, order)                                                               \
    PAYMENT_SELECT "JOIN (" PAYMENTS_SIDE("from_user", cmp) " UNION " PAYMENTS_SIDE(               \
        "to_user", cmp) " ORDER BY created_ns " order " LIMIT ?3) h "                              \
                        "ON h.created_ns = p.created_ns ORDER BY p.created_ns " order

/* Every statement, prepared at open. Parameters are numbered. */
#define APP_STMT_TABLE(X)                                                                          \
    X(ASTMT_BEGIN, "BEGIN IMMEDIATE")                                                              \
    X(ASTMT_COMMIT, "COMMIT")                                                                      \
    X(ASTMT_ROLLBACK, "ROLLBACK")                                                                  \
    X(ASTMT_USER_INSERT, "INSERT INTO users (" USER_COLUMNS ") VALUES "                            \
                         "(?1, lower(?2), lower(?3), ?4, ?5, ?6, ?7)")                             \
    X(ASTMT_USER_GET, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1")                          \
    X(ASTMT_USER_BY_HANDLE, "SELECT " USER_COLUMNS " FROM users WHERE handle = lower(?1)")         \
    X(ASTMT_USER_BY_EMAIL, "SELECT " USER_COLUMNS " FROM users WHERE email = lower(?1)")           \
    X(ASTMT_USER_BY_PHONE, "SELECT " USER_COLUMNS " FROM users WHERE phone = ?1")                  \
    X(ASTMT_USER_DELETE, "DELETE FROM users WHERE id = ?1")                                        \
    X(ASTMT_USER_WALLETS_DELETE, "DELETE FROM wallets WHERE user_id = ?1")                         \
    X(ASTMT_USER_SESSIONS_DELETE, "DELETE FROM sessions WHERE user_id = ?1")                       \
    X(ASTMT_WALLET_INSERT, "INSERT INTO wallets (" WALLET_COLUMNS ") VALUES (?1, ?2, ?3, ?4)")     \
    X(ASTMT_WALLET_GET, "SELECT " WALLET_COLUMNS " FROM wallets WHERE id = ?1")                    \
    X(ASTMT_WALLET_FIND, "SELECT " WALLET_COLUMNS " FROM wallets WHERE user_id = ?1 AND "          \
                         "currency = ?2")                                                          \
    X(ASTMT_WALLETS_LIST, "SELECT " WALLET_COLUMNS " FROM wallets WHERE user_id = ?1 "             \
                          "ORDER BY created_ns, id LIMIT ?2")                                      \
    X(ASTMT_SESSION_INSERT, "INSERT INTO sessions (" SESSION_COLUMNS ") VALUES "                   \
                            "(?1, ?2, ?3, ?4, ?5, ?6)")                                            \
    X(ASTMT_SESSION_GET, "SELECT " SESSION_COLUMNS " FROM sessions WHERE token_hash = ?1")         \
    X(ASTMT_SESSION_REVOKE, "UPDATE sessions SET revoked = 1 WHERE token_hash = ?1")               \
    X(ASTMT_PAYMENT_INSERT, "INSERT INTO payments (" PAYMENT_COLUMNS ") VALUES (?1, ?2, ?3, "      \
                            "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")                    \
    X(ASTMT_PAYMENT_GET, PAYMENT_SELECT "WHERE p.id = ?1")                                         \
    X(ASTMT_PAYMENTS_ANY_OLDER, PAYMENTS_ANY_SQL("<", "DESC"))                                     \
    X(ASTMT_PAYMENTS_ANY_NEWER, PAYMENTS_ANY_SQL(">", "ASC"))                                      \
    X(ASTMT_PAYMENTS_SENT_OLDER, PAYMENTS_ONE_SQL("from_user", "<", "DESC"))                       \
    X(ASTMT_PAYMENTS_SENT_NEWER, PAYMENTS_ONE_SQL("from_user", ">", "ASC"))                        \
    X(ASTMT_PAYMENTS_RECEIVED_OLDER, PAYMENTS_ONE_SQL("to_user", "<", "DESC"))                     \
    X(ASTMT_PAYMENTS_RECEIVED_NEWER, PAYMENTS_ONE_SQL("to_user", ">", "ASC"))                      \
    X(ASTMT_IDEMPOTENCY_INSERT, "INSERT INTO idempotency (" IDEMPOTENCY_COLUMNS ") VALUES "        \
                                "(?1, ?2, ?3, ?4, ?5, ?6)")                                        \
    X(ASTMT_IDEMPOTENCY_INSERT_OR_IGNORE,                                                          \
      "INSERT OR IGNORE INTO idempotency (" IDEMPOTENCY_COLUMNS ") VALUES "                        \
      "(?1, ?2, ?3, ?4, ?5, ?6)")                                                                  \
    X(ASTMT_IDEMPOTENCY_GET, "SELECT " IDEMPOTENCY_COLUMNS " FROM idempotency WHERE "              \
                             "scope = ?1 AND key = ?2")                                            \
    X(ASTMT_IDEMPOTENCY_PRUNE, "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM "        \
                               "idempotency WHERE created_ns < ?1 ORDER BY created_ns "            \
                               "LIMIT ?2)")

enum app_stmt {
#define APP_STMT_ENUM(id, sql) id,
    APP_STMT_TABLE(APP_STMT_ENUM)
#undef APP_STMT_ENUM
        ASTMT_COUNT
};

static const char *const app_stmt_sql[ASTMT_COUNT] = {
#define APP_STMT_SQL(id, sql) sql,
    APP_STMT_TABLE(APP_STMT_SQL)
#undef APP_STMT_SQL
};

/* For logs: "ASTMT_USER_GET". */
static const char *const app_stmt_name[ASTMT_COUNT] = {
#define APP_STMT_NAME(id, sql) #id,
    APP_STMT_TABLE(APP_STMT_NAME)
#undef APP_STMT_NAME
};

struct store_sqlite_app {
    sqlite3 *db; /* borrowed from the handle */
    sqlite3_stmt *stmts[ASTMT_COUNT];
};

static struct store_sqlite_app *app_from(struct store *store)
{
    struct store_sqlite_app *a = store_sqlite_app_of(store);
    TL_ASSERT(a != NULL);
    TL_ASSERT(a->db != NULL);
    return a;
}

/* ---- Errors ---- */

static enum tl_err app_fail(const struct store_sqlite_app *a, int rc, const char *what)
{
    return store_sqlite_fail(a->db, rc, what);
}

static bool rc_is_constraint(int rc)
{
    return (rc & 0xff) == SQLITE_CONSTRAINT;
}

/* ---- Transactions of direct writes ---- */

static enum tl_err app_begin(struct store_sqlite_app *a)
{
    int rc;
    TL_ASSERT(sqlite3_get_autocommit(a->db)); /* never inside a batch on this handle */
    rc = store_sqlite_run(a->stmts[ASTMT_BEGIN]);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "app: begin");
    }
    TL_ASSERT(!sqlite3_get_autocommit(a->db));
    return TL_OK;
}

static enum tl_err app_commit(struct store_sqlite_app *a)
{
    int rc;
    TL_ASSERT(!sqlite3_get_autocommit(a->db));
    rc = store_sqlite_run(a->stmts[ASTMT_COMMIT]);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "app: commit"); /* the caller rolls back */
    }
    TL_ASSERT(sqlite3_get_autocommit(a->db));
    return TL_OK;
}

/* Rolls back the direct write's transaction when one is open. Cannot fail (logs). */
static void app_rollback(struct store_sqlite_app *a)
{
    int rc;
    if (sqlite3_get_autocommit(a->db)) {
        return; /* SQLite already rolled back on its own (an I/O error, a full disk) */
    }
    rc = store_sqlite_run(a->stmts[ASTMT_ROLLBACK]);
    if (rc != SQLITE_OK) {
        app_fail(a, rc, "app: rollback");
    }
}

/* ---- Binding: every bind failure is our bug (wrong index or over SQLite's limits). ---- */

/* bytes must stay valid until the statement is reset (SQLITE_STATIC: no copy). */
static void bind_blob(sqlite3_stmt *stmt, int index, const void *bytes, uint32_t size)
{
    static const uint8_t empty[1] = {0};
    /* A NULL pointer would bind SQL NULL; an empty value is an empty blob. */
    int rc = sqlite3_bind_blob(stmt, index, size > 0 ? bytes : empty, (int)size, SQLITE_STATIC);
    TL_ASSERT(size <= TL_RECORD_BYTES_MAX);
    TL_ASSERT(rc == SQLITE_OK);
}

static void bind_id(sqlite3_stmt *stmt, int index, struct id128 id, uint8_t bytes[ID128_BYTES])
{
    id128_to_bytes(id, bytes);
    bind_blob(stmt, index, bytes, ID128_BYTES);
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    int rc = sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

/* An empty optional text (a phone) is stored as NULL. */
static void bind_text_optional(sqlite3_stmt *stmt, int index, const char *text)
{
    int rc;
    if (text[0] != '\0') {
        bind_text(stmt, index, text);
        return;
    }
    rc = sqlite3_bind_null(stmt, index);
    TL_ASSERT(rc == SQLITE_OK);
}

/* ---- Decoding: false when a stored value is not one we could have written. ---- */

/* The ids of application rows are never zero. */
static bool col_id(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    return store_sqlite_col_id(stmt, index, out) && !id128_is_zero(*out);
}

static bool col_hash(sqlite3_stmt *stmt, int index, uint8_t out[STORE_HASH_BYTES])
{
    if (sqlite3_column_type(stmt, index) != SQLITE_BLOB) {
        return false;
    }
    if (sqlite3_column_bytes(stmt, index) != STORE_HASH_BYTES) {
        return false;
    }
    memcpy(out, sqlite3_column_blob(stmt, index), STORE_HASH_BYTES);
    return true;
}

/* An integer in min..max. */
static bool col_uint(sqlite3_stmt *stmt, int index, uint64_t min, uint64_t max, uint64_t *out)
{
    int64_t value;
    if (!store_sqlite_col_i64(stmt, index, &value)) {
        return false;
    }
    if (value < 0 || (uint64_t)value < min || (uint64_t)value > max) {
        return false;
    }
    *out = (uint64_t)value;
    return true;
}

/* A time the store wrote: 1..INT64_MAX. */
static bool col_time(sqlite3_stmt *stmt, int index, uint64_t *out)
{
    return col_uint(stmt, index, 1, INT64_MAX, out);
}

static bool col_u16(sqlite3_stmt *stmt, int index, uint64_t min, uint16_t *out)
{
    uint64_t value;
    if (!col_uint(stmt, index, min, UINT16_MAX, &value)) {
        return false;
    }
    *out = (uint16_t)value;
    return true;
}

/* Text without NUL bytes that fits out with its terminator; empty only when empty_ok. */
static bool col_text(sqlite3_stmt *stmt, int index, char *out, size_t out_bytes, bool empty_ok)
{
    const unsigned char *text;
    int bytes;

    if (sqlite3_column_type(stmt, index) != SQLITE_TEXT) {
        return false;
    }
    text = sqlite3_column_text(stmt, index);
    bytes = sqlite3_column_bytes(stmt, index);
    if (bytes < 0 || (size_t)bytes >= out_bytes || (bytes == 0 && !empty_ok)) {
        return false;
    }
    if (bytes > 0 && (text == NULL || memchr(text, '\0', (size_t)bytes) != NULL)) {
        return false;
    }
    if (bytes > 0) {
        memcpy(out, text, (size_t)bytes);
    }
    out[bytes] = '\0';
    return true;
}

static bool row_user(sqlite3_stmt *stmt, struct store_user *out)
{
    struct store_user u;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == UCOL_COUNT);
    memset(&u, 0, sizeof(u));
    ok = col_id(stmt, UCOL_ID, &u.id);
    ok = ok && col_text(stmt, UCOL_HANDLE, u.handle, sizeof(u.handle), false);
    ok = ok && col_text(stmt, UCOL_EMAIL, u.email, sizeof(u.email), false);
    if (ok && sqlite3_column_type(stmt, UCOL_PHONE) != SQLITE_NULL) {
        ok = col_text(stmt, UCOL_PHONE, u.phone, sizeof(u.phone), false);
    }
    ok = ok && col_text(stmt, UCOL_DISPLAY_NAME, u.display_name, sizeof(u.display_name), true);
    ok = ok && col_text(stmt, UCOL_PASSWORD_HASH, u.password_hash, sizeof(u.password_hash), false);
    ok = ok && col_time(stmt, UCOL_CREATED_NS, &u.created_ns);
    if (!ok) {
        return false;
    }
    *out = u;
    return true;
}

static bool row_wallet(sqlite3_stmt *stmt, struct store_wallet *out)
{
    struct store_wallet w;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == WCOL_COUNT);
    memset(&w, 0, sizeof(w));
    ok = col_id(stmt, WCOL_ID, &w.id);
    ok = ok && col_id(stmt, WCOL_USER_ID, &w.user_id);
    ok = ok && col_u16(stmt, WCOL_CURRENCY, 1, &w.currency);
    ok = ok && col_time(stmt, WCOL_CREATED_NS, &w.created_ns);
    if (!ok) {
        return false;
    }
    *out = w;
    return true;
}

static bool row_session(sqlite3_stmt *stmt, struct store_session *out)
{
    struct store_session s;
    uint64_t revoked;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == SCOL_COUNT);
    memset(&s, 0, sizeof(s));
    ok = col_hash(stmt, SCOL_TOKEN_HASH, s.token_hash);
    ok = ok && col_id(stmt, SCOL_ID, &s.id);
    ok = ok && col_id(stmt, SCOL_USER_ID, &s.user_id);
    ok = ok && col_time(stmt, SCOL_CREATED_NS, &s.created_ns);
    ok = ok && col_time(stmt, SCOL_EXPIRES_NS, &s.expires_ns);
    ok = ok && col_uint(stmt, SCOL_REVOKED, 0, 1, &revoked);
    if (!ok) {
        return false;
    }
    s.revoked = revoked == 1;
    *out = s;
    return true;
}

static bool row_payment(sqlite3_stmt *stmt, struct store_payment *out)
{
    uint64_t status;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == PCOL_COUNT);
    memset(out, 0, sizeof(*out));
    ok = col_time(stmt, PCOL_CREATED_NS, &out->created_ns);
    ok = ok && col_id(stmt, PCOL_ID, &out->id);
    ok = ok && col_id(stmt, PCOL_FROM_USER, &out->from_user);
    ok = ok && col_id(stmt, PCOL_TO_USER, &out->to_user);
    ok = ok && col_id(stmt, PCOL_FROM_WALLET, &out->from_wallet);
    ok = ok && col_id(stmt, PCOL_TO_WALLET, &out->to_wallet);
    ok = ok && store_sqlite_col_i64(stmt, PCOL_AMOUNT, &out->amount);
    ok = ok && store_sqlite_col_i64(stmt, PCOL_FEE, &out->fee);
    ok = ok && col_u16(stmt, PCOL_CURRENCY, 1, &out->currency);
    ok = ok &&
         col_uint(stmt, PCOL_STATUS, STORE_PAYMENT_SUCCEEDED, STORE_PAYMENT_SUCCEEDED, &status);
    ok = ok && store_sqlite_col_i64(stmt, PCOL_SENDER_AFTER, &out->sender_available_after);
    ok = ok && store_sqlite_col_i64(stmt, PCOL_RECIPIENT_AFTER, &out->recipient_available_after);
    ok = ok && col_text(stmt, PCOL_TO_TEXT, out->to_text, sizeof(out->to_text), true);
    ok = ok && col_text(stmt, PCOL_NOTE, out->note, sizeof(out->note), true);
    if (!ok || out->amount <= 0 || out->fee < 0) {
        return false;
    }
    out->status = (uint8_t)status;
    return true;
}

/* On true, out->body is malloc'd; *nomem says why false was returned when it was memory. */
static bool row_idempotency(sqlite3_stmt *stmt, struct store_idempotency *out, bool *nomem)
{
    struct store_idempotency r;
    uint64_t status;
    char *body;
    int body_bytes;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == ICOL_COUNT);
    memset(&r, 0, sizeof(r));
    *nomem = false;
    ok = col_text(stmt, ICOL_SCOPE, r.scope, sizeof(r.scope), false);
    ok = ok && col_text(stmt, ICOL_KEY, r.key, sizeof(r.key), false);
    ok = ok && col_hash(stmt, ICOL_REQUEST_HASH, r.request_hash);
    ok = ok && col_uint(stmt, ICOL_STATUS, 0, UINT16_MAX, &status);
    ok = ok && col_time(stmt, ICOL_CREATED_NS, &r.created_ns);
    ok = ok && sqlite3_column_type(stmt, ICOL_BODY) == SQLITE_BLOB;
    body_bytes = ok ? sqlite3_column_bytes(stmt, ICOL_BODY) : 0;
    if (!ok || body_bytes < 0 || body_bytes > TL_RECORD_BYTES_MAX) {
        return false;
    }
    body = malloc((size_t)body_bytes + 1);
    if (body == NULL) {
        *nomem = true;
        return false;
    }
    if (body_bytes > 0) {
        memcpy(body, sqlite3_column_blob(stmt, ICOL_BODY), (size_t)body_bytes);
    }
    body[body_bytes] = '\0';
    r.status = (uint16_t)status;
    r.body = body;
    r.body_bytes = (uint32_t)body_bytes;
    *out = r;
    return true;
}

/* ---- Lookups ---- */

/*
 * Steps a statement whose parameters are bound and which returns at most one row, decodes it
 * into row, and resets the statement. *found says whether row was filled.
 */
static enum tl_err app_lookup(struct store_sqlite_app *a, enum app_stmt which,
                              store_sqlite_decode_fn decode, void *row, bool *found)
{
    return store_sqlite_step_one(a->db, a->stmts[which], app_stmt_name[which], decode, row, found);
}

static bool decode_user(sqlite3_stmt *stmt, void *row)
{
    return row_user(stmt, row);
}

static bool decode_wallet(sqlite3_stmt *stmt, void *row)
{
    return row_wallet(stmt, row);
}

static bool decode_session(sqlite3_stmt *stmt, void *row)
{
    return row_session(stmt, row);
}

static bool decode_payment(sqlite3_stmt *stmt, void *row)
{
    return row_payment(stmt, row);
}

/* A user by one text column (handle, email or phone). */
static enum tl_err user_lookup_text(struct store_sqlite_app *a, enum app_stmt which,
                                    const char *text, struct store_user *out, bool *found)
{
    bind_text(a->stmts[which], 1, text);
    return app_lookup(a, which, decode_user, out, found);
}

/* ---- Users ---- */

/* Which unique field of user is taken already, NONE when none is. */
static enum tl_err user_conflict_find(struct store_sqlite_app *a, const struct store_user *user,
                                      enum store_user_conflict *out)
{
    struct store_user other;
    bool found = false;
    enum tl_err err;

    *out = STORE_USER_CONFLICT_NONE;
    err = user_lookup_text(a, ASTMT_USER_BY_HANDLE, user->handle, &other, &found);
    if (err != TL_OK || found) {
        *out = found ? STORE_USER_CONFLICT_HANDLE : *out;
        return err;
    }
    err = user_lookup_text(a, ASTMT_USER_BY_EMAIL, user->email, &other, &found);
    if (err != TL_OK || found) {
        *out = found ? STORE_USER_CONFLICT_EMAIL : *out;
        return err;
    }
    if (user->phone[0] == '\0') {
        return TL_OK;
    }
    err = user_lookup_text(a, ASTMT_USER_BY_PHONE, user->phone, &other, &found);
    *out = err == TL_OK && found ? STORE_USER_CONFLICT_PHONE : *out;
    return err;
}

/*
 * Inserts the user row. The lookups before it run in the same IMMEDIATE transaction, so a
 * unique violation here is rare (two spellings the lookups did not match, or an id that
 * exists); the field is named by looking again (a failed statement leaves the transaction
 * open), and a violation no lookup explains is a storage error.
 */
static enum tl_err user_insert(struct store_sqlite_app *a, const struct store_user *user,
                               enum store_user_conflict *conflict)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_USER_INSERT];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err;
    int rc;

    bind_id(stmt, UCOL_ID + 1, user->id, bytes);
    bind_text(stmt, UCOL_HANDLE + 1, user->handle);
    bind_text(stmt, UCOL_EMAIL + 1, user->email);
    bind_text_optional(stmt, UCOL_PHONE + 1, user->phone);
    bind_text(stmt, UCOL_DISPLAY_NAME + 1, user->display_name);
    bind_text(stmt, UCOL_PASSWORD_HASH + 1, user->password_hash);
    store_sqlite_bind_u64(stmt, UCOL_CREATED_NS + 1, user->created_ns);
    rc = store_sqlite_run(stmt);
    if (rc == SQLITE_OK) {
        return TL_OK;
    }
    err = app_fail(a, rc, "user_create: insert");
    if (rc_is_constraint(rc) && !sqlite3_get_autocommit(a->db)) {
        enum tl_err find_err = user_conflict_find(a, user, conflict);
        if (find_err != TL_OK) {
            return find_err;
        }
        err = *conflict != STORE_USER_CONFLICT_NONE ? TL_ERR_CONFLICT : err;
    }
    return err;
}

static enum tl_err wallet_insert(struct store_sqlite_app *a, const struct store_wallet *wallet)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_WALLET_INSERT];
    uint8_t bytes[2][ID128_BYTES];
    int rc;

    bind_id(stmt, WCOL_ID + 1, wallet->id, bytes[0]);
    bind_id(stmt, WCOL_USER_ID + 1, wallet->user_id, bytes[1]);
    store_sqlite_bind_i64(stmt, WCOL_CURRENCY + 1, wallet->currency);
    store_sqlite_bind_u64(stmt, WCOL_CREATED_NS + 1, wallet->created_ns);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "wallet insert");
    }
    TL_ASSERT(sqlite3_changes(a->db) == 1);
    return TL_OK;
}

static enum tl_err sqlite_app_user_create(struct store *store, const struct store_user *user,
                                          const struct store_wallet *wallet,
                                          enum store_user_conflict *conflict)
{
    struct store_sqlite_app *a = app_from(store);
    enum store_user_conflict which = STORE_USER_CONFLICT_NONE;
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    err = user_conflict_find(a, user, &which);
    if (err == TL_OK && which != STORE_USER_CONFLICT_NONE) {
        err = TL_ERR_CONFLICT;
    }
    err = err == TL_OK ? user_insert(a, user, &which) : err;
    err = err == TL_OK ? wallet_insert(a, wallet) : err;
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
    }
    if (err == TL_ERR_CONFLICT) {
        TL_ASSERT(which != STORE_USER_CONFLICT_NONE);
        *conflict = which;
    }
    return err;
}

/* Runs a DELETE by one id; the rows it removed do not matter. */
static enum tl_err app_delete_by_id(struct store_sqlite_app *a, enum app_stmt which,
                                    struct id128 id)
{
    sqlite3_stmt *stmt = a->stmts[which];
    uint8_t bytes[ID128_BYTES];
    int rc;

    bind_id(stmt, 1, id, bytes);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, app_stmt_name[which]);
    }
    return TL_OK;
}

/* Deleting a user that does not exist (any more) succeeds: compensation may be retried. */
static enum tl_err sqlite_app_user_delete(struct store *store, struct id128 user_id)
{
    struct store_sqlite_app *a = app_from(store);
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    err = app_delete_by_id(a, ASTMT_USER_SESSIONS_DELETE, user_id);
    err = err == TL_OK ? app_delete_by_id(a, ASTMT_USER_WALLETS_DELETE, user_id) : err;
    err = err == TL_OK ? app_delete_by_id(a, ASTMT_USER_DELETE, user_id) : err;
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
    }
    return err;
}

static enum tl_err sqlite_app_user_get(struct store *store, struct id128 id, struct store_user *out,
                                       bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];

    bind_id(a->stmts[ASTMT_USER_GET], 1, id, bytes);
    return app_lookup(a, ASTMT_USER_GET, decode_user, out, found);
}

static enum tl_err sqlite_app_user_find(struct store *store, const char *handle, const char *email,
                                        const char *phone, struct store_user *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    if (handle != NULL) {
        return user_lookup_text(a, ASTMT_USER_BY_HANDLE, handle, out, found);
    }
    if (email != NULL) {
        return user_lookup_text(a, ASTMT_USER_BY_EMAIL, email, out, found);
    }
    TL_ASSERT(phone != NULL);
    return user_lookup_text(a, ASTMT_USER_BY_PHONE, phone, out, found);
}

/* ---- Wallets ---- */

static enum tl_err wallet_find(struct store_sqlite_app *a, struct id128 user_id, uint16_t currency,
                               struct store_wallet *out, bool *found)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_WALLET_FIND];
    uint8_t bytes[ID128_BYTES];

    bind_id(stmt, 1, user_id, bytes);
    store_sqlite_bind_i64(stmt, 2, currency);
    return app_lookup(a, ASTMT_WALLET_FIND, decode_wallet, out, found);
}

/* Looks and inserts in one IMMEDIATE transaction, so no other writer can slip in between. */
static enum tl_err sqlite_app_wallet_open(struct store *store, const struct store_wallet *wallet,
                                          struct store_wallet *out, bool *created)
{
    struct store_sqlite_app *a = app_from(store);
    struct store_wallet existing;
    bool found = false;
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    err = wallet_find(a, wallet->user_id, wallet->currency, &existing, &found);
    err = err == TL_OK && !found ? wallet_insert(a, wallet) : err;
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
        return err;
    }
    *out = found ? existing : *wallet;
    *created = !found;
    return TL_OK;
}

static enum tl_err sqlite_app_wallet_get(struct store *store, struct id128 id,
                                         struct store_wallet *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];

    bind_id(a->stmts[ASTMT_WALLET_GET], 1, id, bytes);
    return app_lookup(a, ASTMT_WALLET_GET, decode_wallet, out, found);
}

static enum tl_err sqlite_app_wallet_find(struct store *store, struct id128 user_id,
                                          uint16_t currency, struct store_wallet *out, bool *found)
{
    return wallet_find(app_from(store), user_id, currency, out, found);
}

/* Reads max + 1 rows: the extra one only says there are more than max. */
static enum tl_err sqlite_app_wallets_list(struct store *store, struct id128 user_id,
                                           struct store_wallet *out, uint32_t max,
                                           uint32_t *out_count)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_WALLETS_LIST];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    bool more = false;
    int rc;

    bind_id(stmt, 1, user_id, bytes);
    store_sqlite_bind_i64(stmt, 2, (int64_t)max + 1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == max) {
            more = true;
            continue;
        }
        if (!row_wallet(stmt, &out[count]) || !id128_eq(out[count].user_id, user_id)) {
            err = store_sqlite_corrupt("wallets_list");
            goto out;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = app_fail(a, rc, "wallets_list");
        goto out;
    }
    if (more) {
        err = TL_ERR_LIMIT;
        goto out;
    }
    *out_count = count;
out:
    sqlite3_reset(stmt);
    return err;
}

/* ---- Sessions ---- */

static enum tl_err sqlite_app_session_create(struct store *store,
                                             const struct store_session *session)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_SESSION_INSERT];
    uint8_t bytes[2][ID128_BYTES];
    int rc;

    TL_ASSERT(sqlite3_get_autocommit(a->db)); /* its own transaction, never a batch's */
    bind_blob(stmt, SCOL_TOKEN_HASH + 1, session->token_hash, STORE_HASH_BYTES);
    bind_id(stmt, SCOL_ID + 1, session->id, bytes[0]);
    bind_id(stmt, SCOL_USER_ID + 1, session->user_id, bytes[1]);
    store_sqlite_bind_u64(stmt, SCOL_CREATED_NS + 1, session->created_ns);
    store_sqlite_bind_u64(stmt, SCOL_EXPIRES_NS + 1, session->expires_ns);
    store_sqlite_bind_i64(stmt, SCOL_REVOKED + 1, session->revoked ? 1 : 0);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "session_create");
    }
    return TL_OK;
}

static enum tl_err sqlite_app_session_get(struct store *store,
                                          const uint8_t token_hash[STORE_HASH_BYTES],
                                          struct store_session *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);

    bind_blob(a->stmts[ASTMT_SESSION_GET], 1, token_hash, STORE_HASH_BYTES);
    return app_lookup(a, ASTMT_SESSION_GET, decode_session, out, found);
}

static enum tl_err sqlite_app_session_revoke(struct store *store,
                                             const uint8_t token_hash[STORE_HASH_BYTES])
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_SESSION_REVOKE];
    int rc;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_blob(stmt, 1, token_hash, STORE_HASH_BYTES);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "session_revoke");
    }
    /* An UPDATE counts the rows it matched, revoked before or not. */
    return sqlite3_changes(a->db) == 0 ? TL_ERR_NOT_FOUND : TL_OK;
}

/* ---- Payments ---- */

static enum tl_err sqlite_app_payment_get(struct store *store, struct id128 id,
                                          struct store_payment *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];

    bind_id(a->stmts[ASTMT_PAYMENT_GET], 1, id, bytes);
    return app_lookup(a, ASTMT_PAYMENT_GET, decode_payment, out, found);
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
 * every page is newest first (the cursor semantics of store_history).
 */
static enum tl_err sqlite_app_payments_list(struct store *store, struct id128 user_id,
                                            enum store_direction direction,
                                            const struct store_page *page,
                                            struct store_payment *out, uint32_t *out_count,
                                            bool *has_more)
{
    struct store_sqlite_app *a = app_from(store);
    enum app_stmt which = payments_stmt(direction, page->ending_before_ts != 0);

    return store_sqlite_page_read(a->db, a->stmts[which], app_stmt_name[which], user_id, page,
                                  decode_payment, out, sizeof(*out), out_count, has_more);
}

/* ---- Idempotency ---- */

/* Binds a row to ASTMT_IDEMPOTENCY_INSERT or its OR IGNORE twin. */
static void bind_idempotency(sqlite3_stmt *stmt, const struct store_idempotency *row)
{
    bind_text(stmt, ICOL_SCOPE + 1, row->scope);
    bind_text(stmt, ICOL_KEY + 1, row->key);
    bind_blob(stmt, ICOL_REQUEST_HASH + 1, row->request_hash, STORE_HASH_BYTES);
    store_sqlite_bind_i64(stmt, ICOL_STATUS + 1, row->status);
    store_sqlite_bind_u64(stmt, ICOL_CREATED_NS + 1, row->created_ns);
    bind_blob(stmt, ICOL_BODY + 1, row->body, row->body_bytes);
}

static enum tl_err sqlite_app_idempotency_put(struct store *store,
                                              const struct store_idempotency *row)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_IDEMPOTENCY_INSERT];
    int rc;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_idempotency(stmt, row);
    rc = store_sqlite_run(stmt);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return TL_ERR_CONFLICT;
    }
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "idempotency_put");
    }
    return TL_OK;
}

static enum tl_err sqlite_app_idempotency_get(struct store *store, const char *scope,
                                              const char *key, struct store_idempotency *out,
                                              bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_IDEMPOTENCY_GET];
    enum tl_err err = TL_OK;
    bool nomem = false;
    int rc;

    bind_text(stmt, 1, scope);
    bind_text(stmt, 2, key);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && !row_idempotency(stmt, out, &nomem)) {
        err = nomem ? TL_ERR_NOMEM : store_sqlite_corrupt("idempotency_get");
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = app_fail(a, rc, "idempotency_get");
    }
    if (err == TL_OK) {
        *found = rc == SQLITE_ROW;
    }
    sqlite3_reset(stmt);
    return err;
}

/* Deletes in chunks, each its own transaction, so the writer's batch never waits long. */
static enum tl_err sqlite_app_idempotency_prune(struct store *store, uint64_t before_ns,
                                                uint32_t *out_deleted)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_IDEMPOTENCY_PRUNE];
    uint64_t deleted = 0;
    int64_t changes;
    int rc;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    if (before_ns > (uint64_t)INT64_MAX) {
        before_ns = (uint64_t)INT64_MAX;
    }
    do {
        store_sqlite_bind_u64(stmt, 1, before_ns);
        store_sqlite_bind_i64(stmt, 2, APP_PRUNE_CHUNK_ROWS);
        rc = store_sqlite_run(stmt);
        if (rc != SQLITE_OK) {
            return app_fail(a, rc, "idempotency_prune");
        }
        changes = sqlite3_changes64(a->db);
        TL_ASSERT(changes >= 0 && changes <= APP_PRUNE_CHUNK_ROWS);
        deleted += (uint64_t)changes;
    } while (changes == APP_PRUNE_CHUNK_ROWS);
    *out_deleted = deleted > UINT32_MAX ? UINT32_MAX : (uint32_t)deleted;
    return TL_OK;
}

/* ---- Records inside the batch ---- */

static enum tl_err payment_insert(struct store_sqlite_app *a, const struct store_payment *p)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_PAYMENT_INSERT];
    uint8_t bytes[5][ID128_BYTES];
    int rc;

    store_sqlite_bind_u64(stmt, PCOL_CREATED_NS + 1, p->created_ns);
    bind_id(stmt, PCOL_ID + 1, p->id, bytes[0]);
    bind_id(stmt, PCOL_FROM_USER + 1, p->from_user, bytes[1]);
    bind_id(stmt, PCOL_TO_USER + 1, p->to_user, bytes[2]);
    bind_id(stmt, PCOL_FROM_WALLET + 1, p->from_wallet, bytes[3]);
    bind_id(stmt, PCOL_TO_WALLET + 1, p->to_wallet, bytes[4]);
    store_sqlite_bind_i64(stmt, PCOL_AMOUNT + 1, p->amount);
    store_sqlite_bind_i64(stmt, PCOL_FEE + 1, p->fee);
    store_sqlite_bind_i64(stmt, PCOL_CURRENCY + 1, p->currency);
    store_sqlite_bind_i64(stmt, PCOL_STATUS + 1, p->status);
    store_sqlite_bind_i64(stmt, PCOL_SENDER_AFTER + 1, p->sender_available_after);
    store_sqlite_bind_i64(stmt, PCOL_RECIPIENT_AFTER + 1, p->recipient_available_after);
    bind_text(stmt, PCOL_TO_TEXT + 1, p->to_text);
    bind_text(stmt, PCOL_NOTE + 1, p->note);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "records_write: payment");
    }
    TL_ASSERT(sqlite3_changes(a->db) == 1);
    return TL_OK;
}

/* The first row for a scope and key wins: a later one is skipped, never an error. */
static enum tl_err idempotency_insert_or_ignore(struct store_sqlite_app *a,
                                                const struct store_idempotency *row)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_IDEMPOTENCY_INSERT_OR_IGNORE];
    int rc;

    bind_idempotency(stmt, row);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "records_write: idempotency");
    }
    return TL_OK;
}

static enum tl_err sqlite_app_record_write(struct store *store, const struct store_record *record)
{
    struct store_sqlite_app *a = app_from(store);

    TL_ASSERT(!sqlite3_get_autocommit(a->db)); /* inside the batch */
    if (record->kind == STORE_RECORD_PAYMENT) {
        struct store_payment payment;
        store_record_payment_decode(record, &payment);
        return payment_insert(a, &payment);
    }
    TL_ASSERT(record->kind == STORE_RECORD_IDEMPOTENCY);
    struct store_idempotency row;
    store_record_idempotency_decode(record, &row);
    return idempotency_insert_or_ignore(a, &row);
}

/* ---- Open and close ---- */

enum tl_err store_sqlite_app_open(sqlite3 *db, struct store_sqlite_app **out)
{
    struct store_sqlite_app *a;

    TL_ASSERT(db != NULL);
    TL_ASSERT(out != NULL);
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return TL_ERR_NOMEM;
    }
    a->db = db;
    for (int i = 0; i < ASTMT_COUNT; i++) {
        int rc = sqlite3_prepare_v3(db, app_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &a->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            enum tl_err err = app_fail(a, rc, app_stmt_name[i]);
            store_sqlite_app_close(a);
            return err;
        }
        TL_ASSERT(a->stmts[i] != NULL);
    }
    *out = a;
    return TL_OK;
}

void store_sqlite_app_close(struct store_sqlite_app *app)
{
    if (app == NULL) {
        return;
    }
    for (int i = 0; i < ASTMT_COUNT; i++) {
        sqlite3_finalize(app->stmts[i]);
    }
    free(app);
}

const struct store_app_ops store_sqlite_app_ops = {
    .user_create = sqlite_app_user_create,
    .user_delete = sqlite_app_user_delete,
    .user_get = sqlite_app_user_get,
    .user_find = sqlite_app_user_find,
    .wallet_open = sqlite_app_wallet_open,
    .wallet_get = sqlite_app_wallet_get,
    .wallet_find = sqlite_app_wallet_find,
    .wallets_list = sqlite_app_wallets_list,
    .session_create = sqlite_app_session_create,
    .session_get = sqlite_app_session_get,
    .session_revoke = sqlite_app_session_revoke,
    .payment_get = sqlite_app_payment_get,
    .payments_list = sqlite_app_payments_list,
    .idempotency_put = sqlite_app_idempotency_put,
    .idempotency_get = sqlite_app_idempotency_get,
    .idempotency_prune = sqlite_app_idempotency_prune,
    .record_write = sqlite_app_record_write,
};
