/*
 * security.h - what a signed-in user does about their own account's security.
 *
 *   GET    /v1/me/sessions       -> {data: [{id, created_at, expires_at, user_agent, current}],
 *                                    has_more: false}: live sessions, newest first (no token)
 *   DELETE /v1/me/sessions       -> 200 {revoked}: every session but the caller's
 *   DELETE /v1/me/sessions/{id}  -> 204; another user's session (or none) is 404 not_found
 *   POST   /v1/me/password       {current_password, new_password} -> 204; every other session
 *                                    is revoked
 *
 * Revocations take effect at once in this process (authn_forget_*) and within the session
 * cache TTL in others. The current password is checked through the login throttle of the
 * account (a stolen session cannot brute-force it faster than a login could) and the Argon2id
 * gate; the new one must pass the sign-up policy. Never logs or echoes a password.
 */
#ifndef TL_API_SECURITY_H
#define TL_API_SECURITY_H

#include "api/http.h"
#include "util/err.h"

enum tl_err security_sessions_list(struct http_request *req, struct http_response *resp);
enum tl_err security_sessions_revoke_others(struct http_request *req, struct http_response *resp);
enum tl_err security_session_revoke(struct http_request *req, struct http_response *resp);
enum tl_err security_password_change(struct http_request *req, struct http_response *resp);

#endif
