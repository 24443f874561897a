/*
 * passkeys.h - passkeys (WebAuthn Level 2): register, list, revoke, and log in without a password.
 *
 *   POST   /v1/me/passkeys/options      -> 200 PublicKeyCredentialCreationOptions (JSON form)
 *   POST   /v1/me/passkeys              {credential_id, client_data_json, attestation_object,
 *                                        name?} -> 201 passkey
 *   GET    /v1/me/passkeys              -> 200 {data: [passkey], has_more: false}
 *   DELETE /v1/me/passkeys/{id}         -> 204
 *   POST   /v1/sessions/passkey/options {login?} -> 200 PublicKeyCredentialRequestOptions
 *   POST   /v1/sessions/passkey         {credential_id, client_data_json, authenticator_data,
 *                                        signature, user_handle?} -> 201 {token, expires_at, user}
 *
 * Binary fields travel as unpadded base64url. Each options call stores a fresh 32-byte challenge
 * (its SHA-256, PASSKEYS_CHALLENGE_TTL_S, one use: the ceremony deletes it before anything else
 * is checked, so a failed attempt burns it too). The relying party id, name and origin come from
 * configuration ([webauthn]); src/auth/webauthn.h verifies what the browser sent. A login
 * creates its session exactly like a password login (sessions_issue).
 *
 * Registration failures are 400 passkey_invalid with a detail; login failures are all 401
 * invalid_credentials (the detail says which check failed, never whose passkey it was).
 *
 * Never: accept a challenge twice, a credential of another user, or a counter that went back.
 */
#ifndef TL_API_PASSKEYS_H
#define TL_API_PASSKEYS_H

#include "api/http.h"
#include "util/err.h"

/* Seconds an options challenge can be used (and the timeout the browser is told). */
#define PASSKEYS_CHALLENGE_TTL_S 300u
/* TypeID prefix of passkey ids ("passkey_01h..."). */
#define PASSKEYS_ID_PREFIX "passkey"
/* Audit actions (api/audit.h); the subject is the passkey's id. */
#define PASSKEYS_AUDIT_REGISTERED "passkey.registered"
#define PASSKEYS_AUDIT_REVOKED "passkey.revoked"
#define PASSKEYS_AUDIT_LOGIN_FAILED "login.passkey_failed"

enum tl_err passkeys_register_options(struct http_request *req, struct http_response *resp);
enum tl_err passkeys_register(struct http_request *req, struct http_response *resp);
enum tl_err passkeys_list(struct http_request *req, struct http_response *resp);
enum tl_err passkeys_revoke(struct http_request *req, struct http_response *resp);
enum tl_err passkeys_login_options(struct http_request *req, struct http_response *resp);
enum tl_err passkeys_login(struct http_request *req, struct http_response *resp);

#endif
