/*
 * test_limits.c - verification tiers' limits: the spec grammar, conversion to minor units
 * (rounded down), the rolling window's edges, overflow-free checks, and a model comparison of
 * limits_allows against a naive reference over random sequences of movements.
 */
#include "core/limits.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

static void test_spec_parse(void **state)
{
    (void)state;
    struct limits_spec s;
    char error[LIMITS_ERROR_BYTES];
    assert_int_equal(limits_spec_parse("", &s, error), TL_OK);
    assert_false(limits_spec_any(&s));
    for (int k = 0; k < LIMITS_KIND_COUNT; k++) {
        assert_int_equal(s.max_e4[k], LIMITS_NONE);
    }
    assert_int_equal(limits_spec_parse("send=299.99,receive=1000,hold=2000.00", &s, error), TL_OK);
    assert_true(limits_spec_any(&s));
    assert_int_equal(s.max_e4[LIMITS_SEND], 2999900);
    assert_int_equal(s.max_e4[LIMITS_RECEIVE], 10000000);
    assert_int_equal(s.max_e4[LIMITS_HOLD], 20000000);
    assert_int_equal(limits_spec_parse("hold=0.0001", &s, error), TL_OK);
    assert_int_equal(s.max_e4[LIMITS_HOLD], 1);
    assert_int_equal(s.max_e4[LIMITS_SEND], LIMITS_NONE);
    assert_int_equal(limits_spec_parse("send=0", &s, error), TL_OK);
    assert_int_equal(s.max_e4[LIMITS_SEND], 0);
    assert_int_equal(limits_spec_parse("send=100000000000000", &s, error), TL_OK);
    assert_int_equal(s.max_e4[LIMITS_SEND], LIMITS_SCALED_MAX);
}

static void test_spec_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "send",           "send=",          "send=1.",         "send=.5",
        "send=1.23456",   "send=-1",        "send=1e3",        "send=1,send=2",
        "spend=1",        "send=1,",        ",send=1",         "send=1,,hold=2",
        "send= 1",        "SEND=1",         "send=100000000000001",
        "send=99999999999999999999",        "hold=1;receive=2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct limits_spec s;
        s.max_e4[0] = 42;
        char error[LIMITS_ERROR_BYTES] = "";
        assert_int_equal(limits_spec_parse(bad[i], &s, error), TL_ERR_INVALID_REQUEST);
        assert_int_equal(s.max_e4[0], 42); /* untouched */
        assert_true(strlen(error) > 0);
    }
}

static void test_spec_minor_rounds_down(void **state)
{
    (void)state;
    struct limits_spec s;
    char error[LIMITS_ERROR_BYTES];
    assert_int_equal(limits_spec_parse("send=299.99,receive=0.0099,hold=2000.5", &s, error), TL_OK);
    assert_int_equal(limits_spec_minor(&s, LIMITS_SEND, 2), 29999);
    assert_int_equal(limits_spec_minor(&s, LIMITS_SEND, 0), 299);  /* 299.99 yen -> 299 */
    assert_int_equal(limits_spec_minor(&s, LIMITS_SEND, 3), 299990);
    assert_int_equal(limits_spec_minor(&s, LIMITS_SEND, 4), 2999900);
    assert_int_equal(limits_spec_minor(&s, LIMITS_RECEIVE, 2), 0); /* 0.0099 -> 0.00 */
    assert_int_equal(limits_spec_minor(&s, LIMITS_HOLD, 0), 2000);
    assert_int_equal(limits_spec_parse("hold=1", &s, error), TL_OK);
    assert_int_equal(limits_spec_minor(&s, LIMITS_SEND, 2), LIMITS_NONE);
}

static void test_names(void **state)
{
    (void)state;
    enum limits_tier tier;
    assert_string_equal(limits_tier_name(LIMITS_TIER_UNVERIFIED), "unverified");
    assert_string_equal(limits_tier_name(LIMITS_TIER_BUSINESS), "business");
    assert_null(limits_tier_name((enum limits_tier)3));
    assert_true(limits_tier_find("verified", 8, &tier));
    assert_int_equal(tier, LIMITS_TIER_VERIFIED);
    assert_false(limits_tier_find("verifie", 7, &tier));
    assert_false(limits_tier_find("Verified", 8, &tier));
    assert_string_equal(limits_kind_name(LIMITS_HOLD), "hold");
    assert_null(limits_kind_name((enum limits_kind)3));
}

static void test_window_edges(void **state)
{
    (void)state;
    uint64_t week = 7ull * 86400ull * 1000000000ull;
    assert_int_equal(limits_window_after(week + 5, week), 5);
    assert_int_equal(limits_window_after(week, week), 0);
    assert_int_equal(limits_window_after(3, week), 0);
    assert_int_equal(limits_frees_at(0, week), 0);
    assert_int_equal(limits_frees_at(10, week), week + 10);
    assert_true(limits_frees_at(UINT64_MAX - 1, week) == UINT64_MAX);
    /* A movement at t counts at t + window - 1 and no more at t + window. */
    uint64_t t = 1000;
    assert_true(t > limits_window_after(t + week - 1, week));
    assert_false(t > limits_window_after(t + week, week));
}

static void test_allows_and_remaining(void **state)
{
    (void)state;
    assert_true(limits_allows(LIMITS_NONE, INT64_MAX, INT64_MAX));
    assert_true(limits_allows(100, 90, 10));
    assert_false(limits_allows(100, 90, 11));
    assert_false(limits_allows(0, 0, 1));
    assert_false(limits_allows(INT64_MAX, INT64_MAX, INT64_MAX)); /* no overflow */
    assert_true(limits_allows(INT64_MAX, INT64_MAX - 1, 1));
    assert_int_equal(limits_remaining(100, 30), 70);
    assert_int_equal(limits_remaining(100, 130), 0);
    assert_int_equal(limits_remaining(0, 0), 0);
}

/* Random movements against a window: limits_allows plus the window arithmetic must accept
 * exactly what a reference that keeps every movement and sums the live ones accepts. */
static void test_model(void **state)
{
    (void)state;
    enum { MOVES = 4000 };
    static uint64_t at[MOVES];
    static int64_t amount[MOVES];
    uint32_t seed = 12345;
    uint64_t window = 1000;
    int64_t limit = 5000;
    uint64_t now = 1;
    size_t count = 0;
    for (int i = 0; i < MOVES; i++) {
        seed = seed * 1103515245u + 12345u;
        now += (seed >> 16) % 40u;
        int64_t a = 1 + (int64_t)((seed >> 8) % 900u);
        uint64_t after = limits_window_after(now, window);
        int64_t used = 0;
        for (size_t j = 0; j < count; j++) {
            if (at[j] > after) {
                used += amount[j];
            }
        }
        /* Reference: the live movements of the last `window` ns plus this one. */
        int64_t reference = a;
        for (size_t j = 0; j < count; j++) {
            if (now - at[j] < window) {
                reference += amount[j];
            }
        }
        bool ok = limits_allows(limit, used, a);
        assert_int_equal(ok, reference <= limit);
        if (ok) {
            at[count] = now;
            amount[count] = a;
            count++;
        }
    }
    assert_true(count > 100);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_spec_parse),
    cmocka_unit_test(test_spec_parse_refuses),
    cmocka_unit_test(test_spec_minor_rounds_down),
    cmocka_unit_test(test_names),
    cmocka_unit_test(test_window_edges),
    cmocka_unit_test(test_allows_and_remaining),
    cmocka_unit_test(test_model),
};

TL_TEST_MAIN(tests)
