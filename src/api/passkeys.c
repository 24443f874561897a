#include "api/passkeys.h"

#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/render.h"
#include "api/sessions.h"
#include "api/users.h"
#include "api/money_cache.h"
#include "auth/auth_crypto.h"
#include "auth/webauthn.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/config.h"
#include "util/log.h"
#include "util/typeid.h"

static_assert(STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX == WEBAUTHN_CREDENTIAL_ID_BYTES_MAX,
              "the store keeps every credential id WebAuthn allows");
static_assert(STORE_PASSKEY_PUBLIC_KEY_BYTES_MAX == WEBAUTHN_PUBLIC_KEY_BYTES_MAX, "same keys");
static_assert(STORE_PASSKEY_AAGUID_BYTES == WEBAUTHN_AAGUID_BYTES, "same AAGUID");
static_assert(STORE_HASH_BYTES == WEBAUTHN_HASH_BYTES, "challenges are stored by SHA-256");
static_assert(STORE_PASSKEY_ALG_ES256 == WEBAUTHN_ALG_ES256, "same COSE ids");
static_assert(STORE_PASSKEY_ALG_EDDSA == WEBAUTHN_ALG_EDDSA, "same COSE ids");

/* base64url text of n bytes, without the NUL. */
#define PASSKEYS_B64_LEN(n) AUTH_CRYPTO_BASE64URL_LEN(n)
#define PASSKEYS_NAME_BYTES_MAX (STORE_PASSKEY_NAME_BYTES_MAX - 1)
#define PASSKEYS_LOGIN_BYTES_MAX 254u
#define PASSKEYS_DEFAULT_NAME "Passkey"

static const struct json_field passkeys_register_fields[] = {
    JSON_STRING("credential_id", true, PASSKEYS_B64_LEN(WEBAUTHN_CREDENTIAL_ID_BYTES_MAX)),
    JSON_STRING("client_data_json", true, PASSKEYS_B64_LEN(WEBAUTHN_CLIENT_DATA_BYTES_MAX)),
    JSON_STRING("attestation_object", true, PASSKEYS_B64_LEN(WEBAUTHN_ATTESTATION_BYTES_MAX)),
    JSON_STRING("name", false, PASSKEYS_NAME_BYTES_MAX),
};

static const struct json_field passkeys_login_options_fields[] = {
    JSON_STRING("login", false, PASSKEYS_LOGIN_BYTES_MAX),
};

static const struct json_field passkeys_login_fields[] = {
    JSON_STRING("credential_id", true, PASSKEYS_B64_LEN(WEBAUTHN_CREDENTIAL_ID_BYTES_MAX)),
    JSON_STRING("client_data_json", true, PASSKEYS_B64_LEN(WEBAUTHN_CLIENT_DATA_BYTES_MAX)),
    JSON_STRING("authenticator_data", true, PASSKEYS_B64_LEN(WEBAUTHN_AUTH_DATA_BYTES_MAX)),
    JSON_STRING("signature", true, PASSKEYS_B64_LEN(WEBAUTHN_SIGNATURE_BYTES_MAX)),
    JSON_STRING("user_handle", false, PASSKEYS_B64_LEN(ID128_BYTES)),
    JSON_BOOL("cookie", false), /* a cookie session (sessions_issue) */
};

#define PASSKEYS_FIELDS(f) f, sizeof(f) / sizeof((f)[0])

/* The decoded binary fields of a ceremony's answer (heap: about 22 KiB). */
struct passkeys_input {
    uint8_t credential_id[WEBAUTHN_CREDENTIAL_ID_BYTES_MAX];
    size_t credential_id_bytes;
    uint8_t client_data[WEBAUTHN_CLIENT_DATA_BYTES_MAX];
    size_t client_data_bytes;
    uint8_t attestation[WEBAUTHN_ATTESTATION_BYTES_MAX];
    size_t attestation_bytes;
    uint8_t auth_data[WEBAUTHN_AUTH_DATA_BYTES_MAX];
    size_t auth_data_bytes;
    uint8_t signature[WEBAUTHN_SIGNATURE_BYTES_MAX];
    size_t signature_bytes;
    uint8_t user_handle[ID128_BYTES];
    size_t user_handle_bytes;
    bool has_user_handle;
    char name[STORE_PASSKEY_NAME_BYTES_MAX];
};

/* ---- Helpers ---- */

static bool passkeys_configured(const struct http_request *req)
{
    const struct config *config = req->app->config;
    return config != NULL && req->app->authn != NULL && config->webauthn_rp_id[0] != '\0' &&
           config->webauthn_origin[0] != '\0';
}

static enum tl_err passkeys_unavailable(struct http_response *resp)
{
    return http_fail(resp, TL_ERR_NOT_READY, NULL, "passkeys are not configured");
}

/* Decodes field name of body (absent: TL_OK with *present false) into out. */
static enum tl_err passkeys_decode(struct http_response *resp, const json_t *body, const char *name,
                                   uint8_t *out, size_t out_max, size_t *out_bytes, bool *present)
{
    const char *text = json_field_string(body, name);
    *present = text != NULL;
    if (text == NULL) {
        return TL_OK;
    }
    if (!webauthn_base64url_decode(text, strlen(text), out, out_max, out_bytes) ||
        *out_bytes == 0) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, name,
                         "must be unpadded base64url of the right length");
    }
    return TL_OK;
}

/* Reads an optional JSON body (an empty one is {}). */
static enum tl_err passkeys_body(struct http_request *req, struct http_response *resp,
                                 const struct json_field *fields, size_t field_count, json_t **out)
{
    struct json_error error;
    if (req->body_bytes == 0) {
        *out = json_object();
        return *out != NULL ? TL_OK : TL_ERR_NOMEM;
    }
    enum tl_err err = json_body_read(req->body, req->body_bytes, fields, field_count, out, &error);
    if (err != TL_OK) {
        return http_fail(resp, err, error.param[0] != '\0' ? error.param : NULL, error.detail);
    }
    return TL_OK;
}

static json_t *passkeys_b64_json(const uint8_t *bytes, size_t bytes_len)
{
    char text[PASSKEYS_B64_LEN(WEBAUTHN_CREDENTIAL_ID_BYTES_MAX) + 1];
    TL_ASSERT(bytes_len <= WEBAUTHN_CREDENTIAL_ID_BYTES_MAX);
    auth_crypto_base64url(text, sizeof(text), bytes, bytes_len);
    return json_string(text);
}

static json_t *passkeys_json(const struct store_passkey *pk)
{
    char id[TYPEID_STR_BYTES];
    char created[RENDER_TIME_BYTES];
    char used[RENDER_TIME_BYTES];
    typeid_encode(PASSKEYS_ID_PREFIX, pk->id, id);
    render_time_text(pk->created_ns, created);
    json_t *last_used = json_null();
    if (pk->last_used_ns != 0) {
        render_time_text(pk->last_used_ns, used);
        last_used = json_string(used);
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o}", "id", id, "name", pk->name, "algorithm",
                     webauthn_alg_name(pk->algorithm), "credential_id",
                     passkeys_b64_json(pk->credential_id, pk->credential_id_bytes), "created_at",
                     created, "last_used_at", last_used);
}

/* A fresh challenge of kind for user (zero: an unbound login), stored; *text is its base64url. */
static enum tl_err passkeys_challenge_new(struct http_request *req, uint8_t kind,
                                          struct id128 user_id,
                                          char text[PASSKEYS_B64_LEN(WEBAUTHN_CHALLENGE_BYTES) + 1])
{
    struct api_app *app = req->app;
    uint8_t challenge[WEBAUTHN_CHALLENGE_BYTES];
    struct store_webauthn_challenge row;
    struct store *store = NULL;
    memset(&row, 0, sizeof(row));
    auth_crypto_random(challenge, sizeof(challenge));
    webauthn_sha256(challenge, sizeof(challenge), row.hash);
    row.kind = kind;
    row.user_id = user_id;
    row.created_ns = authn_wall_ns(app->authn);
    row.expires_ns = row.created_ns + (uint64_t)PASSKEYS_CHALLENGE_TTL_S * 1000000000u;
    enum tl_err err = api_app_store_acquire(app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_webauthn_challenge_create(store, &row);
    api_app_store_release(app, store);
    auth_crypto_base64url(text, PASSKEYS_B64_LEN(WEBAUTHN_CHALLENGE_BYTES) + 1, challenge,
                          sizeof(challenge));
    return err;
}

/*
 * Takes the challenge clientDataJSON names: deletes it (one use) and gives its user. The bytes
 * go to *challenge for the verification that follows. TL_ERR_NOT_FOUND when the challenge is
 * unknown, used, expired or of another kind; TL_ERR_INVALID_REQUEST (with *why) when
 * clientDataJSON is malformed.
 */
static enum tl_err passkeys_challenge_take(struct http_request *req,
                                           const struct passkeys_input *in, uint8_t kind,
                                           uint8_t challenge[WEBAUTHN_CHALLENGE_BYTES],
                                           struct id128 *user_id, const char **why)
{
    struct webauthn_client_data cd;
    uint8_t hash[WEBAUTHN_HASH_BYTES];
    struct store *store = NULL;
    enum tl_err err = webauthn_client_data_parse(in->client_data, in->client_data_bytes, &cd, why);
    if (err != TL_OK) {
        return err;
    }
    webauthn_sha256(cd.challenge, sizeof(cd.challenge), hash);
    err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_webauthn_challenge_consume(store, hash, kind, authn_wall_ns(req->app->authn),
                                           user_id);
    api_app_store_release(req->app, store);
    if (err == TL_OK) {
        memcpy(challenge, cd.challenge, WEBAUTHN_CHALLENGE_BYTES);
    }
    return err;
}

static enum tl_err passkeys_user(struct http_request *req, struct id128 user_id,
                                 struct store_user *out, bool *found)
{
    struct store *store = NULL;
    enum tl_err err = http_request_store(req, &store);
    if (err != TL_OK) {
        return err;
    }
    return store_user_get(store, user_id, out, found);
}

/* The user's live passkeys as [{type, id}] (for exclude/allowCredentials). */
static enum tl_err passkeys_descriptors(struct http_request *req, struct id128 user_id,
                                        json_t **out)
{
    struct store *store = NULL;
    uint32_t count = 0;
    struct store_passkey *list = calloc(STORE_PASSKEYS_USER_MAX, sizeof(*list));
    json_t *array = json_array();
    enum tl_err err =
        list != NULL && array != NULL ? http_request_store(req, &store) : TL_ERR_NOMEM;
    if (err == TL_OK) {
        err = store_passkeys_list(store, user_id, list, STORE_PASSKEYS_USER_MAX, &count);
    }
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        json_t *item =
            json_pack("{s:s, s:o}", "type", "public-key", "id",
                      passkeys_b64_json(list[i].credential_id, list[i].credential_id_bytes));
        err = item != NULL && json_array_append_new(array, item) == 0 ? TL_OK : TL_ERR_NOMEM;
    }
    free(list);
    if (err != TL_OK) {
        json_decref(array);
        return err;
    }
    *out = array;
    return TL_OK;
}

/* ---- Registration ---- */

enum tl_err passkeys_register_options(struct http_request *req, struct http_response *resp)
{
    const struct config *config = req->app->config;
    char challenge[PASSKEYS_B64_LEN(WEBAUTHN_CHALLENGE_BYTES) + 1];
    uint8_t user_bytes[ID128_BYTES];
    struct store_user user;
    json_t *body = NULL;
    json_t *exclude = NULL;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    if (!passkeys_configured(req)) {
        return passkeys_unavailable(resp);
    }
    enum tl_err err = passkeys_body(req, resp, NULL, 0, &body);
    json_decref(body);
    if (err == TL_OK) {
        err = passkeys_user(req, req->principal.user_id, &user, &found);
    }
    if (err == TL_OK && !found) {
        err = TL_ERR_UNAUTHORIZED; /* the session outlived its user */
    }
    if (err == TL_OK) {
        err = passkeys_descriptors(req, user.id, &exclude);
    }
    if (err == TL_OK) {
        err = passkeys_challenge_new(req, STORE_WEBAUTHN_REGISTER, user.id, challenge);
    }
    explicit_bzero(user.password_hash, sizeof(user.password_hash));
    if (err != TL_OK) {
        json_decref(exclude);
        return err;
    }
    id128_to_bytes(user.id, user_bytes);
    json_t *options = json_pack(
        "{s:s, s:{s:s, s:s}, s:{s:o, s:s, s:s}, s:[{s:s, s:i}, {s:s, s:i}], s:i, s:s, "
        "s:{s:s, s:b, s:s}, s:o}",
        "challenge", challenge, "rp", "id", config->webauthn_rp_id, "name",
        config->webauthn_rp_name, "user", "id", passkeys_b64_json(user_bytes, sizeof(user_bytes)),
        "name", user.handle, "displayName", user.display_name, "pubKeyCredParams", "type",
        "public-key", "alg", WEBAUTHN_ALG_ES256, "type", "public-key", "alg", WEBAUTHN_ALG_EDDSA,
        "timeout", (int)(PASSKEYS_CHALLENGE_TTL_S * 1000u), "attestation", "none",
        "authenticatorSelection", "residentKey", "required", "requireResidentKey", 1,
        "userVerification", "required", "excludeCredentials", exclude);
    return http_response_json(resp, 200, options);
}

static enum tl_err passkeys_register_input(struct http_request *req, struct http_response *resp,
                                           struct passkeys_input *in)
{
    json_t *body = NULL;
    bool present = false;
    enum tl_err err = passkeys_body(req, resp, PASSKEYS_FIELDS(passkeys_register_fields), &body);
    if (err != TL_OK) {
        return err;
    }
    err = passkeys_decode(resp, body, "credential_id", in->credential_id, sizeof(in->credential_id),
                          &in->credential_id_bytes, &present);
    if (err == TL_OK) {
        err = passkeys_decode(resp, body, "client_data_json", in->client_data,
                              sizeof(in->client_data), &in->client_data_bytes, &present);
    }
    if (err == TL_OK) {
        err = passkeys_decode(resp, body, "attestation_object", in->attestation,
                              sizeof(in->attestation), &in->attestation_bytes, &present);
    }
    const char *name = json_field_string(body, "name");
    if (err == TL_OK && name != NULL && name[0] == '\0') {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "name", "must not be empty");
    }
    if (err == TL_OK) {
        snprintf(in->name, sizeof(in->name), "%s", name != NULL ? name : PASSKEYS_DEFAULT_NAME);
    }
    json_decref(body);
    return err;
}

/* Verifies the ceremony and fills *pk; the challenge was taken already. */
static enum tl_err passkeys_register_verify(struct http_request *req, struct http_response *resp,
                                            const struct passkeys_input *in,
                                            const uint8_t challenge[WEBAUTHN_CHALLENGE_BYTES],
                                            struct store_passkey *pk)
{
    const struct config *config = req->app->config;
    struct webauthn_expect expect = {config->webauthn_rp_id, config->webauthn_origin, challenge};
    struct webauthn_auth_data ad;
    const char *why = NULL;
    enum tl_err err = webauthn_register_verify(&expect, in->client_data, in->client_data_bytes,
                                               in->attestation, in->attestation_bytes, &ad, &why);
    if (err != TL_OK) {
        return http_fail(resp, TL_ERR_PASSKEY_INVALID, NULL, why);
    }
    if (ad.credential_id_bytes != in->credential_id_bytes ||
        memcmp(ad.credential_id, in->credential_id, in->credential_id_bytes) != 0) {
        return http_fail(resp, TL_ERR_PASSKEY_INVALID, "credential_id",
                         "is not the credential the attestation carries");
    }
    memset(pk, 0, sizeof(*pk));
    pk->id = id128_new();
    pk->user_id = req->principal.user_id;
    memcpy(pk->credential_id, ad.credential_id, ad.credential_id_bytes);
    pk->credential_id_bytes = ad.credential_id_bytes;
    pk->algorithm = ad.key.alg;
    memcpy(pk->public_key, ad.key.bytes, ad.key.bytes_len);
    pk->public_key_bytes = ad.key.bytes_len;
    pk->sign_count = ad.sign_count;
    memcpy(pk->aaguid, ad.aaguid, sizeof(pk->aaguid));
    snprintf(pk->name, sizeof(pk->name), "%s", in->name);
    pk->created_ns = authn_wall_ns(req->app->authn);
    return TL_OK;
}

static enum tl_err passkeys_store_create(struct http_request *req, struct http_response *resp,
                                         const struct store_passkey *pk)
{
    struct store *store = NULL;
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_passkey_create(store, pk);
    money_cache_stepup_changed();
    api_app_store_release(req->app, store);
    if (err == TL_ERR_CONFLICT) {
        return http_fail(resp, err, "credential_id", "this passkey is registered already");
    }
    if (err == TL_ERR_LIMIT) {
        return http_fail(resp, err, NULL, "too many passkeys; revoke one first");
    }
    return err;
}

enum tl_err passkeys_register(struct http_request *req, struct http_response *resp)
{
    uint8_t challenge[WEBAUTHN_CHALLENGE_BYTES];
    struct id128 challenge_user;
    struct store_passkey *pk = NULL;
    const char *why = NULL;
    TL_ASSERT(req->principal.authenticated);
    if (!passkeys_configured(req)) {
        return passkeys_unavailable(resp);
    }
    struct passkeys_input *in = calloc(1, sizeof(*in));
    pk = calloc(1, sizeof(*pk));
    enum tl_err err =
        in != NULL && pk != NULL ? passkeys_register_input(req, resp, in) : TL_ERR_NOMEM;
    if (err == TL_OK) {
        err = passkeys_challenge_take(req, in, STORE_WEBAUTHN_REGISTER, challenge, &challenge_user,
                                      &why);
        if (err == TL_ERR_INVALID_REQUEST) {
            err = http_fail(resp, TL_ERR_PASSKEY_INVALID, "client_data_json", why);
        } else if (err == TL_ERR_NOT_FOUND ||
                   (err == TL_OK && !id128_eq(challenge_user, req->principal.user_id))) {
            err = http_fail(resp, TL_ERR_PASSKEY_INVALID, "client_data_json",
                            "the challenge is unknown, used, expired or not yours");
        }
    }
    if (err == TL_OK) {
        err = passkeys_register_verify(req, resp, in, challenge, pk);
    }
    if (err == TL_OK) {
        err = passkeys_store_create(req, resp, pk);
    }
    if (err == TL_OK) {
        char subject[TYPEID_STR_BYTES];
        typeid_encode(PASSKEYS_ID_PREFIX, pk->id, subject);
        audit_record(req, pk->user_id, PASSKEYS_AUDIT_REGISTERED, subject);
        err = http_response_json(resp, 201, passkeys_json(pk));
    }
    free(in);
    free(pk);
    return err;
}

/* ---- List and revoke ---- */

enum tl_err passkeys_list(struct http_request *req, struct http_response *resp)
{
    struct store *store = NULL;
    uint32_t count = 0;
    TL_ASSERT(req->principal.authenticated);
    struct store_passkey *list = calloc(STORE_PASSKEYS_USER_MAX, sizeof(*list));
    json_t *data = json_array();
    enum tl_err err = list != NULL && data != NULL ? http_request_store(req, &store) : TL_ERR_NOMEM;
    if (err == TL_OK) {
        err = store_passkeys_list(store, req->principal.user_id, list, STORE_PASSKEYS_USER_MAX,
                                  &count);
    }
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        json_t *item = passkeys_json(&list[i]);
        err = item != NULL && json_array_append_new(data, item) == 0 ? TL_OK : TL_ERR_NOMEM;
    }
    free(list);
    if (err != TL_OK) {
        json_decref(data);
        return err;
    }
    return http_response_json(resp, 200, json_pack("{s:o, s:b}", "data", data, "has_more", 0));
}

enum tl_err passkeys_revoke(struct http_request *req, struct http_response *resp)
{
    struct id128 id;
    enum typeid_fault fault;
    struct store *store = NULL;
    TL_ASSERT(req->principal.authenticated);
    const char *text = http_request_param(req, "id");
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), PASSKEYS_ID_PREFIX, &id, &fault) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such passkey");
    }
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_passkey_revoke(store, req->principal.user_id, id, authn_wall_ns(req->app->authn));
    money_cache_stepup_changed();
    api_app_store_release(req->app, store);
    if (err == TL_ERR_NOT_FOUND) {
        return http_fail(resp, err, NULL, "no such passkey");
    }
    if (err != TL_OK) {
        return err;
    }
    audit_record(req, req->principal.user_id, PASSKEYS_AUDIT_REVOKED, text);
    resp->status = 204;
    buf_reset(&resp->body);
    return TL_OK;
}

/* ---- Login ---- */

enum tl_err passkeys_login_options(struct http_request *req, struct http_response *resp)
{
    const struct config *config = req->app->config;
    char challenge[PASSKEYS_B64_LEN(WEBAUTHN_CHALLENGE_BYTES) + 1];
    struct id128 user_id = id128_make(0, 0);
    json_t *body = NULL;
    json_t *allow = NULL;
    if (!passkeys_configured(req)) {
        return passkeys_unavailable(resp);
    }
    enum tl_err err =
        passkeys_body(req, resp, PASSKEYS_FIELDS(passkeys_login_options_fields), &body);
    if (err != TL_OK) {
        return err;
    }
    /* A named login narrows allowCredentials to its passkeys; an unknown one is answered like
     * no login at all (a discoverable-credential ceremony), so shape tells little. */
    const char *login = json_field_string(body, "login");
    struct users_key key;
    if (login != NULL && users_key_parse(login, strlen(login), &key) == TL_OK) {
        struct store *store = NULL;
        struct store_user user;
        bool found = false;
        err = http_request_store(req, &store);
        if (err == TL_OK) {
            err = users_find(store, &key, &user, &found);
        }
        if (err == TL_OK && found) {
            user_id = user.id;
            explicit_bzero(user.password_hash, sizeof(user.password_hash));
        }
    }
    json_decref(body);
    if (err == TL_OK) {
        err = id128_is_zero(user_id) ? ((allow = json_array()) != NULL ? TL_OK : TL_ERR_NOMEM)
                                     : passkeys_descriptors(req, user_id, &allow);
    }
    if (err == TL_OK) {
        err = passkeys_challenge_new(req, STORE_WEBAUTHN_LOGIN, user_id, challenge);
    }
    if (err != TL_OK) {
        json_decref(allow);
        return err;
    }
    return http_response_json(resp, 200,
                              json_pack("{s:s, s:s, s:i, s:s, s:o}", "challenge", challenge, "rpId",
                                        config->webauthn_rp_id, "timeout",
                                        (int)(PASSKEYS_CHALLENGE_TTL_S * 1000u), "userVerification",
                                        "required", "allowCredentials", allow));
}

static enum tl_err passkeys_login_input(struct http_request *req, struct http_response *resp,
                                        struct passkeys_input *in)
{
    json_t *body = NULL;
    bool present = false;
    enum tl_err err = passkeys_body(req, resp, PASSKEYS_FIELDS(passkeys_login_fields), &body);
    if (err != TL_OK) {
        return err;
    }
    err = passkeys_decode(resp, body, "credential_id", in->credential_id, sizeof(in->credential_id),
                          &in->credential_id_bytes, &present);
    if (err == TL_OK) {
        err = passkeys_decode(resp, body, "client_data_json", in->client_data,
                              sizeof(in->client_data), &in->client_data_bytes, &present);
    }
    if (err == TL_OK) {
        err = passkeys_decode(resp, body, "authenticator_data", in->auth_data,
                              sizeof(in->auth_data), &in->auth_data_bytes, &present);
    }
    if (err == TL_OK) {
        err = passkeys_decode(resp, body, "signature", in->signature, sizeof(in->signature),
                              &in->signature_bytes, &present);
    }
    if (err == TL_OK) {
        err = passkeys_decode(resp, body, "user_handle", in->user_handle, sizeof(in->user_handle),
                              &in->user_handle_bytes, &in->has_user_handle);
    }
    json_decref(body);
    return err;
}

static enum tl_err passkeys_denied(struct http_request *req, struct http_response *resp,
                                   const char *why)
{
    LOG(LOG_INFO, "passkey_login_failed", LOG_STR("request_id", req->request_id),
        LOG_STR("why", why));
    return http_fail(resp, TL_ERR_INVALID_CREDENTIALS, NULL, why);
}

/* The credential: known, live, bound to the challenge's user (if any) and the user handle. */
static enum tl_err passkeys_login_credential(struct http_request *req, struct http_response *resp,
                                             const struct passkeys_input *in,
                                             struct id128 challenge_user, struct store_passkey *pk)
{
    struct store *store = NULL;
    bool found = false;
    enum tl_err err = http_request_store(req, &store);
    if (err == TL_OK) {
        err = store_passkey_find(store, in->credential_id, (uint32_t)in->credential_id_bytes, pk,
                                 &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found || pk->revoked_ns != 0) {
        return passkeys_denied(req, resp, "this passkey is not registered");
    }
    if (!id128_is_zero(challenge_user) && !id128_eq(challenge_user, pk->user_id)) {
        return passkeys_denied(req, resp, "this passkey is not the named user's");
    }
    uint8_t owner[ID128_BYTES];
    id128_to_bytes(pk->user_id, owner);
    if (in->has_user_handle && (in->user_handle_bytes != ID128_BYTES ||
                                memcmp(in->user_handle, owner, ID128_BYTES) != 0)) {
        return passkeys_denied(req, resp, "user handle does not match the passkey's user");
    }
    if (!in->has_user_handle && id128_is_zero(challenge_user)) {
        return passkeys_denied(req, resp, "a discoverable login must carry the user handle");
    }
    return TL_OK;
}

/* Signature, flags, counter; then the counter is stored (compare and set). */
static enum tl_err passkeys_login_verify(struct http_request *req, struct http_response *resp,
                                         const struct passkeys_input *in,
                                         const uint8_t challenge[WEBAUTHN_CHALLENGE_BYTES],
                                         const struct store_passkey *pk)
{
    const struct config *config = req->app->config;
    struct webauthn_expect expect = {config->webauthn_rp_id, config->webauthn_origin, challenge};
    struct webauthn_key key;
    uint32_t sign_count = 0;
    const char *why = NULL;
    struct store *store = NULL;
    memset(&key, 0, sizeof(key));
    key.alg = pk->algorithm;
    memcpy(key.bytes, pk->public_key, pk->public_key_bytes);
    key.bytes_len = pk->public_key_bytes;
    enum tl_err err = webauthn_assert_verify(&expect, &key, in->client_data, in->client_data_bytes,
                                             in->auth_data, in->auth_data_bytes, in->signature,
                                             in->signature_bytes, &sign_count, &why);
    if (err != TL_OK) {
        return passkeys_denied(req, resp, why);
    }
    if (!webauthn_sign_count_ok(pk->sign_count, sign_count)) {
        LOG(LOG_WARN, "passkey_sign_count_regression", LOG_STR("request_id", req->request_id),
            LOG_U64("stored", pk->sign_count), LOG_U64("presented", sign_count));
        return passkeys_denied(req, resp, "signature counter went back: possible clone");
    }
    err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_passkey_use(store, pk->id, sign_count, authn_wall_ns(req->app->authn));
    api_app_store_release(req->app, store);
    if (err == TL_ERR_CONFLICT) {
        return passkeys_denied(req, resp, "signature counter went back or the passkey was revoked");
    }
    return err;
}

enum tl_err passkeys_login(struct http_request *req, struct http_response *resp)
{
    uint8_t challenge[WEBAUTHN_CHALLENGE_BYTES];
    struct id128 challenge_user;
    struct store_user user;
    bool found = false;
    const char *why = NULL;
    if (!passkeys_configured(req)) {
        return passkeys_unavailable(resp);
    }
    struct passkeys_input *in = calloc(1, sizeof(*in));
    struct store_passkey *pk = calloc(1, sizeof(*pk));
    enum tl_err err = in != NULL && pk != NULL ? passkeys_login_input(req, resp, in) : TL_ERR_NOMEM;
    if (err == TL_OK) {
        err = passkeys_challenge_take(req, in, STORE_WEBAUTHN_LOGIN, challenge, &challenge_user,
                                      &why);
        if (err == TL_ERR_INVALID_REQUEST) {
            err = passkeys_denied(req, resp, why);
        } else if (err == TL_ERR_NOT_FOUND) {
            err = passkeys_denied(req, resp, "the challenge is unknown, used or expired");
        }
    }
    if (err == TL_OK) {
        err = passkeys_login_credential(req, resp, in, challenge_user, pk);
    }
    if (err == TL_OK) {
        err = passkeys_login_verify(req, resp, in, challenge, pk);
        if (err == TL_ERR_INVALID_CREDENTIALS) {
            char subject[TYPEID_STR_BYTES];
            typeid_encode(PASSKEYS_ID_PREFIX, pk->id, subject);
            audit_record(req, pk->user_id, PASSKEYS_AUDIT_LOGIN_FAILED, subject);
        }
    }
    if (err == TL_OK) {
        err = passkeys_user(req, pk->user_id, &user, &found);
        err =
            err == TL_OK && !found ? passkeys_denied(req, resp, "the passkey's user is gone") : err;
    }
    if (err == TL_OK) {
        idempotency_exclude(); /* the answer holds a token */
        err = sessions_issue(req, resp, &user);
        explicit_bzero(user.password_hash, sizeof(user.password_hash));
    }
    free(in);
    free(pk);
    return err;
}
