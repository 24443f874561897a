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

#include "store/audit_backend.h"
#include "store/backend.h"
#include "store/plans_backend.h"
#include "store/records_backend.h"
#include "store/sqlite_private.h"
#include "util/assert.h"
#include "util/clock.h"
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

#define SESSION_COLUMNS "token_hash, id, user_id, created_ns, expires_ns, revoked, user_agent"
enum session_column {
    SCOL_TOKEN_HASH,
    SCOL_ID,
    SCOL_USER_ID,
    SCOL_CREATED_NS,
    SCOL_EXPIRES_NS,
    SCOL_REVOKED,
    SCOL_USER_AGENT, /* schema v4 */
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

/* Identity tables of migration 004 (decoders below). */
#define TOTP_COLUMNS "user_id, sealed, active, last_step, created_ns"
#define CHALLENGE_COLUMNS "challenge_hash, user_id, created_ns, expires_ns, used"
#define PASSKEY_COLUMNS                                                                            \
    "id, user_id, credential_id, algorithm, public_key, sign_count, aaguid, name, created_ns, "    \
    "last_used_ns, revoked_ns"
#define PASSKEY_COLUMN_COUNT 11

/* Quotes and payment requests (migration 004). Paid and used are read from payments. */
#define QUOTE_COLUMNS                                                                              \
    "id, user_id, operation, recipient_id, send_currency, receive_currency, amount, fee, sent, "   \
    "rate_num, rate_den, payment_id, created_ns, expires_ns"
enum quote_column {
    QCOL_ID,
    QCOL_USER_ID,
    QCOL_OPERATION,
    QCOL_RECIPIENT_ID,
    QCOL_SEND_CURRENCY,
    QCOL_RECEIVE_CURRENCY,
    QCOL_AMOUNT,
    QCOL_FEE,
    QCOL_SENT,
    QCOL_RATE_NUM,
    QCOL_RATE_DEN,
    QCOL_PAYMENT_ID,
    QCOL_CREATED_NS,
    QCOL_EXPIRES_NS,
    QCOL_USED,
    QCOL_COUNT
};
#define REQUEST_COLUMNS                                                                            \
    "id, requester_id, payer_id, amount, currency, status, from_text, note, split_id, "           \
    "payment_id, created_ns, expires_ns, closed_ns, pay_claim_ns"
#define REQUEST_SELECT                                                                             \
    "SELECT r.id, r.requester_id, r.payer_id, r.amount, r.currency, r.status, r.from_text, "       \
    "r.note, r.split_id, r.payment_id, r.created_ns, r.expires_ns, r.closed_ns, r.pay_claim_ns, "  \
    "p.created_ns FROM payment_requests r LEFT JOIN payments p ON p.id = r.payment_id "
/* ?1 user, ?2 role bits (1 payer, 2 requester). */
#define REQUESTS_ROLE                                                                              \
    "WHERE ((?2 & 1 != 0 AND r.payer_id = ?1) OR (?2 & 2 != 0 AND r.requester_id = ?1)) "
#define REQUEST_UNPAID                                                                             \
    "NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = payment_requests.payment_id)"
enum request_column {
    RCOL_ID,
    RCOL_REQUESTER_ID,
    RCOL_PAYER_ID,
    RCOL_AMOUNT,
    RCOL_CURRENCY,
    RCOL_STATUS,
    RCOL_FROM_TEXT,
    RCOL_NOTE,
    RCOL_SPLIT_ID,
    RCOL_PAYMENT_ID,
    RCOL_CREATED_NS,
    RCOL_EXPIRES_NS,
    RCOL_CLOSED_NS,
    RCOL_PAY_CLAIM_NS,
    RCOL_PAID_NS,
    RCOL_COUNT
};

/* Exchange rates (migration 005). */
#define FX_RATE_COLUMNS "base, quote, rate_num, rate_den, updated_ns, source"
enum fx_rate_column {
    FXCOL_BASE,
    FXCOL_QUOTE,
    FXCOL_RATE_NUM,
    FXCOL_RATE_DEN,
    FXCOL_UPDATED_NS,
    FXCOL_SOURCE,
    FXCOL_COUNT
};
/* The tier of ?1 (migration 005) and its running totals of currency ?3 in one direction in
 * the buckets that end after ?2 (migration 006), read from the tables: a bucket's total is its
 * limit_totals row plus its rows in limit_usage_log (migration 007, sqlite_limits.c). Only a
 * process with no writing handle of the file runs it; the log it scans is short (at most the
 * flush threshold plus one batch). One statement, so both tables are one snapshot. */
#define LIMITS_WINDOW_WHERE(direction)                                                             \
    " WHERE user_id = ?1 AND currency = ?3 AND direction = " direction " AND end_ns > ?2"
#define LIMITS_WINDOW_SQL(direction)                                                               \
    "SELECT coalesce((SELECT tier FROM user_tiers WHERE user_id = ?1), 0), "                       \
    "coalesce(sum(amount), 0), coalesce(sum(n), 0), coalesce(min(end_ns), 0) FROM "               \
    "(SELECT amount, count AS n, end_ns FROM limit_totals" LIMITS_WINDOW_WHERE(direction)          \
    " UNION ALL SELECT amount, 1, end_ns FROM limit_usage_log" LIMITS_WINDOW_WHERE(direction) ")"

/* Every statement, prepared at open. Parameters are numbered. */
#define APP_STMT_TABLE(X)                                                                          \
    X(ASTMT_BEGIN, "BEGIN IMMEDIATE")                                                              \
    X(ASTMT_COMMIT, "COMMIT")                                                                      \
    X(ASTMT_ROLLBACK, "ROLLBACK")                                                                  \
    X(ASTMT_QUOTE_INSERT, "INSERT INTO quotes (" QUOTE_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, " \
                          "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")                              \
    X(ASTMT_QUOTE_GET, "SELECT " QUOTE_COLUMNS ", EXISTS (SELECT 1 FROM payments p WHERE "         \
                       "p.id = quotes.payment_id) FROM quotes WHERE id = ?1")                      \
    X(ASTMT_REQUEST_INSERT, "INSERT INTO payment_requests (" REQUEST_COLUMNS ") VALUES (?1, ?2, "  \
                            "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")                \
    X(ASTMT_REQUEST_GET, REQUEST_SELECT "WHERE r.id = ?1")                                         \
    X(ASTMT_REQUESTS_OLDER, REQUEST_SELECT REQUESTS_ROLE "AND r.id < ?3 ORDER BY r.id DESC "       \
                                                        "LIMIT ?4")                                \
    X(ASTMT_REQUESTS_NEWER, REQUEST_SELECT REQUESTS_ROLE "AND r.id > ?3 ORDER BY r.id ASC "        \
                                                        "LIMIT ?4")                                \
    X(ASTMT_REQUEST_CLAIM, "UPDATE payment_requests SET pay_claim_ns = ?3 WHERE id = ?1 AND "      \
                           "payer_id = ?2 AND status = 1 AND expires_ns > ?3 AND " REQUEST_UNPAID) \
    X(ASTMT_REQUEST_UNCLAIM, "UPDATE payment_requests SET pay_claim_ns = 0 WHERE id = ?1 AND "     \
                             "pay_claim_ns = ?2")                                                  \
    X(ASTMT_REQUEST_CLOSE, "UPDATE payment_requests SET status = ?3, closed_ns = ?4 WHERE id = "   \
                           "?1 AND (CASE WHEN ?3 = 2 THEN payer_id ELSE requester_id END) = ?2 "   \
                           "AND status = 1 AND expires_ns > ?4 AND pay_claim_ns <= ?5 AND "        \
                           REQUEST_UNPAID)                                                         \
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
                            "(?1, ?2, ?3, ?4, ?5, ?6, ?7)")                                        \
    X(ASTMT_SESSION_GET, "SELECT " SESSION_COLUMNS " FROM sessions WHERE token_hash = ?1")         \
    X(ASTMT_SESSION_REVOKE, "UPDATE sessions SET revoked = 1 WHERE token_hash = ?1")               \
    /* Identity (migration 004): TOTP, recovery codes, challenges, sessions, audit log. */        \
    X(ASTMT_TOTP_GET, "SELECT " TOTP_COLUMNS " FROM mfa_totp WHERE user_id = ?1")                  \
    X(ASTMT_TOTP_PUT, "INSERT INTO mfa_totp (" TOTP_COLUMNS ") VALUES (?1, ?2, 0, 0, ?3) "         \
                      "ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, "             \
                      "last_step = 0, created_ns = excluded.created_ns WHERE mfa_totp.active = 0") \
    X(ASTMT_TOTP_ACTIVATE, "UPDATE mfa_totp SET active = 1, last_step = ?2 WHERE user_id = ?1 "    \
                           "AND active = 0 AND last_step < ?2")                                    \
    X(ASTMT_TOTP_USE_STEP, "UPDATE mfa_totp SET last_step = ?2 WHERE user_id = ?1 AND "            \
                           "active = 1 AND last_step < ?2")                                        \
    X(ASTMT_TOTP_DELETE, "DELETE FROM mfa_totp WHERE user_id = ?1")                                \
    X(ASTMT_RECOVERY_DELETE, "DELETE FROM mfa_recovery_codes WHERE user_id = ?1")                  \
    X(ASTMT_RECOVERY_INSERT, "INSERT INTO mfa_recovery_codes (user_id, code_hash, used_ns) "       \
                             "VALUES (?1, ?2, 0)")                                                 \
    X(ASTMT_RECOVERY_USE, "UPDATE mfa_recovery_codes SET used_ns = ?3 WHERE user_id = ?1 AND "     \
                          "code_hash = ?2 AND used_ns = 0")                                        \
    X(ASTMT_RECOVERY_LEFT, "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ?1 AND "       \
                           "used_ns = 0")                                                          \
    X(ASTMT_CHALLENGE_PRUNE, "DELETE FROM mfa_challenges WHERE expires_ns < ?1")                   \
    X(ASTMT_CHALLENGE_INSERT, "INSERT INTO mfa_challenges (" CHALLENGE_COLUMNS ") VALUES "         \
                              "(?1, ?2, ?3, ?4, 0)")                                               \
    X(ASTMT_CHALLENGE_GET, "SELECT " CHALLENGE_COLUMNS " FROM mfa_challenges WHERE "               \
                           "challenge_hash = ?1")                                                  \
    X(ASTMT_CHALLENGE_CONSUME, "UPDATE mfa_challenges SET used = 1 WHERE challenge_hash = ?1 "     \
                               "AND used = 0 AND expires_ns > ?2")                                 \
    X(ASTMT_SESSIONS_LIST, "SELECT " SESSION_COLUMNS " FROM sessions WHERE user_id = ?1 AND "      \
                           "revoked = 0 AND expires_ns > ?2 ORDER BY created_ns DESC, id DESC "    \
                           "LIMIT ?3")                                                             \
    X(ASTMT_SESSION_REVOKE_ID, "UPDATE sessions SET revoked = 1 WHERE user_id = ?1 AND id = ?2 "   \
                               "AND revoked = 0")                                                  \
    X(ASTMT_SESSIONS_REVOKE_OTHERS, "UPDATE sessions SET revoked = 1 WHERE user_id = ?1 AND "      \
                                    "id <> ?2 AND revoked = 0")                                    \
    X(ASTMT_USER_PASSWORD_SET, "UPDATE users SET password_hash = ?2 WHERE id = ?1")                \
    /* Passkeys (migration 004): credentials, the sign-count compare and set, challenges. */     \
    X(ASTMT_PASSKEY_INSERT, "INSERT INTO passkeys (" PASSKEY_COLUMNS ") SELECT ?1, ?2, ?3, ?4, "   \
                            "?5, ?6, ?7, ?8, ?9, 0, 0 WHERE (SELECT count(*) FROM passkeys WHERE " \
                            "user_id = ?2 AND revoked_ns = 0) < ?10")                              \
    X(ASTMT_PASSKEY_FIND, "SELECT " PASSKEY_COLUMNS " FROM passkeys WHERE credential_id = ?1")     \
    X(ASTMT_PASSKEYS_LIST, "SELECT " PASSKEY_COLUMNS " FROM passkeys WHERE user_id = ?1 AND "      \
                           "revoked_ns = 0 ORDER BY created_ns, id LIMIT ?2")                      \
    X(ASTMT_PASSKEY_REVOKE, "UPDATE passkeys SET revoked_ns = ?3 WHERE user_id = ?1 AND id = ?2 "  \
                            "AND revoked_ns = 0")                                                  \
    X(ASTMT_PASSKEY_USE, "UPDATE passkeys SET sign_count = ?2, last_used_ns = ?3 WHERE id = ?1 "   \
                         "AND revoked_ns = 0 AND (sign_count < ?2 OR (sign_count = 0 AND ?2 = 0))") \
    X(ASTMT_WEBAUTHN_PRUNE, "DELETE FROM webauthn_challenges WHERE expires_ns < ?1")               \
    X(ASTMT_WEBAUTHN_INSERT, "INSERT INTO webauthn_challenges (challenge_hash, kind, user_id, "    \
                             "created_ns, expires_ns) VALUES (?1, ?2, ?3, ?4, ?5)")                \
    X(ASTMT_WEBAUTHN_CONSUME, "DELETE FROM webauthn_challenges WHERE challenge_hash = ?1 AND "     \
                              "kind = ?2 AND expires_ns > ?3 RETURNING user_id")                   \
    X(ASTMT_PAYMENT_INSERT, "INSERT INTO payments (" PAYMENT_COLUMNS ") VALUES (?1, ?2, ?3, "      \
                            "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")                    \
    X(ASTMT_PAYMENT_GET, PAYMENT_SELECT "WHERE p.id = ?1")                                         \
    X(ASTMT_PAYMENT_AT, PAYMENT_SELECT "WHERE p.created_ns = ?1")                                  \
    /* Schema v9: the pairs that ever had a payment; a pair already there writes nothing. */      \
    X(ASTMT_PAYMENT_PAIR_INSERT, "INSERT OR IGNORE INTO payment_pairs (from_user, to_user) "       \
                                 "VALUES (?1, ?2)")                                                \
    X(ASTMT_IDEMPOTENCY_INSERT, "INSERT INTO idempotency (" IDEMPOTENCY_COLUMNS ") VALUES "        \
                                "(?1, ?2, ?3, ?4, ?5, ?6)")                                        \
    X(ASTMT_IDEMPOTENCY_INSERT_OR_IGNORE,                                                          \
      "INSERT OR IGNORE INTO idempotency (" IDEMPOTENCY_COLUMNS ") VALUES "                        \
      "(?1, ?2, ?3, ?4, ?5, ?6)")                                                                  \
    X(ASTMT_IDEMPOTENCY_GET, "SELECT " IDEMPOTENCY_COLUMNS " FROM idempotency WHERE "              \
                             "scope = ?1 AND key = ?2")                                            \
    X(ASTMT_IDEMPOTENCY_PRUNE, "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM "        \
                               "idempotency WHERE created_ns < ?1 ORDER BY created_ns "            \
                               "LIMIT ?2)")                                                        \
    /* Claims (migration 004): take a free or expired claim; who holds a live one; release or   \
     * fence by owner; prune expired ones. */                                                      \
    X(ASTMT_CLAIM_TAKE, "INSERT INTO idempotency_claims (scope, key, request_hash, owner, "        \
                        "expires_ns) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (scope, key) DO "     \
                        "UPDATE SET request_hash = excluded.request_hash, owner = "                \
                        "excluded.owner, expires_ns = excluded.expires_ns WHERE "                  \
                        "idempotency_claims.expires_ns <= ?6")                                     \
    X(ASTMT_CLAIM_HOLDER, "SELECT request_hash FROM idempotency_claims WHERE scope = ?1 AND "      \
                          "key = ?2 AND expires_ns > ?3")                                          \
    X(ASTMT_CLAIM_DELETE, "DELETE FROM idempotency_claims WHERE scope = ?1 AND key = ?2 AND "      \
                          "owner = ?3")                                                            \
    X(ASTMT_CLAIMS_PRUNE, "DELETE FROM idempotency_claims WHERE expires_ns <= ?1")                 \
    /* A user's events in a seq range (a range of the rowid, no key index) and the newest seq. */  \
    X(ASTMT_OUTBOX_LIST_KEY, "SELECT seq, key, topic, data FROM outbox WHERE seq > ?2 AND "        \
                             "seq <= ?4 AND key = ?1 ORDER BY seq LIMIT ?3")                       \
    X(ASTMT_OUTBOX_LIST_TOPIC, "SELECT seq, key, topic, data FROM outbox WHERE seq > ?2 AND "      \
                               "seq <= ?4 AND topic = ?1 ORDER BY seq LIMIT ?3")                   \
    X(ASTMT_OUTBOX_SEQ_LAST, "SELECT coalesce(max(seq), 0) FROM outbox")                       \
    X(ASTMT_OUTBOX_APPEND, "INSERT INTO outbox (key, topic, data, created) "                       \
                           "VALUES (?1, ?2, ?3, ?4) RETURNING seq")                               \
    /* Exchange rates (migration 005): a newer rate of a pair replaces an older one. */           \
    X(ASTMT_FX_RATE_PUT, "INSERT INTO fx_rates (" FX_RATE_COLUMNS ") VALUES (?1, ?2, ?3, ?4, "     \
                         "?5, ?6) ON CONFLICT (base, quote) DO UPDATE SET rate_num = "            \
                         "excluded.rate_num, rate_den = excluded.rate_den, updated_ns = "         \
                         "excluded.updated_ns, source = excluded.source WHERE "                   \
                         "fx_rates.updated_ns < excluded.updated_ns")                             \
    X(ASTMT_FX_RATE_GET, "SELECT " FX_RATE_COLUMNS " FROM fx_rates WHERE base = ?1 AND "           \
                         "quote = ?2")                                                            \
    X(ASTMT_FX_RATES_LIST, "SELECT " FX_RATE_COLUMNS " FROM fx_rates ORDER BY base, quote "        \
                           "LIMIT ?1") \
    /* Tiers and limit windows (migrations 005-007): the tier alone when the totals are in \
     * this process's memory, else tier and totals from the tables. */                      \
    X(ASTMT_LIMITS_SENT, LIMITS_WINDOW_SQL("1"))                                               \
    X(ASTMT_LIMITS_RECEIVED, LIMITS_WINDOW_SQL("2"))                                           \
    X(ASTMT_USER_TIER_GET, "SELECT tier FROM user_tiers WHERE user_id = ?1")                    \
    X(ASTMT_USER_TIER_SET, "INSERT INTO user_tiers (user_id, tier, updated_ns) VALUES (?1, ?2, " \
                           "?3) ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, "    \
                           "updated_ns = excluded.updated_ns")

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
    struct store_sqlite_audit *audit; /* the audit log's statements (sqlite_audit.c) */
    struct store_sqlite_paylists *paylists; /* payment lists' (sqlite_paylists.c) */
};

struct store_sqlite_paylists *store_sqlite_paylists_of(struct store *store)
{
    struct store_sqlite_app *a = store_sqlite_app_of(store);
    TL_ASSERT(a != NULL);
    TL_ASSERT(a->paylists != NULL);
    return a->paylists;
}

struct store_sqlite_audit *store_sqlite_audit_of(struct store *store)
{
    struct store_sqlite_app *a = store_sqlite_app_of(store);
    TL_ASSERT(a != NULL);
    TL_ASSERT(a->audit != NULL);
    return a->audit;
}

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
    ok = ok && col_text(stmt, SCOL_USER_AGENT, s.user_agent, sizeof(s.user_agent), true);
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
    bind_text(stmt, SCOL_USER_AGENT + 1, session->user_agent);
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

/* The payment whose main transfer has timestamp created_ns (sqlite_paylists.c). */
enum tl_err store_sqlite_payment_at(struct store *store, uint64_t created_ns,
                                    struct store_payment *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);

    TL_ASSERT(created_ns != 0);
    store_sqlite_bind_u64(a->stmts[ASTMT_PAYMENT_AT], 1, created_ns);
    enum tl_err err = app_lookup(a, ASTMT_PAYMENT_AT, decode_payment, out, found);
    TL_ASSERT(err != TL_OK || !*found || out->created_ns == created_ns);
    return err;
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

/* ---- Idempotency claims ---- */

/* Inside the claim's transaction: who holds a live claim on the key. */
static enum tl_err claim_holder(struct store_sqlite_app *a, const struct store_idempotency_claim *c,
                                uint64_t now_ns, enum store_claim_result *out)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_CLAIM_HOLDER];
    uint8_t hash[STORE_HASH_BYTES];
    enum tl_err err = TL_OK;
    int rc;

    bind_text(stmt, 1, c->scope);
    bind_text(stmt, 2, c->key);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        if (!col_hash(stmt, 0, hash)) {
            err = store_sqlite_corrupt("idempotency_claim");
        } else {
            *out = memcmp(hash, c->request_hash, STORE_HASH_BYTES) == 0 ? STORE_CLAIM_HELD
                                                                         : STORE_CLAIM_HELD_OTHER;
        }
    } else if (rc == SQLITE_DONE) {
        /* The insert found a live claim, in the same transaction: it cannot be gone. */
        err = store_sqlite_corrupt("idempotency_claim: holder vanished");
    } else {
        err = app_fail(a, rc, "idempotency_claim");
    }
    sqlite3_reset(stmt);
    return err;
}

/* One IMMEDIATE transaction: the upsert takes a free or expired claim; when it changes
 * nothing, a live claim holds the key and the holder's hash says whose. */
static enum tl_err sqlite_app_idempotency_claim(struct store *store,
                                                const struct store_idempotency_claim *claim,
                                                uint64_t now_ns, enum store_claim_result *out)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_CLAIM_TAKE];
    uint8_t owner[ID128_BYTES];
    enum store_claim_result result = STORE_CLAIM_ACQUIRED;
    enum tl_err err = app_begin(a);
    int rc;

    if (err != TL_OK) {
        return err;
    }
    bind_text(stmt, 1, claim->scope);
    bind_text(stmt, 2, claim->key);
    bind_blob(stmt, 3, claim->request_hash, STORE_HASH_BYTES);
    bind_id(stmt, 4, claim->owner, owner);
    store_sqlite_bind_u64(stmt, 5, claim->expires_ns);
    store_sqlite_bind_u64(stmt, 6, now_ns);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        err = app_fail(a, rc, "idempotency_claim");
    } else if (sqlite3_changes(a->db) != 1) {
        err = claim_holder(a, claim, now_ns, &result);
    }
    if (err == TL_OK) {
        err = app_commit(a);
    }
    if (err != TL_OK) {
        app_rollback(a);
        return err;
    }
    *out = result;
    return TL_OK;
}

/* Deletes the claim of owner; how many rows went in *deleted. */
static enum tl_err claim_delete(struct store_sqlite_app *a, const char *scope, const char *key,
                                struct id128 owner, const char *what, int *deleted)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_CLAIM_DELETE];
    uint8_t owner_bytes[ID128_BYTES];
    int rc;

    bind_text(stmt, 1, scope);
    bind_text(stmt, 2, key);
    bind_id(stmt, 3, owner, owner_bytes);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, what);
    }
    *deleted = sqlite3_changes(a->db);
    TL_ASSERT(*deleted == 0 || *deleted == 1);
    return TL_OK;
}

static enum tl_err sqlite_app_idempotency_claim_release(struct store *store, const char *scope,
                                                        const char *key, struct id128 owner)
{
    struct store_sqlite_app *a = app_from(store);
    int deleted = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    return claim_delete(a, scope, key, owner, "idempotency_claim_release", &deleted);
}

/* Claims are few (requests in flight and what crashed nodes left), so one statement. */
static enum tl_err sqlite_app_idempotency_claims_prune(struct store *store, uint64_t now_ns,
                                                       uint32_t *out_deleted)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_CLAIMS_PRUNE];
    int64_t changes;
    int rc;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    store_sqlite_bind_u64(stmt, 1, now_ns);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "idempotency_claims_prune");
    }
    changes = sqlite3_changes64(a->db);
    TL_ASSERT(changes >= 0);
    *out_deleted = changes > UINT32_MAX ? UINT32_MAX : (uint32_t)changes;
    return TL_OK;
}

/* ---- A key's outbox rows ---- */

static enum tl_err outbox_key_row(sqlite3_stmt *stmt, struct store_outbox_row *out)
{
    uint64_t seq;
    struct id128 key;
    int data_bytes;

    memset(out, 0, sizeof(*out));
    if (!col_uint(stmt, 0, 1, INT64_MAX, &seq) || !col_id(stmt, 1, &key) ||
        !col_text(stmt, 2, out->topic, sizeof(out->topic), false) ||
        sqlite3_column_type(stmt, 3) != SQLITE_BLOB) {
        return store_sqlite_corrupt("outbox_list_range");
    }
    data_bytes = sqlite3_column_bytes(stmt, 3);
    if (data_bytes < 0 || data_bytes > TL_RECORD_BYTES_MAX) {
        return store_sqlite_corrupt("outbox_list_range");
    }
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
    return TL_OK;
}

static enum tl_err sqlite_app_outbox_list_range(struct store *store,
                                                const struct store_outbox_filter *filter,
                                                uint64_t after_seq, uint64_t upto_seq,
                                                uint32_t limit, struct store_outbox_row *out,
                                                uint32_t *out_count)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[filter->topic != NULL ? ASTMT_OUTBOX_LIST_TOPIC
                                                        : ASTMT_OUTBOX_LIST_KEY];
    uint8_t key_bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;

    if (filter->topic != NULL) {
        bind_text(stmt, 1, filter->topic);
    } else {
        bind_id(stmt, 1, filter->key, key_bytes);
    }
    store_sqlite_bind_u64(stmt, 2, after_seq > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : after_seq);
    store_sqlite_bind_i64(stmt, 3, limit);
    store_sqlite_bind_u64(stmt, 4, upto_seq > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : upto_seq);
    while (err == TL_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        TL_ASSERT(count < limit);
        err = outbox_key_row(stmt, &out[count]);
        if (err == TL_OK) {
            count++;
        }
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = app_fail(a, rc, "outbox_list_range");
    }
    sqlite3_reset(stmt);
    if (err != TL_OK) {
        store_outbox_rows_free(out, count);
        return err;
    }
    *out_count = count;
    return TL_OK;
}

static enum tl_err sqlite_app_outbox_seq_last(struct store *store, uint64_t *out_seq)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_OUTBOX_SEQ_LAST];
    enum tl_err err = TL_OK;
    uint64_t seq = 0;
    int rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW) {
        if (!col_uint(stmt, 0, 0, INT64_MAX, &seq)) {
            err = store_sqlite_corrupt("outbox_seq_last");
        }
    } else {
        err = app_fail(a, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "outbox_seq_last");
    }
    sqlite3_reset(stmt);
    if (err == TL_OK) {
        *out_seq = seq;
    }
    return err;
}

/* One statement, so one transaction; SQLite's single writer puts it in seq order with the
 * batches. */
static enum tl_err sqlite_app_outbox_append(struct store *store, struct id128 key,
                                            const char *topic, const void *data,
                                            uint32_t data_bytes, uint64_t *out_seq)
{
    static const uint8_t empty[1] = {0};
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_OUTBOX_APPEND];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint64_t seq = 0;
    int rc;

    bind_id(stmt, 1, key, bytes);
    rc = sqlite3_bind_text(stmt, 2, topic, -1, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
    rc = sqlite3_bind_blob(stmt, 3, data_bytes > 0 ? data : empty, (int)data_bytes, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
    store_sqlite_bind_i64(stmt, 4, (int64_t)clock_wall_ns());
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        if (!col_uint(stmt, 0, 1, INT64_MAX, &seq)) {
            err = store_sqlite_corrupt("outbox_append");
        }
        rc = sqlite3_step(stmt);
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = app_fail(a, rc, "outbox_append");
    }
    sqlite3_reset(stmt);
    if (err == TL_OK) {
        *out_seq = seq;
    }
    return err;
}

/* The outbox rows of an app-row change, inside its open transaction (seq in commit order:
 * SQLite has one writer at a time). */
static enum tl_err outbox_new_insert(struct store *store, const struct store_outbox_new *events,
                                     uint32_t count)
{
    enum tl_err err = TL_OK;
    uint64_t seq = 0;
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        const struct store_outbox_new *e = &events[i];
        err = sqlite_app_outbox_append(store, e->key, e->topic, e->data, e->data_bytes, &seq);
    }
    return err;
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
    /* Step-up's "paid this recipient before" (schema v9): the pair's first payment inserts
     * it; later ones find it and dirty no page. */
    stmt = a->stmts[ASTMT_PAYMENT_PAIR_INSERT];
    bind_blob(stmt, 1, bytes[1], ID128_BYTES);
    bind_blob(stmt, 2, bytes[2], ID128_BYTES);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "records_write: payment pair");
    }
    TL_ASSERT(sqlite3_changes(a->db) <= 1);
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

static enum tl_err quote_record_insert(struct store_sqlite_app *a, const struct store_record *r);
static enum tl_err sqlite_app_record_write(struct store *store, const struct store_record *record)
{
    struct store_sqlite_app *a = app_from(store);

    TL_ASSERT(!sqlite3_get_autocommit(a->db)); /* inside the batch */
    if (record->kind == STORE_RECORD_PAYMENT_NOTE) {
        return store_sqlite_notes_record_write(store, record); /* sqlite_notes.c */
    }
    if (record->kind == STORE_RECORD_PAYMENT) {
        struct store_payment payment;
        store_record_payment_decode(record, &payment);
        return payment_insert(a, &payment);
    }
    if (record->kind == STORE_RECORD_PAYMENT_SIGNATURE) {
        return store_sqlite_stepup_ops.record_write(store, record); /* schema v5 */
    }
    if (record->kind == STORE_RECORD_AUDIT) {
        return store_sqlite_audit_record_write(store, record);
    }
    if (record->kind == STORE_RECORD_QUOTE) {
        return quote_record_insert(a, record); /* quotes through the writer */
    }
    if (record->kind == STORE_RECORD_CONVERSION) {
        return store_sqlite_records_ops.records_write(store, record, 1); /* schema v6 */
    }
    TL_ASSERT(record->kind == STORE_RECORD_IDEMPOTENCY);
    struct store_idempotency row;
    store_record_idempotency_decode(record, &row);
    if (!id128_is_zero(row.claim_owner)) {
        /* The fence: this request's claim must still be its own, and goes with the answer. */
        int deleted = 0;
        enum tl_err err =
            claim_delete(a, row.scope, row.key, row.claim_owner, "records_write: claim", &deleted);
        if (err != TL_OK) {
            return err;
        }
        if (deleted != 1) {
            fprintf(stderr, "store.sqlite: records_write: idempotency claim lost (expired and "
                            "taken over); the batch is not committed\n");
            return TL_ERR_STORAGE;
        }
    }
    return idempotency_insert_or_ignore(a, &row);
}

/* ---- Identity (schema v4): TOTP, recovery codes, challenges, sessions, audit log ---- */

static bool decode_totp(sqlite3_stmt *stmt, void *row)
{
    struct store_totp t;
    uint64_t active;
    int bytes;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == 5);
    memset(&t, 0, sizeof(t));
    ok = col_id(stmt, 0, &t.user_id);
    bytes = sqlite3_column_bytes(stmt, 1);
    ok = ok && sqlite3_column_type(stmt, 1) == SQLITE_BLOB && bytes > 0 &&
         bytes <= STORE_TOTP_SEALED_BYTES_MAX;
    ok = ok && col_uint(stmt, 2, 0, 1, &active);
    ok = ok && col_uint(stmt, 3, 0, INT64_MAX, &t.last_step);
    ok = ok && col_time(stmt, 4, &t.created_ns);
    if (!ok) {
        return false;
    }
    memcpy(t.sealed, sqlite3_column_blob(stmt, 1), (size_t)bytes);
    t.sealed_bytes = (uint32_t)bytes;
    t.active = active == 1;
    *(struct store_totp *)row = t;
    return true;
}

static bool decode_challenge(sqlite3_stmt *stmt, void *row)
{
    struct store_mfa_challenge c;
    uint64_t used;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == 5);
    memset(&c, 0, sizeof(c));
    ok = col_hash(stmt, 0, c.hash);
    ok = ok && col_id(stmt, 1, &c.user_id);
    ok = ok && col_time(stmt, 2, &c.created_ns);
    ok = ok && col_time(stmt, 3, &c.expires_ns);
    ok = ok && col_uint(stmt, 4, 0, 1, &used);
    if (!ok) {
        return false;
    }
    c.used = used == 1;
    *(struct store_mfa_challenge *)row = c;
    return true;
}

/* Runs a bound write statement; *changes is how many rows it touched. */
static enum tl_err identity_run(struct store_sqlite_app *a, enum app_stmt which, int *changes)
{
    int rc = store_sqlite_run(a->stmts[which]);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, app_stmt_name[which]);
    }
    *changes = sqlite3_changes(a->db);
    return TL_OK;
}

static enum tl_err sqlite_app_totp_put(struct store *store, const struct store_totp *totp)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_TOTP_PUT];
    uint8_t bytes[ID128_BYTES];
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(stmt, 1, totp->user_id, bytes);
    bind_blob(stmt, 2, totp->sealed, totp->sealed_bytes);
    store_sqlite_bind_u64(stmt, 3, totp->created_ns);
    enum tl_err err = identity_run(a, ASTMT_TOTP_PUT, &changes);
    if (err == TL_OK && changes == 0) {
        err = TL_ERR_CONFLICT; /* the upsert's WHERE kept an active row */
    }
    return err;
}

static enum tl_err sqlite_app_totp_get(struct store *store, struct id128 user_id,
                                       struct store_totp *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];

    bind_id(a->stmts[ASTMT_TOTP_GET], 1, user_id, bytes);
    return app_lookup(a, ASTMT_TOTP_GET, decode_totp, out, found);
}

/* Inside a transaction: replaces the user's recovery codes. */
static enum tl_err recovery_codes_replace(struct store_sqlite_app *a, struct id128 user_id,
                                          const uint8_t hashes[STORE_RECOVERY_CODES]
                                                              [STORE_HASH_BYTES])
{
    uint8_t bytes[ID128_BYTES];
    int changes = 0;

    bind_id(a->stmts[ASTMT_RECOVERY_DELETE], 1, user_id, bytes);
    enum tl_err err = identity_run(a, ASTMT_RECOVERY_DELETE, &changes);
    for (int i = 0; err == TL_OK && i < STORE_RECOVERY_CODES; i++) {
        bind_id(a->stmts[ASTMT_RECOVERY_INSERT], 1, user_id, bytes);
        bind_blob(a->stmts[ASTMT_RECOVERY_INSERT], 2, hashes[i], STORE_HASH_BYTES);
        err = identity_run(a, ASTMT_RECOVERY_INSERT, &changes);
    }
    return err;
}

static enum tl_err sqlite_app_totp_activate(struct store *store, struct id128 user_id,
                                            uint64_t step,
                                            const uint8_t hashes[STORE_RECOVERY_CODES]
                                                                [STORE_HASH_BYTES])
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];
    int changes = 0;
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    bind_id(a->stmts[ASTMT_TOTP_ACTIVATE], 1, user_id, bytes);
    store_sqlite_bind_u64(a->stmts[ASTMT_TOTP_ACTIVATE], 2, step);
    err = identity_run(a, ASTMT_TOTP_ACTIVATE, &changes);
    if (err == TL_OK && changes == 0) {
        err = TL_ERR_NOT_FOUND;
    }
    err = err == TL_OK ? recovery_codes_replace(a, user_id, hashes) : err;
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
    }
    return err;
}

static enum tl_err sqlite_app_totp_use_step(struct store *store, struct id128 user_id,
                                            uint64_t step)
{
    struct store_sqlite_app *a = app_from(store);
    struct store_totp row;
    uint8_t bytes[ID128_BYTES];
    bool found = false;
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(a->stmts[ASTMT_TOTP_USE_STEP], 1, user_id, bytes);
    store_sqlite_bind_u64(a->stmts[ASTMT_TOTP_USE_STEP], 2, step);
    enum tl_err err = identity_run(a, ASTMT_TOTP_USE_STEP, &changes);
    if (err != TL_OK || changes == 1) {
        return err;
    }
    /* Nothing changed: a replay, or no active row. */
    err = sqlite_app_totp_get(store, user_id, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    return found && row.active ? TL_ERR_CONFLICT : TL_ERR_NOT_FOUND;
}

static enum tl_err sqlite_app_totp_delete(struct store *store, struct id128 user_id)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];
    int changes = 0;
    int deleted = 0;
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    bind_id(a->stmts[ASTMT_TOTP_DELETE], 1, user_id, bytes);
    err = identity_run(a, ASTMT_TOTP_DELETE, &deleted);
    if (err == TL_OK) {
        bind_id(a->stmts[ASTMT_RECOVERY_DELETE], 1, user_id, bytes);
        err = identity_run(a, ASTMT_RECOVERY_DELETE, &changes);
    }
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
        return err;
    }
    return deleted == 0 ? TL_ERR_NOT_FOUND : TL_OK;
}

static enum tl_err sqlite_app_recovery_code_use(struct store *store, struct id128 user_id,
                                                const uint8_t hash[STORE_HASH_BYTES],
                                                uint64_t now_ns)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_RECOVERY_USE];
    uint8_t bytes[ID128_BYTES];
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(stmt, 1, user_id, bytes);
    bind_blob(stmt, 2, hash, STORE_HASH_BYTES);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    enum tl_err err = identity_run(a, ASTMT_RECOVERY_USE, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err sqlite_app_recovery_codes_left(struct store *store, struct id128 user_id,
                                                  uint32_t *out_count)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_RECOVERY_LEFT];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint64_t count = 0;

    bind_id(stmt, 1, user_id, bytes);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        err = app_fail(a, rc, "recovery_codes_left");
    } else if (!col_uint(stmt, 0, 0, STORE_RECOVERY_CODES, &count)) {
        err = store_sqlite_corrupt("recovery_codes_left");
    } else {
        *out_count = (uint32_t)count;
    }
    sqlite3_reset(stmt);
    return err;
}

static enum tl_err sqlite_app_mfa_challenge_create(struct store *store,
                                                   const struct store_mfa_challenge *c)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_CHALLENGE_INSERT];
    uint8_t bytes[ID128_BYTES];
    int changes = 0;
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    store_sqlite_bind_u64(a->stmts[ASTMT_CHALLENGE_PRUNE], 1, c->created_ns);
    err = identity_run(a, ASTMT_CHALLENGE_PRUNE, &changes);
    if (err == TL_OK) {
        bind_blob(stmt, 1, c->hash, STORE_HASH_BYTES);
        bind_id(stmt, 2, c->user_id, bytes);
        store_sqlite_bind_u64(stmt, 3, c->created_ns);
        store_sqlite_bind_u64(stmt, 4, c->expires_ns);
        err = identity_run(a, ASTMT_CHALLENGE_INSERT, &changes);
    }
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
    }
    return err;
}

static enum tl_err sqlite_app_mfa_challenge_get(struct store *store,
                                                const uint8_t hash[STORE_HASH_BYTES],
                                                struct store_mfa_challenge *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);

    bind_blob(a->stmts[ASTMT_CHALLENGE_GET], 1, hash, STORE_HASH_BYTES);
    return app_lookup(a, ASTMT_CHALLENGE_GET, decode_challenge, out, found);
}

static enum tl_err sqlite_app_mfa_challenge_consume(struct store *store,
                                                    const uint8_t hash[STORE_HASH_BYTES],
                                                    uint64_t now_ns)
{
    struct store_sqlite_app *a = app_from(store);
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_blob(a->stmts[ASTMT_CHALLENGE_CONSUME], 1, hash, STORE_HASH_BYTES);
    store_sqlite_bind_u64(a->stmts[ASTMT_CHALLENGE_CONSUME], 2, now_ns);
    enum tl_err err = identity_run(a, ASTMT_CHALLENGE_CONSUME, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err sqlite_app_sessions_list(struct store *store, struct id128 user_id,
                                            uint64_t now_ns, struct store_session *out,
                                            uint32_t max, uint32_t *out_count)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_SESSIONS_LIST];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;

    bind_id(stmt, 1, user_id, bytes);
    store_sqlite_bind_u64(stmt, 2, now_ns);
    store_sqlite_bind_i64(stmt, 3, max);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == max || !row_session(stmt, &out[count])) {
            err = store_sqlite_corrupt("sessions_list");
            goto out;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = app_fail(a, rc, "sessions_list");
        goto out;
    }
    *out_count = count;
out:
    sqlite3_reset(stmt);
    return err;
}

static enum tl_err sqlite_app_session_revoke_id(struct store *store, struct id128 user_id,
                                                struct id128 session_id)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[2][ID128_BYTES];
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(a->stmts[ASTMT_SESSION_REVOKE_ID], 1, user_id, bytes[0]);
    bind_id(a->stmts[ASTMT_SESSION_REVOKE_ID], 2, session_id, bytes[1]);
    enum tl_err err = identity_run(a, ASTMT_SESSION_REVOKE_ID, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err sqlite_app_sessions_revoke_others(struct store *store, struct id128 user_id,
                                                     struct id128 keep_id, uint32_t *out_count)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[2][ID128_BYTES];
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(a->stmts[ASTMT_SESSIONS_REVOKE_OTHERS], 1, user_id, bytes[0]);
    bind_id(a->stmts[ASTMT_SESSIONS_REVOKE_OTHERS], 2, keep_id, bytes[1]);
    enum tl_err err = identity_run(a, ASTMT_SESSIONS_REVOKE_OTHERS, &changes);
    if (err == TL_OK) {
        *out_count = (uint32_t)changes;
    }
    return err;
}

static enum tl_err sqlite_app_user_password_set(struct store *store, struct id128 user_id,
                                                const char *password_hash, struct id128 keep_id)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[3][ID128_BYTES];
    int changes = 0;
    int revoked = 0;
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    bind_id(a->stmts[ASTMT_USER_PASSWORD_SET], 1, user_id, bytes[0]);
    bind_text(a->stmts[ASTMT_USER_PASSWORD_SET], 2, password_hash);
    err = identity_run(a, ASTMT_USER_PASSWORD_SET, &changes);
    if (err == TL_OK && changes == 0) {
        err = TL_ERR_NOT_FOUND;
    }
    if (err == TL_OK) {
        bind_id(a->stmts[ASTMT_SESSIONS_REVOKE_OTHERS], 1, user_id, bytes[1]);
        bind_id(a->stmts[ASTMT_SESSIONS_REVOKE_OTHERS], 2, keep_id, bytes[2]);
        err = identity_run(a, ASTMT_SESSIONS_REVOKE_OTHERS, &revoked);
    }
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
    }
    return err;
}


/* ---- Quotes and payment requests ---- */

/* A zero id binds NULL (an optional reference). */
static void bind_id_optional(sqlite3_stmt *stmt, int index, struct id128 id,
                             uint8_t bytes[ID128_BYTES])
{
    int rc;
    if (!id128_is_zero(id)) {
        bind_id(stmt, index, id, bytes);
        return;
    }
    rc = sqlite3_bind_null(stmt, index);
    TL_ASSERT(rc == SQLITE_OK);
}

/* NULL reads as the zero id. */
static bool col_id_optional(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    if (sqlite3_column_type(stmt, index) == SQLITE_NULL) {
        *out = id128_make(0, 0);
        return true;
    }
    return col_id(stmt, index, out);
}

static bool col_positive(sqlite3_stmt *stmt, int index, int64_t *out)
{
    return store_sqlite_col_i64(stmt, index, out) && *out > 0;
}

static bool decode_quote(sqlite3_stmt *stmt, void *row)
{
    struct store_quote q;
    uint64_t operation, used;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == QCOL_COUNT);
    memset(&q, 0, sizeof(q));
    ok = col_id(stmt, QCOL_ID, &q.id);
    ok = ok && col_id(stmt, QCOL_USER_ID, &q.user_id);
    ok = ok && col_uint(stmt, QCOL_OPERATION, 0, 4, &operation);
    ok = ok && col_id_optional(stmt, QCOL_RECIPIENT_ID, &q.recipient_id);
    ok = ok && col_u16(stmt, QCOL_SEND_CURRENCY, 1, &q.send_currency);
    ok = ok && col_u16(stmt, QCOL_RECEIVE_CURRENCY, 1, &q.receive_currency);
    ok = ok && col_positive(stmt, QCOL_AMOUNT, &q.amount);
    ok = ok && store_sqlite_col_i64(stmt, QCOL_FEE, &q.fee) && q.fee >= 0;
    ok = ok && col_positive(stmt, QCOL_SENT, &q.sent);
    ok = ok && col_positive(stmt, QCOL_RATE_NUM, &q.rate_num);
    ok = ok && col_positive(stmt, QCOL_RATE_DEN, &q.rate_den);
    ok = ok && col_id(stmt, QCOL_PAYMENT_ID, &q.payment_id);
    ok = ok && col_time(stmt, QCOL_CREATED_NS, &q.created_ns);
    ok = ok && col_time(stmt, QCOL_EXPIRES_NS, &q.expires_ns);
    ok = ok && col_uint(stmt, QCOL_USED, 0, 1, &used);
    if (!ok) {
        return false;
    }
    q.operation = (uint8_t)operation;
    q.used = used == 1;
    *(struct store_quote *)row = q;
    return true;
}

static bool decode_request(sqlite3_stmt *stmt, void *row)
{
    struct store_request *r = row;
    uint64_t status = 0;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == RCOL_COUNT);
    memset(r, 0, sizeof(*r));
    ok = col_id(stmt, RCOL_ID, &r->id);
    ok = ok && col_id(stmt, RCOL_REQUESTER_ID, &r->requester_id);
    ok = ok && col_id(stmt, RCOL_PAYER_ID, &r->payer_id);
    ok = ok && col_positive(stmt, RCOL_AMOUNT, &r->amount);
    ok = ok && col_u16(stmt, RCOL_CURRENCY, 1, &r->currency);
    ok = ok && col_uint(stmt, RCOL_STATUS, STORE_REQUEST_OPEN, STORE_REQUEST_CANCELED, &status);
    ok = ok && col_text(stmt, RCOL_FROM_TEXT, r->from_text, sizeof(r->from_text), false);
    ok = ok && col_text(stmt, RCOL_NOTE, r->note, sizeof(r->note), true);
    ok = ok && col_id_optional(stmt, RCOL_SPLIT_ID, &r->split_id);
    ok = ok && col_id(stmt, RCOL_PAYMENT_ID, &r->payment_id);
    ok = ok && col_time(stmt, RCOL_CREATED_NS, &r->created_ns);
    ok = ok && col_time(stmt, RCOL_EXPIRES_NS, &r->expires_ns);
    ok = ok && col_uint(stmt, RCOL_CLOSED_NS, 0, INT64_MAX, &r->closed_ns);
    ok = ok && col_uint(stmt, RCOL_PAY_CLAIM_NS, 0, INT64_MAX, &r->pay_claim_ns);
    if (ok && sqlite3_column_type(stmt, RCOL_PAID_NS) != SQLITE_NULL) {
        ok = col_time(stmt, RCOL_PAID_NS, &r->paid_ns);
        r->paid = true;
    }
    r->status = (uint8_t)status;
    return ok && !id128_eq(r->requester_id, r->payer_id);
}

/* One quote row, in autocommit (quote_create) or inside the batch (a STORE_RECORD_QUOTE). */
static enum tl_err quote_insert(struct store_sqlite_app *a, const struct store_quote *q,
                                const char *what)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_QUOTE_INSERT];
    uint8_t bytes[4][ID128_BYTES];
    int rc;

    bind_id(stmt, QCOL_ID + 1, q->id, bytes[0]);
    bind_id(stmt, QCOL_USER_ID + 1, q->user_id, bytes[1]);
    store_sqlite_bind_i64(stmt, QCOL_OPERATION + 1, q->operation);
    bind_id_optional(stmt, QCOL_RECIPIENT_ID + 1, q->recipient_id, bytes[2]);
    store_sqlite_bind_i64(stmt, QCOL_SEND_CURRENCY + 1, q->send_currency);
    store_sqlite_bind_i64(stmt, QCOL_RECEIVE_CURRENCY + 1, q->receive_currency);
    store_sqlite_bind_i64(stmt, QCOL_AMOUNT + 1, q->amount);
    store_sqlite_bind_i64(stmt, QCOL_FEE + 1, q->fee);
    store_sqlite_bind_i64(stmt, QCOL_SENT + 1, q->sent);
    store_sqlite_bind_i64(stmt, QCOL_RATE_NUM + 1, q->rate_num);
    store_sqlite_bind_i64(stmt, QCOL_RATE_DEN + 1, q->rate_den);
    bind_id(stmt, QCOL_PAYMENT_ID + 1, q->payment_id, bytes[3]);
    store_sqlite_bind_u64(stmt, QCOL_CREATED_NS + 1, q->created_ns);
    store_sqlite_bind_u64(stmt, QCOL_EXPIRES_NS + 1, q->expires_ns);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, what);
    }
    TL_ASSERT(sqlite3_changes(a->db) == 1);
    return TL_OK;
}

static enum tl_err sqlite_app_quote_create(struct store *store, const struct store_quote *q)
{
    struct store_sqlite_app *a = app_from(store);

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    return quote_insert(a, q, "quote_create");
}

/* A STORE_RECORD_QUOTE inside the open batch (sqlite_app_record_write). */
static enum tl_err quote_record_insert(struct store_sqlite_app *a, const struct store_record *r)
{
    struct store_quote q;

    TL_ASSERT(!sqlite3_get_autocommit(a->db));
    store_record_quote_decode(r, &q);
    return quote_insert(a, &q, "records_write: quote");
}

static enum tl_err sqlite_app_quote_get(struct store *store, struct id128 id,
                                        struct store_quote *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];

    bind_id(a->stmts[ASTMT_QUOTE_GET], 1, id, bytes);
    return app_lookup(a, ASTMT_QUOTE_GET, decode_quote, out, found);
}

static enum tl_err request_insert(struct store_sqlite_app *a, const struct store_request *r)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_REQUEST_INSERT];
    uint8_t bytes[5][ID128_BYTES];
    int rc;

    bind_id(stmt, RCOL_ID + 1, r->id, bytes[0]);
    bind_id(stmt, RCOL_REQUESTER_ID + 1, r->requester_id, bytes[1]);
    bind_id(stmt, RCOL_PAYER_ID + 1, r->payer_id, bytes[2]);
    store_sqlite_bind_i64(stmt, RCOL_AMOUNT + 1, r->amount);
    store_sqlite_bind_i64(stmt, RCOL_CURRENCY + 1, r->currency);
    store_sqlite_bind_i64(stmt, RCOL_STATUS + 1, r->status);
    bind_text(stmt, RCOL_FROM_TEXT + 1, r->from_text);
    bind_text(stmt, RCOL_NOTE + 1, r->note);
    bind_id_optional(stmt, RCOL_SPLIT_ID + 1, r->split_id, bytes[3]);
    bind_id(stmt, RCOL_PAYMENT_ID + 1, r->payment_id, bytes[4]);
    store_sqlite_bind_u64(stmt, RCOL_CREATED_NS + 1, r->created_ns);
    store_sqlite_bind_u64(stmt, RCOL_EXPIRES_NS + 1, r->expires_ns);
    store_sqlite_bind_u64(stmt, RCOL_CLOSED_NS + 1, r->closed_ns);
    store_sqlite_bind_u64(stmt, RCOL_PAY_CLAIM_NS + 1, r->pay_claim_ns);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "requests_create");
    }
    return TL_OK;
}

/* Every row and event in one IMMEDIATE transaction: a split's requests and their
 * notifications exist together or not at all. */
static enum tl_err sqlite_app_requests_create(struct store *store, const struct store_request *rows,
                                              uint32_t count, const struct store_outbox_new *events,
                                              uint32_t event_count)
{
    struct store_sqlite_app *a = app_from(store);
    enum tl_err err = app_begin(a);

    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        err = request_insert(a, &rows[i]);
    }
    if (err == TL_OK) {
        err = outbox_new_insert(store, events, event_count);
    }
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
    }
    return err;
}

static enum tl_err sqlite_app_request_get(struct store *store, struct id128 id,
                                          struct store_request *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    uint8_t bytes[ID128_BYTES];

    bind_id(a->stmts[ASTMT_REQUEST_GET], 1, id, bytes);
    return app_lookup(a, ASTMT_REQUEST_GET, decode_request, out, found);
}

/* Older pages walk down from the cursor; newer pages walk up and are reversed. limit + 1 rows
 * are read: the extra one only says *has_more. */
static enum tl_err sqlite_app_requests_list(struct store *store, struct id128 user_id,
                                            enum store_request_role role,
                                            const struct store_request_page *page,
                                            struct store_request *out, uint32_t *out_count,
                                            bool *has_more)
{
    struct store_sqlite_app *a = app_from(store);
    bool newer = !id128_is_zero(page->ending_before);
    enum app_stmt which = newer ? ASTMT_REQUESTS_NEWER : ASTMT_REQUESTS_OLDER;
    sqlite3_stmt *stmt = a->stmts[which];
    uint8_t user_bytes[ID128_BYTES];
    uint8_t cursor_bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    bool more = false;
    int rc;

    bind_id(stmt, 1, user_id, user_bytes);
    store_sqlite_bind_i64(stmt, 2, (int64_t)role);
    if (newer) {
        bind_id(stmt, 3, page->ending_before, cursor_bytes);
    } else if (!id128_is_zero(page->starting_after)) {
        bind_id(stmt, 3, page->starting_after, cursor_bytes);
    } else {
        memset(cursor_bytes, 0xff, sizeof(cursor_bytes)); /* above every id */
        bind_blob(stmt, 3, cursor_bytes, ID128_BYTES);
    }
    store_sqlite_bind_i64(stmt, 4, (int64_t)page->limit + 1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == page->limit) {
            more = true;
            continue;
        }
        if (!decode_request(stmt, &out[count])) {
            err = store_sqlite_corrupt("requests_list");
            goto out;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = app_fail(a, rc, "requests_list");
        goto out;
    }
    if (newer) {
        store_sqlite_reverse(out, count, sizeof(*out));
    }
    *out_count = count;
    *has_more = more;
out:
    sqlite3_reset(stmt);
    return err;
}

/* Runs a bound UPDATE and says whether it changed a row. */
static enum tl_err request_update(struct store_sqlite_app *a, enum app_stmt which, bool *changed)
{
    int rc;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    rc = store_sqlite_run(a->stmts[which]);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, app_stmt_name[which]);
    }
    *changed = sqlite3_changes(a->db) == 1;
    return TL_OK;
}

static enum tl_err sqlite_app_request_claim(struct store *store, struct id128 id,
                                            struct id128 payer_id, uint64_t now_ns, bool *claimed)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_REQUEST_CLAIM];
    uint8_t bytes[2][ID128_BYTES];

    bind_id(stmt, 1, id, bytes[0]);
    bind_id(stmt, 2, payer_id, bytes[1]);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    return request_update(a, ASTMT_REQUEST_CLAIM, claimed);
}

static enum tl_err sqlite_app_request_unclaim(struct store *store, struct id128 id,
                                              uint64_t claim_ns)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_REQUEST_UNCLAIM];
    uint8_t bytes[ID128_BYTES];
    bool changed = false;

    bind_id(stmt, 1, id, bytes);
    store_sqlite_bind_u64(stmt, 2, claim_ns);
    return request_update(a, ASTMT_REQUEST_UNCLAIM, &changed);
}

static enum tl_err sqlite_app_request_close(struct store *store, struct id128 id,
                                            struct id128 actor_id, uint8_t status, uint64_t now_ns,
                                            uint64_t stale_before_ns,
                                            const struct store_outbox_new *events,
                                            uint32_t event_count, bool *closed)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_REQUEST_CLOSE];
    uint8_t bytes[2][ID128_BYTES];
    bool changed = false;

    enum tl_err err = app_begin(a);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes[0]);
    bind_id(stmt, 2, actor_id, bytes[1]);
    store_sqlite_bind_i64(stmt, 3, status);
    store_sqlite_bind_u64(stmt, 4, now_ns);
    store_sqlite_bind_u64(stmt, 5, stale_before_ns);
    int rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        err = app_fail(a, rc, "request_close");
    } else {
        changed = sqlite3_changes(a->db) == 1;
    }
    if (err == TL_OK && changed) {
        err = outbox_new_insert(store, events, event_count); /* only with the change */
    }
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
        return err;
    }
    *closed = changed;
    return TL_OK;
}

/* ---- Passkeys (schema v4) ---- */

/* A blob of min..max bytes into out; *out_bytes its length. */
static bool col_blob(sqlite3_stmt *stmt, int index, uint32_t min, uint32_t max, uint8_t *out,
                     uint32_t *out_bytes)
{
    int bytes = sqlite3_column_bytes(stmt, index);
    if (sqlite3_column_type(stmt, index) != SQLITE_BLOB || bytes < (int)min || bytes > (int)max) {
        return false;
    }
    memcpy(out, sqlite3_column_blob(stmt, index), (size_t)bytes);
    *out_bytes = (uint32_t)bytes;
    return true;
}

static bool decode_passkey(sqlite3_stmt *stmt, void *row)
{
    struct store_passkey *out = row;
    int64_t alg = 0;
    uint64_t count;
    uint32_t aaguid_bytes = 0;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == PASSKEY_COLUMN_COUNT);
    memset(out, 0, sizeof(*out));
    ok = col_id(stmt, 0, &out->id);
    ok = ok && col_id(stmt, 1, &out->user_id);
    ok = ok && col_blob(stmt, 2, 1, STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX, out->credential_id,
                        &out->credential_id_bytes);
    ok = ok && store_sqlite_col_i64(stmt, 3, &alg) && (alg == -7 || alg == -8);
    out->algorithm = (int32_t)alg;
    ok = ok && col_blob(stmt, 4, 32, STORE_PASSKEY_PUBLIC_KEY_BYTES_MAX, out->public_key,
                        &out->public_key_bytes);
    ok = ok && out->public_key_bytes == (out->algorithm == STORE_PASSKEY_ALG_ES256 ? 65u : 32u);
    ok = ok && col_uint(stmt, 5, 0, UINT32_MAX, &count);
    ok = ok && col_blob(stmt, 6, STORE_PASSKEY_AAGUID_BYTES, STORE_PASSKEY_AAGUID_BYTES,
                        out->aaguid, &aaguid_bytes);
    ok = ok && col_text(stmt, 7, out->name, sizeof(out->name), false);
    ok = ok && col_time(stmt, 8, &out->created_ns);
    ok = ok && col_uint(stmt, 9, 0, INT64_MAX, &out->last_used_ns);
    ok = ok && col_uint(stmt, 10, 0, INT64_MAX, &out->revoked_ns);
    if (ok) {
        out->sign_count = (uint32_t)count;
    }
    return ok;
}

static enum tl_err sqlite_app_passkey_create(struct store *store, const struct store_passkey *pk)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_PASSKEY_INSERT];
    uint8_t bytes[2][ID128_BYTES];

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(stmt, 1, pk->id, bytes[0]);
    bind_id(stmt, 2, pk->user_id, bytes[1]);
    bind_blob(stmt, 3, pk->credential_id, pk->credential_id_bytes);
    store_sqlite_bind_i64(stmt, 4, pk->algorithm);
    bind_blob(stmt, 5, pk->public_key, pk->public_key_bytes);
    store_sqlite_bind_u64(stmt, 6, pk->sign_count);
    bind_blob(stmt, 7, pk->aaguid, STORE_PASSKEY_AAGUID_BYTES);
    bind_text(stmt, 8, pk->name);
    store_sqlite_bind_u64(stmt, 9, pk->created_ns);
    store_sqlite_bind_i64(stmt, 10, STORE_PASSKEYS_USER_MAX);
    int rc = store_sqlite_run(stmt);
    if (rc_is_constraint(rc)) {
        return TL_ERR_CONFLICT;
    }
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "passkey_create");
    }
    return sqlite3_changes(a->db) == 1 ? TL_OK : TL_ERR_LIMIT;
}

static enum tl_err sqlite_app_passkey_find(struct store *store, const uint8_t *credential_id,
                                           uint32_t credential_id_bytes, struct store_passkey *out,
                                           bool *found)
{
    struct store_sqlite_app *a = app_from(store);

    bind_blob(a->stmts[ASTMT_PASSKEY_FIND], 1, credential_id, credential_id_bytes);
    return app_lookup(a, ASTMT_PASSKEY_FIND, decode_passkey, out, found);
}

static enum tl_err sqlite_app_passkeys_list(struct store *store, struct id128 user_id,
                                            struct store_passkey *out, uint32_t max,
                                            uint32_t *out_count)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_PASSKEYS_LIST];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;

    bind_id(stmt, 1, user_id, bytes);
    store_sqlite_bind_i64(stmt, 2, max);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == max || !decode_passkey(stmt, &out[count])) {
            err = store_sqlite_corrupt("passkeys_list");
            goto out;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = app_fail(a, rc, "passkeys_list");
        goto out;
    }
    *out_count = count;
out:
    sqlite3_reset(stmt);
    return err;
}

static enum tl_err sqlite_app_passkey_revoke(struct store *store, struct id128 user_id,
                                             struct id128 id, uint64_t now_ns)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_PASSKEY_REVOKE];
    uint8_t bytes[2][ID128_BYTES];
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(stmt, 1, user_id, bytes[0]);
    bind_id(stmt, 2, id, bytes[1]);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    enum tl_err err = identity_run(a, ASTMT_PASSKEY_REVOKE, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err sqlite_app_passkey_use(struct store *store, struct id128 id,
                                          uint32_t sign_count, uint64_t now_ns)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_PASSKEY_USE];
    uint8_t bytes[ID128_BYTES];
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(stmt, 1, id, bytes);
    store_sqlite_bind_u64(stmt, 2, sign_count);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    enum tl_err err = identity_run(a, ASTMT_PASSKEY_USE, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_CONFLICT : err;
}

static enum tl_err sqlite_app_webauthn_challenge_create(struct store *store,
                                                        const struct store_webauthn_challenge *c)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_WEBAUTHN_INSERT];
    uint8_t bytes[ID128_BYTES];
    int changes = 0;
    enum tl_err err = app_begin(a);

    if (err != TL_OK) {
        return err;
    }
    store_sqlite_bind_u64(a->stmts[ASTMT_WEBAUTHN_PRUNE], 1, c->created_ns);
    err = identity_run(a, ASTMT_WEBAUTHN_PRUNE, &changes);
    if (err == TL_OK) {
        bind_blob(stmt, 1, c->hash, STORE_HASH_BYTES);
        store_sqlite_bind_i64(stmt, 2, c->kind);
        bind_id(stmt, 3, c->user_id, bytes);
        store_sqlite_bind_u64(stmt, 4, c->created_ns);
        store_sqlite_bind_u64(stmt, 5, c->expires_ns);
        err = identity_run(a, ASTMT_WEBAUTHN_INSERT, &changes);
    }
    err = err == TL_OK ? app_commit(a) : err;
    if (err != TL_OK) {
        app_rollback(a);
    }
    return err;
}

static bool decode_challenge_user(sqlite3_stmt *stmt, void *row)
{
    TL_ASSERT(sqlite3_column_count(stmt) == 1);
    return store_sqlite_col_id(stmt, 0, row); /* zero: an unbound login challenge */
}

static enum tl_err sqlite_app_webauthn_challenge_consume(struct store *store,
                                                         const uint8_t hash[STORE_HASH_BYTES],
                                                         uint8_t kind, uint64_t now_ns,
                                                         struct id128 *out_user_id)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_WEBAUTHN_CONSUME];
    struct id128 user_id;
    bool found = false;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_blob(stmt, 1, hash, STORE_HASH_BYTES);
    store_sqlite_bind_i64(stmt, 2, kind);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    enum tl_err err = app_lookup(a, ASTMT_WEBAUTHN_CONSUME, decode_challenge_user, &user_id,
                                 &found);
    if (err == TL_OK && !found) {
        return TL_ERR_NOT_FOUND;
    }
    if (err == TL_OK) {
        *out_user_id = user_id;
    }
    return err;
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
    enum tl_err err = store_sqlite_audit_open(db, &a->audit);
    err = err == TL_OK ? store_sqlite_paylists_open(db, &a->paylists) : err;
    if (err != TL_OK) {
        store_sqlite_app_close(a);
        return err;
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
    store_sqlite_audit_close(app->audit);
    store_sqlite_paylists_close(app->paylists);
    free(app);
}

/* ---- Verification tiers and limit windows (migration 005) ---- */

/* The user's tier alone (0 without a row): the sums come from the totals in memory. */
static enum tl_err user_tier_get(struct store_sqlite_app *a, struct id128 user_id, uint8_t *out)
{
    sqlite3_stmt *stmt = a->stmts[ASTMT_USER_TIER_GET];
    uint8_t bytes[ID128_BYTES];
    uint64_t tier = 0;
    enum tl_err err = TL_OK;

    bind_id(stmt, 1, user_id, bytes);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && !col_uint(stmt, 0, 0, 2, &tier)) {
        err = store_sqlite_corrupt(app_stmt_name[ASTMT_USER_TIER_GET]);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = app_fail(a, rc, app_stmt_name[ASTMT_USER_TIER_GET]);
    }
    sqlite3_reset(stmt);
    if (err == TL_OK) {
        *out = (uint8_t)tier;
    }
    return err;
}

/* Tier and sums from the tables (no writing handle of the file in this process). */
static enum tl_err limits_window_read(struct store_sqlite_app *a, struct id128 user_id,
                                      enum store_direction direction, uint16_t currency,
                                      uint64_t after_ns, struct store_limits_window *out)
{
    enum app_stmt which =
        direction == STORE_DIRECTION_SENT ? ASTMT_LIMITS_SENT : ASTMT_LIMITS_RECEIVED;
    sqlite3_stmt *stmt = a->stmts[which];
    uint8_t bytes[ID128_BYTES];
    struct store_limits_window w;
    uint64_t tier = 0;
    uint64_t amount = 0;
    uint64_t count = 0;
    enum tl_err err = TL_OK;

    bind_id(stmt, 1, user_id, bytes);
    store_sqlite_bind_u64(stmt, 2, after_ns);
    store_sqlite_bind_i64(stmt, 3, currency);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        /* An integer overflow of sum() lands here too: refused, never wrapped. */
        err = app_fail(a, rc == SQLITE_DONE ? SQLITE_ERROR : rc, app_stmt_name[which]);
    } else if (!col_uint(stmt, 0, 0, 2, &tier) || !col_uint(stmt, 1, 0, INT64_MAX, &amount) ||
               !col_uint(stmt, 2, 0, UINT32_MAX, &count) ||
               !col_uint(stmt, 3, 0, INT64_MAX, &w.oldest_ns)) {
        err = store_sqlite_corrupt(app_stmt_name[which]);
    }
    sqlite3_reset(stmt);
    if (err != TL_OK) {
        return err;
    }
    w.tier = (uint8_t)tier;
    w.amount = (int64_t)amount;
    w.count = (uint32_t)count;
    *out = w;
    return TL_OK;
}

/* Every handle of a process that writes the file sums the committed totals in memory
 * (sqlite_limits.c): the same buckets the tables hold, without reading them. */
static enum tl_err sqlite_app_limits_window(struct store *store, struct id128 user_id,
                                            enum store_direction direction, uint16_t currency,
                                            uint64_t after_ns, struct store_limits_window *out)
{
    struct store_sqlite_app *a = app_from(store);
    struct store_limits_window w;
    enum tl_err err = TL_OK;

    memset(&w, 0, sizeof(w));
    if (!store_sqlite_shared_limits_window(store_sqlite_file_of(store), user_id, currency,
                                           (uint8_t)direction, after_ns, &w, &err)) {
        return limits_window_read(a, user_id, direction, currency, after_ns, out);
    }
    err = err == TL_OK ? user_tier_get(a, user_id, &w.tier) : err;
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(w.amount >= 0);
    TL_ASSERT(w.oldest_ns <= (uint64_t)INT64_MAX);
    *out = w;
    return TL_OK;
}

static enum tl_err sqlite_app_user_tier_set(struct store *store, struct id128 user_id,
                                            uint8_t tier, uint64_t updated_ns)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_USER_TIER_SET];
    uint8_t bytes[ID128_BYTES];
    int changes = 0;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    bind_id(stmt, 1, user_id, bytes);
    store_sqlite_bind_i64(stmt, 2, tier);
    store_sqlite_bind_u64(stmt, 3, updated_ns);
    enum tl_err err = identity_run(a, ASTMT_USER_TIER_SET, &changes);
    TL_ASSERT(err != TL_OK || changes == 1);
    return err;
}

/* ---- Exchange rates (migration 005) ---- */

static bool decode_fx_rate(sqlite3_stmt *stmt, void *row)
{
    struct store_fx_rate r;
    uint64_t source;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == FXCOL_COUNT);
    memset(&r, 0, sizeof(r));
    ok = col_u16(stmt, FXCOL_BASE, 1, &r.base) && r.base <= 999;
    ok = ok && col_u16(stmt, FXCOL_QUOTE, 1, &r.quote) && r.quote <= 999 && r.quote != r.base;
    ok = ok && col_positive(stmt, FXCOL_RATE_NUM, &r.rate_num);
    ok = ok && col_positive(stmt, FXCOL_RATE_DEN, &r.rate_den);
    ok = ok && col_time(stmt, FXCOL_UPDATED_NS, &r.updated_ns);
    ok = ok && col_uint(stmt, FXCOL_SOURCE, STORE_FX_SOURCE_FILE, STORE_FX_SOURCE_OPERATOR, &source);
    if (!ok) {
        return false;
    }
    r.source = (uint8_t)source;
    *(struct store_fx_rate *)row = r;
    return true;
}

static enum tl_err sqlite_app_fx_rate_put(struct store *store, const struct store_fx_rate *rate,
                                          bool *applied)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_FX_RATE_PUT];
    int rc;

    TL_ASSERT(sqlite3_get_autocommit(a->db));
    store_sqlite_bind_i64(stmt, FXCOL_BASE + 1, rate->base);
    store_sqlite_bind_i64(stmt, FXCOL_QUOTE + 1, rate->quote);
    store_sqlite_bind_i64(stmt, FXCOL_RATE_NUM + 1, rate->rate_num);
    store_sqlite_bind_i64(stmt, FXCOL_RATE_DEN + 1, rate->rate_den);
    store_sqlite_bind_u64(stmt, FXCOL_UPDATED_NS + 1, rate->updated_ns);
    store_sqlite_bind_i64(stmt, FXCOL_SOURCE + 1, rate->source);
    rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return app_fail(a, rc, "fx_rate_put");
    }
    *applied = sqlite3_changes(a->db) == 1;
    return TL_OK;
}

static enum tl_err sqlite_app_fx_rate_get(struct store *store, uint16_t base, uint16_t quote,
                                          struct store_fx_rate *out, bool *found)
{
    struct store_sqlite_app *a = app_from(store);
    store_sqlite_bind_i64(a->stmts[ASTMT_FX_RATE_GET], 1, base);
    store_sqlite_bind_i64(a->stmts[ASTMT_FX_RATE_GET], 2, quote);
    return app_lookup(a, ASTMT_FX_RATE_GET, decode_fx_rate, out, found);
}

static enum tl_err sqlite_app_fx_rates_list(struct store *store, struct store_fx_rate *out,
                                            uint32_t max, uint32_t *out_count)
{
    struct store_sqlite_app *a = app_from(store);
    sqlite3_stmt *stmt = a->stmts[ASTMT_FX_RATES_LIST];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;

    store_sqlite_bind_i64(stmt, 1, (int64_t)max + 1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == max) {
            err = TL_ERR_LIMIT;
            goto out;
        }
        if (!decode_fx_rate(stmt, &out[count])) {
            err = store_sqlite_corrupt("fx_rates_list");
            goto out;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = app_fail(a, rc, "fx_rates_list");
        goto out;
    }
    *out_count = count;
out:
    sqlite3_reset(stmt);
    return err;
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
    .totp_put = sqlite_app_totp_put,
    .totp_get = sqlite_app_totp_get,
    .totp_activate = sqlite_app_totp_activate,
    .totp_use_step = sqlite_app_totp_use_step,
    .totp_delete = sqlite_app_totp_delete,
    .recovery_code_use = sqlite_app_recovery_code_use,
    .recovery_codes_left = sqlite_app_recovery_codes_left,
    .mfa_challenge_create = sqlite_app_mfa_challenge_create,
    .mfa_challenge_get = sqlite_app_mfa_challenge_get,
    .mfa_challenge_consume = sqlite_app_mfa_challenge_consume,
    .sessions_list = sqlite_app_sessions_list,
    .session_revoke_id = sqlite_app_session_revoke_id,
    .sessions_revoke_others = sqlite_app_sessions_revoke_others,
    .user_password_set = sqlite_app_user_password_set,
    .audit_append = store_sqlite_audit_append,
    .audit_list = store_sqlite_audit_list,
    .payment_get = sqlite_app_payment_get,
    .payments_list = store_sqlite_payments_list,
    .idempotency_put = sqlite_app_idempotency_put,
    .idempotency_get = sqlite_app_idempotency_get,
    .idempotency_prune = sqlite_app_idempotency_prune,
    .idempotency_claim = sqlite_app_idempotency_claim,
    .idempotency_claim_release = sqlite_app_idempotency_claim_release,
    .idempotency_claims_prune = sqlite_app_idempotency_claims_prune,
    .outbox_list_range = sqlite_app_outbox_list_range,
    .outbox_seq_last = sqlite_app_outbox_seq_last,
    .outbox_append = sqlite_app_outbox_append,
    .quote_create = sqlite_app_quote_create,
    .quote_get = sqlite_app_quote_get,
    .requests_create = sqlite_app_requests_create,
    .request_get = sqlite_app_request_get,
    .requests_list = sqlite_app_requests_list,
    .request_claim = sqlite_app_request_claim,
    .request_unclaim = sqlite_app_request_unclaim,
    .request_close = sqlite_app_request_close,
    .passkey_create = sqlite_app_passkey_create,
    .passkey_find = sqlite_app_passkey_find,
    .passkeys_list = sqlite_app_passkeys_list,
    .passkey_revoke = sqlite_app_passkey_revoke,
    .passkey_use = sqlite_app_passkey_use,
    .webauthn_challenge_create = sqlite_app_webauthn_challenge_create,
    .webauthn_challenge_consume = sqlite_app_webauthn_challenge_consume,
    .refund_put = store_sqlite_refund_put,
    .refund_get = store_sqlite_refund_get,
    .refunds_list = store_sqlite_refunds_list,
    .refund_totals = store_sqlite_refund_totals,
    .dispute_create = store_sqlite_dispute_create,
    .dispute_get = store_sqlite_dispute_get,
    .disputes_list = store_sqlite_disputes_list,
    .dispute_resolve = store_sqlite_dispute_resolve,
    .fx_rate_put = sqlite_app_fx_rate_put,
    .fx_rate_get = sqlite_app_fx_rate_get,
    .fx_rates_list = sqlite_app_fx_rates_list,
    .record_write = sqlite_app_record_write,
    .plans = &store_sqlite_plans_ops, /* sqlite_plans.c */
    /* schema v5 notes rows: sqlite_notes.c */
    .encryption_key_put = store_sqlite_notes_key_put,
    .encryption_key_get = store_sqlite_notes_key_get,
    .encryption_key_delete = store_sqlite_notes_key_delete,
    .payment_notes_get = store_sqlite_notes_get,
    .session_touch = store_sqlite_notes_session_touch,
    .sessions_seen = store_sqlite_notes_sessions_seen,
    .stepup = &store_sqlite_stepup_ops, /* schema v5: sqlite_stepup.c */
    .limits_window = sqlite_app_limits_window,
    .user_tier_set = sqlite_app_user_tier_set,
    .audit_scan = store_sqlite_audit_scan,
    .audit_head = store_sqlite_audit_head,
    .audit_checkpoint_put = store_sqlite_audit_checkpoint_put,
    .audit_checkpoints_list = store_sqlite_audit_checkpoints_list,
    .audit_seal = store_sqlite_audit_seal,
    .records = &store_sqlite_records_ops, /* schema v6: sqlite_records.c */
};
