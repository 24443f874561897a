/*
 * operator.h - the operator's credential and the operator routes (/v1/admin/...).
 *
 * An operator route carries ROUTE_OPERATOR in routes.c. The dispatcher authenticates it here
 * instead of with a user session: `Authorization: Bearer <operator token>`, the token read at
 * start from admin.token_file (config_admin_token_load). Only a keyed hash of the token is
 * kept in memory and compared in constant time. A user's session token is refused (401 like
 * any wrong token). Without a token file the operator routes do not exist: they answer 404.
 * A handler of an operator route sees req->operator == true and no principal; its
 * Idempotency-Key scope is "operator".
 *
 *   GET /v1/admin/users/{id}   a user's full profile (with email and phone) for support
 *
 * Never: log the token, accept an empty or short one, or let a user session reach /v1/admin.
 */
#ifndef TL_API_OPERATOR_H
#define TL_API_OPERATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

#define OPERATOR_HASH_BYTES 32

struct operator_auth {
    bool enabled;
    uint8_t key[OPERATOR_HASH_BYTES];        /* random per process: the hash is not portable */
    uint8_t token_hash[OPERATOR_HASH_BYTES]; /* keyed hash of the configured token */
};

/* Sets up *out from the token text (wiped by the caller). Cannot fail. */
void operator_auth_init(struct operator_auth *out, const char *token);

/* True when the Authorization header value (may be NULL) presents the operator token. */
bool operator_auth_check(const struct operator_auth *auth, const char *authorization);

enum tl_err operator_users_get(struct http_request *req, struct http_response *resp);

#endif
