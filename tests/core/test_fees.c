/*
 * test_fees.c - the peer-to-peer fee: half-up rounding at every boundary, the fixed part,
 * int64 edges, and a comparison against a reference that rounds by looking at the remainder.
 */
#include "core/fees.h"

#include <stdlib.h>
#include <string.h>

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

/* ---- Schedules: bps + fixed, minimum, maximum, per-currency exponent ---- */

struct schedule_case {
    const char *what;
    uint8_t exponent; /* JPY 0, USD 2, KWD 3 */
    int64_t amount;
    int64_t fee;
};

/* Instant payout: 1.75 %, min 0.25, max 25.00 (e4 units). */
static const struct fees_schedule instant = {175, 0, 2500, 250000, 0};

/* Exact rounding tables: the same schedule in three exponents. */
static const struct schedule_case instant_cases[] = {
    /* USD (2): min 25, max 2500 */
    {"USD min clamp", 2, 1, 25},
    {"USD below min", 2, 1428, 25},        /* 24.99 -> 25, then min 25 */
    {"USD 14.29 -> 25.0075 -> 25", 2, 1429, 25},
    {"USD 15.75 -> 27.5625 -> 28", 2, 1575, 28},
    {"USD 20.00 -> 35 exactly", 2, 2000, 35},
    {"USD .5 up: 10200 -> 178.5 -> 179", 2, 10200, 179},
    {"USD .4999 down", 2, 10257, 179},  /* 179.4975 -> 179 */
    {"USD max clamp", 2, 142858, 2500}, /* 2500.015 -> max 2500 */
    {"USD huge", 2, INT64_MAX, 2500},
    /* JPY (0): min 0.25 -> 0 yen (half-up), max 25 yen */
    {"JPY 1 yen -> 0.0175 -> 0", 0, 1, 0},
    {"JPY 28 -> 0.49 -> 0", 0, 28, 0},
    {"JPY 29 -> 0.5075 -> 1", 0, 29, 1},
    {"JPY 200 -> 3.5 -> 4", 0, 200, 4},
    {"JPY 1000 -> 17.5 -> 18", 0, 1000, 18},
    {"JPY max 25", 0, 2000, 25},
    /* KWD (3): min 250, max 25000 */
    {"KWD min 250", 3, 1000, 250},
    {"KWD 14286 -> 250.005 -> 250", 3, 14286, 250},
    {"KWD 20000 -> 350", 3, 20000, 350},
    {"KWD 20002 -> 350.035 -> 350", 3, 20002, 350},
    {"KWD 20029 -> 350.5075 -> 351", 3, 20029, 351},
    {"KWD max 25000", 3, 2000000, 25000},
};

static void test_schedule_tables(void **state)
{
    (void)state;
    assert_int_equal(fees_schedule_check(&instant), TL_OK);
    for (size_t i = 0; i < sizeof(instant_cases) / sizeof(instant_cases[0]); i++) {
        const struct schedule_case *c = &instant_cases[i];
        struct fees_quote q;
        assert_int_equal(fees_compute(&instant, c->exponent, c->amount, &q), TL_OK);
        if (q.fee != c->fee) {
            fail_msg("%s: fee %lld, expected %lld", c->what, (long long)q.fee, (long long)c->fee);
        }
    }
}

static void test_schedule_fixed_and_flags(void **state)
{
    (void)state;
    /* 2.9 % + 0.30, no minimum, no maximum. */
    struct fees_schedule card = {290, 3000, 0, -1, 0};
    struct fees_quote q;
    assert_int_equal(fees_compute(&card, 2, 10000, &q), TL_OK);
    assert_int_equal(q.percent, 290);
    assert_int_equal(q.fixed, 30);
    assert_int_equal(q.fee, 320);
    assert_false(q.clamped_min);
    assert_false(q.clamped_max);
    assert_int_equal(fees_compute(&card, 0, 10000, &q), TL_OK); /* 0.30 -> 0 yen */
    assert_int_equal(q.fee, 290);
    assert_int_equal(fees_compute(&card, 3, 10000, &q), TL_OK); /* 0.300 KWD = 300 fils */
    assert_int_equal(q.fee, 590);
    assert_int_equal(fees_compute(&instant, 2, 1, &q), TL_OK);
    assert_true(q.clamped_min);
    assert_int_equal(fees_compute(&instant, 2, 1000000, &q), TL_OK);
    assert_true(q.clamped_max);
    /* Legacy fixed_minor counts minor units whatever the exponent. */
    struct fees_schedule legacy = {100, 0, 0, -1, 30};
    assert_int_equal(fees_compute(&legacy, 0, 1000, &q), TL_OK);
    assert_int_equal(q.fee, 40);
    assert_int_equal(fees_compute(&legacy, 3, 1000, &q), TL_OK);
    assert_int_equal(q.fee, 40);
}

static void test_schedule_scaled_conversion(void **state)
{
    (void)state;
    assert_int_equal(fees_scaled_to_minor(2500, 2), 25);
    assert_int_equal(fees_scaled_to_minor(2500, 3), 250);
    assert_int_equal(fees_scaled_to_minor(2500, 0), 0);
    assert_int_equal(fees_scaled_to_minor(5000, 0), 1); /* 0.5 yen -> 1 */
    assert_int_equal(fees_scaled_to_minor(4999, 0), 0);
    assert_int_equal(fees_scaled_to_minor(15, 2), 0);   /* 0.0015 -> 0.00 */
    assert_int_equal(fees_scaled_to_minor(50, 2), 1);   /* 0.005 -> 0.01 */
    assert_int_equal(fees_scaled_to_minor(12345, 4), 12345);
    assert_int_equal(fees_scaled_to_minor(FEES_SCALED_MAX, 4), FEES_SCALED_MAX);
}

static void test_schedule_check_and_overflow(void **state)
{
    (void)state;
    struct fees_schedule bad = {10001, 0, 0, -1, 0};
    assert_int_equal(fees_schedule_check(&bad), TL_ERR_INVALID_REQUEST);
    struct fees_schedule inverted = {0, 0, 500, 400, 0};
    assert_int_equal(fees_schedule_check(&inverted), TL_ERR_INVALID_REQUEST);
    struct fees_schedule negative = {0, -1, 0, -1, 0};
    assert_int_equal(fees_schedule_check(&negative), TL_ERR_INVALID_REQUEST);
    struct fees_schedule big = {10000, FEES_SCALED_MAX, 0, -1, 0};
    struct fees_quote q = {1, 2, 3, false, false};
    assert_int_equal(fees_schedule_check(&big), TL_OK);
    assert_int_equal(fees_compute(&big, 4, INT64_MAX, &q), TL_ERR_OVERFLOW);
    assert_int_equal(q.fee, 3); /* untouched */
    big.max_e4 = 10000;         /* a maximum brings it back */
    assert_int_equal(fees_compute(&big, 4, INT64_MAX, &q), TL_OK);
    assert_int_equal(q.fee, 10000);
}

static void test_operation_names(void **state)
{
    (void)state;
    enum fees_operation op;
    for (int i = 0; i < FEES_OPERATION_COUNT; i++) {
        const char *name = fees_operation_name((enum fees_operation)i);
        assert_non_null(name);
        assert_true(fees_operation_find(name, strlen(name), &op));
        assert_int_equal(op, i);
    }
    assert_true(fees_operation_find("instant_payout", 14, &op));
    assert_int_equal(op, FEES_INSTANT_PAYOUT);
    assert_false(fees_operation_find("p2", 2, &op));
    assert_false(fees_operation_find("P2P", 3, &op));
    assert_null(fees_operation_name((enum fees_operation)FEES_OPERATION_COUNT));
}

/* Property: every fee is inside [min, max] and equals the unclamped fee when that is inside. */
static void test_schedule_matches_reference(void **state)
{
    (void)state;
    srandom(777);
    for (int i = 0; i < 100000; i++) {
        struct fees_schedule s = {(uint32_t)(random() % 10001), random() % 100000,
                                  random() % 50000, -1, 0};
        if (i % 2 == 0) {
            s.max_e4 = s.min_e4 + random() % 1000000;
        }
        uint8_t exponent = (uint8_t)(random() % 5);
        int64_t amount = 1 + random() % 10000000;
        struct fees_quote q;
        assert_int_equal(fees_compute(&s, exponent, amount, &q), TL_OK);
        int64_t raw = fee_reference(amount, s.bps, 0) + fees_scaled_to_minor(s.fixed_e4, exponent);
        int64_t min = fees_scaled_to_minor(s.min_e4, exponent);
        int64_t want = raw < min ? min : raw;
        if (s.max_e4 != -1 && want > fees_scaled_to_minor(s.max_e4, exponent)) {
            want = fees_scaled_to_minor(s.max_e4, exponent);
        }
        assert_int_equal(q.fee, want);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fee_cases),
    cmocka_unit_test(test_fee_overflow_leaves_out_untouched),
    cmocka_unit_test(test_fee_matches_reference),
    cmocka_unit_test(test_schedule_tables),
    cmocka_unit_test(test_schedule_fixed_and_flags),
    cmocka_unit_test(test_schedule_scaled_conversion),
    cmocka_unit_test(test_schedule_check_and_overflow),
    cmocka_unit_test(test_operation_names),
    cmocka_unit_test(test_schedule_matches_reference),
};

TL_TEST_MAIN(tests)
