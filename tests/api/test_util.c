/* test_util - the helpers the API stands on: bounded buffer, JSON log lines, clock. */
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

static void test_buf_grows_to_its_maximum_and_no_further(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1000);
    assert_string_equal(buf_str(&b), "");
    char chunk[300];
    memset(chunk, 'x', sizeof(chunk));
    assert_int_equal(buf_append(&b, chunk, 300), TL_OK);
    assert_int_equal(buf_append(&b, chunk, 300), TL_OK);
    assert_int_equal(buf_append(&b, chunk, 300), TL_OK);
    assert_int_equal(b.len, 900);
    /* Over the maximum: an error and nothing changed (no partial append). */
    assert_int_equal(buf_append(&b, chunk, 101), TL_ERR_LIMIT);
    assert_int_equal(b.len, 900);
    assert_int_equal(buf_printf(&b, "%0200d", 1), TL_ERR_LIMIT);
    assert_int_equal(b.len, 900);
    assert_int_equal(buf_append(&b, chunk, 100), TL_OK);
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.data[1000], '\0');
    assert_true(b.cap <= 1001);
    assert_int_equal(buf_append(&b, "", 0), TL_OK);
    assert_int_equal(buf_append(&b, "y", 1), TL_ERR_LIMIT);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_printf(&b, "%s=%d", "a", 42), TL_OK);
    assert_string_equal(buf_str(&b), "a=42");
    assert_int_equal(buf_append_str(&b, "!"), TL_OK);
    assert_string_equal(buf_str(&b), "a=42!");
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.bytes_max, 1000);
}

static void expect_escape(const char *in, const char *want)
{
    char out[256];
    out[0] = '#';
    size_t used = log_json_string(out, sizeof(out), 1, in);
    assert_true(used > 1);
    out[used] = '\0';
    assert_string_equal(out + 1, want);
}

static void test_log_escaping(void **state)
{
    (void)state;
    expect_escape("plain", "\"plain\"");
    expect_escape("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_escape("line\nbreak\ttab\x01\x7f", "\"line\\u000abreak\\u0009tab\\u0001\\u007f\"");
    expect_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Invalid UTF-8: lone continuation, overlong, surrogate, truncated sequence. */
    expect_escape("\x80", "\"\\ufffd\"");
    expect_escape("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    expect_escape("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    expect_escape("\xe2\x82", "\"\\ufffd\\ufffd\"");
    /* Does not fit: 0, never a cut string. */
    char small[8] = "#";
    assert_int_equal(log_json_string(small, sizeof(small), 1, "too long for it"), 0);
}

/* Reads what log_event wrote to a pipe; returns the parsed line. */
static json_t *log_capture(void (*emit)(void))
{
    int fds[2];
    char line[LOG_LINE_BYTES_MAX + 1];
    json_error_t jerr;
    assert_int_equal(pipe(fds), 0);
    log_fd_set(fds[1]);
    emit();
    log_fd_set(2);
    close(fds[1]);
    ssize_t n = read(fds[0], line, sizeof(line) - 1);
    close(fds[0]);
    assert_true(n > 0);
    line[n] = '\0';
    assert_int_equal(line[n - 1], '\n');
    assert_true(strchr(line, '\n') == line + n - 1); /* exactly one line */
    json_t *value = json_loads(line, 0, &jerr);
    assert_non_null(value);
    return value;
}

static void emit_request(void)
{
    LOG(LOG_INFO, "request", LOG_STR("path", "/v1/\"x\"\n"), LOG_I64("status", -5),
        LOG_U64("bytes", 1ull << 62), LOG_BOOL("ok", true), LOG_STR("none", NULL));
}

static void emit_huge(void)
{
    static char big[LOG_LINE_BYTES_MAX * 2];
    memset(big, 'a', sizeof(big) - 1);
    LOG(LOG_WARN, "huge", LOG_STR("value", big));
}

static void emit_msg(void)
{
    log_msg(LOG_ERROR, "failed", "code %d: %s", 7, "boom");
}

static void test_log_lines_are_json(void **state)
{
    (void)state;
    json_t *v = log_capture(emit_request);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(v, "event")), "request");
    assert_string_equal(json_string_value(json_object_get(v, "path")), "/v1/\"x\"\n");
    assert_int_equal(json_integer_value(json_object_get(v, "status")), -5);
    assert_true(json_is_true(json_object_get(v, "ok")));
    assert_true(json_is_null(json_object_get(v, "none")));
    assert_int_equal(strlen(json_string_value(json_object_get(v, "ts"))), CLOCK_ISO8601_BYTES - 1);
    json_decref(v);
    v = log_capture(emit_huge);
    assert_true(json_is_true(json_object_get(v, "log_line_too_long")));
    assert_null(json_object_get(v, "value"));
    json_decref(v);
    v = log_capture(emit_msg);
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "code 7: boom");
    json_decref(v);
}

static void emit_debug(void)
{
    LOG(LOG_DEBUG, "hidden", LOG_BOOL("x", true));
    LOG(LOG_INFO, "shown", LOG_BOOL("x", true));
}

static void test_log_level_filters(void **state)
{
    (void)state;
    enum log_level level;
    assert_true(log_level_parse("warn", &level));
    assert_int_equal(level, LOG_WARN);
    assert_false(log_level_parse("verbose", &level));
    json_t *v = log_capture(emit_debug); /* default threshold: info */
    assert_string_equal(json_string_value(json_object_get(v, "event")), "shown");
    json_decref(v);
}

static void test_clock(void **state)
{
    (void)state;
    char text[CLOCK_ISO8601_BYTES];
    clock_iso8601(0, text);
    assert_string_equal(text, "1970-01-01T00:00:00.000000Z");
    clock_iso8601(1700000000123456789ull, text);
    assert_string_equal(text, "2023-11-14T22:13:20.123456Z");
    uint64_t a = clock_mono_ns();
    clock_sleep_ms(2);
    uint64_t b = clock_mono_ns();
    assert_true(b - a >= 2000000u);
    assert_true(clock_wall_ns() > 1700000000000000000ull);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_buf_grows_to_its_maximum_and_no_further),
    cmocka_unit_test(test_log_escaping),
    cmocka_unit_test(test_log_lines_are_json),
    cmocka_unit_test(test_log_level_filters),
    cmocka_unit_test(test_clock),
};

TL_TEST_MAIN(tests)
