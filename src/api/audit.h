/*
 * audit.h - the audit log: one hash-chained entry per security action and money movement
 * (store/app.h, store/audit_chain.h).
 *
 * Security actions (audit_record) are appended after the action succeeded, through the
 * application store handle: best effort, a failure is logged ("audit_append_failed", with the
 * request id and action) and never changes the answer, so the audit log cannot be used to
 * deny service. Money movements are different: the money hooks attach their entry to the
 * writer batch (audit_attach_payment, audit_attach_deposit, and audit_attach_money for refunds,
 * reversals, escrows and conversions: api/money_records.h), so it commits in the same
 * transaction as the money: an entry exists exactly when the money moved. A payment is one
 * entry (payer as user, payee as counterparty) that both parties list.
 *
 * Entries hold ids, amounts and references ("pay_...", "sess_..."), never a secret, a
 * password, a code or PII; the client address is stored beside the chain, not in it.
 *
 * audit_list is GET /v1/me/audit: the caller's own entries (as actor or counterparty), newest
 * first, with seq, kind and both hashes so a user can keep receipts; cursor ids "aud_...".
 * The checkpointer signs the chain's head periodically with a key derived from the server
 * secret (store/audit_chain.h); tallyd audit-verify walks the chain.
 */
#ifndef TL_API_AUDIT_H
#define TL_API_AUDIT_H

#include <stdint.h>

#include "api/http.h"
#include "store/app.h"
#include "store/audit_chain.h"
#include "util/id128.h"

struct api_app;
struct store;
struct writer_batch;

#define AUDIT_TYPEID_PREFIX "aud"

#define AUDIT_SIGNUP "user.signed_up"
#define AUDIT_LOGIN_SUCCEEDED "login.succeeded"
#define AUDIT_LOGIN_FAILED "login.failed"
#define AUDIT_LOGIN_MFA_CHALLENGED "login.mfa_challenged"
#define AUDIT_LOGIN_MFA_FAILED "login.mfa_failed"
#define AUDIT_LOGOUT "session.logged_out"
#define AUDIT_SESSION_REVOKED "session.revoked"
#define AUDIT_SESSIONS_REVOKED_OTHERS "sessions.revoked_others"
#define AUDIT_PASSWORD_CHANGED "password.changed"
#define AUDIT_PASSWORD_CHANGE_FAILED "password.change_failed"
#define AUDIT_TOTP_ENROLLED "mfa.totp_enrolled"
#define AUDIT_TOTP_CONFIRMED "mfa.totp_confirmed"
#define AUDIT_TOTP_DISABLED "mfa.totp_disabled"
#define AUDIT_TOTP_CODE_FAILED "mfa.code_failed"
#define AUDIT_RECOVERY_CODE_USED "mfa.recovery_code_used"
/* An operator set the user's verification tier (api/kyc.h); subject: the new tier. */
#define AUDIT_KYC_TIER_SET "kyc.tier_set"
/* Money (schema v5): the payer's names; the payee lists the entry as the counterpart name. */
#define AUDIT_PAYMENT_SENT "payment.sent"
#define AUDIT_PAYMENT_RECEIVED "payment.received"
#define AUDIT_REQUEST_PAID "request.paid"
#define AUDIT_REQUEST_PAYMENT_RECEIVED "request.payment_received"
#define AUDIT_DEPOSIT_CREATED "deposit.created"
#define AUDIT_REQUEST_CREATED "request.created"
#define AUDIT_SPLIT_REQUEST_CREATED "split.request_created"
/* Schema v6 money entries (audit_attach_money), committed with their money: refunds (the payee
 * refunds; the payer lists it as refund.received), operator reversals (the payee's money goes
 * back; the payer lists reversal.received), escrows (payer as user), conversions. */
#define AUDIT_REFUND_SENT "refund.sent"
#define AUDIT_REFUND_RECEIVED "refund.received"
#define AUDIT_PAYMENT_REVERSED "payment.reversed"
#define AUDIT_REVERSAL_RECEIVED "reversal.received"
#define AUDIT_ESCROW_HELD "escrow.held"
#define AUDIT_ESCROW_RELEASED "escrow.released"
#define AUDIT_ESCROW_CANCELED "escrow.canceled"
#define AUDIT_ESCROW_EXPIRED "escrow.expired"
#define AUDIT_CONVERSION_CREATED "conversion.created"
/* Moves no money, appended after the row changed (best effort, like request.created). */
#define AUDIT_DISPUTE_OPENED "dispute.opened"
#define AUDIT_DISPUTE_RESOLVED_PAYER "dispute.resolved_for_payer"
#define AUDIT_DISPUTE_RESOLVED_PAYEE "dispute.resolved_for_payee"
#define AUDIT_SCHEDULE_SKIPPED "scheduled_payment.skipped"

/* Appends an entry for user_id (action: one of the names above; subject: "" or a reference).
 * Best effort, see above. Cannot fail. */
void audit_record(struct http_request *req, struct id128 user_id, const char *action,
                  const char *subject);

/* GET /v1/me/audit */
enum tl_err audit_list(struct http_request *req, struct http_response *resp);

/* GET /v1/admin/audit/verify (operator): store_audit_verify over the whole chain, as JSON. */
enum tl_err audit_admin_verify(struct http_request *req, struct http_response *resp);

/* ---- Money entries, attached in a money hook on the writer thread ---- */

/* payment.sent (request.paid when exists_err is TL_ERR_REQUEST_PAID: the payment pays a
 * payment request) of payment, which the ledger just applied (created_ns set). Errors of
 * writer_batch_attach: the hook then drops the payment. */
enum tl_err audit_attach_payment(struct writer_batch *batch, const struct http_request *req,
                                 const struct store_payment *payment, enum tl_err exists_err);
/* deposit.created of amount into user_id's wallet at the ledger's created_ns. */
enum tl_err audit_attach_deposit(struct writer_batch *batch, const struct http_request *req,
                                 struct id128 deposit_id, struct id128 user_id, int64_t amount,
                                 uint16_t currency, uint64_t created_ns);
/* request.created (split.request_created for a split's) for each row just stored: best
 * effort, like audit_record. Cannot fail. */
void audit_record_requests(struct http_request *req, const struct store_request *rows,
                           uint32_t count);

/* One money entry of any other operation (the kinds above): user acted (or whose money left),
 * counterparty the other party or zero, amount/currency what moved (currency 0: nothing),
 * subject "<prefix>_<id>". */
struct audit_money {
    const char *kind;
    struct id128 user_id;
    struct id128 counterparty_id;
    int64_t amount;
    uint16_t currency;
    const char *subject_prefix;
    struct id128 subject_id;
    uint64_t created_ns;
};
/* Attaches m to batch, in a money hook on the writer thread. req is NULL for what tallyd does
 * itself (an expiry, a scheduled release): the entry then has no request id or address.
 * Errors of writer_batch_attach: the hook then drops its command. */
enum tl_err audit_attach_money(struct writer_batch *batch, const struct http_request *req,
                               const struct audit_money *m);
/* The same entry appended outside any batch, for actions that move no money (disputes opened
 * or resolved, skipped scheduled payments): best effort, like audit_record. req may be NULL
 * (the scheduler), then store is the caller's writable handle. Cannot fail. */
void audit_append_money(struct http_request *req, struct store *store,
                        const struct audit_money *m);

/* ---- Checkpoints ---- */

/* Derives the checkpoint key from the server secret; call once at startup (not synchronized).
 * Until then (unit tests) a fixed key is used. Cannot fail. */
void audit_secret_set(const uint8_t *secret, size_t secret_bytes);
/* The checkpoint key, for the verifier. */
const uint8_t *audit_checkpoint_key(void);

struct audit_checkpointer;
/* Starts a thread that signs the chain's head through app's store handle every interval_s
 * (never when 0: *out is NULL). TL_ERR_NOMEM, TL_ERR_INTERNAL. */
enum tl_err audit_checkpointer_start(struct api_app *app, uint32_t interval_s,
                                     struct audit_checkpointer **out);
/* Signs the head once more (a clean stop leaves no unsigned tail), stops and joins the thread;
 * NULL is a no-op. Call before api_app_fini. */
void audit_checkpointer_stop(struct audit_checkpointer *checkpointer);

#endif
