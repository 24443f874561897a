/*
 * audit.h - the security audit log: one append-only row per security-relevant action.
 *
 * audit_record appends {user, action, time, request id, client address, subject} through the
 * application store handle. Actions are stable dotted names (AUDIT_* below); the subject is a
 * reference (a session id), never a secret, a password, a code or PII. Recording is best effort
 * after the action succeeded: a failure to append is logged (event "audit_append_failed", with
 * the request id and action) and never changes the answer, so the audit log cannot be used to
 * deny service; the action itself is already durable.
 *
 * audit_list is GET /v1/me/audit: the caller's own entries, newest first, standard cursor
 * pagination (ids "aud_...").
 */
#ifndef TL_API_AUDIT_H
#define TL_API_AUDIT_H

#include "api/http.h"
#include "util/id128.h"

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

/* Appends an entry for user_id (action: one of the names above; subject: "" or a reference).
 * Best effort, see above. Cannot fail. */
void audit_record(struct http_request *req, struct id128 user_id, const char *action,
                  const char *subject);

/* GET /v1/me/audit */
enum tl_err audit_list(struct http_request *req, struct http_response *resp);

#endif
