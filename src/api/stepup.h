/*
 * stepup.h - step-up authentication for risky actions, and the gate every money route and
 * sensitive account change calls before it changes anything.
 *
 *   POST /v1/step_up/{id}/complete  {code} | {credential_id, client_data_json,
 *                                    authenticator_data, signature}   -> 200 completed
 *
 * A guarded request asks stepup_gate (account changes) or stepup_money_gate (anything that
 * sends the user's money). The rules (core/stepup_rules.h, config [stepup]) apply to users with
 * a second factor (active TOTP or a live passkey); a user without one passes, unless
 * stepup.require_enrolment is set (then 403 step_up_enrolment_required). A request that hits a
 * rule answers 401 step_up_required whose problem carries `challenge` {id, expires_at, methods,
 * rules, webauthn?}; nothing else changes. The client answers the challenge with a TOTP code
 * (twofactor.h: throttled, a step never twice) or a passkey assertion over the challenge's
 * WebAuthn challenge, then retries the ORIGINAL request with the SAME Idempotency-Key and body.
 * The completed challenge is bound to the user and a keyed hash of method, path, body and
 * Idempotency-Key; the retry spends it (once, compare-and-set in the store) and goes through.
 * A challenge and its completed step-up live stepup.ttl_s. Completing any challenge also marks
 * the session as stepped up, which clears the new-device rule for it. Every challenge,
 * completion, failure and use is in the audit log.
 *
 * Money routes additionally check device signatures (device_keys.h) in the same gate: the
 * signature is verified first, then the rules, then it is recorded as used.
 *
 * Never: let a guarded request change anything before the gate said TL_OK, or keep a step-up
 * usable for another request than the one it was made for.
 */
#ifndef TL_API_STEPUP_H
#define TL_API_STEPUP_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "core/stepup_rules.h"
#include "store/stepup.h"
#include "util/config.h"

#define STEPUP_ID_PREFIX "stepup"
#define STEPUP_AUDIT_CHALLENGED "stepup.challenged"
#define STEPUP_AUDIT_COMPLETED "stepup.completed"
#define STEPUP_AUDIT_FAILED "stepup.failed"
#define STEPUP_AUDIT_USED "stepup.used"
#define STEPUP_AUDIT_REFUSED "stepup.enrolment_required"

struct writer_batch;

/* What a money route is about to do. */
struct stepup_payment {
    struct id128 to_user; /* zero when the money goes to no user */
    int64_t amount_minor;
    uint16_t currency;
};

/* A money request's device signature once the gate accepted it; the route attaches it to the
 * payment's batch with stepup_money_attach. On the route's stack. */
struct stepup_signed {
    bool present; /* the request was device-signed */
    struct store_payment_signature signature;
    uint8_t record_buf[STORE_RECORD_PAYMENT_SIGNATURE_BYTES];
};

/*
 * The gate of an account change (action: not STEPUP_ACTION_PAYMENT). TL_OK: go ahead (a
 * completed step-up was spent if one was needed). Otherwise the answer is recorded on resp: 401
 * step_up_required (a rendered problem with the challenge), 403 step_up_enrolment_required,
 * or a store error.
 */
enum tl_err stepup_gate(struct http_request *req, struct http_response *resp,
                        enum stepup_action action);

/*
 * The gate of a money route: device signature (device_keys.h: 401 device_signature_*), then the
 * payment rules as stepup_gate. On TL_OK *out says whether the request was signed.
 */
enum tl_err stepup_money_gate(struct http_request *req, struct http_response *resp,
                              const struct stepup_payment *payment, struct stepup_signed *out);

/* In the route's on_applied hook: attaches the signature (if any) to the payment row of
 * payment_id in the same batch. Errors are writer_batch_attach's. */
enum tl_err stepup_money_attach(struct stepup_signed *sig, struct id128 payment_id,
                                struct writer_batch *batch);

/* POST /v1/step_up/{id}/complete */
enum tl_err stepup_complete(struct http_request *req, struct http_response *resp);

/* At start: checks stepup.amount_thresholds. TL_ERR_INVALID_REQUEST with a line in error. */
enum tl_err stepup_config_check(const struct config *config, char error[CONFIG_ERROR_BYTES]);

#endif
