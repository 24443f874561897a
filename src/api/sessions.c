#include "api/sessions.h"

#include <stdio.h>
#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/events.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/render.h"
#include "api/twofactor.h"
#include "api/users.h"
#include "auth/password.h"
#include "auth/token.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"

/* Throttle keys: user id bytes behind one tag, a login string that matched nobody behind
 * another, so the two can never share a bucket. */
#define SESSIONS_THROTTLE_KEY_BYTES (1 + VALIDATE_EMAIL_BYTES + 256)
#define SESSIONS_LOGIN_BYTES_MAX 254u

static const struct json_field sessions_create_fields[] = {
    JSON_STRING("login", true, SESSIONS_LOGIN_BYTES_MAX),
    JSON_STRING("password", true, PASSWORD_BYTES_MAX),
    JSON_BOOL("cookie", false), /* sessions_cookie_requested */
};

static_assert(SESSIONS_LOGIN_BYTES_MAX < SESSIONS_THROTTLE_KEY_BYTES - 1, "a raw login fits");

/* Who a login names, and the key its attempts are throttled under. */
struct sessions_login {
    bool found;
    struct store_user user;
    uint8_t throttle_key[SESSIONS_THROTTLE_KEY_BYTES];
    size_t throttle_key_bytes;
};

static enum tl_err sessions_invalid(struct http_response *resp)
{
    return http_fail(resp, TL_ERR_INVALID_CREDENTIALS, NULL, "login or password is wrong");
}

static enum tl_err sessions_retry_after(struct http_response *resp, enum tl_err err,
                                        uint32_t seconds, const char *detail)
{
    char value[16];
    snprintf(value, sizeof(value), "%u", seconds);
    TL_ASSERT(http_response_header_set(resp, "Retry-After", value) == TL_OK);
    return http_fail(resp, err, NULL, detail);
}

/*
 * Finds the user a login names. A login that cannot name anyone (bad shape) is simply not
 * found: the caller still pays for a dummy verification, so shape tells nothing either.
 */
static enum tl_err sessions_login_find(struct http_request *req, const char *login,
                                       struct sessions_login *out)
{
    struct users_key key;
    struct store *store = NULL;
    size_t login_len = strlen(login);
    memset(out, 0, sizeof(*out));
    enum tl_err err = users_key_parse(login, login_len, &key);
    if (err == TL_OK) {
        err = http_request_store(req, &store);
        if (err == TL_OK) {
            err = users_find(store, &key, &out->user, &out->found);
        }
        if (err != TL_OK) {
            return err;
        }
    }
    if (out->found) {
        out->throttle_key[0] = 'u';
        id128_to_bytes(out->user.id, out->throttle_key + 1);
        out->throttle_key_bytes = 1 + ID128_BYTES;
        return TL_OK;
    }
    /* Nobody: throttle the normalised form when there is one, else what was sent. */
    const char *name = err == TL_OK ? key.value : login;
    size_t name_len = err == TL_OK ? strlen(key.value) : login_len;
    TL_ASSERT(name_len + 1 <= sizeof(out->throttle_key));
    out->throttle_key[0] = 'l';
    memcpy(out->throttle_key + 1, name, name_len);
    out->throttle_key_bytes = 1 + name_len;
    return TL_OK;
}

/* Throttle, then one verification (real or dummy). TL_OK only for the right password. */
static enum tl_err sessions_login_check(struct http_request *req, struct http_response *resp,
                                        const struct sessions_login *login, const char *password)
{
    struct authn *authn = req->app->authn;
    uint32_t retry_after_s = 0;
    enum tl_err err =
        authn_login_attempt(authn, login->throttle_key, login->throttle_key_bytes, &retry_after_s);
    if (err == TL_ERR_RATE_LIMITED) {
        return sessions_retry_after(resp, err, retry_after_s, "too many failed logins; wait");
    }
    TL_ASSERT(err == TL_OK);
    const char *stored = login->found ? login->user.password_hash : NULL;
    err = authn_password_verify(authn, stored, password, strlen(password));
    if (err == TL_ERR_BUSY) {
        return sessions_retry_after(resp, err, AUTHN_HASH_RETRY_AFTER_S,
                                    "too many logins at once; retry");
    }
    if (err == TL_ERR_CORRUPT) {
        LOG(LOG_ERROR, "password_hash_unreadable", LOG_STR("request_id", req->request_id));
        return err;
    }
    if (err != TL_OK) {
        if (login->found) {
            audit_record(req, login->user.id, AUDIT_LOGIN_FAILED, "");
        }
        return sessions_invalid(resp);
    }
    TL_ASSERT(login->found);
    authn_login_succeeded(authn, login->throttle_key, login->throttle_key_bytes);
    return TL_OK;
}

/* The client's User-Agent as printable ASCII, cut to fit (it is shown, never trusted). */
static void sessions_user_agent(const struct http_request *req,
                                char out[STORE_USER_AGENT_BYTES_MAX])
{
    const char *agent = http_request_header(req, "User-Agent");
    size_t n = 0;
    for (; agent != NULL && agent[n] != '\0' && n + 1 < STORE_USER_AGENT_BYTES_MAX; n++) {
        char c = agent[n];
        out[n] = c >= 0x20 && c <= 0x7e ? c : '?';
    }
    out[n] = '\0';
}

/* Whether the login body (already validated by its handler, whose field spec lists
 * "cookie") asks for a cookie session: {"cookie": true}. */
static bool sessions_cookie_requested(const struct http_request *req)
{
    json_error_t jerr;
    if (req->body == NULL || req->body_bytes == 0) {
        return false;
    }
    json_t *body = json_loadb((const char *)req->body, req->body_bytes, 0, &jerr);
    bool cookie = json_is_true(json_object_get(body, "cookie"));
    json_decref(body);
    return cookie;
}

/* The 201 of a cookie login: the token goes into the tally_session cookie, never the body. */
static enum tl_err sessions_issue_cookie(struct http_request *req, struct http_response *resp,
                                         const struct store_user *user, const char *token,
                                         const struct store_session *session)
{
    char csrf[AUTHN_CSRF_TOKEN_BYTES];
    char expires_at[RENDER_TIME_BYTES];
    enum tl_err err = authn_cookies_set(req->app->authn, resp, token, session->id,
                                        authn_session_ttl_s(req->app->authn), csrf);
    if (err != TL_OK) {
        return err;
    }
    render_time_text(session->expires_ns, expires_at);
    return http_response_json(resp, 201,
                              json_pack("{s:s, s:s, s:o}", "expires_at", expires_at, "csrf_token",
                                        csrf, "user", users_json(user)));
}

enum tl_err sessions_issue(struct http_request *req, struct http_response *resp,
                           const struct store_user *user)
{
    struct api_app *app = req->app;
    struct store *store = NULL;
    char token[TOKEN_STR_BYTES];
    struct token_hash hash;
    char expires_at[RENDER_TIME_BYTES];
    struct store_session session;
    memset(&session, 0, sizeof(session));
    authn_token_new(app->authn, token, &hash);
    memcpy(session.token_hash, hash.bytes, sizeof(session.token_hash));
    session.id = id128_new();
    session.user_id = user->id;
    session.created_ns = authn_wall_ns(app->authn);
    session.expires_ns =
        session.created_ns + (uint64_t)authn_session_ttl_s(app->authn) * 1000000000u;
    sessions_user_agent(req, session.user_agent);
    enum tl_err err = api_app_store_acquire(app, &store);
    if (err == TL_OK) {
        err = store_session_create(store, &session);
        api_app_store_release(app, store);
    }
    if (err == TL_OK) {
        struct authn_session cached = {user->id, session.id, session.expires_ns};
        char session_id[TYPEID_STR_BYTES];
        authn_cache_put(app->authn, &hash, &cached);
        typeid_encode(TYPEID_PREFIX_SESSION, session.id, session_id);
        audit_record(req, user->id, AUDIT_LOGIN_SUCCEEDED, session_id);
        render_time_text(session.expires_ns, expires_at);
    }
    if (err == TL_OK && sessions_cookie_requested(req)) {
        err = sessions_issue_cookie(req, resp, user, token, &session);
    } else if (err == TL_OK) {
        err = http_response_json(resp, 201,
                                 json_pack("{s:s, s:s, s:o}", "token", token, "expires_at",
                                           expires_at, "user", users_json(user)));
    }
    explicit_bzero(token, sizeof(token));
    return err;
}

enum tl_err sessions_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    json_t *body = NULL;
    struct sessions_login login;
    if (req->app->authn == NULL) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "login is not available");
    }
    enum tl_err err = json_body_read(
        req->body, req->body_bytes, sessions_create_fields,
        sizeof(sessions_create_fields) / sizeof(sessions_create_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, err, error.param[0] != '\0' ? error.param : NULL, error.detail);
    }
    err = sessions_login_find(req, json_field_string(body, "login"), &login);
    if (err == TL_OK) {
        err = sessions_login_check(req, resp, &login, json_field_string(body, "password"));
    }
    json_decref(body); /* the password lives in it until here */
    if (err == TL_OK) {
        /* The answer holds a token: never stored for replay, should the route ever become
         * ROUTE_IDEMPOTENT. (The server marks every response Cache-Control: no-store.) */
        idempotency_exclude();
        bool challenged = false;
        err = twofactor_login_check(req, resp, &login.user, &challenged);
        if (err == TL_OK && !challenged) {
            err = sessions_issue(req, resp, &login.user);
        }
    }
    explicit_bzero(login.user.password_hash, sizeof(login.user.password_hash));
    return err;
}

enum tl_err sessions_delete(struct http_request *req, struct http_response *resp)
{
    struct api_app *app = req->app;
    struct store *store = NULL;
    struct token_hash hash;
    TL_ASSERT(req->principal.authenticated);
    /* The authenticate phase accepted this header; hash it again to name the session. */
    enum tl_err err = authn_request_token_hash(app->authn, req, &hash);
    if (err != TL_OK) {
        return http_fail(resp, err, NULL, "log out with the bearer token of the session");
    }
    err = api_app_store_acquire(app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_session_revoke(store, hash.bytes);
    api_app_store_release(app, store);
    if (err != TL_OK && err != TL_ERR_NOT_FOUND) {
        return err;
    }
    /* After the revoke, so a lookup racing with it cannot cache the old row again. */
    authn_forget(app->authn, &hash);
    if (authn_request_cookie(req)) {
        /* Signed in by cookie: the answer deletes the cookies as well. */
        TL_ASSERT(authn_cookies_clear(resp) == TL_OK);
    }
    if (err == TL_OK) {
        sessions_broadcast_revoked(req, req->principal.user_id, req->principal.session_id, false);
        char session_id[TYPEID_STR_BYTES];
        typeid_encode(TYPEID_PREFIX_SESSION, req->principal.session_id, session_id);
        audit_record(req, req->principal.user_id, AUDIT_LOGOUT, session_id);
    }
    resp->status = 204;
    buf_reset(&resp->body);
    return TL_OK;
}

/* ---- Revocations across nodes ---- */

void sessions_broadcast_revoked(struct http_request *req, struct id128 user_id,
                                struct id128 session_id, bool all_except)
{
    struct store *store = NULL;
    struct buf payload;
    uint64_t seq = 0;

    buf_init(&payload, STORE_OUTBOX_APPEND_MAX);
    enum tl_err err = events_render_session_revoked(&payload, user_id, session_id, all_except,
                                                    clock_wall_ns());
    if (err == TL_OK) {
        err = api_app_store_acquire(req->app, &store);
    }
    if (err == TL_OK) {
        err = store_outbox_append(store, user_id, EVENTS_TOPIC_SESSION_REVOKED, payload.data,
                                  (uint32_t)payload.len, &seq);
        api_app_store_release(req->app, store);
    }
    buf_free(&payload);
    if (err != TL_OK) {
        LOG(LOG_WARN, "session_revocation_broadcast_failed", LOG_STR("request_id", req->request_id),
            LOG_STR("error", tl_err_code(err)));
    }
}

void sessions_outbox_row(void *ctx, const struct store_outbox_row *row)
{
    struct authn *authn = ctx;
    struct id128 session_id;
    json_error_t jerr;

    if (strcmp(row->topic, EVENTS_TOPIC_SESSION_REVOKED) != 0) {
        return;
    }
    json_t *event = json_loadb(row->data, row->data_bytes, JSON_REJECT_DUPLICATES, &jerr);
    json_t *data = json_object_get(event, "data");
    const char *one = json_string_value(json_object_get(data, "session_id"));
    const char *others = json_string_value(json_object_get(data, "all_except"));
    const char *text = one != NULL ? one : others;
    if (text != NULL &&
        typeid_decode(text, strlen(text), TYPEID_PREFIX_SESSION, &session_id, NULL) == TL_OK) {
        if (one != NULL) {
            authn_forget_session(authn, session_id);
        } else {
            authn_forget_user(authn, row->key, session_id);
        }
    } else {
        LOG(LOG_WARN, "session_revoked_row_unreadable", LOG_U64("seq", row->seq));
    }
    json_decref(event);
}
