/* test_notes.c - issue #5 "Strong identity" units: the Cookie header parser, CSRF checks of
 * cookie sessions in the authenticate phase, strict base64, X25519 key checks and the sealed
 * note parser of api/notes.h. The HTTP flows are tests/api/run_notes.sh. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "api/authn.h"
#include "api/json.h"
#include "api/notes.h"
#include "auth/auth_crypto.h"
#include "test.h"

#define SECOND_NS 1000000000ull

static uint64_t fixed_wall(void *ctx)
{
    (void)ctx;
    return 1700000000ull * SECOND_NS;
}

static struct token_key test_key;

static struct authn *authn_make(uint8_t secret_byte)
{
    uint8_t secret[32];
    struct authn *authn = NULL;
    memset(secret, secret_byte, sizeof(secret));
    assert_int_equal(token_key_init(&test_key, secret, sizeof(secret)), TL_OK);
    struct authn_config config = {
        .token_key = &test_key, .session_ttl_s = 3600, .wall_ns = fixed_wall};
    assert_int_equal(authn_new(&config, &authn), TL_OK);
    return authn;
}

/* ---- Cookie header ---- */

static void test_cookie_get(void **state)
{
    (void)state;
    char out[32];
    assert_true(authn_cookie_get("tally_session=abc", "tally_session", out, sizeof(out)));
    assert_string_equal(out, "abc");
    assert_true(authn_cookie_get("a=1; tally_session=xyz; b=2", "tally_session", out, sizeof(out)));
    assert_string_equal(out, "xyz");
    assert_true(authn_cookie_get("a=1;tally_session=q  ", "tally_session", out, sizeof(out)));
    assert_string_equal(out, "q");
    /* The first of two decides; a longer or shorter name is another cookie. */
    assert_true(authn_cookie_get("tally_session=1; tally_session=2", "tally_session", out,
                                 sizeof(out)));
    assert_string_equal(out, "1");
    assert_false(authn_cookie_get("xtally_session=1; tally_sessionx=2", "tally_session", out,
                                  sizeof(out)));
    assert_false(authn_cookie_get("tally_session=", "tally_session", out, sizeof(out)));
    assert_false(authn_cookie_get(NULL, "tally_session", out, sizeof(out)));
    assert_false(authn_cookie_get("", "tally_session", out, sizeof(out)));
    assert_false(authn_cookie_get("tally_session=0123456789012345678901234567890123456789",
                                  "tally_session", out, sizeof(out)));
}

/* ---- CSRF in the authenticate phase ---- */

struct fake_headers {
    const char *cookie;
    const char *csrf;
    const char *origin;
    const char *host;
};

static const char *fake_lookup(void *ctx, enum http_lookup_kind kind, const char *name)
{
    struct fake_headers *h = ctx;
    if (kind != HTTP_LOOKUP_HEADER) {
        return NULL;
    }
    if (strcasecmp(name, "Cookie") == 0) {
        return h->cookie;
    }
    if (strcasecmp(name, "X-CSRF-Token") == 0) {
        return h->csrf;
    }
    if (strcasecmp(name, "Origin") == 0) {
        return h->origin;
    }
    if (strcasecmp(name, "Host") == 0) {
        return h->host;
    }
    return NULL;
}

static enum tl_err authenticate(struct authn *authn, struct api_app *app, enum http_method method,
                                struct fake_headers *headers)
{
    struct http_request req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.app = app;
    req.lookup_ = fake_lookup;
    req.lookup_ctx_ = headers;
    return authn_authenticate(authn, &req);
}

static void test_csrf(void **state)
{
    (void)state;
    struct authn *authn = authn_make(3);
    struct api_app app;
    char token[TOKEN_STR_BYTES];
    char cookie[TOKEN_STR_BYTES + 32];
    char csrf[AUTHN_CSRF_TOKEN_BYTES];
    char other_csrf[AUTHN_CSRF_TOKEN_BYTES];
    struct token_hash hash;
    memset(&app, 0, sizeof(app)); /* no config, no store: only the cached session counts */
    authn_token_new(authn, token, &hash);
    struct authn_session session = {id128_make(1, 2), id128_make(3, 4),
                                    fixed_wall(NULL) + 60 * SECOND_NS};
    authn_cache_put(authn, &hash, &session);
    snprintf(cookie, sizeof(cookie), "theme=dark; tally_session=%s", token);
    authn_csrf_token(authn, session.session_id, csrf);
    authn_csrf_token(authn, id128_make(3, 5), other_csrf);
    assert_int_equal(strlen(csrf), AUTHN_CSRF_TOKEN_BYTES - 1);
    assert_string_not_equal(csrf, other_csrf);

    struct fake_headers h = {cookie, NULL, NULL, "127.0.0.1:8080"};
    assert_int_equal(authenticate(authn, &app, HTTP_GET, &h), TL_OK);
    assert_int_equal(authenticate(authn, &app, HTTP_HEAD, &h), TL_OK);
    assert_int_equal(authenticate(authn, &app, HTTP_POST, &h), TL_ERR_CSRF_FAILED);
    assert_int_equal(authenticate(authn, &app, HTTP_DELETE, &h), TL_ERR_CSRF_FAILED);
    h.csrf = other_csrf;
    assert_int_equal(authenticate(authn, &app, HTTP_PUT, &h), TL_ERR_CSRF_FAILED);
    h.csrf = "";
    assert_int_equal(authenticate(authn, &app, HTTP_POST, &h), TL_ERR_CSRF_FAILED);
    h.csrf = csrf;
    assert_int_equal(authenticate(authn, &app, HTTP_POST, &h), TL_OK);
    assert_int_equal(authenticate(authn, &app, HTTP_PATCH, &h), TL_OK);
    h.origin = "http://127.0.0.1:8080";
    assert_int_equal(authenticate(authn, &app, HTTP_POST, &h), TL_OK);
    h.origin = "https://127.0.0.1:8080"; /* another scheme is another origin */
    assert_int_equal(authenticate(authn, &app, HTTP_POST, &h), TL_ERR_CSRF_FAILED);
    h.origin = "null";
    assert_int_equal(authenticate(authn, &app, HTTP_POST, &h), TL_ERR_CSRF_FAILED);
    h.origin = "http://127.0.0.1:8080.evil.example";
    assert_int_equal(authenticate(authn, &app, HTTP_POST, &h), TL_ERR_CSRF_FAILED);

    /* Another server secret: another CSRF token for the same session. */
    struct authn *other = authn_make(4);
    authn_csrf_token(other, session.session_id, other_csrf);
    assert_string_not_equal(csrf, other_csrf);
    authn_free(other);
    authn_free(authn);
}

/* ---- Base64 and keys ---- */

static void test_base64_strict(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t bytes = 0;
    char text[16];
    static const uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};
    auth_crypto_base64(text, sizeof(text), hello, sizeof(hello));
    assert_string_equal(text, "aGVsbG8=");
    assert_true(auth_crypto_base64_decode(out, sizeof(out), text, strlen(text), &bytes));
    assert_int_equal(bytes, 5);
    assert_memory_equal(out, hello, 5);
    assert_false(auth_crypto_base64_decode(out, sizeof(out), "aGVsbG8", 7, &bytes)); /* no pad */
    assert_false(auth_crypto_base64_decode(out, sizeof(out), "aGVsbG9=", 8, &bytes)); /* bits */
    assert_false(auth_crypto_base64_decode(out, sizeof(out), "aGVs bG8=", 9, &bytes));
    assert_false(auth_crypto_base64_decode(out, sizeof(out), "aGV_bG8=", 8, &bytes)); /* url */
    assert_false(auth_crypto_base64_decode(out, sizeof(out), "", 0, &bytes));
    assert_false(auth_crypto_base64_decode(out, 4, "aGVsbG8=", 8, &bytes)); /* too long */
}

static void test_x25519_key_usable(void **state)
{
    (void)state;
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    uint8_t sk[crypto_box_SECRETKEYBYTES];
    uint8_t zero[32] = {0};
    uint8_t one[32] = {1};
    crypto_box_keypair(pk, sk);
    assert_true(auth_crypto_x25519_key_usable(pk));
    assert_false(auth_crypto_x25519_key_usable(zero));
    assert_false(auth_crypto_x25519_key_usable(one)); /* u = 1: order 4 */
}

/* ---- Sealed notes ---- */

static enum tl_err sealed_parse(const char *text, struct notes_sealed *out, char *param)
{
    struct json_error error;
    struct http_response resp;
    json_t *body = NULL;
    http_response_init(&resp);
    assert_int_equal(json_body_parse((const uint8_t *)text, strlen(text), &body, &error), TL_OK);
    enum tl_err err = notes_sealed_parse(body, json_object_get(body, "note") != NULL, &resp, out);
    strcpy(param, resp.problem_param);
    json_decref(body);
    http_response_free(&resp);
    return err;
}

static void test_sealed_parse(void **state)
{
    (void)state;
    static struct notes_sealed sealed;
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    uint8_t sk[crypto_box_SECRETKEYBYTES];
    uint8_t box[STORE_SEALED_NOTE_BYTES_MAX + 1];
    uint8_t opened[16];
    char box_text[NOTES_SEALED_TEXT_BYTES_MAX + 8];
    char big_text[NOTES_SEALED_TEXT_BYTES_MAX + 8];
    char body[2 * NOTES_SEALED_TEXT_BYTES_MAX + 128];
    char param[TL_JSON_PARAM_BYTES_MAX + 1];
    crypto_box_keypair(pk, sk);
    assert_int_equal(crypto_box_seal(box, (const uint8_t *)"pay day", 7, pk), 0);
    auth_crypto_base64(box_text, sizeof(box_text), box, 7 + crypto_box_SEALBYTES);

    assert_int_equal(sealed_parse("{\"to\": \"@b\"}", &sealed, param), TL_OK);
    assert_false(sealed.present);
    snprintf(body, sizeof(body), "{\"sealed_note\": {\"recipient\": \"%s\", \"sender\": \"%s\"}}",
             box_text, box_text);
    assert_int_equal(sealed_parse(body, &sealed, param), TL_OK);
    assert_true(sealed.present);
    assert_int_equal(sealed.note.recipient_bytes, 7 + crypto_box_SEALBYTES);
    assert_string_equal(notes_sealed_text(&sealed, false), box_text);
    assert_int_equal(crypto_box_seal_open(opened, sealed.note.sender_box, sealed.note.sender_bytes,
                                          pk, sk),
                     0);
    assert_memory_equal(opened, "pay day", 7);

    snprintf(body, sizeof(body),
             "{\"note\": \"x\", \"sealed_note\": {\"recipient\": \"%s\", \"sender\": \"%s\"}}",
             box_text, box_text);
    assert_int_equal(sealed_parse(body, &sealed, param), TL_ERR_INVALID_REQUEST);
    assert_string_equal(param, "sealed_note");
    snprintf(body, sizeof(body), "{\"sealed_note\": {\"recipient\": \"%s\"}}", box_text);
    assert_int_equal(sealed_parse(body, &sealed, param), TL_ERR_INVALID_REQUEST);
    assert_string_equal(param, "sealed_note.sender");
    /* The largest box fits; one byte more does not. */
    memset(box, 7, sizeof(box));
    auth_crypto_base64(big_text, sizeof(big_text), box, STORE_SEALED_NOTE_BYTES_MAX);
    snprintf(body, sizeof(body), "{\"sealed_note\": {\"recipient\": \"%s\", \"sender\": \"%s\"}}",
             big_text, box_text);
    assert_int_equal(sealed_parse(body, &sealed, param), TL_OK);
    auth_crypto_base64(big_text, sizeof(big_text), box, STORE_SEALED_NOTE_BYTES_MAX + 1);
    snprintf(body, sizeof(body), "{\"sealed_note\": {\"recipient\": \"%s\", \"sender\": \"%s\"}}",
             big_text, box_text);
    assert_int_equal(sealed_parse(body, &sealed, param), TL_ERR_INVALID_REQUEST);
    assert_string_equal(param, "sealed_note.recipient");
    auth_crypto_base64(big_text, sizeof(big_text), box, crypto_box_SEALBYTES);
    snprintf(body, sizeof(body), "{\"sealed_note\": {\"recipient\": \"%s\", \"sender\": \"%s\"}}",
             box_text, big_text);
    assert_int_equal(sealed_parse(body, &sealed, param), TL_ERR_INVALID_REQUEST);
    assert_string_equal(param, "sealed_note.sender");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cookie_get),
    cmocka_unit_test(test_csrf),
    cmocka_unit_test(test_base64_strict),
    cmocka_unit_test(test_x25519_key_usable),
    cmocka_unit_test(test_sealed_parse),
};

/* token_key_init (in authn_make) starts libsodium before anything uses it. */
TL_TEST_MAIN(tests)
