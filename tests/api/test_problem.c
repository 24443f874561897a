/* test_problem - RFC 9457 problem bodies built from the error table. */
#include <jansson.h>
#include <string.h>

#include "api/problem.h"
#include "test.h"

static json_t *render(enum tl_err err, const char *param, const char *detail, const char *rid,
                      int *status)
{
    struct buf out;
    json_error_t jerr;
    buf_init(&out, 4096);
    assert_int_equal(problem_render(&out, err, param, detail, rid, status), TL_OK);
    json_t *problem = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(problem);
    buf_free(&out);
    return problem;
}

static void test_fields(void **state)
{
    (void)state;
    int status = 0;
    json_t *p = render(TL_ERR_INVALID_AMOUNT, "amount", "must be positive", "req_1", &status);
    assert_int_equal(status, 400);
    assert_string_equal(json_string_value(json_object_get(p, "type")),
                        "https://docs.tally.dev/errors/invalid_amount");
    assert_string_equal(json_string_value(json_object_get(p, "title")), "Invalid amount");
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 400);
    assert_string_equal(json_string_value(json_object_get(p, "detail")), "must be positive");
    assert_string_equal(json_string_value(json_object_get(p, "code")), "invalid_amount");
    assert_string_equal(json_string_value(json_object_get(p, "param")), "amount");
    assert_string_equal(json_string_value(json_object_get(p, "request_id")), "req_1");
    assert_int_equal(json_object_size(p), 7);
    json_decref(p);
}

static void test_optional_fields(void **state)
{
    (void)state;
    int status = 0;
    json_t *p = render(TL_ERR_NOT_FOUND, NULL, NULL, NULL, &status);
    assert_int_equal(status, 404);
    assert_null(json_object_get(p, "param"));
    assert_null(json_object_get(p, "request_id"));
    /* detail defaults to the title */
    assert_string_equal(json_string_value(json_object_get(p, "detail")), "Not found");
    json_decref(p);
    p = render(TL_ERR_NOT_FOUND, "", NULL, "", &status);
    assert_null(json_object_get(p, "param"));
    assert_null(json_object_get(p, "request_id"));
    json_decref(p);
}

static void test_every_error_row(void **state)
{
    (void)state;
    for (int e = 1; e < TL_ERR_COUNT; e++) {
        int status = 0;
        json_t *p = render((enum tl_err)e, NULL, NULL, "r", &status);
        char type[128];
        snprintf(type, sizeof(type), PROBLEM_TYPE_PREFIX "%s", tl_err_code((enum tl_err)e));
        assert_int_equal(status, tl_err_http_status((enum tl_err)e));
        assert_int_equal(status, problem_status((enum tl_err)e));
        assert_true(status >= 400 && status <= 599);
        assert_string_equal(json_string_value(json_object_get(p, "type")), type);
        assert_string_equal(json_string_value(json_object_get(p, "code")),
                            tl_err_code((enum tl_err)e));
        json_decref(p);
    }
}

static void test_rows_the_api_added(void **state)
{
    (void)state;
    assert_int_equal(problem_status(TL_ERR_METHOD_NOT_ALLOWED), 405);
    assert_string_equal(tl_err_code(TL_ERR_METHOD_NOT_ALLOWED), "method_not_allowed");
    assert_int_equal(problem_status(TL_ERR_UNSUPPORTED_MEDIA_TYPE), 415);
    assert_int_equal(problem_status(TL_ERR_NOT_READY), 503);
    assert_int_equal(problem_status(TL_ERR_PAYLOAD_TOO_LARGE), 413);
    assert_int_equal(problem_status(TL_ERR_RATE_LIMITED), 429);
}

static void test_bad_utf8_is_dropped_not_fatal(void **state)
{
    (void)state;
    int status = 0;
    json_t *p = render(TL_ERR_INVALID_REQUEST, "\xff\xfe", "bad \xc0 bytes", "r", &status);
    assert_int_equal(status, 400);
    assert_null(json_object_get(p, "param"));
    assert_string_equal(json_string_value(json_object_get(p, "detail")), "Invalid request");
    json_decref(p);
}

static void test_limit_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct buf out;
    int status = 0;
    buf_init(&out, 32);
    assert_int_equal(problem_render(&out, TL_ERR_INTERNAL, NULL, NULL, "r", &status), TL_ERR_LIMIT);
    assert_int_equal(status, 500);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fields),
    cmocka_unit_test(test_optional_fields),
    cmocka_unit_test(test_every_error_row),
    cmocka_unit_test(test_rows_the_api_added),
    cmocka_unit_test(test_bad_utf8_is_dropped_not_fatal),
    cmocka_unit_test(test_limit_leaves_buffer_unchanged),
};

TL_TEST_MAIN(tests)
