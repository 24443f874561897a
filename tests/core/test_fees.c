/*
 * test_fees.c - the peer-to-peer fee: half-up rounding at every boundary, the fixed part,
 * int64 edges, and a comparison against a reference that rounds by looking at the remainder.
 */
#include "core/fees.h"

#include <stdlib.h>

#include "test.h"

struct fee_case {
    int64_t amount;
    uint32_t bps;
    uint32_t fixed_minor;
    int64_t fee;
};

static const struct fee_case fee_cases[] = {
    {1050, 0, 0, 0},                    /* free */
    {1050, 150, 0, 16},                 /* 15.75 -> 16 */
    {1000, 5, 0, 1},                    /* 0.5 exactly -> up */
    {999, 5, 0, 0},                     /* 0.4995 -> down */
    {1001, 5, 0, 1},                    /* 0.5005 -> up */
    {1, 5000, 0, 1},                    /* 0.5 -> 1 */
    {3, 5000, 0, 2},                    /* 1.5 -> 2 */
    {1, 4999, 0, 0},                    /* 0.4999 -> 0 */
    {10000, 1, 0, 1},                   /* exactly one minor unit */
    {1000, 100, 30, 40},                /* 1 % plus a fixed 30 */
    {1, 0, 25, 25},                     /* fixed only */
    {12345, 10000, 0, 12345},           /* 100 % */
    {INT64_MAX, 10000, 0, INT64_MAX},   /* 100 % of the largest amount */
    {INT64_MAX, 1, 0, 922337203685478}, /* 922337203685477.5807 -> up */
};

static void test_fee_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fee_cases) / sizeof(fee_cases[0]); i++) {
        const struct fee_case *c = &fee_cases[i];
        int64_t fee = -1;
        assert_int_equal(fees_p2p(c->amount, c->bps, c->fixed_minor, &fee), TL_OK);
        assert_int_equal(fee, c->fee);
    }
}

static void test_fee_overflow_leaves_out_untouched(void **state)
{
    (void)state;
    int64_t fee = 77;
    assert_int_equal(fees_p2p(INT64_MAX, 10000, 1, &fee), TL_ERR_OVERFLOW);
    assert_int_equal(fee, 77);
    assert_int_equal(fees_p2p(INT64_MAX - 5, 10000, 5, &fee), TL_OK);
    assert_int_equal(fee, INT64_MAX);
}

/* Reference: truncate, then add one when the remainder is at least half the divisor. */
static int64_t fee_reference(int64_t amount, uint32_t bps, uint32_t fixed_minor)
{
    unsigned __int128 product = (unsigned __int128)(uint64_t)amount * bps;
    unsigned __int128 quotient = product / 10000u;
    unsigned __int128 remainder = product % 10000u;
    if (remainder >= 5000u) {
        quotient++;
    }
    return (int64_t)(quotient + fixed_minor);
}

static void test_fee_matches_reference(void **state)
{
    (void)state;
    srandom(12345);
    for (int i = 0; i < 200000; i++) {
        /* Mostly small amounts, where rounding matters, and some huge ones. */
        int64_t amount = (i % 8 == 0)
                             ? (int64_t)(((uint64_t)random() << 32 | (uint64_t)random()) >> 2)
                             : (int64_t)(random() % 1000000);
        if (amount <= 0) {
            amount = 1;
        }
        uint32_t bps = (uint32_t)(random() % 10001);
        uint32_t fixed_minor = (i % 3 == 0) ? (uint32_t)(random() % 1000) : 0;
        int64_t fee = -1;
        assert_int_equal(fees_p2p(amount, bps, fixed_minor, &fee), TL_OK);
        assert_int_equal(fee, fee_reference(amount, bps, fixed_minor));
        assert_true(fee >= 0);
        assert_true(fee <= amount + (int64_t)fixed_minor || amount > INT64_MAX / 2);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fee_cases),
    cmocka_unit_test(test_fee_overflow_leaves_out_untouched),
    cmocka_unit_test(test_fee_matches_reference),
};

TL_TEST_MAIN(tests)
