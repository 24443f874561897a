#include "api/security.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/seen.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/render.h"
#include "api/sessions.h"
#include "api/stepup.h"
#include "auth/password.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/log.h"
#include "util/typeid.h"

static const struct json_field security_password_fields[] = {
    JSON_STRING("current_password", true, PASSWORD_BYTES_MAX),
    JSON_STRING("new_password", true, PASSWORD_BYTES_MAX + 1),
};

static json_t *security_session_json(const struct store_session *s, struct id128 current)
{
    char id[TYPEID_STR_BYTES];
    char created_at[RENDER_TIME_BYTES];
    char expires_at[RENDER_TIME_BYTES];
    typeid_encode(TYPEID_PREFIX_SESSION, s->id, id);
    render_time_text(s->created_ns, created_at);
    render_time_text(s->expires_ns, expires_at);
    json_t *agent = s->user_agent[0] != '\0' ? json_string(s->user_agent) : json_null();
    return json_pack("{s:s, s:s, s:s, s:o, s:b}", "id", id, "created_at", created_at, "expires_at",
                     expires_at, "user_agent", agent, "current", id128_eq(s->id, current));
}

/* Adds "last_seen_at" (or null) to a listed session from the last-seen rows (authn.h). */
static json_t *security_session_seen(json_t *item, struct id128 id,
                                     const struct store_session_seen *seen, uint32_t seen_count)
{
    uint64_t last_seen_ns = 0;
    for (uint32_t i = 0; i < seen_count; i++) {
        last_seen_ns = id128_eq(seen[i].id, id) ? seen[i].last_seen_ns : last_seen_ns;
    }
    char text[RENDER_TIME_BYTES];
    render_time_text(last_seen_ns, text);
    if (item != NULL &&
        json_object_set_new(item, "last_seen_at",
                            last_seen_ns != 0 ? json_string(text) : json_null()) != 0) {
        json_decref(item);
        return NULL;
    }
    return item;
}

enum tl_err security_sessions_list(struct http_request *req, struct http_response *resp)
{
    struct store_session *list = NULL;
    struct store *store = NULL;
    uint32_t count = 0;
    TL_ASSERT(req->principal.authenticated);
    if (req->app->seen != NULL) {
        seen_flush(req->app->seen); /* this very request's last-seen touch included */
    }
    enum tl_err err = http_request_store(req, &store);
    if (err != TL_OK) {
        return err;
    }
    list = calloc(STORE_SESSIONS_LIST_MAX, sizeof(*list));
    if (list == NULL) {
        return TL_ERR_NOMEM;
    }
    uint64_t now_ns = authn_wall_ns(req->app->authn);
    struct store_session_seen *seen = calloc(STORE_SESSIONS_LIST_MAX, sizeof(*seen));
    uint32_t seen_count = 0;
    err = seen == NULL ? TL_ERR_NOMEM : TL_OK;
    if (err == TL_OK) {
        err = store_sessions_list(store, req->principal.user_id, now_ns, list,
                                  STORE_SESSIONS_LIST_MAX, &count);
    }
    if (err == TL_OK) {
        err = store_sessions_seen(store, req->principal.user_id, now_ns, seen,
                                  STORE_SESSIONS_LIST_MAX, &seen_count);
    }
    json_t *data = err == TL_OK ? json_array() : NULL;
    if (err == TL_OK && data == NULL) {
        err = TL_ERR_NOMEM;
    }
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        json_t *item = security_session_json(&list[i], req->principal.session_id);
        if (json_array_append_new(data, security_session_seen(item, list[i].id, seen,
                                                              seen_count)) != 0) {
            err = TL_ERR_NOMEM;
        }
    }
    free(seen);
    free(list);
    if (err != TL_OK) {
        json_decref(data);
        return err;
    }
    return http_response_json(resp, 200, json_pack("{s:o, s:b}", "data", data, "has_more", false));
}

enum tl_err security_sessions_revoke_others(struct http_request *req, struct http_response *resp)
{
    struct store *store = NULL;
    uint32_t revoked = 0;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_sessions_revoke_others(store, req->principal.user_id, req->principal.session_id,
                                       &revoked);
    api_app_store_release(req->app, store);
    if (err != TL_OK) {
        return err;
    }
    authn_forget_user(req->app->authn, req->principal.user_id, req->principal.session_id);
    sessions_broadcast_revoked(req, req->principal.user_id, req->principal.session_id, true);
    audit_record(req, req->principal.user_id, AUDIT_SESSIONS_REVOKED_OTHERS, "");
    return http_response_json(resp, 200, json_pack("{s:i}", "revoked", (json_int_t)revoked));
}

enum tl_err security_session_revoke(struct http_request *req, struct http_response *resp)
{
    struct store *store = NULL;
    struct id128 session_id;
    const char *text = http_request_param(req, "id");
    TL_ASSERT(req->principal.authenticated);
    TL_ASSERT(text != NULL);
    /* A malformed id names no session of this user: the same 404 as another user's. */
    if (typeid_decode(text, strlen(text), TYPEID_PREFIX_SESSION, &session_id, NULL) != TL_OK) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such session");
    }
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_session_revoke_id(store, req->principal.user_id, session_id);
    api_app_store_release(req->app, store);
    if (err == TL_ERR_NOT_FOUND) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such session");
    }
    if (err != TL_OK) {
        return err;
    }
    authn_forget_session(req->app->authn, session_id);
    sessions_broadcast_revoked(req, req->principal.user_id, session_id, false);
    audit_record(req, req->principal.user_id, AUDIT_SESSION_REVOKED, text);
    resp->status = 204;
    buf_reset(&resp->body);
    return TL_OK;
}

/* The current password, through the account's login throttle and the hashing gate. */
static enum tl_err security_password_check(struct http_request *req, struct http_response *resp,
                                           const struct store_user *user, const char *password)
{
    struct authn *authn = req->app->authn;
    uint8_t key[1 + ID128_BYTES];
    uint32_t retry_after_s = 0;
    key[0] = 'u'; /* the login throttle's key for this user (sessions.c) */
    id128_to_bytes(user->id, key + 1);
    enum tl_err err = authn_login_attempt(authn, key, sizeof(key), &retry_after_s);
    if (err == TL_ERR_RATE_LIMITED) {
        char value[16];
        snprintf(value, sizeof(value), "%u", retry_after_s);
        TL_ASSERT(http_response_header_set(resp, "Retry-After", value) == TL_OK);
        return http_fail(resp, err, NULL, "too many wrong passwords; wait");
    }
    err = authn_password_verify(authn, user->password_hash, password, strlen(password));
    if (err == TL_ERR_BUSY) {
        TL_ASSERT(http_response_header_set(resp, "Retry-After", "1") == TL_OK);
        return http_fail(resp, err, NULL, "too many password checks at once; retry");
    }
    if (err == TL_ERR_UNAUTHORIZED) {
        audit_record(req, user->id, AUDIT_PASSWORD_CHANGE_FAILED, "");
        return http_fail(resp, TL_ERR_INVALID_CREDENTIALS, "current_password",
                         "the current password is wrong");
    }
    if (err == TL_OK) {
        authn_login_succeeded(authn, key, sizeof(key));
    }
    return err;
}

static enum tl_err security_password_set(struct http_request *req, struct http_response *resp,
                                         const struct store_user *user, const char *password)
{
    char hash[PASSWORD_HASH_STR_BYTES];
    const char *detail = NULL;
    struct store *store = NULL;
    enum tl_err err = authn_password_policy(req->app->authn, password, strlen(password), &detail);
    if (err != TL_OK) {
        return http_fail(resp, err, "new_password", detail);
    }
    err = authn_password_hash(req->app->authn, password, strlen(password), hash);
    if (err == TL_ERR_BUSY) {
        TL_ASSERT(http_response_header_set(resp, "Retry-After", "1") == TL_OK);
        return http_fail(resp, err, NULL, "too many password checks at once; retry");
    }
    if (err == TL_OK) {
        err = api_app_store_acquire(req->app, &store);
    }
    if (err == TL_OK) {
        err = store_user_password_set(store, user->id, hash, req->principal.session_id);
        api_app_store_release(req->app, store);
    }
    explicit_bzero(hash, sizeof(hash));
    return err;
}

enum tl_err security_password_change(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    struct store_user user;
    struct store *reader = NULL;
    json_t *body = NULL;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    if (req->app->authn == NULL) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "password changes are not available");
    }
    idempotency_exclude(); /* never keep a request about passwords */
    enum tl_err err = json_body_read(
        req->body, req->body_bytes, security_password_fields,
        sizeof(security_password_fields) / sizeof(security_password_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, err, error.param[0] != '\0' ? error.param : NULL, error.detail);
    }
    err = http_request_store(req, &reader);
    err = err == TL_OK ? store_user_get(reader, req->principal.user_id, &user, &found) : err;
    if (err == TL_OK && !found) {
        err = http_fail(resp, TL_ERR_UNAUTHORIZED, NULL, "valid credentials are required");
    }
    if (err == TL_OK) {
        err =
            security_password_check(req, resp, &user, json_field_string(body, "current_password"));
    }
    if (err == TL_OK) {
        err = stepup_gate(req, resp, STEPUP_ACTION_PASSWORD_CHANGE); /* api/stepup.h */
    }
    if (err == TL_OK) {
        err = security_password_set(req, resp, &user, json_field_string(body, "new_password"));
    }
    json_decref(body); /* the passwords live in it until here */
    explicit_bzero(user.password_hash, sizeof(user.password_hash));
    if (err != TL_OK) {
        return err;
    }
    authn_forget_user(req->app->authn, req->principal.user_id, req->principal.session_id);
    sessions_broadcast_revoked(req, req->principal.user_id, req->principal.session_id, true);
    audit_record(req, req->principal.user_id, AUDIT_PASSWORD_CHANGED, "");
    resp->status = 204;
    buf_reset(&resp->body);
    return TL_OK;
}
