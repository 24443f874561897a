/*
 * twofactor.h - TOTP second factor (RFC 6238) over HTTP.
 *
 *   GET    /v1/me/totp          -> {enabled, pending, recovery_codes_left}
 *   POST   /v1/me/totp          -> 201 {secret, otpauth_uri, qr_svg}: a pending enrolment
 *   POST   /v1/me/totp/confirm  {code} -> 200 {enabled, recovery_codes[10]}: shown once
 *   POST   /v1/me/totp/disable  {code | recovery_code} -> 204
 *   POST   /v1/sessions/mfa     {challenge, code | recovery_code} -> 201 like POST /v1/sessions
 *
 * With TOTP on, POST /v1/sessions answers a right password with 401 mfa_required carrying
 * `mfa_challenge` (single use, auth.mfa_challenge_ttl_s: 5 min by default) instead of a token. A
 * code is accepted for the current 30 s step or the one before, only for a step after the last one
 * accepted (recorded atomically in the store, so a code is never accepted twice, even on two
 * nodes), with constant-time comparison. Guesses are throttled per account (src/auth/throttle.h,
 * its own key space): 429 rate_limited with Retry-After. Wrong or replayed codes answer 422
 * invalid_mfa_code; an unknown, used or expired challenge 401 mfa_challenge_invalid.
 *
 * Secrets: the TOTP secret is returned once at enrolment and stored sealed (auth/mfa.h);
 * recovery codes are returned once and stored as keyed hashes. None of these answers is ever
 * stored for idempotent replay, and none of it is logged.
 */
#ifndef TL_API_TWOFACTOR_H
#define TL_API_TWOFACTOR_H

#include <stdbool.h>

#include "api/http.h"
#include "store/app.h"
#include "util/err.h"

#define TWOFACTOR_ISSUER "Tally"

enum tl_err twofactor_status(struct http_request *req, struct http_response *resp);
enum tl_err twofactor_enroll(struct http_request *req, struct http_response *resp);
enum tl_err twofactor_confirm(struct http_request *req, struct http_response *resp);
enum tl_err twofactor_disable(struct http_request *req, struct http_response *resp);
enum tl_err twofactor_login_complete(struct http_request *req, struct http_response *resp);

/*
 * For POST /v1/sessions after the password was verified: when user has TOTP on, makes a
 * challenge and renders the 401 mfa_required problem with it (*challenged true, TL_OK: the
 * response is complete). Otherwise *challenged is false and nothing is rendered.
 */
enum tl_err twofactor_login_check(struct http_request *req, struct http_response *resp,
                                  const struct store_user *user, bool *challenged);

/*
 * For step-up (api/stepup.h): checks a TOTP code of user_id's active TOTP under the same rules
 * as a login's (throttled per account, current or previous step, never a step twice). TL_OK
 * when it is right; else the answer is recorded on resp: 409 mfa_not_enabled, 422
 * invalid_mfa_code (fail_action is audited), 429 rate_limited.
 */
enum tl_err twofactor_code_verify(struct http_request *req, struct http_response *resp,
                                  struct id128 user_id, const char *code, const char *fail_action);

#endif
