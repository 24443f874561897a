/* test_json - strict request bodies: the parser's rules, the field spec, amounts, rendering. */
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "test.h"

static const struct json_field payment_fields[] = {
    JSON_AMOUNT("amount", true),    JSON_STRING("currency", true, 3),
    JSON_STRING("note", false, 16), JSON_INT("limit", false, 1, 100),
    JSON_BOOL("instant", false),    JSON_OBJECT("metadata", false),
};
#define PAYMENT_FIELD_COUNT (sizeof(payment_fields) / sizeof(payment_fields[0]))

static enum tl_err read_body(const char *text, struct json_error *error)
{
    json_t *body = NULL;
    enum tl_err err = json_body_read((const uint8_t *)text, strlen(text), payment_fields,
                                     PAYMENT_FIELD_COUNT, &body, error);
    if (err == TL_OK) {
        assert_non_null(body);
        json_decref(body);
    } else {
        assert_null(body);
    }
    return err;
}

static void expect_error(const char *text, enum tl_err err, const char *param)
{
    struct json_error error;
    memset(&error, 0, sizeof(error));
    enum tl_err got = read_body(text, &error);
    if (got != err || strcmp(error.param, param) != 0) {
        print_error("body %s: got %s param '%s' (%s), want %s param '%s'\n", text, tl_err_code(got),
                    error.param, error.detail, tl_err_code(err), param);
        fail();
    }
    assert_int_equal(error.err, err);
    assert_true(strlen(error.detail) > 0);
}

static void test_valid_body_reads_every_type(void **state)
{
    (void)state;
    const char *text = "{\"amount\":1050,\"currency\":\"USD\",\"note\":\"caf\xc3\xa9\","
                       "\"limit\":100,\"instant\":true,\"metadata\":{\"a\":[1,2]}}";
    struct json_error error;
    json_t *body = NULL;
    assert_int_equal(json_body_read((const uint8_t *)text, strlen(text), payment_fields,
                                    PAYMENT_FIELD_COUNT, &body, &error),
                     TL_OK);
    assert_int_equal(json_field_int(body, "amount", 0), 1050);
    assert_string_equal(json_field_string(body, "currency"), "USD");
    assert_string_equal(json_field_string(body, "note"), "caf\xc3\xa9");
    assert_int_equal(json_field_int(body, "limit", 0), 100);
    assert_true(json_field_bool(body, "instant", false));
    json_decref(body);
}

static void test_optional_fields_fall_back(void **state)
{
    (void)state;
    const char *text = "  {\"amount\":1,\"currency\":\"EUR\"}\n";
    struct json_error error;
    json_t *body = NULL;
    assert_int_equal(json_body_read((const uint8_t *)text, strlen(text), payment_fields,
                                    PAYMENT_FIELD_COUNT, &body, &error),
                     TL_OK);
    assert_null(json_field_string(body, "note"));
    assert_int_equal(json_field_int(body, "limit", 20), 20);
    assert_false(json_field_bool(body, "instant", false));
    json_decref(body);
}

static void test_amount_accepts_exact_range(void **state)
{
    (void)state;
    struct json_error error;
    assert_int_equal(read_body("{\"amount\":1,\"currency\":\"USD\"}", &error), TL_OK);
    assert_int_equal(read_body("{\"amount\":9223372036854775807,\"currency\":\"USD\"}", &error),
                     TL_OK);
}

static void test_amount_rejects_everything_else(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0",
        "-1",
        "-0",
        "10.5",
        "1e3",
        "1.0",
        "1E2",
        "\"10\"",
        "true",
        "null",
        "[1]",
        "{}",
        "-9223372036854775808",
        "9223372036854775808",  /* beyond int64: jansson's overflow, still invalid_amount */
        "-9223372036854775809", /* beyond int64 negative */
        "123456789012345678901234567890",
        "1e400",
        "-1e400",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "{\"currency\":\"USD\",\"amount\":%s}", bad[i]);
        expect_error(text, TL_ERR_INVALID_AMOUNT, "amount");
        snprintf(text, sizeof(text), "{\"amount\":%s,\"currency\":\"USD\"}", bad[i]);
        expect_error(text, TL_ERR_INVALID_AMOUNT, "amount");
    }
}

static void test_overflow_elsewhere_names_its_field(void **state)
{
    (void)state;
    expect_error("{\"amount\":5,\"limit\":99999999999999999999,\"currency\":\"USD\"}",
                 TL_ERR_INVALID_REQUEST, "limit");
    expect_error("{\"amount\":5,\"metadata\":{\"x\":[1e999]},\"currency\":\"USD\"}",
                 TL_ERR_INVALID_REQUEST, "metadata");
}

static void test_field_spec_errors_name_the_field(void **state)
{
    (void)state;
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"colour\":1}", TL_ERR_INVALID_REQUEST,
                 "colour");
    expect_error("{\"amount\":5,\"currency\":840}", TL_ERR_INVALID_REQUEST, "currency");
    expect_error("{\"amount\":5,\"currency\":\"USDX\"}", TL_ERR_INVALID_REQUEST, "currency");
    expect_error("{\"amount\":5}", TL_ERR_INVALID_REQUEST, "currency");
    expect_error("{\"currency\":\"USD\"}", TL_ERR_INVALID_REQUEST, "amount");
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"limit\":0}", TL_ERR_INVALID_REQUEST,
                 "limit");
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"limit\":101}", TL_ERR_INVALID_REQUEST,
                 "limit");
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"limit\":5.0}", TL_ERR_INVALID_REQUEST,
                 "limit");
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"instant\":1}", TL_ERR_INVALID_REQUEST,
                 "instant");
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"metadata\":[]}", TL_ERR_INVALID_REQUEST,
                 "metadata");
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"note\":\"12345678901234567\"}",
                 TL_ERR_INVALID_REQUEST, "note");
}

static void test_syntax_rules(void **state)
{
    (void)state;
    /* Duplicate keys, with the duplicate named. */
    expect_error("{\"amount\":5,\"currency\":\"USD\",\"amount\":6}", TL_ERR_INVALID_REQUEST,
                 "amount");
    /* Trailing garbage after the object. */
    expect_error("{\"amount\":5,\"currency\":\"USD\"} x", TL_ERR_INVALID_REQUEST, "");
    expect_error("{\"amount\":5,\"currency\":\"USD\"}{}", TL_ERR_INVALID_REQUEST, "");
    /* NUL escaped in a string or key. */
    expect_error("{\"amount\":5,\"currency\":\"U\\u0000D\"}", TL_ERR_INVALID_REQUEST, "currency");
    /* A bad key is named as sent (escapes are not decoded in a param). */
    expect_error("{\"amount\":5,\"cur\\u0000\":\"USD\"}", TL_ERR_INVALID_REQUEST, "cur\\u0000");
    /* Top level must be an object. */
    expect_error("[1,2]", TL_ERR_INVALID_REQUEST, "");
    expect_error("\"x\"", TL_ERR_INVALID_REQUEST, "");
    expect_error("5", TL_ERR_INVALID_REQUEST, "");
    expect_error("null", TL_ERR_INVALID_REQUEST, "");
    expect_error("", TL_ERR_INVALID_REQUEST, "");
    expect_error("   ", TL_ERR_INVALID_REQUEST, "");
    expect_error("{\"amount\":5,", TL_ERR_INVALID_REQUEST, "");
    expect_error("{'amount':5}", TL_ERR_INVALID_REQUEST, "");
    expect_error("{\"amount\":5,\"currency\":\"USD\",}", TL_ERR_INVALID_REQUEST, "");
}

static void test_raw_bytes_rules(void **state)
{
    (void)state;
    struct json_error error;
    json_t *body = NULL;
    /* A raw NUL byte inside a string. */
    static const uint8_t nul[] = "{\"amount\":5,\"currency\":\"U\0D\"}";
    assert_int_equal(json_body_parse(nul, sizeof(nul) - 1, &body, &error), TL_ERR_INVALID_REQUEST);
    /* Invalid UTF-8: a lone continuation byte, an overlong form, a surrogate. */
    static const char *const bad_utf8[] = {"{\"note\":\"\x80\"}", "{\"note\":\"\xc0\xaf\"}",
                                           "{\"note\":\"\xed\xa0\x80\"}", "{\"\xff\":1}"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            json_body_parse((const uint8_t *)bad_utf8[i], strlen(bad_utf8[i]), &body, &error),
            TL_ERR_INVALID_REQUEST);
        assert_null(body);
        assert_string_not_equal(error.detail, "");
    }
}

/* "{"a": [[[[...]]]]}" with depth levels in all. */
static char *nested(unsigned depth)
{
    size_t bytes = 2 * (size_t)depth + 16;
    char *text = malloc(bytes);
    size_t n = (size_t)snprintf(text, bytes, "{\"a\":");
    for (unsigned i = 1; i < depth; i++) {
        text[n++] = '[';
    }
    for (unsigned i = 1; i < depth; i++) {
        text[n++] = ']';
    }
    text[n++] = '}';
    text[n] = '\0';
    return text;
}

static void test_depth_limit(void **state)
{
    (void)state;
    struct json_error error;
    json_t *body = NULL;
    char *ok = nested(TL_JSON_DEPTH_MAX);
    assert_int_equal(json_body_parse((const uint8_t *)ok, strlen(ok), &body, &error), TL_OK);
    json_decref(body);
    free(ok);
    char *deep = nested(TL_JSON_DEPTH_MAX + 1);
    assert_int_equal(json_body_parse((const uint8_t *)deep, strlen(deep), &body, &error),
                     TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(error.detail, "deeper"));
    free(deep);
    /* Far deeper than any stack would survive if it reached a recursive parser. */
    size_t huge = 1000000;
    char *bomb = malloc(huge);
    memset(bomb, '[', huge);
    assert_int_equal(json_body_parse((const uint8_t *)bomb, huge, &body, &error),
                     TL_ERR_INVALID_REQUEST);
    free(bomb);
    /* Brackets inside strings do not count. */
    const char *strings = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{\"}";
    assert_int_equal(json_body_parse((const uint8_t *)strings, strlen(strings), &body, &error),
                     TL_OK);
    json_decref(body);
}

static void test_field_count_limit(void **state)
{
    (void)state;
    struct json_error error;
    json_t *body = NULL;
    char text[2048];
    size_t n = 0;
    text[n++] = '{';
    for (unsigned i = 0; i <= TL_JSON_FIELDS_MAX; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"f%u\":%u", i ? "," : "", i, i);
    }
    text[n++] = '}';
    assert_int_equal(json_body_parse((const uint8_t *)text, n, &body, &error),
                     TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(error.detail, "fields"));
}

static void test_render_is_compact_and_exact(void **state)
{
    (void)state;
    struct buf out;
    buf_init(&out, 1024);
    json_t *value = json_pack("{s:I,s:I,s:s,s:[]}", "max", (json_int_t)INT64_MAX, "min",
                              (json_int_t)INT64_MIN, "s", "a\"b", "list");
    assert_int_equal(json_render(value, &out), TL_OK);
    assert_string_equal(buf_str(&out), "{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                                       "\"s\":\"a\\\"b\",\"list\":[]}");
    /* Too large for the buffer's maximum: an error and the buffer unchanged. */
    struct buf small;
    buf_init(&small, 8);
    assert_int_equal(buf_append_str(&small, "ab"), TL_OK);
    assert_int_equal(json_render(value, &small), TL_ERR_LIMIT);
    assert_string_equal(buf_str(&small), "ab");
    json_decref(value);
    buf_free(&small);
    buf_free(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_valid_body_reads_every_type),
    cmocka_unit_test(test_optional_fields_fall_back),
    cmocka_unit_test(test_amount_accepts_exact_range),
    cmocka_unit_test(test_amount_rejects_everything_else),
    cmocka_unit_test(test_overflow_elsewhere_names_its_field),
    cmocka_unit_test(test_field_spec_errors_name_the_field),
    cmocka_unit_test(test_syntax_rules),
    cmocka_unit_test(test_raw_bytes_rules),
    cmocka_unit_test(test_depth_limit),
    cmocka_unit_test(test_field_count_limit),
    cmocka_unit_test(test_render_is_compact_and_exact),
};

TL_TEST_MAIN(tests)
