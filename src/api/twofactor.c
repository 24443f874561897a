#include "api/twofactor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/problem.h"
#include "api/qr.h"
#include "api/render.h"
#include "api/sessions.h"
#include "api/money_cache.h"
#include "auth/mfa.h"
#include "auth/totp.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/log.h"

static_assert(MFA_SEALED_BYTES_MAX == STORE_TOTP_SEALED_BYTES_MAX, "a sealed secret fits its row");
static_assert(MFA_RECOVERY_CODE_COUNT == STORE_RECOVERY_CODES, "recovery codes per user");
static_assert(MFA_HASH_BYTES == STORE_HASH_BYTES, "hashes fit their rows");

/* What a client may send as a code field (the check itself is exact). */
#define TWOFACTOR_CODE_BYTES_MAX 16u
#define TWOFACTOR_URI_BYTES 256u

static const struct json_field twofactor_code_fields[] = {
    JSON_STRING("code", true, TWOFACTOR_CODE_BYTES_MAX),
};
static const struct json_field twofactor_proof_fields[] = {
    JSON_STRING("code", false, TWOFACTOR_CODE_BYTES_MAX),
    JSON_STRING("recovery_code", false, MFA_RECOVERY_CODE_INPUT_BYTES_MAX),
};
static const struct json_field twofactor_login_fields[] = {
    JSON_STRING("challenge", true, MFA_CHALLENGE_LEN + 16),
    JSON_STRING("code", false, TWOFACTOR_CODE_BYTES_MAX),
    JSON_STRING("recovery_code", false, MFA_RECOVERY_CODE_INPUT_BYTES_MAX),
    JSON_BOOL("cookie", false), /* a cookie session (sessions_issue) */
};

#define FIELDS(a) (a), (sizeof(a) / sizeof((a)[0]))

static uint64_t twofactor_now_ns(const struct http_request *req)
{
    return authn_wall_ns(req->app->authn);
}

static enum tl_err twofactor_body(struct http_request *req, struct http_response *resp,
                                  const struct json_field *fields, size_t count, json_t **out)
{
    struct json_error error;
    enum tl_err err = json_body_read(req->body, req->body_bytes, fields, count, out, &error);
    if (err != TL_OK) {
        return http_fail(resp, err, error.param[0] != '\0' ? error.param : NULL, error.detail);
    }
    return TL_OK;
}

/* Exactly one of code and recovery_code. */
static enum tl_err twofactor_one_proof(const json_t *body, struct http_response *resp)
{
    bool code = json_field_string(body, "code") != NULL;
    bool recovery = json_field_string(body, "recovery_code") != NULL;
    if (code == recovery) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "code",
                         "give exactly one of code and recovery_code");
    }
    return TL_OK;
}

/* Second-factor guesses per account, in a key space of their own ('m' + user id). */
static enum tl_err twofactor_throttle(struct http_request *req, struct http_response *resp,
                                      struct id128 user_id, uint8_t key[1 + ID128_BYTES])
{
    uint32_t retry_after_s = 0;
    key[0] = 'm';
    id128_to_bytes(user_id, key + 1);
    if (authn_login_attempt(req->app->authn, key, 1 + ID128_BYTES, &retry_after_s) == TL_OK) {
        return TL_OK;
    }
    char value[16];
    snprintf(value, sizeof(value), "%u", retry_after_s);
    TL_ASSERT(http_response_header_set(resp, "Retry-After", value) == TL_OK);
    return http_fail(resp, TL_ERR_RATE_LIMITED, NULL, "too many wrong codes; wait");
}

static enum tl_err twofactor_load(struct http_request *req, struct id128 user_id,
                                  struct store_totp *out, bool *found)
{
    struct store *store = NULL;
    enum tl_err err = http_request_store(req, &store);
    if (err == TL_OK) {
        err = store_totp_get(store, user_id, out, found);
    }
    return err;
}

/* err = call, with store_ the writable handle, borrowed for that call only. Any write here may
 * change the step-up facts (TOTP on or off), so cached facts are dropped after it. */
#define TWOFACTOR_WRITE(req, err, call)                                                            \
    do {                                                                                           \
        struct store *store_ = NULL;                                                               \
        (err) = api_app_store_acquire((req)->app, &store_);                                        \
        if ((err) == TL_OK) {                                                                      \
            (err) = (call);                                                                        \
            api_app_store_release((req)->app, store_);                                             \
            money_cache_stepup_changed();                                                          \
        }                                                                                          \
    } while (0)

static enum tl_err twofactor_code_wrong(struct http_request *req, struct http_response *resp,
                                        struct id128 user_id, const char *action)
{
    audit_record(req, user_id, action, "");
    return http_fail(resp, TL_ERR_INVALID_MFA_CODE, "code",
                     "the code is wrong, expired or already used");
}

/* Checks a TOTP code against the row and records its step as used (atomically). */
static enum tl_err twofactor_code_check(struct http_request *req, struct http_response *resp,
                                        const struct store_totp *row, const char *code,
                                        const char *fail_action, uint64_t *out_step)
{
    uint8_t secret[TOTP_SECRET_BYTES_MAX];
    size_t secret_bytes = 0;
    uint64_t step = 0;
    enum tl_err err = mfa_totp_open(authn_mfa_key(req->app->authn), row->user_id, row->sealed,
                                    row->sealed_bytes, secret, &secret_bytes);
    if (err != TL_OK) {
        LOG(LOG_ERROR, "totp_secret_unreadable", LOG_STR("request_id", req->request_id));
        return err;
    }
    err = totp_verify(secret, secret_bytes, twofactor_now_ns(req) / 1000000000u, row->last_step,
                      code, strlen(code), &step);
    explicit_bzero(secret, sizeof(secret));
    if (err != TL_OK) {
        return twofactor_code_wrong(req, resp, row->user_id, fail_action);
    }
    if (row->active) {
        TWOFACTOR_WRITE(req, err, store_totp_use_step(store_, row->user_id, step));
        if (err == TL_ERR_CONFLICT || err == TL_ERR_NOT_FOUND) {
            return twofactor_code_wrong(req, resp, row->user_id, fail_action);
        }
        if (err != TL_OK) {
            return err;
        }
    }
    *out_step = step;
    return TL_OK;
}

static enum tl_err twofactor_recovery_check(struct http_request *req, struct http_response *resp,
                                            struct id128 user_id, const char *code,
                                            const char *fail_action)
{
    uint8_t hash[MFA_HASH_BYTES];
    if (mfa_recovery_code_hash(authn_mfa_key(req->app->authn), user_id, code, strlen(code), hash) !=
        TL_OK) {
        audit_record(req, user_id, fail_action, "");
        return http_fail(resp, TL_ERR_INVALID_MFA_CODE, "recovery_code",
                         "the recovery code is wrong or already used");
    }
    enum tl_err err = TL_OK;
    TWOFACTOR_WRITE(req, err,
                    store_recovery_code_use(store_, user_id, hash, twofactor_now_ns(req)));
    if (err == TL_ERR_NOT_FOUND) {
        audit_record(req, user_id, fail_action, "");
        return http_fail(resp, TL_ERR_INVALID_MFA_CODE, "recovery_code",
                         "the recovery code is wrong or already used");
    }
    if (err == TL_OK) {
        audit_record(req, user_id, AUDIT_RECOVERY_CODE_USED, "");
    }
    return err;
}

/* A code or a recovery code (exactly one is in body) against the user's active TOTP. */
static enum tl_err twofactor_proof_check(struct http_request *req, struct http_response *resp,
                                         const json_t *body, const struct store_totp *row,
                                         const char *fail_action)
{
    uint8_t key[1 + ID128_BYTES];
    uint64_t step = 0;
    enum tl_err err = twofactor_throttle(req, resp, row->user_id, key);
    if (err != TL_OK) {
        return err;
    }
    const char *code = json_field_string(body, "code");
    if (code != NULL) {
        err = twofactor_code_check(req, resp, row, code, fail_action, &step);
    } else {
        err = twofactor_recovery_check(req, resp, row->user_id,
                                       json_field_string(body, "recovery_code"), fail_action);
    }
    if (err == TL_OK) {
        authn_login_succeeded(req->app->authn, key, sizeof(key));
    }
    return err;
}

/* ---- GET /v1/me/totp ---- */

enum tl_err twofactor_status(struct http_request *req, struct http_response *resp)
{
    struct store_totp row;
    struct store *store = NULL;
    bool found = false;
    uint32_t left = 0;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = twofactor_load(req, req->principal.user_id, &row, &found);
    if (err == TL_OK && found && row.active) {
        err = http_request_store(req, &store);
        err = err == TL_OK ? store_recovery_codes_left(store, row.user_id, &left) : err;
    }
    if (err != TL_OK) {
        return err;
    }
    bool enabled = found && row.active;
    return http_response_json(resp, 200,
                              json_pack("{s:b, s:b, s:i}", "enabled", enabled, "pending",
                                        found && !row.active, "recovery_codes_left",
                                        (json_int_t)left));
}

/* ---- POST /v1/me/totp ---- */

/* {secret, otpauth_uri, qr_svg}; the secret is wiped by the caller. */
static enum tl_err twofactor_enroll_render(struct http_response *resp,
                                           const struct store_user *user,
                                           const uint8_t secret[TOTP_SECRET_BYTES])
{
    char secret_text[TOTP_BASE32_BYTES_MAX];
    char uri[TWOFACTOR_URI_BYTES];
    struct buf svg;
    totp_base32_encode(secret, TOTP_SECRET_BYTES, secret_text, sizeof(secret_text));
    /* Handles are [a-z0-9_]: nothing in the label or the query needs escaping. */
    int n = snprintf(uri, sizeof(uri),
                     "otpauth://totp/" TWOFACTOR_ISSUER ":%s?secret=%s&issuer=" TWOFACTOR_ISSUER
                     "&algorithm=SHA1&digits=%u&period=%u",
                     user->handle, secret_text, TOTP_DIGITS, TOTP_STEP_S);
    TL_ASSERT(n > 0 && (size_t)n < sizeof(uri));
    buf_init(&svg, 256u * 1024u);
    enum tl_err err = qr_svg(uri, &svg);
    if (err == TL_OK) {
        err = http_response_json(resp, 201,
                                 json_pack("{s:s, s:s, s:s, s:s}", "secret", secret_text,
                                           "otpauth_uri", uri, "qr_svg", svg.data, "status",
                                           "pending"));
    }
    if (svg.data != NULL) {
        explicit_bzero(svg.data, svg.len);
    }
    buf_free(&svg);
    explicit_bzero(secret_text, sizeof(secret_text));
    explicit_bzero(uri, sizeof(uri));
    return err;
}

enum tl_err twofactor_enroll(struct http_request *req, struct http_response *resp)
{
    struct store_user user;
    struct store_totp row;
    struct store *store = NULL;
    uint8_t secret[TOTP_SECRET_BYTES];
    size_t sealed_bytes = 0;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    idempotency_exclude(); /* the answer holds the secret */
    enum tl_err err = http_request_store(req, &store);
    err = err == TL_OK ? store_user_get(store, req->principal.user_id, &user, &found) : err;
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_UNAUTHORIZED, NULL, "valid credentials are required");
    }
    explicit_bzero(user.password_hash, sizeof(user.password_hash));
    if (err != TL_OK) {
        return err;
    }
    memset(&row, 0, sizeof(row));
    row.user_id = user.id;
    row.created_ns = twofactor_now_ns(req);
    mfa_totp_secret_new(secret);
    mfa_totp_seal(authn_mfa_key(req->app->authn), user.id, secret, sizeof(secret), row.sealed,
                  &sealed_bytes);
    row.sealed_bytes = (uint32_t)sealed_bytes;
    TWOFACTOR_WRITE(req, err, store_totp_put(store_, &row));
    if (err == TL_ERR_CONFLICT) {
        err = http_fail(resp, TL_ERR_MFA_ALREADY_ENABLED, NULL,
                        "two-factor authentication is on; disable it first");
    } else if (err == TL_OK) {
        err = twofactor_enroll_render(resp, &user, secret);
    }
    explicit_bzero(secret, sizeof(secret));
    if (err == TL_OK) {
        audit_record(req, user.id, AUDIT_TOTP_ENROLLED, "");
    }
    return err;
}

/* ---- POST /v1/me/totp/confirm ---- */

static enum tl_err
twofactor_confirm_render(struct http_response *resp,
                         char codes[MFA_RECOVERY_CODE_COUNT][MFA_RECOVERY_CODE_STR_BYTES])
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < MFA_RECOVERY_CODE_COUNT; i++) {
        if (json_array_append_new(list, json_string(codes[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (list == NULL) {
        return TL_ERR_NOMEM;
    }
    return http_response_json(resp, 200,
                              json_pack("{s:b, s:o}", "enabled", true, "recovery_codes", list));
}

static enum tl_err twofactor_confirm_row(struct http_request *req, struct http_response *resp,
                                         const struct store_totp *row, const char *code)
{
    char codes[MFA_RECOVERY_CODE_COUNT][MFA_RECOVERY_CODE_STR_BYTES];
    uint8_t hashes[MFA_RECOVERY_CODE_COUNT][MFA_HASH_BYTES];
    uint8_t key[1 + ID128_BYTES];
    uint64_t step = 0;
    enum tl_err err = twofactor_throttle(req, resp, row->user_id, key);
    if (err == TL_OK) {
        err = twofactor_code_check(req, resp, row, code, AUDIT_TOTP_CODE_FAILED, &step);
    }
    if (err != TL_OK) {
        return err;
    }
    authn_login_succeeded(req->app->authn, key, sizeof(key));
    mfa_recovery_codes_new(authn_mfa_key(req->app->authn), row->user_id, codes, hashes);
    TWOFACTOR_WRITE(req, err,
                    store_totp_activate(store_, row->user_id, step,
                                        (const uint8_t(*)[STORE_HASH_BYTES])hashes));
    if (err == TL_ERR_NOT_FOUND) {
        err = http_fail(resp, TL_ERR_MFA_ALREADY_ENABLED, NULL,
                        "two-factor authentication is on already");
    } else if (err == TL_OK) {
        err = twofactor_confirm_render(resp, codes);
    }
    explicit_bzero(codes, sizeof(codes));
    if (err == TL_OK) {
        audit_record(req, row->user_id, AUDIT_TOTP_CONFIRMED, "");
    }
    return err;
}

enum tl_err twofactor_confirm(struct http_request *req, struct http_response *resp)
{
    struct store_totp row;
    json_t *body = NULL;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    idempotency_exclude(); /* the answer holds the recovery codes */
    enum tl_err err = twofactor_body(req, resp, FIELDS(twofactor_code_fields), &body);
    if (err != TL_OK) {
        return err;
    }
    err = twofactor_load(req, req->principal.user_id, &row, &found);
    if (err == TL_OK && !found) {
        err = http_fail(resp, TL_ERR_MFA_NOT_ENABLED, NULL, "enrol first: POST /v1/me/totp");
    } else if (err == TL_OK && row.active) {
        err = http_fail(resp, TL_ERR_MFA_ALREADY_ENABLED, NULL,
                        "two-factor authentication is on already");
    } else if (err == TL_OK) {
        err = twofactor_confirm_row(req, resp, &row, json_field_string(body, "code"));
    }
    json_decref(body);
    return err;
}

/* ---- POST /v1/me/totp/disable ---- */

enum tl_err twofactor_disable(struct http_request *req, struct http_response *resp)
{
    struct store_totp row;
    json_t *body = NULL;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = twofactor_body(req, resp, FIELDS(twofactor_proof_fields), &body);
    err = err == TL_OK ? twofactor_one_proof(body, resp) : err;
    err = err == TL_OK ? twofactor_load(req, req->principal.user_id, &row, &found) : err;
    if (err == TL_OK && !(found && row.active)) {
        err = http_fail(resp, TL_ERR_MFA_NOT_ENABLED, NULL, "two-factor authentication is off");
    }
    if (err == TL_OK) {
        err = twofactor_proof_check(req, resp, body, &row, AUDIT_TOTP_CODE_FAILED);
    }
    json_decref(body);
    if (err == TL_OK) {
        TWOFACTOR_WRITE(req, err, store_totp_delete(store_, row.user_id));
        err = err == TL_ERR_NOT_FOUND ? TL_OK : err; /* a concurrent disable won */
    }
    if (err != TL_OK) {
        return err;
    }
    audit_record(req, row.user_id, AUDIT_TOTP_DISABLED, "");
    resp->status = 204;
    buf_reset(&resp->body);
    return TL_OK;
}

/* ---- POST /v1/sessions: the challenge ---- */

/* The 401 mfa_required problem with the challenge as extension members (RFC 9457 3.2). */
static enum tl_err twofactor_challenge_render(struct http_request *req, struct http_response *resp,
                                              const char *challenge, uint64_t expires_ns)
{
    struct buf text;
    int status = 0;
    char expires_at[RENDER_TIME_BYTES];
    buf_init(&text, 4096);
    enum tl_err err = problem_render(&text, TL_ERR_MFA_REQUIRED, NULL,
                                     "send a one-time code with the challenge to "
                                     "POST /v1/sessions/mfa",
                                     req->request_id, &status);
    json_t *problem = err == TL_OK ? json_loadb(text.data, text.len, 0, NULL) : NULL;
    buf_free(&text);
    if (problem == NULL) {
        return TL_ERR_NOMEM;
    }
    render_time_text(expires_ns, expires_at);
    if (json_object_set_new(problem, "mfa_challenge", json_string(challenge)) != 0 ||
        json_object_set_new(problem, "mfa_challenge_expires_at", json_string(expires_at)) != 0 ||
        json_object_set_new(problem, "mfa_methods", json_pack("[s, s]", "totp", "recovery_code")) !=
            0) {
        json_decref(problem);
        return TL_ERR_NOMEM;
    }
    err = http_response_json(resp, status, problem);
    if (err == TL_OK) {
        resp->content_type = PROBLEM_CONTENT_TYPE;
        resp->problem_err = TL_ERR_MFA_REQUIRED;
    }
    return err;
}

enum tl_err twofactor_login_check(struct http_request *req, struct http_response *resp,
                                  const struct store_user *user, bool *challenged)
{
    struct store_totp row;
    struct store_mfa_challenge c;
    char challenge[MFA_CHALLENGE_STR_BYTES];
    bool found = false;
    *challenged = false;
    enum tl_err err = twofactor_load(req, user->id, &row, &found);
    if (err != TL_OK || !found || !row.active) {
        return err;
    }
    memset(&c, 0, sizeof(c));
    mfa_challenge_new(authn_mfa_key(req->app->authn), challenge, c.hash);
    c.user_id = user->id;
    c.created_ns = twofactor_now_ns(req);
    c.expires_ns =
        c.created_ns + (uint64_t)authn_mfa_challenge_ttl_s(req->app->authn) * 1000000000u;
    TWOFACTOR_WRITE(req, err, store_mfa_challenge_create(store_, &c));
    if (err == TL_OK) {
        err = twofactor_challenge_render(req, resp, challenge, c.expires_ns);
    }
    explicit_bzero(challenge, sizeof(challenge));
    if (err == TL_OK) {
        audit_record(req, user->id, AUDIT_LOGIN_MFA_CHALLENGED, "");
        *challenged = true;
    }
    return err;
}

/* ---- POST /v1/sessions/mfa ---- */

static enum tl_err twofactor_challenge_invalid(struct http_response *resp)
{
    return http_fail(resp, TL_ERR_MFA_CHALLENGE_INVALID, "challenge",
                     "the challenge is unknown, used or expired; log in again");
}

/* The live challenge a client sent, and its user's active TOTP row. */
static enum tl_err twofactor_login_find(struct http_request *req, struct http_response *resp,
                                        const char *text, struct store_mfa_challenge *c,
                                        struct store_totp *row)
{
    struct store *store = NULL;
    bool found = false;
    if (mfa_challenge_hash(authn_mfa_key(req->app->authn), text, strlen(text), c->hash) != TL_OK) {
        return twofactor_challenge_invalid(resp);
    }
    enum tl_err err = http_request_store(req, &store);
    err = err == TL_OK ? store_mfa_challenge_get(store, c->hash, c, &found) : err;
    if (err != TL_OK) {
        return err;
    }
    if (!found || c->used || c->expires_ns <= twofactor_now_ns(req)) {
        return twofactor_challenge_invalid(resp);
    }
    err = twofactor_load(req, c->user_id, row, &found);
    if (err == TL_OK && !(found && row->active)) {
        return twofactor_challenge_invalid(resp); /* disabled since the password step */
    }
    return err;
}

enum tl_err twofactor_login_complete(struct http_request *req, struct http_response *resp)
{
    struct store_mfa_challenge c;
    struct store_totp row;
    struct store_user user;
    struct store *store = NULL;
    json_t *body = NULL;
    bool found = false;
    if (req->app->authn == NULL) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "login is not available");
    }
    idempotency_exclude(); /* the answer holds a token */
    enum tl_err err = twofactor_body(req, resp, FIELDS(twofactor_login_fields), &body);
    err = err == TL_OK ? twofactor_one_proof(body, resp) : err;
    err = err == TL_OK
              ? twofactor_login_find(req, resp, json_field_string(body, "challenge"), &c, &row)
              : err;
    err = err == TL_OK ? twofactor_proof_check(req, resp, body, &row, AUDIT_LOGIN_MFA_FAILED) : err;
    json_decref(body);
    if (err != TL_OK) {
        return err;
    }
    TWOFACTOR_WRITE(req, err, store_mfa_challenge_consume(store_, c.hash, twofactor_now_ns(req)));
    if (err == TL_ERR_NOT_FOUND) {
        return twofactor_challenge_invalid(resp); /* a concurrent completion won */
    }
    err = err == TL_OK ? http_request_store(req, &store) : err;
    err = err == TL_OK ? store_user_get(store, c.user_id, &user, &found) : err;
    if (err == TL_OK && !found) {
        err = twofactor_challenge_invalid(resp);
    } else if (err == TL_OK) {
        err = sessions_issue(req, resp, &user);
    }
    explicit_bzero(user.password_hash, sizeof(user.password_hash));
    return err;
}

/* ---- Step-up (api/stepup.h): a code for a risky action ---- */

enum tl_err twofactor_code_verify(struct http_request *req, struct http_response *resp,
                                  struct id128 user_id, const char *code, const char *fail_action)
{
    struct store_totp row;
    uint8_t key[1 + ID128_BYTES];
    uint64_t step = 0;
    bool found = false;
    enum tl_err err = twofactor_load(req, user_id, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || !row.active) {
        return http_fail(resp, TL_ERR_MFA_NOT_ENABLED, "code", "two-factor authentication is off");
    }
    err = twofactor_throttle(req, resp, user_id, key);
    if (err == TL_OK) {
        err = twofactor_code_check(req, resp, &row, code, fail_action, &step);
    }
    if (err == TL_OK) {
        authn_login_succeeded(req->app->authn, key, sizeof(key));
    }
    return err;
}
