/*
 * routes.c - THE route table: every endpoint tallyd answers, one row each.
 *
 * To add an endpoint: write its handler (parse -> execute -> render, see http.h) in its own
 * file under src/api/, declare it in that file's header, include the header here and add a
 * row below. router_table_check (run at startup and in tests) rejects malformed patterns,
 * duplicate names and rows hidden by an earlier row, so list literal paths ("/v1/users/me")
 * before parameter paths of the same shape ("/v1/users/{id}").
 *
 *   method, pattern, handler, name (metrics label), flags, rate-limit class
 */
#include "api/ops.h"
#include "api/router.h"
#include "api/sessions.h"
#include "api/users.h"
/* identity: second factor, sessions, password, audit log */
#include "api/audit.h"
#include "api/security.h"
#include "api/twofactor.h"
/* events */
#include "api/events.h"
/* money */
#include "api/deposits.h"
#include "api/payments.h"
#include "api/quotes.h"
#include "api/requests.h"
#include "api/wallets.h"
/* passkeys and the static files of the browser side */
#include "api/passkeys.h"
#include "api/static_files.h"
/* refunds, operator reversals, disputes */
#include "api/disputes.h"
#include "api/refunds.h"
#include "api/reversals.h"
/* escrows and scheduled payments */
#include "api/escrow.h"
#include "api/schedules.h"
/* end-to-end encrypted notes: published keys */
#include "api/notes.h"
/* operator routes (/v1/admin/...) */
#include "api/operator.h"
/* currencies: rates, conversions */
#include "api/conversions.h"
#include "api/fx.h"
/* step-up authentication and device keys */
#include "api/device_keys.h"
#include "api/stepup.h"
/* verification tiers and their limits */
#include "api/kyc.h"

const struct route api_routes[] = {
    /* ---- Operations: probes and scrapers, no auth, never rate limited ---- */
    {HTTP_GET, "/healthz", ops_healthz, "healthz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/readyz", ops_readyz, "readyz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/metrics", ops_metrics, "metrics", 0, ROUTE_LIMIT_NONE},

    /* ---- identity: sign-up, sessions, the signed-in user, recipient lookup ---- */
    {HTTP_POST, "/v1/users", users_create, "users.create", ROUTE_IDEMPOTENT, ROUTE_LIMIT_IP},
    {HTTP_GET, "/v1/users/lookup", users_lookup, "users.lookup", ROUTE_AUTH, ROUTE_LIMIT_LOOKUP},
    {HTTP_GET, "/v1/me", users_me, "me.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    /* Not ROUTE_IDEMPOTENT: the response holds a token, which must never be stored. */
    {HTTP_POST, "/v1/sessions", sessions_create, "sessions.create", 0, ROUTE_LIMIT_IP},
    {HTTP_DELETE, "/v1/sessions/current", sessions_delete, "sessions.delete", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    /* Not ROUTE_IDEMPOTENT: the answer holds a token. */
    {HTTP_POST, "/v1/sessions/mfa", twofactor_login_complete, "sessions.mfa", 0, ROUTE_LIMIT_IP},
    {HTTP_GET, "/v1/me/sessions", security_sessions_list, "me.sessions.list", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_DELETE, "/v1/me/sessions", security_sessions_revoke_others, "me.sessions.revoke_others",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_DELETE, "/v1/me/sessions/{id}", security_session_revoke, "me.sessions.revoke",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/me/password", security_password_change, "me.password.change", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    /* TOTP: none idempotent, the answers hold the secret or the recovery codes. */
    {HTTP_GET, "/v1/me/totp", twofactor_status, "me.totp.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/me/totp", twofactor_enroll, "me.totp.enroll", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/me/totp/confirm", twofactor_confirm, "me.totp.confirm", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/me/totp/disable", twofactor_disable, "me.totp.disable", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/me/audit", audit_list, "me.audit.list", ROUTE_AUTH, ROUTE_LIMIT_USER},

    /* ---- money: wallets, deposits, payments; all per user, POSTs idempotent ---- */
    {HTTP_GET, "/v1/wallets", wallets_list, "wallets.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/wallets", wallets_create, "wallets.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/wallets/{id}", wallets_get, "wallets.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/wallets/{id}/transactions", wallets_transactions, "wallets.transactions",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/deposits", deposits_create, "deposits.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payments", payments_create, "payments.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payments", payments_list, "payments.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payments/{id}", payments_get, "payments.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/quotes", quotes_create, "quotes.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payment_requests", requests_create, "payment_requests.create",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payment_requests", requests_list, "payment_requests.list", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payment_requests/{id}", requests_get, "payment_requests.get", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payment_requests/{id}/pay", requests_pay, "payment_requests.pay",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payment_requests/{id}/decline", requests_decline,
     "payment_requests.decline", ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payment_requests/{id}/cancel", requests_cancel, "payment_requests.cancel",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/splits", splits_create, "splits.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},

    /* ---- events: the signed-in user's Server-Sent Events stream (events.h) ---- */
    {HTTP_GET, "/v1/events", events_stream, "events.stream", ROUTE_AUTH, ROUTE_LIMIT_USER},

    /* ---- passkeys (WebAuthn, passkeys.h): register, list, revoke; log in without a password.
     * The login rows are not ROUTE_IDEMPOTENT: the answer holds a token. ---- */
    {HTTP_POST, "/v1/me/passkeys/options", passkeys_register_options, "me.passkeys.options",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/me/passkeys", passkeys_list, "me.passkeys.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/me/passkeys", passkeys_register, "me.passkeys.register", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_DELETE, "/v1/me/passkeys/{id}", passkeys_revoke, "me.passkeys.revoke", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/sessions/passkey/options", passkeys_login_options,
     "sessions.passkey.options", 0, ROUTE_LIMIT_IP},
    {HTTP_POST, "/v1/sessions/passkey", passkeys_login, "sessions.passkey", 0, ROUTE_LIMIT_IP},

    /* ---- operator (operator.h): the operator token, never a user session; 404 without one ---- */
    {HTTP_GET, "/v1/admin/users/{id}", operator_users_get, "admin.users.get", ROUTE_OPERATOR,
     ROUTE_LIMIT_IP},
    /* ---- step-up for risky actions (stepup.h) and device keys (device_keys.h). The completion
     * is not ROUTE_IDEMPOTENT: a challenge is single use. ---- */
    {HTTP_POST, "/v1/step_up/{id}/complete", stepup_complete, "step_up.complete", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/me/device_keys", device_keys_list, "me.device_keys.list", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/me/device_keys", device_keys_create, "me.device_keys.create",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_DELETE, "/v1/me/device_keys/{id}", device_keys_revoke, "me.device_keys.revoke",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/admin/users/{id}/kyc", kyc_admin_set, "admin.users.kyc",
     ROUTE_OPERATOR | ROUTE_IDEMPOTENT, ROUTE_LIMIT_IP},
    /* ---- verification tiers (kyc.h): the caller's limits ---- */
    {HTTP_GET, "/v1/me/limits", kyc_me_limits, "me.limits", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/admin/audit/verify", audit_admin_verify, "admin.audit.verify",
     ROUTE_OPERATOR, ROUTE_LIMIT_IP},

    /* ---- currencies (fx.h, conversions.h): rates, conversions between a user's wallets ---- */
    {HTTP_GET, "/v1/fx/rates", fx_rates_list, "fx.rates.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/conversions", conversions_create, "conversions.create",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/admin/fx/rates", fx_admin_rates_set, "admin.fx.rates.set",
     ROUTE_OPERATOR | ROUTE_IDEMPOTENT, ROUTE_LIMIT_IP},
    {HTTP_GET, "/v1/admin/fx/position", fx_admin_position, "admin.fx.position", ROUTE_OPERATOR,
     ROUTE_LIMIT_IP},

    /* ---- refunds (refunds.h), operator reversals (reversals.h), disputes (disputes.h) ---- */
    {HTTP_POST, "/v1/payments/{id}/refunds", refunds_create, "payments.refunds.create",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payments/{id}/refunds", refunds_list, "payments.refunds.list", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payments/{id}/disputes", disputes_create, "payments.disputes.create",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payments/{id}/disputes", disputes_list_payment, "payments.disputes.list",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/disputes/{id}", disputes_get, "disputes.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/admin/payments/{id}/reverse", reversals_create, "admin.payments.reverse",
     ROUTE_OPERATOR | ROUTE_IDEMPOTENT, ROUTE_LIMIT_IP},
    {HTTP_GET, "/v1/admin/disputes", disputes_admin_list, "admin.disputes.list", ROUTE_OPERATOR,
     ROUTE_LIMIT_IP},
    {HTTP_POST, "/v1/admin/disputes/{id}/resolve", disputes_resolve, "admin.disputes.resolve",
     ROUTE_OPERATOR | ROUTE_IDEMPOTENT, ROUTE_LIMIT_IP},

    /* ---- static files of web.dir for the browser side (static_files.h) ---- */
    {HTTP_GET, "/web/{file}", static_files_get, "web.file", 0, ROUTE_LIMIT_IP},

    /* ---- escrows (escrow.h) and scheduled payments (schedules.h); POSTs idempotent ---- */
    {HTTP_POST, "/v1/escrows", escrow_create, "escrows.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/escrows", escrow_list, "escrows.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/escrows/{id}", escrow_get, "escrows.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/escrows/{id}/release", escrow_release, "escrows.release",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/escrows/{id}/approve", escrow_approve, "escrows.approve",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/escrows/{id}/cancel", escrow_cancel, "escrows.cancel",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/scheduled_payments", schedules_create, "scheduled_payments.create",
     ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/scheduled_payments", schedules_list, "scheduled_payments.list", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/scheduled_payments/{id}", schedules_get, "scheduled_payments.get",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_DELETE, "/v1/scheduled_payments/{id}", schedules_cancel, "scheduled_payments.cancel",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    /* ---- end-to-end encrypted notes (notes.h): the caller's X25519 public key, and a payee's.
     * PUT replaces the key, so a retry is harmless without an Idempotency-Key. ---- */
    {HTTP_PUT, "/v1/me/encryption_key", notes_key_put, "me.encryption_key.put", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/me/encryption_key", notes_key_get, "me.encryption_key.get", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_DELETE, "/v1/me/encryption_key", notes_key_delete, "me.encryption_key.delete",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/users/{handle}/encryption_key", notes_user_key_get, "users.encryption_key",
     ROUTE_AUTH, ROUTE_LIMIT_LOOKUP},
    /* ---- stored conversions (conversions.h, schema v6): the caller's own ---- */
    {HTTP_GET, "/v1/conversions", conversions_list, "conversions.list", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/conversions/{id}", conversions_get, "conversions.get", ROUTE_AUTH,
     ROUTE_LIMIT_USER},

    /* ---- Resources: /v1/... rows go here, grouped by resource. For example:
     * {HTTP_POST, "/v1/payments", payments_create, "payments.create",
     *  ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
     * {HTTP_GET, "/v1/wallets/{id}", wallets_get, "wallets.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
     */
};

const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);
