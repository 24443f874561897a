#include "api/operator.h"

#include <string.h>
#include <strings.h>

#include "api/users.h"
#include "auth/auth_crypto.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/typeid.h"

#define OPERATOR_BEARER "Bearer"
#define OPERATOR_BEARER_LEN 6
#define OPERATOR_TOKEN_BYTES_MAX 256

static void operator_hash(const struct operator_auth *auth, const char *token, size_t token_bytes,
                          uint8_t out[OPERATOR_HASH_BYTES])
{
    auth_crypto_keyed_hash(out, OPERATOR_HASH_BYTES, token, token_bytes, auth->key,
                           sizeof(auth->key));
}

void operator_auth_init(struct operator_auth *out, const char *token)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(token != NULL);
    size_t len = strlen(token);
    TL_ASSERT(len > 0 && len <= OPERATOR_TOKEN_BYTES_MAX);
    memset(out, 0, sizeof(*out));
    auth_crypto_random(out->key, sizeof(out->key));
    operator_hash(out, token, len, out->token_hash);
    out->enabled = true;
}

bool operator_auth_check(const struct operator_auth *auth, const char *authorization)
{
    if (auth == NULL || !auth->enabled || authorization == NULL) {
        return false;
    }
    /* RFC 9110: the scheme is case-insensitive, then one or more spaces, then the token. */
    if (strncasecmp(authorization, OPERATOR_BEARER, OPERATOR_BEARER_LEN) != 0 ||
        authorization[OPERATOR_BEARER_LEN] != ' ') {
        return false;
    }
    const char *token = authorization + OPERATOR_BEARER_LEN;
    while (*token == ' ') {
        token++;
    }
    size_t len = strnlen(token, OPERATOR_TOKEN_BYTES_MAX + 1);
    if (len == 0 || len > OPERATOR_TOKEN_BYTES_MAX) {
        return false;
    }
    uint8_t presented[OPERATOR_HASH_BYTES];
    operator_hash(auth, token, len, presented);
    return auth_crypto_equal(presented, auth->token_hash, sizeof(presented));
}

/* ---- GET /v1/admin/users/{id} ---- */

enum tl_err operator_users_get(struct http_request *req, struct http_response *resp)
{
    TL_ASSERT(req->operator);
    const char *text = http_request_param(req, "id");
    TL_ASSERT(text != NULL);
    struct id128 id;
    if (typeid_decode(text, strlen(text), TYPEID_PREFIX_USER, &id, NULL) != TL_OK) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such user");
    }
    struct store *store = NULL;
    struct store_user user;
    bool found = false;
    enum tl_err err = http_request_store(req, &store);
    if (err == TL_OK) {
        err = store_user_get(store, id, &user, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such user");
    }
    return http_response_json(resp, 200, users_json(&user));
}
