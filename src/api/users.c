#include "api/users.h"

#include <stdio.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/json.h"
#include "api/render.h"
#include "auth/password.h"
#include "core/ledger.h"
#include "core/money.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/log.h"
#include "util/typeid.h"

/* Currency of first wallets when the app runs without a config (tests). */
#define USERS_CURRENCY_FALLBACK "USD"
/* Field sizes the body may carry; the validators then apply the exact rules, so a client sees
 * "handle must be 3-30 characters" rather than a byte count. */
#define USERS_FIELD_BYTES_MAX 1024u

static_assert(VALIDATE_HANDLE_BYTES <= STORE_HANDLE_BYTES_MAX, "a handle fits its row");
static_assert(VALIDATE_EMAIL_BYTES <= STORE_EMAIL_BYTES_MAX, "an email fits its row");
static_assert(VALIDATE_PHONE_BYTES <= STORE_PHONE_BYTES_MAX, "a phone fits its row");
static_assert(VALIDATE_DISPLAY_NAME_CODEPOINTS_MAX * 4 < STORE_DISPLAY_NAME_BYTES_MAX,
              "a display name fits its row");
static_assert(PASSWORD_HASH_STR_BYTES <= STORE_PASSWORD_HASH_BYTES_MAX, "a hash fits its row");

/* ---- Shared helpers ---- */

json_t *users_json(const struct store_user *user)
{
    char id[TYPEID_STR_BYTES];
    char created_at[RENDER_TIME_BYTES];
    typeid_encode(TYPEID_PREFIX_USER, user->id, id);
    render_time_text(user->created_ns, created_at);
    json_t *phone = user->phone[0] != '\0' ? json_string(user->phone) : json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "id", id, "handle", user->handle,
                     "display_name", user->display_name, "email", user->email, "phone", phone,
                     "created_at", created_at);
}

/* The store keeps emails in lower case (local part too), so lookups are case-insensitive. */
static void users_lower(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            *s = (char)(*s - 'A' + 'a');
        }
    }
}

enum tl_err users_key_parse(const char *in, size_t in_len, struct users_key *out)
{
    struct users_key key;
    enum tl_err err = TL_ERR_INVALID_REQUEST;
    memset(&key, 0, sizeof(key));
    if (in_len >= 1 && in[0] == '@') {
        key.kind = USERS_KEY_HANDLE;
        err = validate_handle(in + 1, in_len - 1, key.value, NULL);
    } else if (in_len >= 1 && in[0] == '+') {
        key.kind = USERS_KEY_PHONE;
        err = validate_phone(in, in_len, key.value, NULL);
    } else if (memchr(in, '@', in_len) != NULL) {
        key.kind = USERS_KEY_EMAIL;
        err = validate_email(in, in_len, key.value, NULL);
        users_lower(key.value);
    } else {
        key.kind = USERS_KEY_HANDLE;
        err = validate_handle(in, in_len, key.value, NULL);
    }
    if (err == TL_OK) {
        *out = key;
    }
    return err;
}

enum tl_err users_find(struct store *store, const struct users_key *key, struct store_user *out,
                       bool *found)
{
    const char *handle = key->kind == USERS_KEY_HANDLE ? key->value : NULL;
    const char *email = key->kind == USERS_KEY_EMAIL ? key->value : NULL;
    const char *phone = key->kind == USERS_KEY_PHONE ? key->value : NULL;
    return store_user_find(store, handle, email, phone, out, found);
}

/* ---- POST /v1/users ---- */

static const struct json_field users_create_fields[] = {
    JSON_STRING("handle", true, USERS_FIELD_BYTES_MAX),
    JSON_STRING("email", true, USERS_FIELD_BYTES_MAX),
    JSON_STRING("phone", false, USERS_FIELD_BYTES_MAX),
    JSON_STRING("password", true, PASSWORD_BYTES_MAX + 1),
    JSON_STRING("display_name", true, USERS_FIELD_BYTES_MAX),
};

/* A validated sign-up: the user row without id and hash, and the password to hash. */
struct users_signup {
    struct store_user user;
    const char *password; /* points into the parsed body */
    size_t password_bytes;
};

static enum tl_err users_fault(struct http_response *resp, enum tl_err err,
                               const struct auth_fault *fault)
{
    return http_fail(resp, err, fault->param, fault->detail);
}

/* Reads the body; "phone": null means no phone. On TL_OK *out is the body (caller decrefs). */
static enum tl_err users_create_body(struct http_request *req, struct http_response *resp,
                                     json_t **out)
{
    struct json_error error;
    json_t *body = NULL;
    enum tl_err err = json_body_parse(req->body, req->body_bytes, &body, &error);
    if (err == TL_OK) {
        if (json_is_null(json_object_get(body, "phone"))) {
            json_object_del(body, "phone");
        }
        err = json_body_validate(body, users_create_fields,
                                 sizeof(users_create_fields) / sizeof(users_create_fields[0]),
                                 &error);
    }
    if (err != TL_OK) {
        json_decref(body);
        return http_fail(resp, err, error.param[0] != '\0' ? error.param : NULL, error.detail);
    }
    *out = body;
    return TL_OK;
}

static enum tl_err users_signup_check(struct http_request *req, struct http_response *resp,
                                      const json_t *body, struct users_signup *out)
{
    struct auth_fault fault = {0};
    const char *handle = json_field_string(body, "handle");
    const char *email = json_field_string(body, "email");
    const char *phone = json_field_string(body, "phone");
    const char *display_name = json_field_string(body, "display_name");
    const char *detail = NULL;
    memset(out, 0, sizeof(*out));
    if (validate_handle(handle, strlen(handle), out->user.handle, &fault) != TL_OK ||
        validate_email(email, strlen(email), out->user.email, &fault) != TL_OK ||
        (phone != NULL && validate_phone(phone, strlen(phone), out->user.phone, &fault) != TL_OK) ||
        validate_display_name(display_name, strlen(display_name), &fault) != TL_OK) {
        return users_fault(resp, TL_ERR_INVALID_REQUEST, &fault);
    }
    users_lower(out->user.email);
    snprintf(out->user.display_name, sizeof(out->user.display_name), "%s", display_name);
    out->password = json_field_string(body, "password");
    out->password_bytes = strlen(out->password);
    enum tl_err err =
        authn_password_policy(req->app->authn, out->password, out->password_bytes, &detail);
    if (err != TL_OK) {
        return http_fail(resp, err, "password", detail);
    }
    return TL_OK;
}

static enum tl_err users_conflict_fail(struct http_response *resp,
                                       enum store_user_conflict conflict)
{
    switch (conflict) {
    case STORE_USER_CONFLICT_HANDLE:
        return http_fail(resp, TL_ERR_HANDLE_TAKEN, "handle", "that handle is taken");
    case STORE_USER_CONFLICT_EMAIL:
        return http_fail(resp, TL_ERR_EMAIL_TAKEN, "email", "that email is already registered");
    case STORE_USER_CONFLICT_PHONE:
        return http_fail(resp, TL_ERR_PHONE_TAKEN, "phone", "that phone is already registered");
    case STORE_USER_CONFLICT_NONE:
        break;
    }
    TL_UNREACHABLE();
    return TL_ERR_INTERNAL;
}

/*
 * Answers a taken handle, email or phone before paying for a password hash. Only a shortcut:
 * the insert checks again atomically, so two racing sign-ups still get one winner.
 */
static enum tl_err users_conflict_precheck(struct http_request *req, const struct store_user *user,
                                           enum store_user_conflict *out)
{
    struct store *store = NULL;
    struct store_user existing;
    bool found = false;
    *out = STORE_USER_CONFLICT_NONE;
    enum tl_err err = http_request_store(req, &store);
    if (err == TL_OK) {
        err = store_user_find(store, user->handle, NULL, NULL, &existing, &found);
        *out = found ? STORE_USER_CONFLICT_HANDLE : STORE_USER_CONFLICT_NONE;
    }
    if (err == TL_OK && !found) {
        err = store_user_find(store, NULL, user->email, NULL, &existing, &found);
        *out = found ? STORE_USER_CONFLICT_EMAIL : STORE_USER_CONFLICT_NONE;
    }
    if (err == TL_OK && !found && user->phone[0] != '\0') {
        err = store_user_find(store, NULL, NULL, user->phone, &existing, &found);
        *out = found ? STORE_USER_CONFLICT_PHONE : STORE_USER_CONFLICT_NONE;
    }
    return err;
}

/* ISO number of the server's default currency (checked at startup). */
static uint16_t users_default_currency(const struct api_app *app)
{
    const char *code =
        app->config != NULL ? app->config->default_currency : USERS_CURRENCY_FALLBACK;
    const struct money_currency *currency = money_currency_find(code, strlen(code));
    TL_ASSERT(currency != NULL);
    return currency->numeric;
}

/* The rows, then the ledger account; rows deleted again when the account cannot be opened. */
static enum tl_err users_insert(struct http_request *req, struct http_response *resp,
                                const struct store_user *user, const struct store_wallet *wallet)
{
    struct api_app *app = req->app;
    struct store *store = NULL;
    enum store_user_conflict conflict = STORE_USER_CONFLICT_NONE;
    enum tl_err err = api_app_store_acquire(app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_user_create(store, user, wallet, &conflict);
    api_app_store_release(app, store);
    if (err == TL_ERR_CONFLICT) {
        return users_conflict_fail(resp, conflict);
    }
    if (err != TL_OK) {
        return err;
    }
    enum tl_err open_err =
        accounts_wallet_open(app->writer, wallet->id, wallet->user_id, wallet->currency);
    if (open_err == TL_OK) {
        audit_record(req, user->id, AUDIT_SIGNUP, "");
        return TL_OK;
    }
    char user_hex[ID128_HEX_BYTES];
    id128_to_hex(user->id, user_hex);
    err = api_app_store_acquire(app, &store);
    if (err == TL_OK) {
        err = store_user_delete(store, user->id);
        api_app_store_release(app, store);
    }
    LOG(LOG_ERROR, "signup_compensated", LOG_STR("request_id", req->request_id),
        LOG_STR("user", user_hex), LOG_STR("cause", tl_err_code(open_err)),
        LOG_STR("delete", tl_err_code(err)));
    return http_fail(resp, open_err == TL_ERR_SHUTDOWN ? open_err : TL_ERR_BUSY, NULL,
                     "the account could not be opened; try again");
}

/* Hashing is refused when too many workers wait for it: a 503 the client may retry. */
static enum tl_err users_hash_busy(struct http_response *resp)
{
    char seconds[16];
    snprintf(seconds, sizeof(seconds), "%u", AUTHN_HASH_RETRY_AFTER_S);
    TL_ASSERT(http_response_header_set(resp, "Retry-After", seconds) == TL_OK);
    return http_fail(resp, TL_ERR_BUSY, NULL, "too many sign-ups and logins at once; retry");
}

static enum tl_err users_signup_execute(struct http_request *req, struct http_response *resp,
                                        struct users_signup *signup)
{
    struct api_app *app = req->app;
    struct store_user *user = &signup->user;
    enum store_user_conflict conflict = STORE_USER_CONFLICT_NONE;
    enum tl_err err = users_conflict_precheck(req, user, &conflict);
    if (err != TL_OK) {
        return err;
    }
    if (conflict != STORE_USER_CONFLICT_NONE) {
        return users_conflict_fail(resp, conflict);
    }
    err = authn_password_hash(app->authn, signup->password, signup->password_bytes,
                              user->password_hash);
    if (err == TL_ERR_BUSY) {
        return users_hash_busy(resp);
    }
    if (err != TL_OK) {
        return err;
    }
    user->id = id128_new();
    user->created_ns = clock_wall_ns();
    struct store_wallet wallet = {
        .id = id128_new(),
        .user_id = user->id,
        .currency = users_default_currency(app),
        .created_ns = user->created_ns,
    };
    return users_insert(req, resp, user, &wallet);
}

enum tl_err users_create(struct http_request *req, struct http_response *resp)
{
    struct users_signup signup;
    json_t *body = NULL;
    if (req->app->authn == NULL || req->app->writer == NULL) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "sign-up is not available");
    }
    enum tl_err err = users_create_body(req, resp, &body);
    if (err != TL_OK) {
        return err;
    }
    err = users_signup_check(req, resp, body, &signup);
    if (err == TL_OK) {
        err = users_signup_execute(req, resp, &signup);
    }
    json_decref(body); /* the password lives in it until here */
    explicit_bzero(signup.user.password_hash, sizeof(signup.user.password_hash));
    if (err != TL_OK) {
        return err;
    }
    return http_response_json(resp, 201, users_json(&signup.user));
}

/* ---- GET /v1/me ---- */

enum tl_err users_me(struct http_request *req, struct http_response *resp)
{
    struct store *store = NULL;
    struct store_user user;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = http_request_store(req, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_user_get(store, req->principal.user_id, &user, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        /* A session outliving its user (a sign-up rolled back): the token means nothing. */
        return http_fail(resp, TL_ERR_UNAUTHORIZED, NULL, "valid credentials are required");
    }
    return http_response_json(resp, 200, users_json(&user));
}

/* ---- GET /v1/users/lookup?q= ---- */

enum tl_err users_lookup(struct http_request *req, struct http_response *resp)
{
    struct users_key key;
    struct store *store = NULL;
    struct store_user user;
    bool found = false;
    const char *q = http_request_query(req, "q");
    if (q == NULL || q[0] == '\0') {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "q",
                         "give @handle, a handle, an email or an E.164 phone");
    }
    /* An unescaped '+' in a query string decodes to a space (form encoding), so
     * "?q=+15551234567" arrives as " 15551234567": read it as the phone it was meant to be. */
    char phone[VALIDATE_PHONE_BYTES];
    if (q[0] == ' ' && q[1] >= '0' && q[1] <= '9' && strlen(q) < sizeof(phone)) {
        snprintf(phone, sizeof(phone), "+%s", q + 1);
        q = phone;
    }
    /* A value no user could have (a malformed handle, a bad email) names nobody. */
    if (users_key_parse(q, strlen(q), &key) != TL_OK) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no user matches");
    }
    enum tl_err err = http_request_store(req, &store);
    if (err == TL_OK) {
        err = users_find(store, &key, &user, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no user matches");
    }
    return http_response_json(
        resp, 200,
        json_pack("{s:s, s:s}", "handle", user.handle, "display_name", user.display_name));
}
