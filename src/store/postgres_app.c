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

#include "core/limits.h"
#include "store/backend.h"
#include "store/plans_backend.h"
#include "store/records_backend.h"
#include "store/postgres_private.h"
#include "util/assert.h"
#include "util/clock.h"
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

/* Identity tables of migration 004. */
#define TOTP_COLUMNS "user_id, sealed, active, last_step, created_ns"
#define CHALLENGE_COLUMNS "challenge_hash, user_id, created_ns, expires_ns, used"
#define PASSKEY_COLUMNS                                                                            \
    "id, user_id, credential_id, algorithm, public_key, sign_count, aaguid, name, created_ns, "    \
    "last_used_ns, revoked_ns"
#define PASSKEY_COLUMN_COUNT 11

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
/* $1 user, $2 role bits (1 payer, 2 requester). */
#define REQUESTS_ROLE                                                                              \
    "WHERE ((($2::integer & 1) <> 0 AND r.payer_id = $1::bytea) OR "                               \
    "(($2::integer & 2) <> 0 AND r.requester_id = $1::bytea)) "
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
/* The tier of $1 (migration 005) and its running totals of currency $3 in one direction in
 * the buckets that end after $2 (migration 006). */
#define PG_LIMITS_WINDOW_SQL(direction)                                                            \
    "SELECT coalesce((SELECT tier FROM user_tiers WHERE user_id = $1::bytea), 0)::bigint, "        \
    "coalesce(sum(amount), 0)::bigint, coalesce(sum(count), 0)::bigint, "                          \
    "coalesce(min(end_ns), 0)::bigint FROM limit_totals WHERE user_id = $1::bytea AND currency = " \
    "$3::integer AND direction = " direction " AND end_ns > $2::bigint"

/* Every statement, prepared by postgres.c at connect. */
#define APP_STMT_TABLE(X)                                                                          \
    X(ASTMT_QUOTE_INSERT,                                                                          \
      "INSERT INTO quotes (" QUOTE_COLUMNS ") VALUES ($1::bytea, $2::bytea, $3::integer, "         \
      "$4::bytea, $5::integer, $6::integer, $7::bigint, $8::bigint, $9::bigint, $10::bigint, "     \
      "$11::bigint, $12::bytea, $13::bigint, $14::bigint)")                                        \
    X(ASTMT_QUOTE_GET, "SELECT " QUOTE_COLUMNS ", EXISTS (SELECT 1 FROM payments p WHERE "         \
                       "p.id = quotes.payment_id) FROM quotes WHERE id = $1::bytea")               \
    /* The quotes of a writer batch (STORE_RECORD_QUOTE) in one INSERT of arrays. */               \
    X(ASTMT_QUOTES_WRITE,                                                                          \
      "INSERT INTO quotes (" QUOTE_COLUMNS ") SELECT * FROM unnest($1::bytea[], $2::bytea[], "     \
      "$3::integer[], $4::bytea[], $5::integer[], $6::integer[], $7::bigint[], $8::bigint[], "     \
      "$9::bigint[], $10::bigint[], $11::bigint[], $12::bytea[], $13::bigint[], $14::bigint[])")   \
    /* Requests and their outbox rows in one statement; the batch lock first (FROM l), so the  \
     * rows' seqs come in commit order with the batches' (as ASTMT_OUTBOX_APPEND's do). */      \
    X(ASTMT_REQUESTS_INSERT,                                                                       \
      "WITH l AS (SELECT pg_advisory_xact_lock(" PG_BATCH_LOCK_KEY ")), r AS ("                  \
      "INSERT INTO payment_requests (" REQUEST_COLUMNS ") SELECT u.* FROM l, unnest($1::bytea[], " \
      "$2::bytea[], $3::bytea[], $4::bigint[], $5::integer[], $6::integer[], $7::text[], "         \
      "$8::text[], $9::bytea[], $10::bytea[], $11::bigint[], $12::bigint[], $13::bigint[], "       \
      "$14::bigint[]) AS u) INSERT INTO outbox (key, topic, data, created) SELECT e.k, e.t, e.d, " \
      "$18::bigint FROM l, unnest($15::bytea[], $16::text[], $17::bytea[]) AS e(k, t, d)")          \
    X(ASTMT_REQUEST_GET, REQUEST_SELECT "WHERE r.id = $1::bytea")                                  \
    X(ASTMT_REQUESTS_OLDER, REQUEST_SELECT REQUESTS_ROLE "AND r.id < $3::bytea ORDER BY r.id "     \
                                                        "DESC LIMIT $4::bigint")                   \
    X(ASTMT_REQUESTS_NEWER, REQUEST_SELECT REQUESTS_ROLE "AND r.id > $3::bytea ORDER BY r.id "     \
                                                        "ASC LIMIT $4::bigint")                    \
    X(ASTMT_REQUEST_CLAIM,                                                                         \
      "UPDATE payment_requests SET pay_claim_ns = $3::bigint WHERE id = $1::bytea AND "            \
      "payer_id = $2::bytea AND status = 1 AND expires_ns > $3::bigint AND " REQUEST_UNPAID)       \
    X(ASTMT_REQUEST_UNCLAIM, "UPDATE payment_requests SET pay_claim_ns = 0 WHERE id = $1::bytea "  \
                             "AND pay_claim_ns = $2::bigint")                                      \
    /* The close and, only when it happened, its outbox rows; the batch lock is taken before  \
     * the row's (UPDATE ... FROM l), the order batches take them in. */                          \
    X(ASTMT_REQUEST_CLOSE,                                                                         \
      "WITH l AS (SELECT pg_advisory_xact_lock(" PG_BATCH_LOCK_KEY ")), c AS ("                  \
      "UPDATE payment_requests SET status = $3::integer, closed_ns = $4::bigint FROM l WHERE id = "\
      "$1::bytea AND (CASE WHEN $3::integer = 2 THEN payer_id ELSE requester_id END) = $2::bytea " \
      "AND status = 1 AND expires_ns > $4::bigint AND pay_claim_ns <= $5::bigint AND "             \
      REQUEST_UNPAID " RETURNING 1), o AS (INSERT INTO outbox (key, topic, data, created) SELECT " \
      "e.k, e.t, e.d, $9::bigint FROM l, unnest($6::bytea[], $7::text[], $8::bytea[]) AS "          \
      "e(k, t, d) WHERE EXISTS (SELECT 1 FROM c)) SELECT count(*) FROM c")                        \
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
                            "$2::bytea, $3::bytea, $4::bigint, $5::bigint, $6::integer, "          \
                            "$7::text)")                                                           \
    X(ASTMT_SESSION_GET, "SELECT " SESSION_COLUMNS " FROM sessions WHERE token_hash = $1::bytea")  \
    X(ASTMT_SESSION_REVOKE, "UPDATE sessions SET revoked = 1 WHERE token_hash = $1::bytea")        \
    /* Identity (migration 004): TOTP, recovery codes, challenges, sessions, audit log. */        \
    X(ASTMT_TOTP_GET, "SELECT " TOTP_COLUMNS " FROM mfa_totp WHERE user_id = $1::bytea")           \
    X(ASTMT_TOTP_PUT, "INSERT INTO mfa_totp (" TOTP_COLUMNS ") VALUES ($1::bytea, $2::bytea, 0, "  \
                      "0, $3::bigint) ON CONFLICT (user_id) DO UPDATE SET sealed = "               \
                      "excluded.sealed, last_step = 0, created_ns = excluded.created_ns "          \
                      "WHERE mfa_totp.active = 0")                                                 \
    X(ASTMT_TOTP_ACTIVATE,                                                                         \
      "WITH t AS (UPDATE mfa_totp SET active = 1, last_step = $2::bigint WHERE user_id = "         \
      "$1::bytea AND active = 0 AND last_step < $2::bigint RETURNING user_id), "                   \
      "d AS (DELETE FROM mfa_recovery_codes WHERE user_id = $1::bytea AND EXISTS (SELECT 1 "       \
      "FROM t)), i AS (INSERT INTO mfa_recovery_codes (user_id, code_hash, used_ns) SELECT "       \
      "$1::bytea, h, 0 FROM unnest(ARRAY[$3::bytea, $4::bytea, $5::bytea, $6::bytea, $7::bytea, "  \
      "$8::bytea, $9::bytea, $10::bytea, $11::bytea, $12::bytea]) h WHERE EXISTS (SELECT 1 "       \
      "FROM t)) SELECT count(*) FROM t")                                                           \
    X(ASTMT_TOTP_USE_STEP, "UPDATE mfa_totp SET last_step = $2::bigint WHERE user_id = $1::bytea " \
                           "AND active = 1 AND last_step < $2::bigint")                            \
    X(ASTMT_TOTP_DELETE, "WITH r AS (DELETE FROM mfa_recovery_codes WHERE user_id = $1::bytea) "   \
                         "DELETE FROM mfa_totp WHERE user_id = $1::bytea")                         \
    X(ASTMT_RECOVERY_USE, "UPDATE mfa_recovery_codes SET used_ns = $3::bigint WHERE user_id = "    \
                          "$1::bytea AND code_hash = $2::bytea AND used_ns = 0")                   \
    X(ASTMT_RECOVERY_LEFT, "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1::bytea "    \
                           "AND used_ns = 0")                                                      \
    X(ASTMT_CHALLENGE_CREATE,                                                                      \
      "WITH d AS (DELETE FROM mfa_challenges WHERE expires_ns < $3::bigint) INSERT INTO "          \
      "mfa_challenges (" CHALLENGE_COLUMNS ") VALUES ($1::bytea, $2::bytea, $3::bigint, "          \
      "$4::bigint, 0)")                                                                            \
    X(ASTMT_CHALLENGE_GET, "SELECT " CHALLENGE_COLUMNS " FROM mfa_challenges WHERE "               \
                           "challenge_hash = $1::bytea")                                           \
    X(ASTMT_CHALLENGE_CONSUME, "UPDATE mfa_challenges SET used = 1 WHERE challenge_hash = "        \
                               "$1::bytea AND used = 0 AND expires_ns > $2::bigint")               \
    X(ASTMT_SESSIONS_LIST, "SELECT " SESSION_COLUMNS " FROM sessions WHERE user_id = $1::bytea "   \
                           "AND revoked = 0 AND expires_ns > $2::bigint ORDER BY created_ns "      \
                           "DESC, id DESC LIMIT $3::bigint")                                       \
    X(ASTMT_SESSION_REVOKE_ID, "UPDATE sessions SET revoked = 1 WHERE user_id = $1::bytea AND "    \
                               "id = $2::bytea AND revoked = 0")                                   \
    X(ASTMT_SESSIONS_REVOKE_OTHERS, "UPDATE sessions SET revoked = 1 WHERE user_id = $1::bytea "   \
                                    "AND id <> $2::bytea AND revoked = 0")                         \
    X(ASTMT_USER_PASSWORD_SET,                                                                     \
      "WITH u AS (UPDATE users SET password_hash = $2::text WHERE id = $1::bytea RETURNING id), "  \
      "s AS (UPDATE sessions SET revoked = 1 WHERE user_id = $1::bytea AND id <> $3::bytea AND "   \
      "revoked = 0 AND EXISTS (SELECT 1 FROM u)) SELECT count(*) FROM u")                          \
    /* Passkeys (migration 004): credentials, the sign-count compare and set, challenges. */     \
    X(ASTMT_PASSKEY_INSERT,                                                                        \
      "INSERT INTO passkeys (" PASSKEY_COLUMNS ") SELECT $1::bytea, $2::bytea, $3::bytea, "         \
      "$4::integer, $5::bytea, $6::bigint, $7::bytea, $8::text, $9::bigint, 0, 0 WHERE (SELECT "   \
      "count(*) FROM passkeys WHERE user_id = $2::bytea AND revoked_ns = 0) < $10::bigint")       \
    X(ASTMT_PASSKEY_FIND, "SELECT " PASSKEY_COLUMNS " FROM passkeys WHERE credential_id = "        \
                          "$1::bytea")                                                             \
    X(ASTMT_PASSKEYS_LIST, "SELECT " PASSKEY_COLUMNS " FROM passkeys WHERE user_id = $1::bytea "   \
                           "AND revoked_ns = 0 ORDER BY created_ns, id LIMIT $2::bigint")          \
    X(ASTMT_PASSKEY_REVOKE, "UPDATE passkeys SET revoked_ns = $3::bigint WHERE user_id = "         \
                            "$1::bytea AND id = $2::bytea AND revoked_ns = 0")                     \
    X(ASTMT_PASSKEY_USE, "UPDATE passkeys SET sign_count = $2::bigint, last_used_ns = $3::bigint " \
                         "WHERE id = $1::bytea AND revoked_ns = 0 AND (sign_count < $2::bigint "  \
                         "OR (sign_count = 0 AND $2::bigint = 0))")                                \
    X(ASTMT_WEBAUTHN_CREATE,                                                                       \
      "WITH d AS (DELETE FROM webauthn_challenges WHERE expires_ns < $4::bigint) INSERT INTO "     \
      "webauthn_challenges (challenge_hash, kind, user_id, created_ns, expires_ns) VALUES "        \
      "($1::bytea, $2::integer, $3::bytea, $4::bigint, $5::bigint)")                               \
    X(ASTMT_WEBAUTHN_CONSUME, "DELETE FROM webauthn_challenges WHERE challenge_hash = $1::bytea "  \
                              "AND kind = $2::integer AND expires_ns > $3::bigint RETURNING "     \
                              "user_id")                                                           \
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
      "WHERE i.scope = d.scope AND i.key = d.key")                                                 \
    /* Claims (migration 004). The insert takes a free or expired claim and answers the claim  \
     * as it stands: true when it is ours; false with the live holder's hash (read with the     \
     * statement's snapshot, so a holder that committed after it began is missed: no row, and  \
     * the caller runs the statement again). */                                                    \
    X(ASTMT_CLAIM_TAKE,                                                                            \
      "WITH ins AS (INSERT INTO idempotency_claims (scope, key, request_hash, owner, expires_ns) "  \
      "VALUES ($1::text, $2::text, $3::bytea, $4::bytea, $5::bigint) ON CONFLICT (scope, key) "    \
      "DO UPDATE SET request_hash = EXCLUDED.request_hash, owner = EXCLUDED.owner, "               \
      "expires_ns = EXCLUDED.expires_ns WHERE idempotency_claims.expires_ns <= $6::bigint "        \
      "RETURNING request_hash) SELECT request_hash, true FROM ins UNION ALL "                      \
      "SELECT request_hash, false FROM idempotency_claims WHERE scope = $1::text AND "             \
      "key = $2::text AND expires_ns > $6::bigint AND NOT EXISTS (SELECT 1 FROM ins)")             \
    X(ASTMT_CLAIM_DELETE, "DELETE FROM idempotency_claims WHERE scope = $1::text AND "             \
                          "key = $2::text AND owner = $3::bytea")                                  \
    X(ASTMT_CLAIMS_PRUNE, "DELETE FROM idempotency_claims WHERE expires_ns <= $1::bigint")         \
    /* The fence of a batch: each claimed answer deletes its own claim, or the batch fails. */     \
    X(ASTMT_CLAIMS_FENCE, "DELETE FROM idempotency_claims c USING unnest($1::text[], "             \
                          "$2::text[], $3::bytea[]) AS u(scope, key, owner) WHERE "                \
                          "c.scope = u.scope AND c.key = u.key AND c.owner = u.owner")             \
    /* A user's events in a seq range (a range of the primary key, no key index), newest seq. */  \
    X(ASTMT_OUTBOX_LIST_KEY, "SELECT seq, key, topic, data FROM outbox WHERE seq > $2::bigint "    \
                             "AND seq <= $4::bigint AND key = $1::bytea ORDER BY seq "             \
                             "LIMIT $3::bigint")                                                   \
    X(ASTMT_OUTBOX_LIST_TOPIC, "SELECT seq, key, topic, data FROM outbox WHERE seq > $2::bigint "  \
                               "AND seq <= $4::bigint AND topic = $1::text ORDER BY seq "          \
                               "LIMIT $3::bigint")                                                 \
    X(ASTMT_OUTBOX_SEQ_LAST, "SELECT coalesce(max(seq), 0)::bigint FROM outbox")                \
    /* The batch lock first (the CTE's row feeds the insert), so the row's seq commits in     \
     * order with the batches' rows: the event hub's cursor never passes a later commit. */    \
    X(ASTMT_OUTBOX_APPEND,                                                                     \
      "WITH l AS (SELECT pg_advisory_xact_lock(" PG_BATCH_LOCK_KEY ")) "                       \
      "INSERT INTO outbox (key, topic, data, created) "                                        \
      "SELECT $1::bytea, $2::text, $3::bytea, $4::bigint FROM l RETURNING seq")               \
    /* Exchange rates (migration 005): a newer rate of a pair replaces an older one. */       \
    X(ASTMT_FX_RATE_PUT,                                                                       \
      "INSERT INTO fx_rates (" FX_RATE_COLUMNS ") VALUES ($1::integer, $2::integer, "          \
      "$3::bigint, $4::bigint, $5::bigint, $6::integer) ON CONFLICT (base, quote) DO UPDATE "  \
      "SET rate_num = EXCLUDED.rate_num, rate_den = EXCLUDED.rate_den, updated_ns = "          \
      "EXCLUDED.updated_ns, source = EXCLUDED.source WHERE fx_rates.updated_ns < "             \
      "EXCLUDED.updated_ns")                                                                   \
    X(ASTMT_FX_RATE_GET, "SELECT " FX_RATE_COLUMNS " FROM fx_rates WHERE base = $1::integer "  \
                         "AND quote = $2::integer")                                            \
    X(ASTMT_FX_RATES_LIST, "SELECT " FX_RATE_COLUMNS " FROM fx_rates ORDER BY base, quote "    \
                           "LIMIT $1::bigint") \
    /* Tiers and limit windows (migration 005): a window is a sum over one payments index    \
     * range; the cast of the numeric sum refuses a total past a bigint. */                  \
    X(ASTMT_LIMITS_SENT, PG_LIMITS_WINDOW_SQL("1"))                                            \
    X(ASTMT_LIMITS_RECEIVED, PG_LIMITS_WINDOW_SQL("2"))                                        \
    X(ASTMT_LIMIT_USAGE_WRITE,                                                                     \
      "INSERT INTO limit_totals AS t (user_id, currency, direction, end_ns, amount, count) "       \
      "SELECT u, c, d, e, sum(a), count(*) FROM unnest($1::bytea[], $2::integer[], "               \
      "$3::integer[], $4::bigint[], $5::bigint[]) AS r(u, c, d, e, a) GROUP BY u, c, d, e "        \
      "ON CONFLICT (user_id, currency, direction, end_ns) DO UPDATE SET amount = t.amount + "      \
      "excluded.amount, count = t.count + excluded.count")                                         \
    /* Buckets no window can count again (migration 010: both ends are index ranges). */       \
    X(ASTMT_LIMIT_TOTALS_PRUNE,                                                                    \
      "DELETE FROM limit_totals WHERE end_ns <= (SELECT coalesce(max(end_ns), 0) FROM "            \
      "limit_totals) - $1::bigint")                                                                \
    X(ASTMT_USER_TIER_SET, "INSERT INTO user_tiers (user_id, tier, updated_ns) VALUES "         \
                           "($1::bytea, $2::integer, $3::bigint) ON CONFLICT (user_id) DO "    \
                           "UPDATE SET tier = excluded.tier, updated_ns = excluded.updated_ns")

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
    ok = ok && pg_col_text(res, row, SCOL_USER_AGENT, s.user_agent, sizeof(s.user_agent), true);
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

typedef store_postgres_decode_fn app_decode_fn;

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

/* Runs a statement that returns a list and decodes row i into the i-th of items (item_bytes
 * each). When the statement asked for max + 1 rows (one_more) to tell "too many", that extra
 * row answers TL_ERR_LIMIT; any other count over max is corrupt. *out_count is set only on
 * TL_OK. */
static enum tl_err app_list(struct store *store, enum app_stmt which, const struct pg_params *p,
                            app_decode_fn decode, void *items, size_t item_bytes, uint32_t max,
                            bool one_more, uint32_t *out_count)
{
    PGresult *res = NULL;
    enum tl_err err = app_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    if (rows < 0 || (uint64_t)rows > (uint64_t)max + (one_more ? 1u : 0u)) {
        err = store_postgres_corrupt(app_stmt_name[which]);
    } else if ((uint32_t)rows > max) {
        err = TL_ERR_LIMIT;
    }
    for (int i = 0; err == TL_OK && i < rows; i++) {
        if (!decode(res, i, (char *)items + (size_t)i * item_bytes)) {
            err = store_postgres_corrupt(app_stmt_name[which]);
        }
    }
    if (err == TL_OK) {
        *out_count = (uint32_t)rows;
    }
    PQclear(res);
    return err;
}

/* Runs a page statement that asked for limit + 1 rows in its own direction (older: newest
 * first; newer: oldest first) and decodes at most limit of them into items newest first;
 * the extra row only says there are more. */
static enum tl_err app_page(struct store *store, enum app_stmt which, const struct pg_params *p,
                            app_decode_fn decode, void *items, size_t item_bytes, uint32_t limit,
                            bool newer, uint32_t *out_count, bool *has_more)
{
    PGresult *res = NULL;
    enum tl_err err = app_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    err = store_postgres_rows_decode(res, app_stmt_name[which], decode, items, item_bytes, limit,
                                     newer, out_count, has_more);
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
    pg_param_text(&p, session->user_agent);
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

/* ---- Identity (schema v4): TOTP, recovery codes, challenges, sessions, audit log ---- */

static bool row_totp(const PGresult *res, int row, void *item)
{
    struct store_totp t;
    int32_t active;
    int bytes;
    bool ok;

    TL_ASSERT(PQnfields(res) == 5);
    memset(&t, 0, sizeof(t));
    ok = col_id(res, row, 0, &t.user_id);
    bytes = PQgetisnull(res, row, 1) ? -1 : PQgetlength(res, row, 1);
    ok = ok && bytes > 0 && bytes <= STORE_TOTP_SEALED_BYTES_MAX;
    ok = ok && pg_col_int_range(res, row, 2, 0, 1, &active);
    ok = ok && pg_col_uint(res, row, 3, 0, INT64_MAX, &t.last_step);
    ok = ok && col_time(res, row, 4, &t.created_ns);
    if (!ok) {
        return false;
    }
    memcpy(t.sealed, PQgetvalue(res, row, 1), (size_t)bytes);
    t.sealed_bytes = (uint32_t)bytes;
    t.active = active == 1;
    *(struct store_totp *)item = t;
    return true;
}

static bool row_challenge(const PGresult *res, int row, void *item)
{
    struct store_mfa_challenge c;
    int32_t used;
    bool ok;

    TL_ASSERT(PQnfields(res) == 5);
    memset(&c, 0, sizeof(c));
    ok = col_hash(res, row, 0, c.hash);
    ok = ok && col_id(res, row, 1, &c.user_id);
    ok = ok && col_time(res, row, 2, &c.created_ns);
    ok = ok && col_time(res, row, 3, &c.expires_ns);
    ok = ok && pg_col_int_range(res, row, 4, 0, 1, &used);
    if (!ok) {
        return false;
    }
    c.used = used == 1;
    *(struct store_mfa_challenge *)item = c;
    return true;
}

/* Runs a write statement; *changes is PQcmdTuples of the answer. */
static enum tl_err identity_write(struct store *store, enum app_stmt which,
                                  const struct pg_params *p, uint64_t *changes)
{
    PGresult *res = NULL;
    char *end = NULL;

    app_assert_no_batch(store);
    enum tl_err err = app_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    const char *text = PQcmdTuples(res);
    *changes = strtoull(text, &end, 10);
    if (text[0] == '\0' || end == NULL || *end != '\0') {
        err = store_postgres_corrupt(app_stmt_name[which]);
    }
    PQclear(res);
    return err;
}

/* Runs a statement answering one row of one bigint (a count). */
static enum tl_err identity_count(struct store *store, enum app_stmt which,
                                  const struct pg_params *p, uint64_t *out)
{
    PGresult *res = NULL;
    enum tl_err err = app_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) != 1 || !pg_col_uint(res, 0, 0, 0, INT64_MAX, out)) {
        err = store_postgres_corrupt(app_stmt_name[which]);
    }
    PQclear(res);
    return err;
}

static enum tl_err pg_app_totp_put(struct store *store, const struct store_totp *totp)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, totp->user_id);
    pg_param_bytes(&p, totp->sealed, totp->sealed_bytes);
    pg_param_u64_clamped(&p, totp->created_ns);
    enum tl_err err = identity_write(store, ASTMT_TOTP_PUT, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_CONFLICT : err;
}

static enum tl_err pg_app_totp_get(struct store *store, struct id128 user_id,
                                   struct store_totp *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    return app_lookup(store, ASTMT_TOTP_GET, &p, row_totp, out, found);
}

/* One statement: activate, then replace the recovery codes only if a row was activated. */
static enum tl_err pg_app_totp_activate(struct store *store, struct id128 user_id, uint64_t step,
                                        const uint8_t hashes[STORE_RECOVERY_CODES]
                                                            [STORE_HASH_BYTES])
{
    struct pg_params p;
    uint64_t activated = 0;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, step);
    for (int i = 0; i < STORE_RECOVERY_CODES; i++) {
        pg_param_bytes(&p, hashes[i], STORE_HASH_BYTES);
    }
    enum tl_err err = identity_count(store, ASTMT_TOTP_ACTIVATE, &p, &activated);
    return err == TL_OK && activated == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err pg_app_totp_use_step(struct store *store, struct id128 user_id, uint64_t step)
{
    struct pg_params p;
    struct store_totp row;
    uint64_t changes = 0;
    bool found = false;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, step);
    enum tl_err err = identity_write(store, ASTMT_TOTP_USE_STEP, &p, &changes);
    if (err != TL_OK || changes == 1) {
        return err;
    }
    err = pg_app_totp_get(store, user_id, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    return found && row.active ? TL_ERR_CONFLICT : TL_ERR_NOT_FOUND;
}

static enum tl_err pg_app_totp_delete(struct store *store, struct id128 user_id)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    enum tl_err err = identity_write(store, ASTMT_TOTP_DELETE, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err pg_app_recovery_code_use(struct store *store, struct id128 user_id,
                                            const uint8_t hash[STORE_HASH_BYTES], uint64_t now_ns)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_bytes(&p, hash, STORE_HASH_BYTES);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err = identity_write(store, ASTMT_RECOVERY_USE, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err pg_app_recovery_codes_left(struct store *store, struct id128 user_id,
                                              uint32_t *out_count)
{
    struct pg_params p;
    uint64_t count = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    enum tl_err err = identity_count(store, ASTMT_RECOVERY_LEFT, &p, &count);
    if (err == TL_OK && count > STORE_RECOVERY_CODES) {
        err = store_postgres_corrupt("recovery_codes_left");
    }
    if (err == TL_OK) {
        *out_count = (uint32_t)count;
    }
    return err;
}

static enum tl_err pg_app_mfa_challenge_create(struct store *store,
                                               const struct store_mfa_challenge *c)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_bytes(&p, c->hash, STORE_HASH_BYTES);
    pg_param_id(&p, c->user_id);
    pg_param_u64_clamped(&p, c->created_ns);
    pg_param_u64_clamped(&p, c->expires_ns);
    return identity_write(store, ASTMT_CHALLENGE_CREATE, &p, &changes);
}

static enum tl_err pg_app_mfa_challenge_get(struct store *store,
                                            const uint8_t hash[STORE_HASH_BYTES],
                                            struct store_mfa_challenge *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_bytes(&p, hash, STORE_HASH_BYTES);
    return app_lookup(store, ASTMT_CHALLENGE_GET, &p, row_challenge, out, found);
}

static enum tl_err pg_app_mfa_challenge_consume(struct store *store,
                                                const uint8_t hash[STORE_HASH_BYTES],
                                                uint64_t now_ns)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_bytes(&p, hash, STORE_HASH_BYTES);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err = identity_write(store, ASTMT_CHALLENGE_CONSUME, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err pg_app_sessions_list(struct store *store, struct id128 user_id, uint64_t now_ns,
                                        struct store_session *out, uint32_t max,
                                        uint32_t *out_count)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_i64(&p, max);
    return app_list(store, ASTMT_SESSIONS_LIST, &p, row_session, out, sizeof(*out), max, false,
                    out_count);
}

static enum tl_err pg_app_session_revoke_id(struct store *store, struct id128 user_id,
                                            struct id128 session_id)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_id(&p, session_id);
    enum tl_err err = identity_write(store, ASTMT_SESSION_REVOKE_ID, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err pg_app_sessions_revoke_others(struct store *store, struct id128 user_id,
                                                 struct id128 keep_id, uint32_t *out_count)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_id(&p, keep_id);
    enum tl_err err = identity_write(store, ASTMT_SESSIONS_REVOKE_OTHERS, &p, &changes);
    if (err == TL_OK) {
        *out_count = changes > UINT32_MAX ? UINT32_MAX : (uint32_t)changes;
    }
    return err;
}

/* One statement: the new hash, and the other sessions revoked only if the user exists. */
static enum tl_err pg_app_user_password_set(struct store *store, struct id128 user_id,
                                            const char *password_hash, struct id128 keep_id)
{
    struct pg_params p;
    uint64_t updated = 0;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_text(&p, password_hash);
    pg_param_id(&p, keep_id);
    enum tl_err err = identity_count(store, ASTMT_USER_PASSWORD_SET, &p, &updated);
    return err == TL_OK && updated == 0 ? TL_ERR_NOT_FOUND : err;
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

    if (cursor == 0) {
        cursor = UINT64_MAX;
    }
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, cursor);
    pg_param_i64(&p, (int64_t)page->limit + 1);
    return app_page(store, which, &p, row_payment, out, sizeof(*out), page->limit, newer, out_count,
                    has_more);
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

/* ---- Idempotency claims ---- */

/* Tries of the claim statement when the holder it conflicted with is not in its snapshot. */
#define APP_CLAIM_TRIES 3

static enum tl_err pg_app_idempotency_claim(struct store *store,
                                            const struct store_idempotency_claim *claim,
                                            uint64_t now_ns, enum store_claim_result *out)
{
    app_assert_no_batch(store);
    for (int attempt = 0; attempt < APP_CLAIM_TRIES; attempt++) {
        struct pg_params p;
        PGresult *res = NULL;
        uint8_t hash[STORE_HASH_BYTES];
        bool ours = false;
        enum tl_err err;

        pg_params_init(&p);
        pg_param_text(&p, claim->scope);
        pg_param_text(&p, claim->key);
        pg_param_bytes(&p, claim->request_hash, STORE_HASH_BYTES);
        pg_param_id(&p, claim->owner);
        pg_param_u64_clamped(&p, claim->expires_ns);
        pg_param_u64_clamped(&p, now_ns);
        err = app_run(store, ASTMT_CLAIM_TAKE, &p, &res);
        if (err != TL_OK) {
            return err;
        }
        int rows = PQntuples(res);
        if (rows == 1 && (!col_hash(res, 0, 0, hash) || !col_bool(res, 0, 1, &ours))) {
            rows = -1;
        }
        PQclear(res);
        if (rows == 0) {
            continue; /* the holder committed after the statement's snapshot: look again */
        }
        if (rows != 1) {
            return store_postgres_corrupt("idempotency_claim");
        }
        if (ours) {
            *out = STORE_CLAIM_ACQUIRED;
        } else {
            *out = memcmp(hash, claim->request_hash, STORE_HASH_BYTES) == 0
                       ? STORE_CLAIM_HELD
                       : STORE_CLAIM_HELD_OTHER;
        }
        return TL_OK;
    }
    return TL_ERR_BUSY;
}

static enum tl_err pg_app_idempotency_claim_release(struct store *store, const char *scope,
                                                    const char *key, struct id128 owner)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_text(&p, scope);
    pg_param_text(&p, key);
    pg_param_id(&p, owner);
    err = app_run(store, ASTMT_CLAIM_DELETE, &p, &res);
    PQclear(res);
    return err;
}

/* Claims are few (requests in flight and what crashed nodes left), so one statement. */
static enum tl_err pg_app_idempotency_claims_prune(struct store *store, uint64_t now_ns,
                                                   uint32_t *out_deleted)
{
    struct pg_params p;
    PGresult *res = NULL;
    char *end = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_u64_clamped(&p, now_ns);
    err = app_run(store, ASTMT_CLAIMS_PRUNE, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    unsigned long long deleted = strtoull(PQcmdTuples(res), &end, 10);
    bool parsed = end != NULL && *end == '\0' && PQcmdTuples(res)[0] != '\0';
    PQclear(res);
    if (!parsed) {
        return store_postgres_corrupt("idempotency_claims_prune");
    }
    *out_deleted = deleted > UINT32_MAX ? UINT32_MAX : (uint32_t)deleted;
    return TL_OK;
}

/* ---- A key's outbox rows ---- */

static enum tl_err outbox_key_row(const PGresult *res, int row, struct store_outbox_row *out)
{
    uint64_t seq;
    struct id128 key;
    int data_bytes;

    memset(out, 0, sizeof(*out));
    if (!pg_col_uint(res, row, 0, 1, INT64_MAX, &seq) || !col_id(res, row, 1, &key) ||
        !pg_col_text(res, row, 2, out->topic, sizeof(out->topic), false) ||
        PQgetisnull(res, row, 3)) {
        return store_postgres_corrupt("outbox_list_range");
    }
    data_bytes = PQgetlength(res, row, 3);
    if (data_bytes < 0 || data_bytes > TL_RECORD_BYTES_MAX) {
        return store_postgres_corrupt("outbox_list_range");
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

static enum tl_err pg_app_outbox_list_range(struct store *store,
                                            const struct store_outbox_filter *filter,
                                            uint64_t after_seq, uint64_t upto_seq, uint32_t limit,
                                            struct store_outbox_row *out, uint32_t *out_count)
{
    struct pg_params p;
    PGresult *res = NULL;
    uint32_t count = 0;
    enum tl_err err;

    pg_params_init(&p);
    if (filter->topic != NULL) {
        pg_param_text(&p, filter->topic);
    } else {
        pg_param_id(&p, filter->key);
    }
    pg_param_u64_clamped(&p, after_seq);
    pg_param_i64(&p, limit);
    pg_param_u64_clamped(&p, upto_seq);
    err = app_run(store, filter->topic != NULL ? ASTMT_OUTBOX_LIST_TOPIC : ASTMT_OUTBOX_LIST_KEY,
                  &p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) < 0 || (uint32_t)PQntuples(res) > limit) {
        err = store_postgres_corrupt("outbox_list_range");
    }
    for (; err == TL_OK && count < (uint32_t)PQntuples(res); count++) {
        err = outbox_key_row(res, (int)count, &out[count]);
        if (err != TL_OK) {
            store_outbox_rows_free(out, count);
        }
    }
    PQclear(res);
    if (err == TL_OK) {
        *out_count = count;
    }
    return err;
}

static enum tl_err pg_app_outbox_seq_last(struct store *store, uint64_t *out_seq)
{
    struct pg_params p;
    PGresult *res = NULL;
    uint64_t seq = 0;
    enum tl_err err;

    pg_params_init(&p);
    err = app_run(store, ASTMT_OUTBOX_SEQ_LAST, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) != 1 || !pg_col_uint(res, 0, 0, 0, INT64_MAX, &seq)) {
        err = store_postgres_corrupt("outbox_seq_last");
    }
    PQclear(res);
    if (err == TL_OK) {
        *out_seq = seq;
    }
    return err;
}

static enum tl_err pg_app_outbox_append(struct store *store, struct id128 key, const char *topic,
                                        const void *data, uint32_t data_bytes,
                                        uint64_t *out_seq)
{
    static const uint8_t empty[1] = {0};
    struct pg_params p;
    PGresult *res = NULL;
    uint64_t seq = 0;
    enum tl_err err;

    pg_params_init(&p);
    pg_param_id(&p, key);
    pg_param_text(&p, topic);
    pg_param_bytes(&p, data_bytes > 0 ? data : empty, data_bytes);
    pg_param_i64(&p, (int64_t)clock_wall_ns());
    err = app_run(store, ASTMT_OUTBOX_APPEND, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) != 1 || !pg_col_uint(res, 0, 0, 1, INT64_MAX, &seq)) {
        err = store_postgres_corrupt("outbox_append");
    }
    PQclear(res);
    if (err == TL_OK) {
        *out_seq = seq;
    }
    return err;
}

/* ---- Quotes and payment requests ---- */

static bool col_positive(const PGresult *res, int row, int col, int64_t *out)
{
    return pg_col_i64(res, row, col, out) && *out > 0;
}

static bool row_quote(const PGresult *res, int row, void *item)
{
    struct store_quote q;
    int32_t operation, send, receive;
    bool ok;

    TL_ASSERT(PQnfields(res) == QCOL_COUNT);
    memset(&q, 0, sizeof(q));
    ok = col_id(res, row, QCOL_ID, &q.id);
    ok = ok && col_id(res, row, QCOL_USER_ID, &q.user_id);
    ok = ok && pg_col_int_range(res, row, QCOL_OPERATION, 0, 4, &operation);
    ok = ok && pg_col_id_optional(res, row, QCOL_RECIPIENT_ID, &q.recipient_id);
    ok = ok && pg_col_int_range(res, row, QCOL_SEND_CURRENCY, 1, UINT16_MAX, &send);
    ok = ok && pg_col_int_range(res, row, QCOL_RECEIVE_CURRENCY, 1, UINT16_MAX, &receive);
    ok = ok && col_positive(res, row, QCOL_AMOUNT, &q.amount);
    ok = ok && pg_col_i64(res, row, QCOL_FEE, &q.fee) && q.fee >= 0;
    ok = ok && col_positive(res, row, QCOL_SENT, &q.sent);
    ok = ok && col_positive(res, row, QCOL_RATE_NUM, &q.rate_num);
    ok = ok && col_positive(res, row, QCOL_RATE_DEN, &q.rate_den);
    ok = ok && col_id(res, row, QCOL_PAYMENT_ID, &q.payment_id);
    ok = ok && col_time(res, row, QCOL_CREATED_NS, &q.created_ns);
    ok = ok && col_time(res, row, QCOL_EXPIRES_NS, &q.expires_ns);
    ok = ok && col_bool(res, row, QCOL_USED, &q.used);
    if (!ok) {
        return false;
    }
    q.operation = (uint8_t)operation;
    q.send_currency = (uint16_t)send;
    q.receive_currency = (uint16_t)receive;
    *(struct store_quote *)item = q;
    return true;
}

static bool row_request(const PGresult *res, int row, void *item)
{
    struct store_request *r = item;
    int32_t currency = 0, status = 0;
    bool ok;

    TL_ASSERT(PQnfields(res) == RCOL_COUNT);
    memset(r, 0, sizeof(*r));
    ok = col_id(res, row, RCOL_ID, &r->id);
    ok = ok && col_id(res, row, RCOL_REQUESTER_ID, &r->requester_id);
    ok = ok && col_id(res, row, RCOL_PAYER_ID, &r->payer_id);
    ok = ok && col_positive(res, row, RCOL_AMOUNT, &r->amount);
    ok = ok && pg_col_int_range(res, row, RCOL_CURRENCY, 1, UINT16_MAX, &currency);
    ok = ok && pg_col_int_range(res, row, RCOL_STATUS, STORE_REQUEST_OPEN, STORE_REQUEST_CANCELED,
                                &status);
    ok = ok && pg_col_text(res, row, RCOL_FROM_TEXT, r->from_text, sizeof(r->from_text), false);
    ok = ok && pg_col_text(res, row, RCOL_NOTE, r->note, sizeof(r->note), true);
    ok = ok && pg_col_id_optional(res, row, RCOL_SPLIT_ID, &r->split_id);
    ok = ok && col_id(res, row, RCOL_PAYMENT_ID, &r->payment_id);
    ok = ok && col_time(res, row, RCOL_CREATED_NS, &r->created_ns);
    ok = ok && col_time(res, row, RCOL_EXPIRES_NS, &r->expires_ns);
    ok = ok && pg_col_uint(res, row, RCOL_CLOSED_NS, 0, INT64_MAX, &r->closed_ns);
    ok = ok && pg_col_uint(res, row, RCOL_PAY_CLAIM_NS, 0, INT64_MAX, &r->pay_claim_ns);
    if (ok && !PQgetisnull(res, row, RCOL_PAID_NS)) {
        ok = col_time(res, row, RCOL_PAID_NS, &r->paid_ns);
        r->paid = true;
    }
    r->currency = (uint16_t)currency;
    r->status = (uint8_t)status;
    return ok && !id128_eq(r->requester_id, r->payer_id);
}

static enum tl_err pg_app_quote_create(struct store *store, const struct store_quote *q)
{
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_id(&p, q->id);
    pg_param_id(&p, q->user_id);
    pg_param_i32(&p, q->operation);
    if (id128_is_zero(q->recipient_id)) {
        pg_param_null(&p);
    } else {
        pg_param_id(&p, q->recipient_id);
    }
    pg_param_i32(&p, q->send_currency);
    pg_param_i32(&p, q->receive_currency);
    pg_param_i64(&p, q->amount);
    pg_param_i64(&p, q->fee);
    pg_param_i64(&p, q->sent);
    pg_param_i64(&p, q->rate_num);
    pg_param_i64(&p, q->rate_den);
    pg_param_id(&p, q->payment_id);
    pg_param_u64_clamped(&p, q->created_ns);
    pg_param_u64_clamped(&p, q->expires_ns);
    err = app_run(store, ASTMT_QUOTE_INSERT, &p, &res);
    PQclear(res);
    return err;
}

static enum tl_err pg_app_quote_get(struct store *store, struct id128 id, struct store_quote *out,
                                    bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return app_lookup(store, ASTMT_QUOTE_GET, &p, row_quote, out, found);
}

/* Every row in one INSERT of arrays: a split's requests exist together or not at all. */
/* Bytes of the three arrays outbox_new_arrays appends. */
static size_t outbox_new_bytes(const struct store_outbox_new *events, uint32_t count)
{
    size_t bytes = pg_array_bytes_max(count, ID128_BYTES) + pg_array_bytes_max(count, 64) + 20;
    for (uint32_t i = 0; i < count; i++) {
        bytes += 4 + events[i].data_bytes;
    }
    return bytes;
}

/* The keys, topics and payloads of an app-row change's outbox rows, as three array params. */
static void outbox_new_arrays(struct pg_params *p, struct pg_buf *buf,
                              const struct store_outbox_new *events, uint32_t count)
{
    pg_array_begin(p, buf, PG_OID_BYTEA, count);
    for (uint32_t i = 0; i < count; i++) {
        pg_array_id(buf, events[i].key);
    }
    pg_array_begin(p, buf, PG_OID_TEXT, count);
    for (uint32_t i = 0; i < count; i++) {
        pg_array_text(buf, events[i].topic);
    }
    pg_array_begin(p, buf, PG_OID_BYTEA, count);
    for (uint32_t i = 0; i < count; i++) {
        pg_array_bytes(buf, events[i].data, events[i].data_bytes);
    }
}

static enum tl_err pg_app_requests_create(struct store *store, const struct store_request *rows,
                                          uint32_t count, const struct store_outbox_new *events,
                                          uint32_t event_count)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    err = pg_buf_reset(buf, 12 * pg_array_bytes_max(count, ID128_BYTES) +
                                2 * pg_array_bytes_max(count, STORE_NOTE_BYTES_MAX) +
                                outbox_new_bytes(events, event_count));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
#define REQUEST_ARRAY(oid, append)                                                                 \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, count);                                                       \
        for (uint32_t i = 0; i < count; i++) {                                                     \
            const struct store_request *x = &rows[i];                                              \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    REQUEST_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->id));
    REQUEST_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->requester_id));
    REQUEST_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->payer_id));
    REQUEST_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->amount));
    REQUEST_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->currency));
    REQUEST_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->status));
    REQUEST_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->from_text));
    REQUEST_ARRAY(PG_OID_TEXT, pg_array_text(buf, x->note));
    REQUEST_ARRAY(PG_OID_BYTEA, pg_array_id_optional(buf, x->split_id));
    REQUEST_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->payment_id));
    REQUEST_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->created_ns));
    REQUEST_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->expires_ns));
    REQUEST_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->closed_ns));
    REQUEST_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->pay_claim_ns));
#undef REQUEST_ARRAY
    outbox_new_arrays(&p, buf, events, event_count);
    pg_params_resolve(&p, buf);
    pg_param_i64(&p, (int64_t)clock_wall_ns());
    err = app_run(store, ASTMT_REQUESTS_INSERT, &p, &res);
    PQclear(res);
    return err;
}

static enum tl_err pg_app_request_get(struct store *store, struct id128 id,
                                      struct store_request *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return app_lookup(store, ASTMT_REQUEST_GET, &p, row_request, out, found);
}

/* Older pages walk down from the cursor; newer pages walk up and are reversed. limit + 1 rows
 * are read: the extra one only says *has_more. */
static enum tl_err pg_app_requests_list(struct store *store, struct id128 user_id,
                                        enum store_request_role role,
                                        const struct store_request_page *page,
                                        struct store_request *out, uint32_t *out_count,
                                        bool *has_more)
{
    static const uint8_t top[ID128_BYTES] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    bool newer = !id128_is_zero(page->ending_before);
    enum app_stmt which = newer ? ASTMT_REQUESTS_NEWER : ASTMT_REQUESTS_OLDER;
    struct pg_params p;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i32(&p, (int32_t)role);
    if (newer) {
        pg_param_id(&p, page->ending_before);
    } else if (!id128_is_zero(page->starting_after)) {
        pg_param_id(&p, page->starting_after);
    } else {
        pg_param_bytes(&p, top, ID128_BYTES); /* above every id */
    }
    pg_param_i64(&p, (int64_t)page->limit + 1);
    return app_page(store, which, &p, row_request, out, sizeof(*out), page->limit, newer, out_count,
                    has_more);
}

/* Runs an UPDATE of one row by id and says whether it changed it. */
static enum tl_err request_update(struct store *store, enum app_stmt which,
                                  const struct pg_params *p, bool *changed)
{
    PGresult *res = NULL;
    enum tl_err err;

    app_assert_no_batch(store);
    err = app_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    *changed = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    return TL_OK;
}

static enum tl_err pg_app_request_claim(struct store *store, struct id128 id, struct id128 payer_id,
                                        uint64_t now_ns, bool *claimed)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_id(&p, payer_id);
    pg_param_u64_clamped(&p, now_ns);
    return request_update(store, ASTMT_REQUEST_CLAIM, &p, claimed);
}

static enum tl_err pg_app_request_unclaim(struct store *store, struct id128 id, uint64_t claim_ns)
{
    struct pg_params p;
    bool changed = false;
    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_u64_clamped(&p, claim_ns);
    return request_update(store, ASTMT_REQUEST_UNCLAIM, &p, &changed);
}

static enum tl_err pg_app_request_close(struct store *store, struct id128 id, struct id128 actor_id,
                                        uint8_t status, uint64_t now_ns, uint64_t stale_before_ns,
                                        const struct store_outbox_new *events,
                                        uint32_t event_count, bool *closed)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    PGresult *res = NULL;
    uint64_t changed = 0;

    app_assert_no_batch(store);
    enum tl_err err = pg_buf_reset(buf, outbox_new_bytes(events, event_count));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_id(&p, actor_id);
    pg_param_i32(&p, status);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_u64_clamped(&p, stale_before_ns);
    outbox_new_arrays(&p, buf, events, event_count);
    pg_params_resolve(&p, buf);
    pg_param_i64(&p, (int64_t)clock_wall_ns());
    err = app_run(store, ASTMT_REQUEST_CLOSE, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) != 1 || !pg_col_uint(res, 0, 0, 0, 1, &changed)) {
        err = store_postgres_corrupt("request_close");
    }
    PQclear(res);
    if (err == TL_OK) {
        *closed = changed == 1;
    }
    return err;
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

/* Quotes of the batch in one INSERT; a quote id that exists fails the batch. */
static enum tl_err quotes_send(struct store *store, const struct store_record *records,
                               uint32_t count, uint32_t quotes)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct store_quote *rows = malloc((size_t)quotes * sizeof(*rows));
    struct pg_params p;
    uint32_t n = 0;
    enum tl_err err;

    TL_ASSERT(quotes > 0);
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_QUOTE) {
            store_record_quote_decode(&records[i], &rows[n++]);
        }
    }
    TL_ASSERT(n == quotes);
    err = pg_buf_reset(buf, 14 * pg_array_bytes_max(quotes, ID128_BYTES));
    if (err != TL_OK) {
        free(rows);
        return err;
    }
    pg_params_init(&p);
#define QUOTE_ARRAY(oid, append)                                                                   \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, quotes);                                                      \
        for (uint32_t i = 0; i < quotes; i++) {                                                    \
            const struct store_quote *x = &rows[i];                                                \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    QUOTE_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->id));
    QUOTE_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->user_id));
    QUOTE_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->operation));
    QUOTE_ARRAY(PG_OID_BYTEA, pg_array_id_optional(buf, x->recipient_id));
    QUOTE_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->send_currency));
    QUOTE_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->receive_currency));
    QUOTE_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->amount));
    QUOTE_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->fee));
    QUOTE_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->sent));
    QUOTE_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->rate_num));
    QUOTE_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->rate_den));
    QUOTE_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->payment_id));
    QUOTE_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->created_ns));
    QUOTE_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->expires_ns));
#undef QUOTE_ARRAY
    free(rows);
    pg_params_resolve(&p, buf);
    return store_postgres_pipeline_send(store, "ASTMT_QUOTES_WRITE", &p, "records_write: quote",
                                        PG_EXPECT_EXACT, quotes, TL_ERR_STORAGE);
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

/* The claims of the batch's answers, deleted by owner in one statement that must delete every
 * one of them: a claim that expired and was taken by another request fails the whole batch,
 * so money never commits for a request that no longer holds its key. */
static enum tl_err claims_fence_send(struct store *store, const struct store_record *records,
                                     uint32_t count)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    uint32_t claims = 0;
    enum tl_err err;

    for (uint32_t i = 0; i < count; i++) {
        struct store_idempotency x;
        if (records[i].kind == STORE_RECORD_IDEMPOTENCY) {
            store_record_idempotency_decode(&records[i], &x);
            claims += id128_is_zero(x.claim_owner) ? 0u : 1u;
        }
    }
    if (claims == 0) {
        return TL_OK;
    }
    err = pg_buf_reset(buf, 3 * pg_array_bytes_max(claims, STORE_IDEMPOTENCY_KEY_BYTES_MAX));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
#define CLAIM_ARRAY(oid, append)                                                                   \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, claims);                                                      \
        for (uint32_t i = 0; i < count; i++) {                                                     \
            struct store_idempotency x;                                                            \
            if (records[i].kind != STORE_RECORD_IDEMPOTENCY) {                                     \
                continue;                                                                          \
            }                                                                                      \
            store_record_idempotency_decode(&records[i], &x);                                      \
            if (!id128_is_zero(x.claim_owner)) {                                                   \
                append;                                                                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    CLAIM_ARRAY(PG_OID_TEXT, pg_array_text(buf, x.scope));
    CLAIM_ARRAY(PG_OID_TEXT, pg_array_text(buf, x.key));
    CLAIM_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x.claim_owner));
#undef CLAIM_ARRAY
    pg_params_resolve(&p, buf);
    return store_postgres_pipeline_send(
        store, "ASTMT_CLAIMS_FENCE", &p,
        "records_write: idempotency claim lost (expired and taken over); batch not committed",
        PG_EXPECT_EXACT, claims, TL_ERR_STORAGE);
}

/* The batch's additions to limit window buckets (schema v6) in one statement, summed per
 * bucket first (one upsert may touch a row once). */
static enum tl_err limit_usage_send(struct store *store, const struct store_record *records,
                                    uint32_t count, uint32_t rows_count)
{
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    enum tl_err err = pg_buf_reset(buf, 5 * pg_array_bytes_max(rows_count, ID128_BYTES));
    if (err != TL_OK) {
        return err;
    }
    pg_params_init(&p);
#define USAGE_ARRAY(oid, append)                                                                   \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, rows_count);                                                  \
        for (uint32_t i = 0; i < count; i++) {                                                     \
            struct store_limit_usage x;                                                            \
            if (records[i].kind != STORE_RECORD_LIMIT_USAGE) {                                     \
                continue;                                                                          \
            }                                                                                      \
            store_record_limit_usage_decode(&records[i], &x);                                      \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    USAGE_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x.user_id));
    USAGE_ARRAY(PG_OID_INT4, pg_array_i32(buf, x.currency));
    USAGE_ARRAY(PG_OID_INT4, pg_array_i32(buf, x.direction));
    USAGE_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x.end_ns));
    USAGE_ARRAY(PG_OID_INT8, pg_array_i64(buf, x.amount));
#undef USAGE_ARRAY
    pg_params_resolve(&p, buf);
    return store_postgres_pipeline_send(store, "ASTMT_LIMIT_USAGE_WRITE", &p,
                                        "records_write: limit usage", PG_EXPECT_ANY, 0,
                                        TL_ERR_STORAGE);
}

/*
 * At most once per LIMITS_PRUNE_STEP_NS of the data's clock (the newest bucket end this handle
 * has written), the batch also deletes the rows of limit_totals no window can count again
 * (core/limits.h): those that end LIMITS_DEAD_AFTER_NS or more before the newest end in the
 * table, this batch's rows included. The SQL finds both ends through the index of migration
 * 010, so a batch with nothing dead pays two index probes. Batches of all nodes take turns
 * (PG_BATCH_LOCK_KEY), so two nodes' prunes never wait on each other's rows.
 */
static enum tl_err limit_totals_prune_send(struct store *store, const struct store_record *records,
                                           uint32_t count)
{
    uint64_t *due_ns = store_postgres_limits_prune_due_of(store);
    uint64_t newest_ns = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_LIMIT_USAGE) {
            struct store_limit_usage x;
            store_record_limit_usage_decode(&records[i], &x);
            newest_ns = x.end_ns > newest_ns ? x.end_ns : newest_ns;
        }
    }
    TL_ASSERT(newest_ns > 0);
    if (newest_ns < *due_ns) {
        return TL_OK;
    }
    struct pg_params p;
    pg_params_init(&p);
    pg_param_i64(&p, (int64_t)LIMITS_DEAD_AFTER_NS);
    enum tl_err err = store_postgres_pipeline_send(store, "ASTMT_LIMIT_TOTALS_PRUNE", &p,
                                                   "records_write: limit totals prune",
                                                   PG_EXPECT_ANY, 0, TL_ERR_STORAGE);
    if (err == TL_OK) {
        *due_ns = newest_ns + LIMITS_PRUNE_STEP_NS;
    }
    return err;
}

enum tl_err store_postgres_app_records_send(struct store *store, const struct store_record *records,
                                            uint32_t count)
{
    uint32_t limit_usage = 0;
    uint32_t payments = 0;
    uint32_t idempotency = 0;
    uint32_t notes = 0;
    uint32_t quotes = 0;
    size_t body_bytes = 0;
    enum tl_err err = TL_OK;

    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_PAYMENT) {
            payments++;
        } else if (records[i].kind == STORE_RECORD_IDEMPOTENCY) {
            idempotency++;
            body_bytes += records[i].data_bytes;
        } else if (records[i].kind == STORE_RECORD_PAYMENT_NOTE) {
            notes++;
        } else if (records[i].kind == STORE_RECORD_QUOTE) {
            quotes++;
        }
        limit_usage += records[i].kind == STORE_RECORD_LIMIT_USAGE ? 1u : 0u;
    }
    if (payments > 0) {
        err = payments_send(store, records, count, payments);
    }
    if (err == TL_OK && notes > 0) {
        err = store_postgres_notes_send(store, records, count, notes); /* postgres_notes.c */
    }
    if (err == TL_OK && payments > 0) {
        err = store_postgres_stepup_records_send(store, records, count); /* schema v5 */
    }
    if (err == TL_OK && quotes > 0) {
        err = quotes_send(store, records, count, quotes); /* quotes through the writer */
    }
    if (err == TL_OK && idempotency > 0) {
        err = idempotency_send(store, records, count, idempotency, body_bytes);
    }
    if (err == TL_OK && idempotency > 0) {
        err = claims_fence_send(store, records, count);
    }
    if (err == TL_OK && limit_usage > 0) {
        err = limit_usage_send(store, records, count, limit_usage); /* schema v6 */
    }
    if (err == TL_OK && limit_usage > 0) {
        err = limit_totals_prune_send(store, records, count); /* schema v10 */
    }
    if (err == TL_OK) {
        err = store_postgres_records_ops.records_write(store, records, count); /* schema v6 */
    }
    return err;
}

static enum tl_err pg_app_record_write(struct store *store, const struct store_record *record)
{
    if (record->kind == STORE_RECORD_PAYMENT_SIGNATURE) {
        return store_postgres_stepup_ops.record_write(store, record); /* schema v5 */
    }
    TL_ASSERT(record->kind == STORE_RECORD_PAYMENT || record->kind == STORE_RECORD_IDEMPOTENCY ||
              record->kind == STORE_RECORD_PAYMENT_NOTE || record->kind == STORE_RECORD_QUOTE ||
              record->kind == STORE_RECORD_LIMIT_USAGE || record->kind == STORE_RECORD_CONVERSION);
    return store_postgres_app_records_send(store, record, 1);
}

/* ---- Passkeys (schema v4) ---- */

/* A bytea of min..max bytes into out; *out_bytes its length. */
static bool col_blob(const PGresult *res, int row, int col, uint32_t min, uint32_t max,
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

static bool row_passkey(const PGresult *res, int row, void *item)
{
    struct store_passkey *out = item;
    int32_t alg = 0;
    uint64_t count = 0;
    uint32_t aaguid_bytes = 0;
    bool ok;

    TL_ASSERT(PQnfields(res) == PASSKEY_COLUMN_COUNT);
    memset(out, 0, sizeof(*out));
    ok = col_id(res, row, 0, &out->id);
    ok = ok && col_id(res, row, 1, &out->user_id);
    ok = ok && col_blob(res, row, 2, 1, STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX, out->credential_id,
                        &out->credential_id_bytes);
    ok = ok && pg_col_int_range(res, row, 3, -8, -7, &alg);
    out->algorithm = alg;
    ok = ok && col_blob(res, row, 4, 32, STORE_PASSKEY_PUBLIC_KEY_BYTES_MAX, out->public_key,
                        &out->public_key_bytes);
    ok = ok && out->public_key_bytes == (alg == STORE_PASSKEY_ALG_ES256 ? 65u : 32u);
    ok = ok && pg_col_uint(res, row, 5, 0, UINT32_MAX, &count);
    ok = ok && col_blob(res, row, 6, STORE_PASSKEY_AAGUID_BYTES, STORE_PASSKEY_AAGUID_BYTES,
                        out->aaguid, &aaguid_bytes);
    ok = ok && pg_col_text(res, row, 7, out->name, sizeof(out->name), false);
    ok = ok && col_time(res, row, 8, &out->created_ns);
    ok = ok && pg_col_uint(res, row, 9, 0, INT64_MAX, &out->last_used_ns);
    ok = ok && pg_col_uint(res, row, 10, 0, INT64_MAX, &out->revoked_ns);
    out->sign_count = (uint32_t)count;
    return ok;
}

static enum tl_err pg_app_passkey_create(struct store *store, const struct store_passkey *pk)
{
    struct pg_params p;
    PGresult *res = NULL;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_id(&p, pk->id);
    pg_param_id(&p, pk->user_id);
    pg_param_bytes(&p, pk->credential_id, pk->credential_id_bytes);
    pg_param_i32(&p, pk->algorithm);
    pg_param_bytes(&p, pk->public_key, pk->public_key_bytes);
    pg_param_i64(&p, pk->sign_count);
    pg_param_bytes(&p, pk->aaguid, STORE_PASSKEY_AAGUID_BYTES);
    pg_param_text(&p, pk->name);
    pg_param_u64_clamped(&p, pk->created_ns);
    pg_param_i64(&p, STORE_PASSKEYS_USER_MAX);
    enum tl_err err = store_postgres_run_unique(store, "ASTMT_PASSKEY_INSERT", &p,
                                                "passkey_create", &res, NULL, 0);
    if (err != TL_OK) {
        return err; /* TL_ERR_CONFLICT: the credential id is registered */
    }
    err = strcmp(PQcmdTuples(res), "1") == 0 ? TL_OK : TL_ERR_LIMIT;
    PQclear(res);
    return err;
}

static enum tl_err pg_app_passkey_find(struct store *store, const uint8_t *credential_id,
                                       uint32_t credential_id_bytes, struct store_passkey *out,
                                       bool *found)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_bytes(&p, credential_id, credential_id_bytes);
    return app_lookup(store, ASTMT_PASSKEY_FIND, &p, row_passkey, out, found);
}

static enum tl_err pg_app_passkeys_list(struct store *store, struct id128 user_id,
                                        struct store_passkey *out, uint32_t max,
                                        uint32_t *out_count)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i64(&p, max);
    return app_list(store, ASTMT_PASSKEYS_LIST, &p, row_passkey, out, sizeof(*out), max, false,
                    out_count);
}

static enum tl_err pg_app_passkey_revoke(struct store *store, struct id128 user_id,
                                         struct id128 id, uint64_t now_ns)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_id(&p, id);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err = identity_write(store, ASTMT_PASSKEY_REVOKE, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_NOT_FOUND : err;
}

static enum tl_err pg_app_passkey_use(struct store *store, struct id128 id, uint32_t sign_count,
                                      uint64_t now_ns)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_i64(&p, sign_count);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err = identity_write(store, ASTMT_PASSKEY_USE, &p, &changes);
    return err == TL_OK && changes == 0 ? TL_ERR_CONFLICT : err;
}

static enum tl_err pg_app_webauthn_challenge_create(struct store *store,
                                                    const struct store_webauthn_challenge *c)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_bytes(&p, c->hash, STORE_HASH_BYTES);
    pg_param_i32(&p, c->kind);
    pg_param_id(&p, c->user_id);
    pg_param_u64_clamped(&p, c->created_ns);
    pg_param_u64_clamped(&p, c->expires_ns);
    return identity_write(store, ASTMT_WEBAUTHN_CREATE, &p, &changes);
}

static bool row_challenge_user(const PGresult *res, int row, void *item)
{
    TL_ASSERT(PQnfields(res) == 1);
    return pg_col_id(res, row, 0, item); /* zero: an unbound login challenge */
}

static enum tl_err pg_app_webauthn_challenge_consume(struct store *store,
                                                     const uint8_t hash[STORE_HASH_BYTES],
                                                     uint8_t kind, uint64_t now_ns,
                                                     struct id128 *out_user_id)
{
    struct pg_params p;
    struct id128 user_id;
    bool found = false;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_bytes(&p, hash, STORE_HASH_BYTES);
    pg_param_i32(&p, kind);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err =
        app_lookup(store, ASTMT_WEBAUTHN_CONSUME, &p, row_challenge_user, &user_id, &found);
    if (err == TL_OK && !found) {
        return TL_ERR_NOT_FOUND;
    }
    if (err == TL_OK) {
        *out_user_id = user_id;
    }
    return err;
}

/* ---- Verification tiers and limit windows (migration 005) ---- */

static enum tl_err pg_app_limits_window(struct store *store, struct id128 user_id,
                                        enum store_direction direction, uint16_t currency,
                                        uint64_t after_ns, struct store_limits_window *out)
{
    enum app_stmt which =
        direction == STORE_DIRECTION_SENT ? ASTMT_LIMITS_SENT : ASTMT_LIMITS_RECEIVED;
    struct pg_params p;
    PGresult *res = NULL;
    struct store_limits_window w;
    uint64_t tier = 0;
    uint64_t amount = 0;
    uint64_t count = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, after_ns);
    pg_param_i32(&p, currency);
    enum tl_err err = app_run(store, which, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) != 1 || !pg_col_uint(res, 0, 0, 0, 2, &tier) ||
        !pg_col_uint(res, 0, 1, 0, INT64_MAX, &amount) ||
        !pg_col_uint(res, 0, 2, 0, UINT32_MAX, &count) ||
        !pg_col_uint(res, 0, 3, 0, INT64_MAX, &w.oldest_ns)) {
        err = store_postgres_corrupt(app_stmt_name[which]);
    }
    PQclear(res);
    if (err != TL_OK) {
        return err;
    }
    w.tier = (uint8_t)tier;
    w.amount = (int64_t)amount;
    w.count = (uint32_t)count;
    *out = w;
    return TL_OK;
}

static enum tl_err pg_app_user_tier_set(struct store *store, struct id128 user_id, uint8_t tier,
                                        uint64_t updated_ns)
{
    struct pg_params p;
    uint64_t changes = 0;

    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i32(&p, tier);
    pg_param_u64_clamped(&p, updated_ns);
    enum tl_err err = identity_write(store, ASTMT_USER_TIER_SET, &p, &changes);
    if (err == TL_OK && changes != 1) {
        err = store_postgres_corrupt("user_tier_set");
    }
    return err;
}

/* ---- Exchange rates (migration 005) ---- */

static bool row_fx_rate(const PGresult *res, int row, void *item)
{
    struct store_fx_rate r;
    int32_t base, quote, source;
    bool ok;

    TL_ASSERT(PQnfields(res) == FXCOL_COUNT);
    memset(&r, 0, sizeof(r));
    ok = pg_col_int_range(res, row, FXCOL_BASE, 1, 999, &base);
    ok = ok && pg_col_int_range(res, row, FXCOL_QUOTE, 1, 999, &quote) && quote != base;
    ok = ok && col_positive(res, row, FXCOL_RATE_NUM, &r.rate_num);
    ok = ok && col_positive(res, row, FXCOL_RATE_DEN, &r.rate_den);
    ok = ok && col_time(res, row, FXCOL_UPDATED_NS, &r.updated_ns);
    ok = ok && pg_col_int_range(res, row, FXCOL_SOURCE, STORE_FX_SOURCE_FILE,
                                STORE_FX_SOURCE_OPERATOR, &source);
    if (!ok) {
        return false;
    }
    r.base = (uint16_t)base;
    r.quote = (uint16_t)quote;
    r.source = (uint8_t)source;
    *(struct store_fx_rate *)item = r;
    return true;
}

static enum tl_err pg_app_fx_rate_put(struct store *store, const struct store_fx_rate *rate,
                                      bool *applied)
{
    struct pg_params p;
    PGresult *res = NULL;

    app_assert_no_batch(store);
    pg_params_init(&p);
    pg_param_i32(&p, rate->base);
    pg_param_i32(&p, rate->quote);
    pg_param_i64(&p, rate->rate_num);
    pg_param_i64(&p, rate->rate_den);
    pg_param_u64_clamped(&p, rate->updated_ns);
    pg_param_i32(&p, rate->source);
    enum tl_err err = app_run(store, ASTMT_FX_RATE_PUT, &p, &res);
    if (err == TL_OK) {
        *applied = strcmp(PQcmdTuples(res), "1") == 0;
    }
    PQclear(res);
    return err;
}

static enum tl_err pg_app_fx_rate_get(struct store *store, uint16_t base, uint16_t quote,
                                      struct store_fx_rate *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_i32(&p, base);
    pg_param_i32(&p, quote);
    return app_lookup(store, ASTMT_FX_RATE_GET, &p, row_fx_rate, out, found);
}

static enum tl_err pg_app_fx_rates_list(struct store *store, struct store_fx_rate *out,
                                        uint32_t max, uint32_t *out_count)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_i64(&p, (int64_t)max + 1);
    return app_list(store, ASTMT_FX_RATES_LIST, &p, row_fx_rate, out, sizeof(*out), max, true,
                    out_count);
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
    .totp_put = pg_app_totp_put,
    .totp_get = pg_app_totp_get,
    .totp_activate = pg_app_totp_activate,
    .totp_use_step = pg_app_totp_use_step,
    .totp_delete = pg_app_totp_delete,
    .recovery_code_use = pg_app_recovery_code_use,
    .recovery_codes_left = pg_app_recovery_codes_left,
    .mfa_challenge_create = pg_app_mfa_challenge_create,
    .mfa_challenge_get = pg_app_mfa_challenge_get,
    .mfa_challenge_consume = pg_app_mfa_challenge_consume,
    .sessions_list = pg_app_sessions_list,
    .session_revoke_id = pg_app_session_revoke_id,
    .sessions_revoke_others = pg_app_sessions_revoke_others,
    .user_password_set = pg_app_user_password_set,
    .audit_append = store_postgres_audit_append,
    .audit_list = store_postgres_audit_list,
    .payment_get = pg_app_payment_get,
    .payments_list = pg_app_payments_list,
    .idempotency_put = pg_app_idempotency_put,
    .idempotency_get = pg_app_idempotency_get,
    .idempotency_prune = pg_app_idempotency_prune,
    .idempotency_claim = pg_app_idempotency_claim,
    .idempotency_claim_release = pg_app_idempotency_claim_release,
    .idempotency_claims_prune = pg_app_idempotency_claims_prune,
    .outbox_list_range = pg_app_outbox_list_range,
    .outbox_seq_last = pg_app_outbox_seq_last,
    .outbox_append = pg_app_outbox_append,
    .quote_create = pg_app_quote_create,
    .quote_get = pg_app_quote_get,
    .requests_create = pg_app_requests_create,
    .request_get = pg_app_request_get,
    .requests_list = pg_app_requests_list,
    .request_claim = pg_app_request_claim,
    .request_unclaim = pg_app_request_unclaim,
    .request_close = pg_app_request_close,
    .passkey_create = pg_app_passkey_create,
    .passkey_find = pg_app_passkey_find,
    .passkeys_list = pg_app_passkeys_list,
    .passkey_revoke = pg_app_passkey_revoke,
    .passkey_use = pg_app_passkey_use,
    .webauthn_challenge_create = pg_app_webauthn_challenge_create,
    .webauthn_challenge_consume = pg_app_webauthn_challenge_consume,
    .refund_put = store_postgres_refund_put,
    .refund_get = store_postgres_refund_get,
    .refunds_list = store_postgres_refunds_list,
    .refund_totals = store_postgres_refund_totals,
    .dispute_create = store_postgres_dispute_create,
    .dispute_get = store_postgres_dispute_get,
    .disputes_list = store_postgres_disputes_list,
    .dispute_resolve = store_postgres_dispute_resolve,
    .fx_rate_put = pg_app_fx_rate_put,
    .fx_rate_get = pg_app_fx_rate_get,
    .fx_rates_list = pg_app_fx_rates_list,
    .record_write = pg_app_record_write,
    .plans = &store_postgres_plans_ops, /* postgres_plans.c */
    /* schema v5 notes rows: postgres_notes.c */
    .encryption_key_put = store_postgres_notes_key_put,
    .encryption_key_get = store_postgres_notes_key_get,
    .encryption_key_delete = store_postgres_notes_key_delete,
    .payment_notes_get = store_postgres_notes_get,
    .session_touch = store_postgres_notes_session_touch,
    .sessions_seen = store_postgres_notes_sessions_seen,
    .stepup = &store_postgres_stepup_ops, /* schema v5: postgres_stepup.c */
    .limits_window = pg_app_limits_window,
    .user_tier_set = pg_app_user_tier_set,
    .audit_scan = store_postgres_audit_scan,
    .audit_head = store_postgres_audit_head,
    .audit_checkpoint_put = store_postgres_audit_checkpoint_put,
    .audit_checkpoints_list = store_postgres_audit_checkpoints_list,
    .audit_seal = store_postgres_audit_seal,
    .records = &store_postgres_records_ops, /* schema v6: postgres_records.c */
};
