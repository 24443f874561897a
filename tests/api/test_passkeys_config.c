/*
 * test_passkeys_config.c - the [webauthn] and [web] options (src/util/config.c) and the names
 * GET /web/{file} serves (src/api/static_files.c).
 */
#include <string.h>

#include "api/static_files.h"
#include "test.h"
#include "util/config.h"

#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])))

static void test_webauthn_defaults(void **state)
{
    (void)state;
    char *argv[] = {"tallyd"};
    char *envp[] = {NULL};
    struct config c;
    char error[CONFIG_ERROR_BYTES];
    assert_int_equal(config_parse(ARGC(argv), argv, envp, &c, error), TL_OK);
    assert_string_equal(c.webauthn_rp_id, "localhost");
    assert_string_equal(c.webauthn_rp_name, "Tally");
    assert_string_equal(c.webauthn_origin, "https://localhost:8443");
    assert_string_equal(c.web_dir, "web");
}

static enum tl_err parse_pair(const char *rp_id, const char *origin)
{
    char rp_arg[300], origin_arg[300];
    snprintf(rp_arg, sizeof(rp_arg), "--webauthn-rp-id=%s", rp_id);
    snprintf(origin_arg, sizeof(origin_arg), "--webauthn-origin=%s", origin);
    char *argv[] = {"tallyd", rp_arg, origin_arg};
    char *envp[] = {NULL};
    struct config c;
    char error[CONFIG_ERROR_BYTES];
    return config_parse(ARGC(argv), argv, envp, &c, error);
}

static void test_webauthn_values(void **state)
{
    (void)state;
    assert_int_equal(parse_pair("example.com", "https://example.com"), TL_OK);
    assert_int_equal(parse_pair("example.com", "https://app.example.com:8443"), TL_OK);
    assert_int_equal(parse_pair("localhost", "http://localhost:8080"), TL_OK);
    assert_int_equal(parse_pair("localhost", "http://localhost"), TL_OK);
    /* The origin's host must be the RP id or under it. */
    assert_int_equal(parse_pair("example.com", "https://badexample.com"), TL_ERR_INVALID_REQUEST);
    assert_int_equal(parse_pair("app.example.com", "https://example.com"), TL_ERR_INVALID_REQUEST);
    /* Plain http only for localhost; no paths, upper case or IP RP ids. */
    assert_int_equal(parse_pair("example.com", "http://example.com"), TL_ERR_INVALID_REQUEST);
    assert_int_equal(parse_pair("example.com", "https://example.com/app"), TL_ERR_INVALID_REQUEST);
    assert_int_equal(parse_pair("Example.com", "https://example.com"), TL_ERR_INVALID_REQUEST);
    assert_int_equal(parse_pair("127.0.0.1", "https://127.0.0.1"), TL_ERR_INVALID_REQUEST);
    assert_int_equal(parse_pair("example..com", "https://example..com"), TL_ERR_INVALID_REQUEST);
    assert_int_equal(parse_pair("", "https://example.com"), TL_ERR_INVALID_REQUEST);
    assert_int_equal(parse_pair("localhost", "http://localhost.evil.com"), TL_ERR_INVALID_REQUEST);
}

static void test_static_names(void **state)
{
    (void)state;
    assert_string_equal(static_files_type("passkeys.html"), "text/html; charset=utf-8");
    assert_string_equal(static_files_type("passkeys.js"), "text/javascript; charset=utf-8");
    assert_string_equal(static_files_type("a-b_C9.css"), "text/css; charset=utf-8");
    static const char *const refused[] = {
        "",
        ".",
        "..",
        ".js",
        ".hidden.js",
        "a..js",
        "a.b.js",
        "noext",
        "a.exe",
        "a.HTML",
        "a/b.js",
        "a%2fb.js",
        "a b.js",
        "secret.key",
        "tally.db",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.js",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_null(static_files_type(refused[i]));
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_webauthn_defaults),
    cmocka_unit_test(test_webauthn_values),
    cmocka_unit_test(test_static_names),
};

TL_TEST_MAIN(tests)
