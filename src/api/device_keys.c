#include "api/device_keys.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/json.h"
#include "api/money_cache.h"
#include "auth/auth_crypto.h"
#include "auth/device_sig.h"
#include "store/stepup.h"
#include "util/assert.h"
#include "util/typeid.h"

#define DEVICE_KEYS_NS_PER_S 1000000000ull
/* What a client may send: the base64 of a key and of a signature, with room for nothing more. */
#define DEVICE_KEYS_KEY_B64_LEN AUTH_CRYPTO_BASE64_LEN(DEVICE_SIG_KEY_BYTES)
#define DEVICE_KEYS_SIG_B64_LEN AUTH_CRYPTO_BASE64_LEN(DEVICE_SIG_BYTES)
#define DEVICE_KEYS_NAME_BYTES_MAX (STORE_DEVICE_KEY_NAME_BYTES_MAX - 1)

static_assert(STORE_DEVICE_KEY_BYTES == DEVICE_SIG_KEY_BYTES, "same keys");
static_assert(STORE_DEVICE_SIGNATURE_BYTES == DEVICE_SIG_BYTES, "same signatures");
static_assert(STORE_DEVICE_BODY_HASH_BYTES == DEVICE_SIG_HASH_BYTES, "same hashes");
static_assert(TYPEID_STR_BYTES <= DEVICE_SIG_KEY_ID_BYTES_MAX + 1, "a key id fits the form");

static const struct json_field device_keys_fields[] = {
    JSON_STRING("public_key", true, DEVICE_KEYS_KEY_B64_LEN + 4),
    JSON_STRING("name", true, DEVICE_KEYS_NAME_BYTES_MAX),
};

static uint64_t device_keys_now_ns(const struct http_request *req)
{
    return authn_wall_ns(req->app->authn);
}

static json_t *device_keys_json(const struct store_device_key *k)
{
    char id[TYPEID_STR_BYTES];
    char key[DEVICE_KEYS_KEY_B64_LEN + 1];
    char created[RENDER_TIME_BYTES];
    char revoked[RENDER_TIME_BYTES];
    typeid_encode(DEVICE_KEYS_ID_PREFIX, k->id, id);
    auth_crypto_base64(key, sizeof(key), k->public_key, sizeof(k->public_key));
    render_time_text(k->created_ns, created);
    json_t *revoked_at = json_null();
    if (k->revoked_ns != 0) {
        render_time_text(k->revoked_ns, revoked);
        revoked_at = json_string(revoked);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "name", k->name, "algorithm",
                     "Ed25519", "public_key", key, "created_at", created, "revoked_at",
                     revoked_at);
}

/* A name people chose: no control characters. */
static bool device_keys_name_ok(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return name[0] != '\0';
}

/* ---- POST /v1/me/device_keys ---- */

static enum tl_err device_keys_parse(struct http_request *req, struct http_response *resp,
                                     struct store_device_key *k)
{
    struct json_error error;
    json_t *body = NULL;
    size_t key_bytes = 0;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, device_keys_fields,
                       sizeof(device_keys_fields) / sizeof(device_keys_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, err, error.param[0] != '\0' ? error.param : NULL, error.detail);
    }
    const char *key = json_field_string(body, "public_key");
    const char *name = json_field_string(body, "name");
    if (!auth_crypto_base64_decode(k->public_key, sizeof(k->public_key), key, strlen(key),
                                   &key_bytes) ||
        key_bytes != DEVICE_SIG_KEY_BYTES || !auth_crypto_ed25519_key_ok(k->public_key)) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "public_key",
                        "must be standard base64 of a 32-byte Ed25519 public key");
    } else if (!device_keys_name_ok(name)) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "name",
                        "1-64 bytes without control characters");
    } else {
        TL_ASSERT(strlen(name) < sizeof(k->name));
        memcpy(k->name, name, strlen(name) + 1);
    }
    json_decref(body);
    return err;
}

enum tl_err device_keys_create(struct http_request *req, struct http_response *resp)
{
    struct store_device_key k;
    struct store *store = NULL;
    TL_ASSERT(req->principal.authenticated);
    if (req->app->authn == NULL) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "device keys are not available");
    }
    memset(&k, 0, sizeof(k));
    enum tl_err err = device_keys_parse(req, resp, &k);
    if (err == TL_OK) {
        err = stepup_gate(req, resp, STEPUP_ACTION_DEVICE_KEY_CHANGE);
    }
    if (err != TL_OK) {
        return err;
    }
    k.id = id128_new();
    k.user_id = req->principal.user_id;
    k.created_ns = device_keys_now_ns(req);
    err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_device_key_create(store, &k);
        money_cache_stepup_changed();
        api_app_store_release(req->app, store);
    }
    if (err == TL_ERR_CONFLICT) {
        return http_fail(resp, TL_ERR_CONFLICT, "public_key", "this key is registered already");
    }
    if (err == TL_ERR_LIMIT) {
        return http_fail(resp, TL_ERR_LIMIT, NULL, "a user holds at most 20 device keys");
    }
    if (err != TL_OK) {
        return err;
    }
    char subject[TYPEID_STR_BYTES];
    typeid_encode(DEVICE_KEYS_ID_PREFIX, k.id, subject);
    audit_record(req, k.user_id, DEVICE_KEYS_AUDIT_REGISTERED, subject);
    return http_response_json(resp, 201, device_keys_json(&k));
}

/* ---- GET /v1/me/device_keys ---- */

enum tl_err device_keys_list(struct http_request *req, struct http_response *resp)
{
    struct store *store = NULL;
    uint32_t count = 0;
    TL_ASSERT(req->principal.authenticated);
    struct store_device_key *list = calloc(STORE_DEVICE_KEYS_USER_MAX, sizeof(*list));
    json_t *data = json_array();
    enum tl_err err = list != NULL && data != NULL ? http_request_store(req, &store) : TL_ERR_NOMEM;
    if (err == TL_OK) {
        err = store_device_keys_list(store, req->principal.user_id, list,
                                     STORE_DEVICE_KEYS_USER_MAX, &count);
    }
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        json_t *item = device_keys_json(&list[i]);
        err = item != NULL && json_array_append_new(data, item) == 0 ? TL_OK : TL_ERR_NOMEM;
    }
    free(list);
    if (err != TL_OK) {
        json_decref(data);
        return err;
    }
    return http_response_json(resp, 200, json_pack("{s:o, s:b}", "data", data, "has_more", 0));
}

/* ---- DELETE /v1/me/device_keys/{id} ---- */

enum tl_err device_keys_revoke(struct http_request *req, struct http_response *resp)
{
    struct store_device_key k;
    struct store *store = NULL;
    struct id128 id;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    if (req->app->authn == NULL) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "device keys are not available");
    }
    const char *text = http_request_param(req, "id");
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), DEVICE_KEYS_ID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such device key");
    }
    enum tl_err err = http_request_store(req, &store);
    err = err == TL_OK ? store_device_key_get(store, id, &k, &found) : err;
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(k.user_id, req->principal.user_id) || k.revoked_ns != 0) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such device key");
    }
    /* Revoking a key switches signatures off for the user when it is the last one: as risky
     * as registering one. */
    err = stepup_gate(req, resp, STEPUP_ACTION_DEVICE_KEY_CHANGE);
    if (err == TL_OK) {
        err = api_app_store_acquire(req->app, &store);
    }
    if (err != TL_OK) {
        return err;
    }
    err = store_device_key_revoke(store, req->principal.user_id, id, device_keys_now_ns(req));
    money_cache_stepup_changed();
    api_app_store_release(req->app, store);
    if (err == TL_ERR_NOT_FOUND) {
        return http_fail(resp, err, NULL, "no such device key"); /* a racing revoke won */
    }
    if (err != TL_OK) {
        return err;
    }
    audit_record(req, req->principal.user_id, DEVICE_KEYS_AUDIT_REVOKED, text);
    resp->status = 204;
    buf_reset(&resp->body);
    return TL_OK;
}

/* ---- Signed money requests ---- */

static enum tl_err device_keys_invalid(struct http_response *resp, const char *param,
                                       const char *detail)
{
    return http_fail(resp, TL_ERR_DEVICE_SIGNATURE_INVALID, param, detail);
}

/* The key the request names: the caller's, live. */
static enum tl_err device_keys_named(struct http_request *req, struct http_response *resp,
                                     struct store *reader, const char *key_id,
                                     struct store_device_key *k)
{
    struct id128 id;
    bool found = false;
    if (typeid_decode(key_id, strlen(key_id), DEVICE_KEYS_ID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return device_keys_invalid(resp, "Tally-Device-Key", "not a device key id");
    }
    enum tl_err err = store_device_key_get(reader, id, k, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(k->user_id, req->principal.user_id) || k->revoked_ns != 0) {
        return device_keys_invalid(resp, "Tally-Device-Key",
                                   "no live device key of yours has this id");
    }
    return TL_OK;
}

static enum tl_err device_keys_verify(struct http_request *req, struct http_response *resp,
                                      struct store *reader, const char *key_id,
                                      const char *timestamp, const char *signature,
                                      struct stepup_signed *out)
{
    struct store_device_key k;
    uint64_t ts = 0;
    size_t sig_bytes = 0;
    struct store_payment_signature *s = &out->signature;
    if (!device_sig_timestamp_parse(timestamp, &ts)) {
        return device_keys_invalid(resp, "Tally-Timestamp", "Unix seconds, decimal digits");
    }
    if (!auth_crypto_base64_decode(s->signature, sizeof(s->signature), signature,
                                   strnlen(signature, DEVICE_KEYS_SIG_B64_LEN + 1), &sig_bytes) ||
        sig_bytes != DEVICE_SIG_BYTES) {
        return device_keys_invalid(resp, "Tally-Signature",
                                   "standard base64 of a 64-byte Ed25519 signature");
    }
    enum tl_err err = device_keys_named(req, resp, reader, key_id, &k);
    if (err != TL_OK) {
        return err;
    }
    struct device_sig_request form = {http_method_name(req->method), req->path, req->body,
                                      req->body_bytes, req->idempotency_key, ts, key_id};
    if (!device_sig_verify(&form, k.public_key, s->signature)) {
        return device_keys_invalid(resp, "Tally-Signature",
                                   "the signature does not match this request and key");
    }
    uint64_t now_s = device_keys_now_ns(req) / DEVICE_KEYS_NS_PER_S;
    if (!device_sig_fresh(ts, now_s, req->app->config->device_keys_window_s)) {
        return http_fail(resp, TL_ERR_DEVICE_SIGNATURE_STALE, "Tally-Timestamp",
                         "the timestamp is too far from the server's clock; sign again");
    }
    device_sig_body_hash(req->body, req->body_bytes, s->body_hash);
    s->key_id = k.id;
    s->timestamp_s = ts;
    out->present = true;
    return TL_OK;
}

enum tl_err device_keys_check(struct http_request *req, struct http_response *resp,
                              struct store *reader, uint32_t key_count, struct stepup_signed *out)
{
    const char *key_id = http_request_header(req, "Tally-Device-Key");
    const char *timestamp = http_request_header(req, "Tally-Timestamp");
    const char *signature = http_request_header(req, "Tally-Signature");
    memset(out, 0, sizeof(*out));
    if (key_id == NULL && timestamp == NULL && signature == NULL) {
        if (key_count == 0) {
            return TL_OK;
        }
        return http_fail(resp, TL_ERR_DEVICE_SIGNATURE_REQUIRED, "Tally-Signature",
                         "you have a device key: sign money requests with it");
    }
    if (key_id == NULL || timestamp == NULL || signature == NULL) {
        return device_keys_invalid(resp, NULL,
                                   "send Tally-Device-Key, Tally-Timestamp and Tally-Signature");
    }
    enum tl_err err = device_keys_verify(req, resp, reader, key_id, timestamp, signature, out);
    if (err != TL_OK) {
        memset(out, 0, sizeof(*out));
    }
    return err;
}

enum tl_err device_keys_claim(struct http_request *req, struct http_response *resp,
                              const struct stepup_signed *sig)
{
    uint8_t hash[AUTH_CRYPTO_SHA256_BYTES];
    struct store *store = NULL;
    bool claimed = false;
    TL_ASSERT(sig->present);
    auth_crypto_sha256(sig->signature.signature, sizeof(sig->signature.signature), hash);
    /* Kept until the timestamp can no longer pass the freshness check, whatever the clock did. */
    uint64_t window_ns = (uint64_t)req->app->config->device_keys_window_s * DEVICE_KEYS_NS_PER_S;
    uint64_t now_ns = device_keys_now_ns(req);
    uint64_t ts_ns = sig->signature.timestamp_s * DEVICE_KEYS_NS_PER_S;
    uint64_t expires_ns = (ts_ns > now_ns ? ts_ns : now_ns) + window_ns + DEVICE_KEYS_NS_PER_S;
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_device_signature_claim(store, hash, sig->signature.key_id, expires_ns, now_ns,
                                           &claimed);
        api_app_store_release(req->app, store);
    }
    if (err == TL_OK && !claimed) {
        err = http_fail(resp, TL_ERR_DEVICE_SIGNATURE_REPLAYED, "Tally-Signature",
                        "this signature was used already; sign the request again");
    }
    return err;
}

enum tl_err device_keys_render_payment(struct render *r, struct store *reader,
                                       struct id128 payment_id)
{
    struct store_payment_signature s;
    char sig[DEVICE_KEYS_SIG_B64_LEN + 1];
    char hex[2 * DEVICE_SIG_HASH_BYTES + 1];
    static const char digits[] = "0123456789abcdef";
    bool found = false;
    enum tl_err err = store_payment_signature_get(reader, payment_id, &s, &found);
    if (err != TL_OK) {
        return err;
    }
    render_key(r, "device_signature");
    if (!found) {
        render_null(r);
        return TL_OK;
    }
    auth_crypto_base64(sig, sizeof(sig), s.signature, sizeof(s.signature));
    for (size_t i = 0; i < sizeof(s.body_hash); i++) {
        hex[2 * i] = digits[s.body_hash[i] >> 4];
        hex[2 * i + 1] = digits[s.body_hash[i] & 0x0f];
    }
    hex[sizeof(hex) - 1] = '\0';
    TL_ASSERT(s.timestamp_s <= (uint64_t)INT64_MAX);
    render_object_begin(r);
    render_key(r, "key_id");
    render_typeid(r, DEVICE_KEYS_ID_PREFIX, s.key_id);
    render_key(r, "algorithm");
    render_str(r, "Ed25519");
    render_key(r, "timestamp");
    render_i64(r, (int64_t)s.timestamp_s);
    render_key(r, "body_sha256");
    render_str(r, hex);
    render_key(r, "signature");
    render_str(r, sig);
    render_object_end(r);
    return TL_OK;
}
