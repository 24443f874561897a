/*
 * test_fx.c - exact rates: parsing, formatting, the spread, and conversions between currencies
 * with 0, 2 and 3 decimals (JPY, USD, KWD) in both directions, rounded half-up, with tables
 * worked out by hand and a property check of the rounding against its definition.
 */
#include "core/fx.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define EXP_JPY 0
#define EXP_USD 2
#define EXP_KWD 3

static struct fx_rate rate_of(const char *text)
{
    struct fx_rate rate = {0, 0};
    assert_int_equal(fx_rate_parse(text, strlen(text), &rate), TL_OK);
    return rate;
}

static void test_parse_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t num;
        int64_t den;
    } cases[] = {
        {"1", 1, 1},
        {"0.9213", 9213, 10000},
        {"151.25", 15125, 100},
        {"151.250", 151250, 1000}, /* kept as written; equal value */
        {"0.000000001", 1, 1000000000},
        {"123456789.123", 123456789123LL, 1000},
        {"999999999", 999999999, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx_rate rate = rate_of(cases[i].text);
        assert_int_equal(rate.num, cases[i].num);
        assert_int_equal(rate.den, cases[i].den);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",    "0",     "0.0",       ".5",          "5.",         "00.5",           "+1",
        "-1",  "1e3",   "1,5",       " 1",          "1 ",         "1.0000000001",   "1234567890",
        "1.-", "0x10",  "1..2",      "1234567.123456", "NaN",     "0.000000000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fx_rate rate = {7, 7};
        assert_int_equal(fx_rate_parse(bad[i], strlen(bad[i]), &rate), TL_ERR_INVALID_REQUEST);
        assert_int_equal(rate.num, 7); /* untouched */
    }
    /* A length shorter than the string parses only the prefix. */
    struct fx_rate rate;
    assert_int_equal(fx_rate_parse("1.5x", 3, &rate), TL_OK);
    assert_int_equal(rate.num, 15);
}

static void test_format(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"1", "1"},           {"151.25", "151.25"},  {"151.250", "151.25"},
        {"0.9213", "0.9213"}, {"0.000000001", "0.000000001"}, {"10", "10"},
        {"2.000", "2"},
    };
    char text[FX_RATE_TEXT_BYTES];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx_rate rate = rate_of(cases[i].in);
        fx_rate_format(&rate, text);
        assert_string_equal(text, cases[i].out);
    }
}

static void test_spread(void **state)
{
    (void)state;
    char text[FX_RATE_TEXT_BYTES];
    struct fx_rate mid = rate_of("151.25");
    struct fx_rate r = fx_rate_spread(&mid, 0);
    fx_rate_format(&r, text);
    assert_string_equal(text, "151.25");
    assert_int_equal(r.den, 100);
    r = fx_rate_spread(&mid, 50); /* 151.25 * 0.995 */
    fx_rate_format(&r, text);
    assert_string_equal(text, "150.49375");
    assert_int_equal(r.num, 15049375);
    assert_int_equal(r.den, 100000);
    mid = rate_of("0.9213");
    r = fx_rate_spread(&mid, 25); /* 0.9213 * 0.9975 */
    fx_rate_format(&r, text);
    assert_string_equal(text, "0.91899675");
    mid = rate_of("999999999.999");
    r = fx_rate_spread(&mid, FX_SPREAD_BPS_MAX); /* the largest numerator */
    assert_int_equal(fx_rate_check(&r), TL_OK);
    fx_rate_format(&r, text);
    assert_string_equal(text, "899999999.9991");
}

struct convert_case {
    const char *rate;
    uint8_t from_exponent;
    uint8_t to_exponent;
    int64_t amount;
    int64_t out;
};

/* Forward: what amount buys. Each row's exact value is in its comment. */
static const struct convert_case forward_cases[] = {
    /* USD -> JPY at 151.25: cents * 151.25 / 100 */
    {"151.25", EXP_USD, EXP_JPY, 1, 2},        /* 1.5125 */
    {"151.25", EXP_USD, EXP_JPY, 2, 3},        /* 3.025 */
    {"151.25", EXP_USD, EXP_JPY, 33, 50},      /* 49.9125 */
    {"151.25", EXP_USD, EXP_JPY, 100, 151},    /* 151.25 */
    {"151.25", EXP_USD, EXP_JPY, 200, 303},    /* 302.5: half up */
    {"151.25", EXP_USD, EXP_JPY, 10000, 15125}, /* 15125 */
    /* JPY -> USD at 0.0066: yen * 0.66 cents */
    {"0.0066", EXP_JPY, EXP_USD, 1, 1},     /* 0.66 */
    {"0.0066", EXP_JPY, EXP_USD, 5, 3},     /* 3.3 */
    {"0.0066", EXP_JPY, EXP_USD, 7, 5},     /* 4.62 */
    {"0.0066", EXP_JPY, EXP_USD, 25, 17},   /* 16.5: half up */
    {"0.0066", EXP_JPY, EXP_USD, 1000, 660}, /* 660 */
    /* USD -> KWD at 0.3075: cents * 3.075 fils */
    {"0.3075", EXP_USD, EXP_KWD, 1, 3},       /* 3.075 */
    {"0.3075", EXP_USD, EXP_KWD, 2, 6},       /* 6.15 */
    {"0.3075", EXP_USD, EXP_KWD, 100, 308},   /* 307.5: half up */
    {"0.3075", EXP_USD, EXP_KWD, 10000, 30750},
    /* KWD -> USD at 3.252: fils * 0.3252 cents */
    {"3.252", EXP_KWD, EXP_USD, 1, 0},     /* 0.3252 */
    {"3.252", EXP_KWD, EXP_USD, 2, 1},     /* 0.6504 */
    {"3.252", EXP_KWD, EXP_USD, 5, 2},     /* 1.626 */
    {"3.252", EXP_KWD, EXP_USD, 125, 41},  /* 40.65 */
    {"3.252", EXP_KWD, EXP_USD, 1000, 325}, /* 325.2 */
    /* KWD -> JPY at 491.8: fils * 0.4918 yen */
    {"491.8", EXP_KWD, EXP_JPY, 1, 0},      /* 0.4918 */
    {"491.8", EXP_KWD, EXP_JPY, 2, 1},      /* 0.9836 */
    {"491.8", EXP_KWD, EXP_JPY, 125, 61},   /* 61.475 */
    {"491.8", EXP_KWD, EXP_JPY, 1000, 492}, /* 491.8 */
    /* JPY -> KWD at 0.002033: yen * 2.033 fils */
    {"0.002033", EXP_JPY, EXP_KWD, 1, 2},       /* 2.033 */
    {"0.002033", EXP_JPY, EXP_KWD, 500, 1017},  /* 1016.5: half up */
    {"0.002033", EXP_JPY, EXP_KWD, 10000, 20330},
    /* Same exponent: USD -> EUR at 0.9213 */
    {"0.9213", EXP_USD, EXP_USD, 1050, 967},   /* 967.365 */
    {"0.9213", EXP_USD, EXP_USD, 5000, 4607},  /* 4606.5: half up */
};

/* Inverse: what must be sent to buy amount. */
static const struct convert_case inverse_cases[] = {
    /* USD -> JPY at 151.25: cents = yen * 100 / 151.25 */
    {"151.25", EXP_USD, EXP_JPY, 1, 1},      /* 0.661 */
    {"151.25", EXP_USD, EXP_JPY, 151, 100},  /* 99.834 */
    {"151.25", EXP_USD, EXP_JPY, 1000, 661}, /* 661.157 */
    /* USD -> JPY at 200: halves */
    {"200", EXP_USD, EXP_JPY, 1, 1},  /* 0.5: half up */
    {"200", EXP_USD, EXP_JPY, 3, 2},  /* 1.5: half up */
    {"200", EXP_USD, EXP_JPY, 4, 2},  /* 2 */
    /* USD -> KWD at 0.3075: cents = fils / 3.075 */
    {"0.3075", EXP_USD, EXP_KWD, 3, 1},      /* 0.9756 */
    {"0.3075", EXP_USD, EXP_KWD, 1000, 325}, /* 325.203 */
    /* KWD -> USD at 3.252: fils = cents / 0.3252 */
    {"3.252", EXP_KWD, EXP_USD, 1, 3},      /* 3.075 */
    {"3.252", EXP_KWD, EXP_USD, 100, 308},  /* 307.503 */
    /* JPY -> KWD at 0.002033: yen = fils / 2.033 */
    {"0.002033", EXP_JPY, EXP_KWD, 1, 0},    /* 0.4919 */
    {"0.002033", EXP_JPY, EXP_KWD, 1000, 492}, /* 491.884 */
    /* KWD -> JPY at 0.5: fils = yen * 2000 */
    {"0.5", EXP_KWD, EXP_JPY, 3, 6000},
};

static void run_cases(const struct convert_case *cases, size_t count, bool inverse)
{
    for (size_t i = 0; i < count; i++) {
        const struct convert_case *c = &cases[i];
        struct fx_rate rate = rate_of(c->rate);
        int64_t out = -1;
        enum tl_err err = inverse ? fx_convert_inverse(c->amount, c->from_exponent,
                                                       c->to_exponent, &rate, &out)
                                  : fx_convert(c->amount, c->from_exponent, c->to_exponent,
                                               &rate, &out);
        if (err != TL_OK || out != c->out) {
            fail_msg("%s case %zu: rate %s amount %lld: got %lld, want %lld",
                     inverse ? "inverse" : "forward", i, c->rate, (long long)c->amount,
                     (long long)out, (long long)c->out);
        }
    }
}

static void test_forward_table(void **state)
{
    (void)state;
    run_cases(forward_cases, sizeof(forward_cases) / sizeof(forward_cases[0]), false);
}

static void test_inverse_table(void **state)
{
    (void)state;
    run_cases(inverse_cases, sizeof(inverse_cases) / sizeof(inverse_cases[0]), true);
}

static void test_overflow(void **state)
{
    (void)state;
    int64_t out = 42;
    struct fx_rate big = rate_of("999999999");
    assert_int_equal(fx_convert(INT64_MAX, 0, 4, &big, &out), TL_ERR_OVERFLOW);
    assert_int_equal(out, 42);
    /* The largest spread rate times the largest amount passes 128 bits on the way. */
    struct fx_rate mid = rate_of("999999999.999");
    struct fx_rate spread = fx_rate_spread(&mid, 1);
    assert_int_equal(fx_convert(INT64_MAX, 0, 4, &spread, &out), TL_ERR_OVERFLOW);
    struct fx_rate tiny = rate_of("0.000000001");
    assert_int_equal(fx_convert_inverse(INT64_MAX, 4, 0, &tiny, &out), TL_ERR_OVERFLOW);
    assert_int_equal(out, 42);
    /* Right at the edge: INT64_MAX at rate 1 between equal exponents is itself. */
    struct fx_rate one = rate_of("1");
    assert_int_equal(fx_convert(INT64_MAX, 2, 2, &one, &out), TL_OK);
    assert_int_equal(out, INT64_MAX);
    assert_int_equal(fx_convert_inverse(INT64_MAX, 3, 3, &one, &out), TL_OK);
    assert_int_equal(out, INT64_MAX);
    /* A large amount to fewer decimals stays inside. */
    struct fx_rate jpy = rate_of("0.0066");
    assert_int_equal(fx_convert(INT64_MAX, 0, 2, &jpy, &out), TL_OK);
    assert_int_equal(out, 6087425544324152033LL); /* 9223372036854775807 * 0.66 = ...2032.62 */
}

/* Half-up by its definition: out - 1/2 <= exact < out + 1/2, i.e.
 * 2*out*D - D <= 2*N < 2*out*D + D for exact = N / D. */
static void test_rounding_property(void **state)
{
    (void)state;
    static const char *const rates[] = {"151.25", "0.0066", "0.3075", "3.252", "491.8",
                                        "0.002033", "0.9213", "1", "7.123456789"};
    srandom(12345);
    for (size_t ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++) {
        struct fx_rate mid = rate_of(rates[ri]);
        for (int iteration = 0; iteration < 3000; iteration++) {
            struct fx_rate rate = fx_rate_spread(&mid, (uint32_t)(random() % 200));
            uint8_t from = (uint8_t)(random() % 5);
            uint8_t to = (uint8_t)(random() % 5);
            int64_t amount = 1 + (int64_t)(random() % 100000000);
            int64_t out = 0;
            assert_int_equal(fx_convert(amount, from, to, &rate, &out), TL_OK);
            __int128 n = (__int128)amount * rate.num;
            __int128 d = rate.den;
            for (int k = from; k < to; k++) {
                n *= 10;
            }
            for (int k = to; k < from; k++) {
                d *= 10;
            }
            assert_true(2 * (__int128)out * d - d <= 2 * n);
            assert_true(2 * n < 2 * (__int128)out * d + d);
            int64_t back = 0;
            assert_int_equal(fx_convert_inverse(amount, from, to, &rate, &back), TL_OK);
            __int128 n2 = (__int128)amount * rate.den;
            __int128 d2 = rate.num;
            for (int k = to; k < from; k++) {
                n2 *= 10;
            }
            for (int k = from; k < to; k++) {
                d2 *= 10;
            }
            assert_true(2 * (__int128)back * d2 - d2 <= 2 * n2);
            assert_true(2 * n2 < 2 * (__int128)back * d2 + d2);
        }
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_accepts), cmocka_unit_test(test_parse_rejects),
    cmocka_unit_test(test_format),        cmocka_unit_test(test_spread),
    cmocka_unit_test(test_forward_table), cmocka_unit_test(test_inverse_table),
    cmocka_unit_test(test_overflow),      cmocka_unit_test(test_rounding_property),
};

TL_TEST_MAIN(tests)
