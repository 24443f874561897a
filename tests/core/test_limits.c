/*
 * test_limits.c - verification tiers' limits: the spec grammar, conversion to minor units
 * (rounded down), the rolling window's edges, overflow-free checks, and a model comparison of
 * limits_allows against a naive reference over random sequences of movements, and the running
 * totals' bucket arithmetic (width, ends, which buckets a window counts) against the same
 * reference: never less than the exact window, never more than the window plus one bucket.
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


static void test_bucket_width(void **state)
{
    (void)state;
    assert_int_equal(limits_bucket_ns(7u * 86400u), 9450ull * LIMITS_NS_PER_S);
    assert_int_equal(limits_bucket_ns(3600), 56ull * LIMITS_NS_PER_S); /* 3600 / 64 = 56.25 */
    assert_int_equal(limits_bucket_ns(128), 2ull * LIMITS_NS_PER_S);
    assert_int_equal(limits_bucket_ns(127), 1ull * LIMITS_NS_PER_S);
    assert_int_equal(limits_bucket_ns(2), 1ull * LIMITS_NS_PER_S); /* at least a second */
    assert_int_equal(limits_bucket_ns(1), 1ull * LIMITS_NS_PER_S);
    assert_int_equal(limits_bucket_ns(LIMITS_WINDOW_S_MAX),
                     (uint64_t)(LIMITS_WINDOW_S_MAX / 64u) * LIMITS_NS_PER_S);
    /* A window holds at most LIMITS_BUCKETS_PER_WINDOW whole buckets (plus the partial ends). */
    for (uint32_t w = 64; w < 100000; w += 997) {
        assert_true(limits_bucket_ns(w) * LIMITS_BUCKETS_PER_WINDOW <= (uint64_t)w * LIMITS_NS_PER_S);
    }
}

static void test_bucket_end_and_counts(void **state)
{
    (void)state;
    uint64_t b = 10;
    assert_int_equal(limits_bucket_end(0, b), 10);
    assert_int_equal(limits_bucket_end(9, b), 10);
    assert_int_equal(limits_bucket_end(10, b), 20); /* strictly after: [10, 20) ends at 20 */
    assert_int_equal(limits_bucket_end(11, b), 20);
    uint64_t big = (uint64_t)INT64_MAX - b;
    assert_true(limits_bucket_end(big, b) > big);
    /* Window 100 at now 1000 counts movements after 900: the bucket [900, 910) counts whole
     * (a part of it, (900, 910), is inside), [890, 900) no longer does. */
    assert_true(limits_bucket_counts(910, 1000, 100));
    assert_false(limits_bucket_counts(900, 1000, 100));
    assert_true(limits_bucket_counts(1, 50, 100)); /* a window reaching back past the epoch */
    /* A movement at t counts until t's bucket end + window, then frees. */
    uint64_t t = 905;
    uint64_t end = limits_bucket_end(t, b);
    assert_true(limits_bucket_counts(end, end + 100 - 1, 100));
    assert_false(limits_bucket_counts(end, end + 100, 100));
    assert_int_equal(limits_frees_at(end, 100), 1010);
}

/* Running totals per bucket end; widths may change midway (a reconfigured window). */
struct bucket_model {
    uint64_t end[8000];
    int64_t amount[8000];
    size_t count;
};

static void bucket_model_add(struct bucket_model *m, uint64_t end, int64_t amount)
{
    for (size_t i = 0; i < m->count; i++) {
        if (m->end[i] == end) {
            m->amount[i] += amount;
            return;
        }
    }
    assert_true(m->count < sizeof(m->end) / sizeof(m->end[0]));
    m->end[m->count] = end;
    m->amount[m->count] = amount;
    m->count++;
}

/* Random movements: the bucketed window never counts less than the exact window (so it never
 * admits more than the limit), never more than the window stretched by one bucket, and counts
 * at most LIMITS_BUCKETS_PER_WINDOW + 1 buckets of one width. */
static void test_bucket_model(void **state)
{
    (void)state;
    enum { MOVES = 6000 };
    static uint64_t at[MOVES];
    static int64_t amount[MOVES];
    static struct bucket_model m;
    uint32_t seed = 777;
    uint32_t window_s = 640;
    uint64_t window = (uint64_t)window_s * LIMITS_NS_PER_S;
    uint64_t bucket = limits_bucket_ns(window_s); /* 10 s */
    int64_t limit = 150000;
    uint64_t now = 5ull * LIMITS_NS_PER_S;
    size_t count = 0;
    size_t refused = 0;
    memset(&m, 0, sizeof(m));
    for (int i = 0; i < MOVES; i++) {
        if (i == MOVES / 2) {
            bucket = limits_bucket_ns(window_s * 3u); /* the operator changed the window */
        }
        seed = seed * 1103515245u + 12345u;
        now += ((seed >> 16) % 3000u) * 1000000ull; /* up to 3 s apart */
        int64_t a = 1 + (int64_t)((seed >> 4) % 2000u);
        uint64_t after = limits_window_after(now, window);
        int64_t bucketed = 0;
        size_t buckets = 0;
        for (size_t j = 0; j < m.count; j++) {
            if (limits_bucket_counts(m.end[j], now, window)) {
                bucketed += m.amount[j];
                buckets++;
            }
        }
        int64_t exact = 0;
        int64_t stretched = 0;
        for (size_t j = 0; j < count; j++) {
            exact += at[j] > after ? amount[j] : 0;
            stretched += now - at[j] < window + limits_bucket_ns(window_s * 3u) ? amount[j] : 0;
        }
        assert_true(bucketed >= exact);
        assert_true(bucketed <= stretched);
        if (i < MOVES / 2) {
            assert_true(buckets <= LIMITS_BUCKETS_PER_WINDOW + 1u);
        }
        bool ok = limits_allows(limit, bucketed, a);
        if (ok) {
            assert_true(limits_allows(limit, exact, a)); /* never admits what exact refuses */
            at[count] = now;
            amount[count] = a;
            count++;
            bucket_model_add(&m, limits_bucket_end(now, bucket), a);
        } else {
            refused++;
        }
    }
    assert_true(count > 1000);
    assert_true(refused > 100);
}

/*
 * A dead bucket is one no window can count again: for every width up to the longest window,
 * and every "now" the newest bucket end allows (at most one widest bucket before it), the
 * window ending at now no longer counts a bucket that ended at limits_dead_before(newest), and
 * the longest window still counts one that ended a second later.
 */
static void test_dead_before(void **state)
{
    (void)state;
    uint64_t widest_ns = limits_bucket_ns(LIMITS_WINDOW_S_MAX);
    assert_int_equal(LIMITS_DEAD_AFTER_NS, LIMITS_WINDOW_S_MAX * LIMITS_NS_PER_S + widest_ns);
    assert_int_equal(limits_dead_before(0), 0);
    assert_int_equal(limits_dead_before(LIMITS_DEAD_AFTER_NS), 0);
    assert_int_equal(limits_dead_before(LIMITS_DEAD_AFTER_NS + 1), 1);
    uint64_t newest_ns = 1700000000ull * LIMITS_NS_PER_S;
    uint64_t dead_ns = limits_dead_before(newest_ns);
    assert_int_equal(dead_ns, newest_ns - LIMITS_DEAD_AFTER_NS);
    static const uint32_t windows_s[] = {1, 60, 3600, 86400, 7 * 86400, 30 * 86400,
                                         LIMITS_WINDOW_S_MAX};
    for (size_t i = 0; i < sizeof(windows_s) / sizeof(windows_s[0]); i++) {
        uint64_t window_ns = (uint64_t)windows_s[i] * LIMITS_NS_PER_S;
        for (uint64_t now_ns = newest_ns - widest_ns; now_ns <= newest_ns; now_ns += widest_ns / 4) {
            assert_false(limits_bucket_counts(dead_ns, now_ns, window_ns));
        }
    }
    uint64_t longest_ns = (uint64_t)LIMITS_WINDOW_S_MAX * LIMITS_NS_PER_S;
    assert_true(limits_bucket_counts(dead_ns + LIMITS_NS_PER_S, newest_ns - widest_ns, longest_ns));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dead_before),
    cmocka_unit_test(test_spec_parse),
    cmocka_unit_test(test_spec_parse_refuses),
    cmocka_unit_test(test_spec_minor_rounds_down),
    cmocka_unit_test(test_names),
    cmocka_unit_test(test_window_edges),
    cmocka_unit_test(test_allows_and_remaining),
    cmocka_unit_test(test_model),
    cmocka_unit_test(test_bucket_width),
    cmocka_unit_test(test_bucket_end_and_counts),
    cmocka_unit_test(test_bucket_model),
};

TL_TEST_MAIN(tests)
