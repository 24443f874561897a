/*
 * sessions.h - log in and log out.
 *
 *   POST   /v1/sessions         {login, password} -> 201 {token, expires_at, user}
 *   DELETE /v1/sessions/current -> 204; the token stops working at once
 *
 * A login names a user by handle, @handle, email or E.164 phone. Unknown logins and wrong
 * passwords both answer 401 invalid_credentials after one Argon2id verification each (a dummy
 * hash for unknown users), so neither the answer nor its timing says which it was. Attempts
 * are throttled per account (the user, or the normalised login when nobody matched) before
 * the password is looked at: 429 rate_limited with Retry-After.
 *
 * The token is returned once and stored only as its keyed hash. Because the response holds a
 * secret, a login is never stored for idempotent replay: its route is not ROUTE_IDEMPOTENT and
 * a retry simply logs in again.
 *
 * Never: log, store or echo a password or token (not even in a problem detail).
 */
#ifndef TL_API_SESSIONS_H
#define TL_API_SESSIONS_H

#include "api/http.h"
#include "store/app.h"
#include "util/err.h"

/*
 * With TOTP on (src/api/twofactor.h), a right password does not log in: the answer is 401
 * mfa_required with a single-use challenge, completed at POST /v1/sessions/mfa.
 */
enum tl_err sessions_create(struct http_request *req, struct http_response *resp);
/* A new session for user (fully authenticated): stored by token hash with the client's
 * User-Agent, cached, audited and rendered as 201 {token, expires_at, user}. */
enum tl_err sessions_issue(struct http_request *req, struct http_response *resp,
                           const struct store_user *user);
enum tl_err sessions_delete(struct http_request *req, struct http_response *resp);

/*
 * Revocations reach every node: after the store revoked sessions, sessions_broadcast_revoked
 * appends a "session.revoked" outbox row for the user (data {"session_id": "ses_..."} for one
 * session, or {"all_except": "ses_..."} for every other session of the user), and every node's
 * event hub hands each outbox row it reads to sessions_outbox_row, which drops those sessions
 * from that node's authn cache. So a revoked token stops working on every node within one poll
 * of the hub (200 ms), not only on the node that revoked it. Best effort: a failed append is
 * logged, and the other nodes' caches still expire within their TTL.
 */
void sessions_broadcast_revoked(struct http_request *req, struct id128 user_id,
                                struct id128 session_id, bool all_except);
/* An events_hub_config.on_row callback; ctx is the struct authn of this node. */
void sessions_outbox_row(void *ctx, const struct store_outbox_row *row);

#endif
