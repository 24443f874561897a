#include "api/stepup.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/device_keys.h"
#include "api/money_cache.h"
#include "api/json.h"
#include "api/problem.h"
#include "api/render.h"
#include "api/twofactor.h"
#include "auth/auth_crypto.h"
#include "auth/mfa.h"
#include "auth/stepup_proof.h"
#include "auth/webauthn.h"
#include "store/app.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/log.h"
#include "util/typeid.h"

#define STEPUP_NS_PER_S 1000000000ull
#define STEPUP_CODE_BYTES_MAX 16u
#define STEPUP_B64_LEN(n) AUTH_CRYPTO_BASE64URL_LEN(n)

static_assert(STORE_STEPUP_BINDING_BYTES == MFA_HASH_BYTES, "bindings are keyed hashes");
static_assert(STORE_HASH_BYTES == WEBAUTHN_HASH_BYTES, "WebAuthn challenges stored by SHA-256");

static const struct json_field stepup_complete_fields[] = {
    JSON_STRING("code", false, STEPUP_CODE_BYTES_MAX),
    JSON_STRING("credential_id", false, STEPUP_B64_LEN(WEBAUTHN_CREDENTIAL_ID_BYTES_MAX)),
    JSON_STRING("client_data_json", false, STEPUP_B64_LEN(WEBAUTHN_CLIENT_DATA_BYTES_MAX)),
    JSON_STRING("authenticator_data", false, STEPUP_B64_LEN(WEBAUTHN_AUTH_DATA_BYTES_MAX)),
    JSON_STRING("signature", false, STEPUP_B64_LEN(WEBAUTHN_SIGNATURE_BYTES_MAX)),
};

static uint64_t stepup_now_ns(const struct http_request *req)
{
    return authn_wall_ns(req->app->authn);
}

static bool stepup_configured(const struct http_request *req)
{
    return req->app->config != NULL && req->app->authn != NULL;
}

/* The policy of the configuration (thresholds checked at start by stepup_config_check). */
static void stepup_policy(const struct config *config, struct stepup_policy *out)
{
    const char *why = NULL;
    memset(out, 0, sizeof(*out));
    if (stepup_thresholds_parse(config->stepup_amount_thresholds, out, &why) != TL_OK) {
        out->threshold_count = 0; /* unreachable after stepup_config_check; no amount rule */
    }
    out->new_recipient = config->stepup_new_recipient;
    out->new_device_s = config->stepup_new_device_s;
    out->account_rules = (config->stepup_password_change ? STEPUP_RULE_PASSWORD_CHANGE : 0u) |
                         (config->stepup_device_keys ? STEPUP_RULE_DEVICE_KEY_CHANGE : 0u) |
                         (config->stepup_contact_change ? STEPUP_RULE_CONTACT_CHANGE : 0u) |
                         (config->stepup_payout_destination ? STEPUP_RULE_PAYOUT_DESTINATION : 0u);
}

enum tl_err stepup_config_check(const struct config *config, char error[CONFIG_ERROR_BYTES])
{
    struct stepup_policy policy;
    const char *why = NULL;
    if (stepup_thresholds_parse(config->stepup_amount_thresholds, &policy, &why) != TL_OK) {
        snprintf(error, CONFIG_ERROR_BYTES, "stepup.amount_thresholds: %s", why);
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

/* Keyed BLAKE2b-256 of method, path, body and Idempotency-Key: what a step-up is good for. The
 * key (from the server secret) keeps a stored binding from being an oracle for the body (a
 * password change's body holds passwords). The path, body and key enter as SHA-256 digests,
 * so the input has a fixed size whatever the request. */
static void stepup_binding(const struct http_request *req, uint8_t out[STORE_STEPUP_BINDING_BYTES])
{
    static const uint8_t empty[1] = {0};
    uint8_t in[1 + 3 * AUTH_CRYPTO_SHA256_BYTES];
    const char *ikey = req->idempotency_key != NULL ? req->idempotency_key : "";
    in[0] = (uint8_t)req->method;
    auth_crypto_sha256(req->path, strlen(req->path), in + 1);
    auth_crypto_sha256(req->body_bytes > 0 ? req->body : empty, req->body_bytes,
                       in + 1 + AUTH_CRYPTO_SHA256_BYTES);
    auth_crypto_sha256(ikey, strlen(ikey), in + 1 + 2 * AUTH_CRYPTO_SHA256_BYTES);
    const struct mfa_key *key = authn_mfa_key(req->app->authn);
    auth_crypto_keyed_hash(out, STORE_STEPUP_BINDING_BYTES, in, sizeof(in), key->hash,
                           sizeof(key->hash));
}

/* ---- The challenge ---- */

static json_t *stepup_rules_json(uint32_t rules)
{
    json_t *list = json_array();
    for (uint32_t i = 0; list != NULL && i < STEPUP_RULE_COUNT; i++) {
        if ((rules & (1u << i)) != 0 &&
            json_array_append_new(list, json_string(stepup_rule_name(1u << i))) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

/* WebAuthn request options for the user's passkeys over challenge (32 bytes). */
static json_t *stepup_webauthn_json(struct http_request *req, struct store *reader,
                                    struct id128 user_id, const uint8_t *challenge)
{
    struct store_passkey *keys = calloc(STORE_PASSKEYS_USER_MAX, sizeof(*keys));
    char text[STEPUP_B64_LEN(WEBAUTHN_CREDENTIAL_ID_BYTES_MAX) + 1];
    uint32_t count = 0;
    json_t *allow = json_array();
    if (keys == NULL || allow == NULL ||
        store_passkeys_list(reader, user_id, keys, STORE_PASSKEYS_USER_MAX, &count) != TL_OK) {
        free(keys);
        json_decref(allow);
        return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        auth_crypto_base64url(text, sizeof(text), keys[i].credential_id,
                              keys[i].credential_id_bytes);
        json_array_append_new(allow, json_pack("{s:s, s:s}", "type", "public-key", "id", text));
    }
    free(keys);
    auth_crypto_base64url(text, sizeof(text), challenge, WEBAUTHN_CHALLENGE_BYTES);
    return json_pack("{s:s, s:s, s:i, s:s, s:o}", "challenge", text, "rpId",
                     req->app->config->webauthn_rp_id, "timeout",
                     (int)(req->app->config->stepup_ttl_s * 1000u), "userVerification",
                     "required", "allowCredentials", allow);
}

/* The 401 step_up_required problem with `challenge` as an extension member (RFC 9457 3.2). */
static enum tl_err stepup_challenge_render(struct http_request *req, struct http_response *resp,
                                           const struct store_stepup_challenge *c,
                                           const struct store_stepup_facts *facts,
                                           json_t *webauthn)
{
    struct buf text;
    int status = 0;
    char id[TYPEID_STR_BYTES];
    char expires_at[RENDER_TIME_BYTES];
    char url[TYPEID_STR_BYTES + 32];
    buf_init(&text, 4096);
    enum tl_err err = problem_render(&text, TL_ERR_STEP_UP_REQUIRED, NULL,
                                     "confirm with a second factor at challenge.complete_url, "
                                     "then retry with the same Idempotency-Key and body",
                                     req->request_id, &status);
    json_t *problem = err == TL_OK ? json_loadb(text.data, text.len, 0, NULL) : NULL;
    buf_free(&text);
    json_t *methods = json_array();
    if (facts->totp_active && methods != NULL) {
        json_array_append_new(methods, json_string("totp"));
    }
    if (webauthn != NULL && methods != NULL) {
        json_array_append_new(methods, json_string("passkey"));
    }
    typeid_encode(STEPUP_ID_PREFIX, c->id, id);
    render_time_text(c->expires_ns, expires_at);
    snprintf(url, sizeof(url), "/v1/step_up/%s/complete", id);
    json_t *challenge = json_pack("{s:s, s:s, s:s, s:o*, s:o*}", "id", id, "expires_at",
                                  expires_at, "complete_url", url, "methods", methods, "rules",
                                  stepup_rules_json(c->rules));
    if (challenge != NULL && webauthn != NULL) {
        json_object_set_new(challenge, "webauthn", webauthn);
    } else {
        json_decref(webauthn);
    }
    if (problem == NULL || challenge == NULL ||
        json_object_set_new(problem, "challenge", challenge) != 0) {
        json_decref(problem);
        return TL_ERR_NOMEM;
    }
    err = http_response_json(resp, status, problem);
    if (err == TL_OK) {
        resp->content_type = PROBLEM_CONTENT_TYPE;
        resp->problem_err = TL_ERR_STEP_UP_REQUIRED;
        /* Rendered here rather than by the dispatcher: the handler's answer must be an error so
         * that nothing downstream takes it for success. */
        err = TL_ERR_STEP_UP_REQUIRED;
    }
    return err;
}

/* A new challenge for rules, stored, then rendered as the 401. */
static enum tl_err stepup_challenge(struct http_request *req, struct http_response *resp,
                                    struct store *reader, const struct store_stepup_facts *facts,
                                    uint32_t rules, const uint8_t binding[])
{
    struct store_stepup_challenge c;
    uint8_t webauthn_challenge[WEBAUTHN_CHALLENGE_BYTES];
    json_t *webauthn = NULL;
    struct store *store = NULL;
    memset(&c, 0, sizeof(c));
    c.id = id128_new();
    c.user_id = req->principal.user_id;
    c.session_id = req->principal.session_id;
    memcpy(c.binding, binding, STORE_STEPUP_BINDING_BYTES);
    c.rules = rules;
    c.created_ns = stepup_now_ns(req);
    c.expires_ns = c.created_ns + (uint64_t)req->app->config->stepup_ttl_s * STEPUP_NS_PER_S;
    const struct config *config = req->app->config;
    if (facts->passkey_count > 0 && config->webauthn_rp_id[0] != '\0' &&
        config->webauthn_origin[0] != '\0') {
        auth_crypto_random(webauthn_challenge, sizeof(webauthn_challenge));
        webauthn_sha256(webauthn_challenge, sizeof(webauthn_challenge), c.webauthn_hash);
        webauthn = stepup_webauthn_json(req, reader, c.user_id, webauthn_challenge);
        if (webauthn == NULL) {
            return TL_ERR_NOMEM;
        }
    }
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_stepup_challenge_create(store, &c);
        api_app_store_release(req->app, store);
    }
    if (err != TL_OK) {
        json_decref(webauthn);
        return err;
    }
    char subject[TYPEID_STR_BYTES];
    typeid_encode(STEPUP_ID_PREFIX, c.id, subject);
    audit_record(req, c.user_id, STEPUP_AUDIT_CHALLENGED, subject);
    return stepup_challenge_render(req, resp, &c, facts, webauthn);
}

/* The rules hit: spend a completed step-up for this very request, or challenge. */
static enum tl_err stepup_enforce(struct http_request *req, struct http_response *resp,
                                  struct store *reader, const struct store_stepup_facts *facts,
                                  uint32_t rules)
{
    uint8_t binding[STORE_STEPUP_BINDING_BYTES];
    struct store *store = NULL;
    struct id128 used_id = id128_make(0, 0);
    bool used = false;
    TL_ASSERT(rules != 0);
    if (!facts->totp_active && facts->passkey_count == 0) {
        if (!req->app->config->stepup_require_enrolment) {
            return TL_OK; /* the rules apply to users with a second factor */
        }
        audit_record(req, req->principal.user_id, STEPUP_AUDIT_REFUSED, "");
        return http_fail(resp, TL_ERR_STEP_UP_ENROLMENT_REQUIRED, NULL,
                         "turn on a second factor (TOTP or a passkey) first");
    }
    stepup_binding(req, binding);
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_stepup_grant_use(store, req->principal.user_id, binding, stepup_now_ns(req),
                                     &used, &used_id);
        api_app_store_release(req->app, store);
    }
    if (err != TL_OK) {
        return err;
    }
    if (used) {
        char subject[TYPEID_STR_BYTES];
        typeid_encode(STEPUP_ID_PREFIX, used_id, subject);
        audit_record(req, req->principal.user_id, STEPUP_AUDIT_USED, subject);
        return TL_OK;
    }
    return stepup_challenge(req, resp, reader, facts, rules, binding);
}

/* The facts, from the cache (money_cache.h) when this process is the store's only writer. */
static enum tl_err stepup_facts(struct http_request *req, struct id128 to_user,
                                struct store **reader, struct store_stepup_facts *facts)
{
    struct id128 user = req->principal.user_id;
    struct id128 session = req->principal.session_id;
    uint64_t now_ns = stepup_now_ns(req);
    enum tl_err err = http_request_store(req, reader);
    if (err != TL_OK) {
        return err;
    }
    bool cacheable = store_exclusive(*reader);
    if (cacheable && money_cache_stepup_get(user, session, to_user, now_ns, facts)) {
        return TL_OK;
    }
    uint64_t generation = money_cache_stepup_generation(); /* before the read */
    err = store_stepup_facts(*reader, user, session, to_user, facts);
    if (err == TL_OK && cacheable) {
        money_cache_stepup_put(user, session, to_user, generation, now_ns, facts);
    }
    return err;
}

enum tl_err stepup_gate(struct http_request *req, struct http_response *resp,
                        enum stepup_action action)
{
    struct stepup_policy policy;
    struct store_stepup_facts facts;
    struct store *reader = NULL;
    TL_ASSERT(action != STEPUP_ACTION_PAYMENT);
    TL_ASSERT(req->principal.authenticated);
    if (!stepup_configured(req)) {
        return TL_OK;
    }
    stepup_policy(req->app->config, &policy);
    struct stepup_subject subject = {.action = action, .now_ns = stepup_now_ns(req)};
    uint32_t rules = stepup_rules_hit(&policy, &subject);
    if (rules == 0) {
        return TL_OK;
    }
    enum tl_err err = stepup_facts(req, id128_make(0, 0), &reader, &facts);
    if (err != TL_OK) {
        return err;
    }
    return stepup_enforce(req, resp, reader, &facts, rules);
}

enum tl_err stepup_money_gate(struct http_request *req, struct http_response *resp,
                              const struct stepup_payment *payment, struct stepup_signed *out)
{
    struct stepup_policy policy;
    struct store_stepup_facts facts;
    struct store *reader = NULL;
    TL_ASSERT(req->principal.authenticated);
    TL_ASSERT(payment->amount_minor > 0);
    memset(out, 0, sizeof(*out));
    if (!stepup_configured(req)) {
        return TL_OK;
    }
    enum tl_err err = stepup_facts(req, payment->to_user, &reader, &facts);
    if (err == TL_OK) {
        err = device_keys_check(req, resp, reader, facts.device_key_count, out);
    }
    if (err != TL_OK) {
        return err;
    }
    stepup_policy(req->app->config, &policy);
    struct stepup_subject subject = {
        .action = STEPUP_ACTION_PAYMENT,
        .amount_minor = payment->amount_minor,
        .currency = payment->currency,
        .paid_before = facts.paid_before || id128_is_zero(payment->to_user),
        .now_ns = stepup_now_ns(req),
        .session_created_ns = facts.session_created_ns,
        .session_stepped_up = facts.session_stepped_up,
    };
    uint32_t rules = stepup_rules_hit(&policy, &subject);
    if (rules != 0) {
        err = stepup_enforce(req, resp, reader, &facts, rules);
    }
    if (err == TL_OK && out->present) {
        err = device_keys_claim(req, resp, out);
    }
    return err;
}

enum tl_err stepup_money_attach(struct stepup_signed *sig, struct id128 payment_id,
                                struct writer_batch *batch)
{
    struct store_record record;
    if (!sig->present) {
        return TL_OK;
    }
    sig->signature.payment_id = payment_id;
    store_record_payment_signature(&sig->signature, sig->record_buf, &record);
    return writer_batch_attach(batch, &record);
}

/* ---- POST /v1/step_up/{id}/complete ---- */

static enum tl_err stepup_not_found(struct http_response *resp)
{
    return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such step-up challenge");
}

static enum tl_err stepup_unusable(struct http_response *resp)
{
    return http_fail(resp, TL_ERR_STEP_UP_CHALLENGE_INVALID, NULL,
                     "the challenge was completed already or has expired; retry the request "
                     "for a new one");
}

/* Decodes base64url field name of body into a heap buffer of at most max bytes. */
static enum tl_err stepup_decode(struct http_response *resp, const json_t *body, const char *name,
                                 size_t max, uint8_t **out, size_t *out_bytes)
{
    const char *text = json_field_string(body, name);
    if (text == NULL) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, name, "required with credential_id");
    }
    *out = malloc(max);
    if (*out == NULL) {
        return TL_ERR_NOMEM;
    }
    if (!webauthn_base64url_decode(text, strlen(text), *out, max, out_bytes) || *out_bytes == 0) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, name,
                         "must be unpadded base64url of the right length");
    }
    return TL_OK;
}

static enum tl_err stepup_passkey_denied(struct http_request *req, struct http_response *resp,
                                         const struct store_stepup_challenge *c, const char *why)
{
    char subject[TYPEID_STR_BYTES];
    typeid_encode(STEPUP_ID_PREFIX, c->id, subject);
    audit_record(req, c->user_id, STEPUP_AUDIT_FAILED, subject);
    return http_fail(resp, TL_ERR_PASSKEY_INVALID, NULL, why);
}

struct stepup_assertion {
    uint8_t *credential_id;
    size_t credential_id_bytes;
    uint8_t *client_data;
    size_t client_data_bytes;
    uint8_t *auth_data;
    size_t auth_data_bytes;
    uint8_t *signature;
    size_t signature_bytes;
};

static void stepup_assertion_free(struct stepup_assertion *a)
{
    free(a->credential_id);
    free(a->client_data);
    free(a->auth_data);
    free(a->signature);
}

/* The assertion's passkey must be the challenge's user's, live; its signature, flags, counter
 * and the challenge (by SHA-256) must check; then the counter is stored. */
static enum tl_err stepup_passkey_verify(struct http_request *req, struct http_response *resp,
                                         const struct store_stepup_challenge *c,
                                         const struct stepup_assertion *a)
{
    struct store_passkey pk;
    struct webauthn_key key;
    struct store *store = NULL;
    const char *why = NULL;
    uint32_t sign_count = 0;
    bool found = false;
    enum tl_err err = http_request_store(req, &store);
    err = err == TL_OK ? store_passkey_find(store, a->credential_id,
                                            (uint32_t)a->credential_id_bytes, &pk, &found)
                       : err;
    if (err != TL_OK) {
        return err;
    }
    if (!found || pk.revoked_ns != 0 || !id128_eq(pk.user_id, c->user_id)) {
        return stepup_passkey_denied(req, resp, c, "this passkey is not one of yours");
    }
    const struct config *config = req->app->config;
    memset(&key, 0, sizeof(key));
    key.alg = pk.algorithm;
    memcpy(key.bytes, pk.public_key, pk.public_key_bytes);
    key.bytes_len = pk.public_key_bytes;
    err = stepup_proof_passkey(config->webauthn_rp_id, config->webauthn_origin, c->webauthn_hash,
                               &key, a->client_data, a->client_data_bytes, a->auth_data,
                               a->auth_data_bytes, a->signature, a->signature_bytes, &sign_count,
                               &why);
    if (err != TL_OK) {
        return stepup_passkey_denied(req, resp, c, why);
    }
    if (!webauthn_sign_count_ok(pk.sign_count, sign_count)) {
        return stepup_passkey_denied(req, resp, c, "signature counter went back: possible clone");
    }
    err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_passkey_use(store, pk.id, sign_count, stepup_now_ns(req));
        api_app_store_release(req->app, store);
    }
    if (err == TL_ERR_CONFLICT) {
        return stepup_passkey_denied(req, resp, c, "signature counter went back or revoked");
    }
    return err;
}

static enum tl_err stepup_passkey_proof(struct http_request *req, struct http_response *resp,
                                        const json_t *body, const struct store_stepup_challenge *c)
{
    struct stepup_assertion a;
    memset(&a, 0, sizeof(a));
    enum tl_err err = stepup_decode(resp, body, "credential_id", WEBAUTHN_CREDENTIAL_ID_BYTES_MAX,
                                    &a.credential_id, &a.credential_id_bytes);
    if (err == TL_OK) {
        err = stepup_decode(resp, body, "client_data_json", WEBAUTHN_CLIENT_DATA_BYTES_MAX,
                            &a.client_data, &a.client_data_bytes);
    }
    if (err == TL_OK) {
        err = stepup_decode(resp, body, "authenticator_data", WEBAUTHN_AUTH_DATA_BYTES_MAX,
                            &a.auth_data, &a.auth_data_bytes);
    }
    if (err == TL_OK) {
        err = stepup_decode(resp, body, "signature", WEBAUTHN_SIGNATURE_BYTES_MAX, &a.signature,
                            &a.signature_bytes);
    }
    if (err == TL_OK) {
        err = stepup_passkey_verify(req, resp, c, &a);
    }
    stepup_assertion_free(&a);
    return err;
}

/* The caller's live, unanswered challenge named by the path. */
static enum tl_err stepup_challenge_find(struct http_request *req, struct http_response *resp,
                                         struct store_stepup_challenge *c)
{
    const char *text = http_request_param(req, "id");
    struct store *reader = NULL;
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), STEPUP_ID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return stepup_not_found(resp);
    }
    enum tl_err err = http_request_store(req, &reader);
    err = err == TL_OK ? store_stepup_challenge_get(reader, id, c, &found) : err;
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(c->user_id, req->principal.user_id)) {
        return stepup_not_found(resp);
    }
    if (c->completed_ns != 0 || c->expires_ns <= stepup_now_ns(req)) {
        return stepup_unusable(resp);
    }
    return TL_OK;
}

static enum tl_err stepup_completed_render(struct http_response *resp,
                                           const struct store_stepup_challenge *c, uint8_t method)
{
    char id[TYPEID_STR_BYTES];
    char expires_at[RENDER_TIME_BYTES];
    typeid_encode(STEPUP_ID_PREFIX, c->id, id);
    render_time_text(c->expires_ns, expires_at);
    return http_response_json(resp, 200,
                              json_pack("{s:s, s:s, s:s, s:s}", "id", id, "status", "completed",
                                        "method",
                                        method == STORE_STEPUP_METHOD_TOTP ? "totp" : "passkey",
                                        "expires_at", expires_at));
}

enum tl_err stepup_complete(struct http_request *req, struct http_response *resp)
{
    struct store_stepup_challenge c;
    struct json_error error;
    struct store *store = NULL;
    json_t *body = NULL;
    TL_ASSERT(req->principal.authenticated);
    if (!stepup_configured(req)) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "step-up is not available");
    }
    enum tl_err err = json_body_read(req->body, req->body_bytes, stepup_complete_fields,
                                     sizeof(stepup_complete_fields) /
                                         sizeof(stepup_complete_fields[0]),
                                     &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, err, error.param[0] != '\0' ? error.param : NULL, error.detail);
    }
    const char *code = json_field_string(body, "code");
    bool passkey = json_field_string(body, "credential_id") != NULL;
    if ((code != NULL) == passkey) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "code",
                        "give exactly one of code and a passkey assertion (credential_id, ...)");
    }
    err = err == TL_OK ? stepup_challenge_find(req, resp, &c) : err;
    uint8_t method = passkey ? STORE_STEPUP_METHOD_PASSKEY : STORE_STEPUP_METHOD_TOTP;
    if (err == TL_OK && code != NULL) {
        err = twofactor_code_verify(req, resp, c.user_id, code, STEPUP_AUDIT_FAILED);
    } else if (err == TL_OK) {
        err = stepup_passkey_proof(req, resp, body, &c);
    }
    json_decref(body);
    if (err != TL_OK) {
        return err;
    }
    err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_stepup_challenge_complete(store, c.user_id, c.id, method, stepup_now_ns(req));
        money_cache_stepup_changed();
        api_app_store_release(req->app, store);
    }
    if (err == TL_ERR_CONFLICT) {
        return stepup_unusable(resp); /* a racing completion won, or it just expired */
    }
    if (err != TL_OK) {
        return err;
    }
    char subject[TYPEID_STR_BYTES];
    typeid_encode(STEPUP_ID_PREFIX, c.id, subject);
    audit_record(req, c.user_id, STEPUP_AUDIT_COMPLETED, subject);
    return stepup_completed_render(resp, &c, method);
}
