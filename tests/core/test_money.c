/*
 * test_money.c - the currency table, the decimal grammar (every accepted and rejected form),
 * formatting, the format/parse round trip and checked arithmetic at the int64 edges.
 */
#include "core/money.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

/* A string literal and its length, counting any embedded NUL ("1\0" is two bytes). */
#define TEXT(literal) literal, sizeof(literal) - 1
/* What a failed parse must leave in the out value: untouched. */
#define UNTOUCHED INT64_C(0x5a5a5a5a5a5a5a5a)

struct parse_case {
    const char *text;
    size_t len;
    const char *code;
    enum tl_err err;
    int64_t minor; /* only when err == TL_OK */
};

struct format_case {
    int64_t minor;
    const char *code;
    const char *text;
};

static const struct parse_case parse_accepted[] = {
    {TEXT("10.50"), "USD", TL_OK, 1050},
    {TEXT("10.5"), "USD", TL_OK, 1050},
    {TEXT("10"), "USD", TL_OK, 1000},
    {TEXT("0"), "USD", TL_OK, 0},
    {TEXT("0.0"), "USD", TL_OK, 0},
    {TEXT("0.00"), "USD", TL_OK, 0},
    {TEXT("0.01"), "USD", TL_OK, 1},
    {TEXT("0.1"), "USD", TL_OK, 10},
    {TEXT("-10.50"), "USD", TL_OK, -1050},
    {TEXT("-0.01"), "USD", TL_OK, -1},
    {TEXT("-0.5"), "USD", TL_OK, -50},
    {TEXT("100.00"), "USD", TL_OK, 10000},
    {TEXT("0"), "JPY", TL_OK, 0},
    {TEXT("500"), "JPY", TL_OK, 500},
    {TEXT("-500"), "JPY", TL_OK, -500},
    {TEXT("1.234"), "KWD", TL_OK, 1234},
    {TEXT("1.2"), "KWD", TL_OK, 1200},
    {TEXT("-0.001"), "KWD", TL_OK, -1},
    {TEXT("1.2345"), "CLF", TL_OK, 12345},
    {TEXT("0.0001"), "CLF", TL_OK, 1},
    {TEXT("9223372036854775807"), "JPY", TL_OK, INT64_MAX},
    {TEXT("-9223372036854775808"), "JPY", TL_OK, INT64_MIN},
    {TEXT("92233720368547758.07"), "USD", TL_OK, INT64_MAX},
    {TEXT("-92233720368547758.08"), "USD", TL_OK, INT64_MIN},
    {TEXT("9223372036854775.807"), "KWD", TL_OK, INT64_MAX},
    {TEXT("-922337203685477.5808"), "CLF", TL_OK, INT64_MIN},
    {TEXT("922337203685477.58"), "CLF", TL_OK, INT64_C(9223372036854775800)},
};

static const struct parse_case parse_overflow[] = {
    {TEXT("9223372036854775808"), "JPY", TL_ERR_OVERFLOW, 0},
    {TEXT("-9223372036854775809"), "JPY", TL_ERR_OVERFLOW, 0},
    {TEXT("92233720368547758.08"), "USD", TL_ERR_OVERFLOW, 0},
    {TEXT("-92233720368547758.09"), "USD", TL_ERR_OVERFLOW, 0},
    {TEXT("92233720368547759"), "USD", TL_ERR_OVERFLOW, 0},
    {TEXT("9223372036854775.808"), "KWD", TL_ERR_OVERFLOW, 0},
    {TEXT("922337203685477.5808"), "CLF", TL_ERR_OVERFLOW, 0},
    {TEXT("922337203685478"), "CLF", TL_ERR_OVERFLOW, 0},
    /* Past UINT64_MAX too, where a careless accumulator would wrap back into range. */
    {TEXT("18446744073709551616"), "JPY", TL_ERR_OVERFLOW, 0},
    {TEXT("36893488147419103232"), "JPY", TL_ERR_OVERFLOW, 0},
    {TEXT("184467440737095516.16"), "USD", TL_ERR_OVERFLOW, 0},
    {TEXT("184467440737095516175.000"), "KWD", TL_ERR_OVERFLOW, 0},
    {TEXT("99999999999999999999999999999999999999"), "JPY", TL_ERR_OVERFLOW, 0},
    {TEXT("-99999999999999999999999999999999999999.99"), "USD", TL_ERR_OVERFLOW, 0},
};

static const struct parse_case parse_rejected[] = {
    {TEXT(""), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT(" 1"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1 "), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1\t"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1\n"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("+1"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1e3"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1E3"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1.5e2"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("01"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("00"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("00.5"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-01"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1."), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT(".5"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-.5"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("."), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1..5"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1.2.3"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("10.505"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1.0"), "JPY", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1."), "JPY", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1.2345"), "KWD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1.23456"), "CLF", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-0"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-0"), "JPY", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-0.0"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-0.00"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-0.000"), "KWD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-0.0000"), "CLF", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("--1"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1-"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1,000"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1,5"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1_000"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1'000"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("0x10"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("0b1"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    /* The characters just outside '0'..'9'. */
    {TEXT("9:"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT(":"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1/2"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("/"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1.:"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    /* Non-ASCII digits, spaces and signs. */
    {TEXT("\xef\xbc\x91"), "USD", TL_ERR_INVALID_AMOUNT, 0},  /* U+FF11 fullwidth one */
    {TEXT("\xd9\xa1"), "USD", TL_ERR_INVALID_AMOUNT, 0},      /* U+0661 Arabic-Indic one */
    {TEXT("1\xc2\xa0"), "USD", TL_ERR_INVALID_AMOUNT, 0},     /* no-break space */
    {TEXT("\342\210\2221"), "USD", TL_ERR_INVALID_AMOUNT, 0}, /* U+2212 minus sign, 1 */
    {TEXT("1\0"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1\0000"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("\0001"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1.5\0"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("NaN"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("nan"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("inf"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("-inf"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("Infinity"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("$1"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("1USD"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("(1)"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    /* Malformed and too large: the syntax error wins. */
    {TEXT("99999999999999999999999x"), "JPY", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("99999999999999999999999.999"), "USD", TL_ERR_INVALID_AMOUNT, 0},
    {TEXT("099999999999999999999999"), "JPY", TL_ERR_INVALID_AMOUNT, 0},
};

static const struct format_case format_cases[] = {
    {1050, "USD", "10.50"},
    {1000, "USD", "10.00"},
    {5, "USD", "0.05"},
    {-5, "USD", "-0.05"},
    {0, "USD", "0.00"},
    {-1, "USD", "-0.01"},
    {100, "USD", "1.00"},
    {500, "JPY", "500"},
    {0, "JPY", "0"},
    {-7, "JPY", "-7"},
    {1234, "KWD", "1.234"},
    {1, "KWD", "0.001"},
    {-1000, "KWD", "-1.000"},
    {1, "CLF", "0.0001"},
    {INT64_MAX, "JPY", "9223372036854775807"},
    {INT64_MIN, "JPY", "-9223372036854775808"},
    {INT64_MAX, "USD", "92233720368547758.07"},
    {INT64_MIN, "USD", "-92233720368547758.08"},
    {INT64_MIN, "KWD", "-9223372036854775.808"},
    {INT64_MIN, "CLF", "-922337203685477.5808"},
    {INT64_MIN + 1, "USD", "-92233720368547758.07"},
};

static const struct money_currency *currency(const char *code)
{
    const struct money_currency *found = money_currency_find(code, strlen(code));
    assert_non_null(found);
    return found;
}

static void run_parse_cases(const struct parse_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct parse_case *c = &cases[i];
        int64_t minor = UNTOUCHED;
        enum tl_err err = money_parse(c->text, c->len, currency(c->code), &minor);
        if (err != c->err) {
            print_error("case %zu \"%.*s\" %s: got %s, want %s\n", i, (int)c->len, c->text, c->code,
                        tl_err_code(err), tl_err_code(c->err));
        }
        assert_int_equal(err, c->err);
        assert_int_equal(minor, c->err == TL_OK ? c->minor : UNTOUCHED);
    }
}

static void test_parse_accepted(void **state)
{
    (void)state;
    run_parse_cases(parse_accepted, sizeof parse_accepted / sizeof parse_accepted[0]);
}

static void test_parse_overflow(void **state)
{
    (void)state;
    run_parse_cases(parse_overflow, sizeof parse_overflow / sizeof parse_overflow[0]);
}

static void test_parse_rejected(void **state)
{
    (void)state;
    run_parse_cases(parse_rejected, sizeof parse_rejected / sizeof parse_rejected[0]);
}

/* Every currency in the table takes its own exponent's worth of fraction digits and no more. */
static void test_parse_fraction_digits_per_currency(void **state)
{
    static const char *const texts[] = {"7", "7.1", "7.12", "7.123", "7.1234", "7.12345"};
    static const int64_t values[] = {7, 71, 712, 7123, 71234, 712345};
    (void)state;
    for (size_t i = 0; i < money_currency_count(); i++) {
        const struct money_currency *cur = money_currency_at(i);
        for (size_t digits = 0; digits < sizeof texts / sizeof texts[0]; digits++) {
            int64_t minor = UNTOUCHED;
            enum tl_err err = money_parse(texts[digits], strlen(texts[digits]), cur, &minor);
            if (digits > cur->exponent) {
                assert_int_equal(err, TL_ERR_INVALID_AMOUNT);
                assert_int_equal(minor, UNTOUCHED);
                continue;
            }
            int64_t scale = 1;
            for (size_t j = digits; j < cur->exponent; j++) {
                scale *= 10;
            }
            assert_int_equal(err, TL_OK);
            assert_int_equal(minor, values[digits] * scale);
        }
    }
}

static void test_parse_null_text_with_zero_len(void **state)
{
    int64_t minor = UNTOUCHED;
    (void)state;
    assert_int_equal(money_parse(NULL, 0, currency("USD"), &minor), TL_ERR_INVALID_AMOUNT);
    assert_int_equal(minor, UNTOUCHED);
}

/* Only the first len bytes count: a longer buffer is not read past len. */
static void test_parse_reads_only_len(void **state)
{
    int64_t minor = UNTOUCHED;
    (void)state;
    assert_int_equal(money_parse("10.50xyz", 5, currency("USD"), &minor), TL_OK);
    assert_int_equal(minor, 1050);
    assert_int_equal(money_parse("10.505", 5, currency("USD"), &minor), TL_OK);
    assert_int_equal(minor, 1050);
    assert_int_equal(money_parse("-5", 1, currency("USD"), &minor), TL_ERR_INVALID_AMOUNT);
}

static void test_format_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
        const struct format_case *c = &format_cases[i];
        char buf[MONEY_FORMAT_BYTES_MAX];
        size_t len = money_format(c->minor, currency(c->code), buf, sizeof buf);
        assert_string_equal(buf, c->text);
        assert_int_equal(len, strlen(c->text));
    }
}

/* The buffer must hold the text and its NUL; one byte less gives 0 and an empty string. */
static void test_format_buffer_too_small(void **state)
{
    char buf[MONEY_FORMAT_BYTES_MAX];
    (void)state;
    for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
        const struct format_case *c = &format_cases[i];
        size_t len = strlen(c->text);
        memset(buf, 'x', sizeof buf);
        assert_int_equal(money_format(c->minor, currency(c->code), buf, len + 1), len);
        assert_string_equal(buf, c->text);
        memset(buf, 'x', sizeof buf);
        assert_int_equal(money_format(c->minor, currency(c->code), buf, len), 0);
        assert_int_equal(buf[0], '\0');
        assert_int_equal(money_format(c->minor, currency(c->code), buf, 1), 0);
        assert_int_equal(buf[0], '\0');
    }
    assert_int_equal(money_format(1, currency("USD"), NULL, 0), 0);
}

/* The longest amount of any currency fits MONEY_FORMAT_BYTES_MAX. */
static void test_format_longest_fits(void **state)
{
    char buf[MONEY_FORMAT_BYTES_MAX];
    (void)state;
    for (size_t i = 0; i < money_currency_count(); i++) {
        size_t len = money_format(INT64_MIN, money_currency_at(i), buf, sizeof buf);
        assert_true(len > 0);
        assert_true(len < MONEY_FORMAT_BYTES_MAX);
    }
}

/* splitmix64: a fixed-seed generator, so a failure reproduces. */
static uint64_t next_random(uint64_t *seed)
{
    uint64_t z = (*seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Random values of every size: format then parse gives the value, and the text is stable. */
static void check_round_trip(int64_t minor, const struct money_currency *cur)
{
    char text[MONEY_FORMAT_BYTES_MAX];
    char again[MONEY_FORMAT_BYTES_MAX];
    int64_t parsed = UNTOUCHED;
    size_t len = money_format(minor, cur, text, sizeof text);

    assert_true(len > 0);
    assert_int_equal(money_parse(text, len, cur, &parsed), TL_OK);
    assert_int_equal(parsed, minor);
    assert_int_equal(money_format(parsed, cur, again, sizeof again), len);
    assert_string_equal(again, text);
}

static void test_round_trip_values(void **state)
{
    static const int64_t small[] = {0, 1, -1, 9, 10, 99, 100, -100, 1000, 9999, 10000};
    static const int64_t large[] = {INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
    uint64_t seed = 42;
    (void)state;
    for (size_t i = 0; i < money_currency_count(); i++) {
        const struct money_currency *cur = money_currency_at(i);
        for (size_t j = 0; j < sizeof small / sizeof small[0]; j++) {
            check_round_trip(small[j], cur);
        }
        for (size_t j = 0; j < sizeof large / sizeof large[0]; j++) {
            check_round_trip(large[j], cur);
        }
        for (int j = 0; j < 500; j++) {
            uint64_t bits = next_random(&seed);
            unsigned shift = (unsigned)(next_random(&seed) % 63u);
            check_round_trip((int64_t)(bits >> shift), cur);
            check_round_trip(-(int64_t)(bits >> (shift + 1u)), cur);
        }
    }
}

/* Canonical text (exactly exponent fraction digits) survives parse then format unchanged. */
static void test_round_trip_text(void **state)
{
    static const struct {
        const char *code;
        const char *text;
    } canonical[] = {
        {"USD", "0.00"},
        {"USD", "0.01"},
        {"USD", "-0.01"},
        {"USD", "123.45"},
        {"JPY", "0"},
        {"JPY", "-1"},
        {"JPY", "1000"},
        {"KWD", "0.000"},
        {"KWD", "-9.999"},
        {"CLF", "1.0000"},
        {"CLF", "-0.0001"},
        {"USD", "92233720368547758.07"},
        {"USD", "-92233720368547758.08"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof canonical / sizeof canonical[0]; i++) {
        const struct money_currency *cur = currency(canonical[i].code);
        const char *text = canonical[i].text;
        char buf[MONEY_FORMAT_BYTES_MAX];
        int64_t minor = UNTOUCHED;
        assert_int_equal(money_parse(text, strlen(text), cur, &minor), TL_OK);
        assert_int_equal(money_format(minor, cur, buf, sizeof buf), strlen(text));
        assert_string_equal(buf, text);
    }
}

static void test_currency_known(void **state)
{
    static const struct {
        const char *code;
        uint16_t numeric;
        uint8_t exponent;
        const char *name;
    } known[] = {
        {"USD", 840, 2, "US Dollar"}, {"JPY", 392, 0, NULL}, {"KWD", 414, 3, NULL},
        {"EUR", 978, 2, NULL},        {"CLF", 990, 4, NULL}, {"BHD", 48, 3, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const struct money_currency *by_code = money_currency_find(known[i].code, 3);
        assert_non_null(by_code);
        assert_string_equal(by_code->code, known[i].code);
        assert_int_equal(by_code->numeric, known[i].numeric);
        assert_int_equal(by_code->exponent, known[i].exponent);
        if (known[i].name != NULL) {
            assert_string_equal(by_code->name, known[i].name);
        }
        assert_ptr_equal(money_currency_by_numeric(known[i].numeric), by_code);
    }
}

static void test_currency_unknown(void **state)
{
    static const struct {
        const char *code;
        size_t len;
    } codes[] = {
        {TEXT("usd")},  {TEXT("Usd")}, {TEXT("uSD")},  {TEXT("XXX")},    {TEXT("XAU")},
        {TEXT("XTS")},  {TEXT("XDR")}, {TEXT("AAA")},  {TEXT("ZZZ")},    {TEXT("US")},
        {TEXT("USDX")}, {TEXT("")},    {TEXT("US\0")}, {TEXT("\0\0\0")}, {TEXT(" USD")},
    };
    (void)state;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_null(money_currency_find(codes[i].code, codes[i].len));
    }
    assert_null(money_currency_find(NULL, 0));
    /* Only code_len bytes are read: "USDX" with length 3 is USD. */
    assert_ptr_equal(money_currency_find("USDX", 3), currency("USD"));
    assert_null(money_currency_by_numeric(0));
    assert_null(money_currency_by_numeric(999)); /* XXX */
    assert_null(money_currency_by_numeric(959)); /* XAU */
    assert_null(money_currency_by_numeric(1000));
    assert_null(money_currency_by_numeric(UINT16_MAX));
}

static bool code_is_upper_alpha(const char code[4])
{
    for (int i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z') {
            return false;
        }
    }
    return code[3] == '\0';
}

/* Sorted and unique (binary search depends on it); every row well formed and findable. */
static void test_currency_table(void **state)
{
    unsigned exponent_max = 0;
    (void)state;
    assert_true(money_currency_count() > 150);
    for (size_t i = 0; i < money_currency_count(); i++) {
        const struct money_currency *cur = money_currency_at(i);
        assert_true(code_is_upper_alpha(cur->code));
        assert_true(cur->numeric >= 1 && cur->numeric <= 999);
        assert_true(cur->exponent <= MONEY_EXPONENT_MAX);
        assert_non_null(cur->name);
        assert_true(cur->name[0] != '\0');
        if (i > 0) {
            assert_true(strcmp(money_currency_at(i - 1)->code, cur->code) < 0);
        }
        assert_ptr_equal(money_currency_find(cur->code, 3), cur);
        assert_int_equal(money_currency_by_numeric(cur->numeric)->numeric, cur->numeric);
        exponent_max = cur->exponent > exponent_max ? cur->exponent : exponent_max;
    }
    assert_int_equal(exponent_max, MONEY_EXPONENT_MAX);
}

struct arith_case {
    int64_t a;
    int64_t b;
    bool ok;
    int64_t result; /* only when ok */
};

typedef bool (*arith_fn)(int64_t a, int64_t b, int64_t *out);

static void run_arith_cases(arith_fn fn, const struct arith_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int64_t out = UNTOUCHED;
        bool ok = fn(cases[i].a, cases[i].b, &out);
        if (ok != cases[i].ok) {
            print_error("case %zu: %" PRId64 ", %" PRId64 "\n", i, cases[i].a, cases[i].b);
        }
        assert_int_equal(ok, cases[i].ok);
        assert_int_equal(out, cases[i].ok ? cases[i].result : UNTOUCHED);
    }
}

static void test_add(void **state)
{
    static const struct arith_case cases[] = {
        {1, 2, true, 3},
        {INT64_MAX, 0, true, INT64_MAX},
        {INT64_MAX, 1, false, 0},
        {INT64_MAX, INT64_MAX, false, 0},
        {INT64_MIN, 0, true, INT64_MIN},
        {INT64_MIN, -1, false, 0},
        {INT64_MIN, INT64_MIN, false, 0},
        {INT64_MIN, INT64_MAX, true, -1},
        {INT64_MAX - 1, 1, true, INT64_MAX},
        {-1, INT64_MIN + 1, true, INT64_MIN},
    };
    (void)state;
    run_arith_cases(money_add, cases, sizeof cases / sizeof cases[0]);
}

static void test_sub(void **state)
{
    static const struct arith_case cases[] = {
        {3, 2, true, 1},
        {INT64_MIN, 1, false, 0},
        {INT64_MIN, 0, true, INT64_MIN},
        {0, INT64_MIN, false, 0},
        {-1, INT64_MIN, true, INT64_MAX},
        {INT64_MAX, -1, false, 0},
        {INT64_MAX, INT64_MAX, true, 0},
        {0, INT64_MAX, true, -INT64_MAX},
        {-2, INT64_MAX, false, 0},
        {INT64_MIN, INT64_MIN, true, 0},
    };
    (void)state;
    run_arith_cases(money_sub, cases, sizeof cases / sizeof cases[0]);
}

static void test_mul(void **state)
{
    static const struct arith_case cases[] = {
        {6, 7, true, 42},
        {INT64_MAX, 1, true, INT64_MAX},
        {INT64_MAX, -1, true, -INT64_MAX},
        {INT64_MAX, 2, false, 0},
        {INT64_MIN, 1, true, INT64_MIN},
        {INT64_MIN, -1, false, 0},
        {-1, INT64_MIN, false, 0},
        {INT64_MIN, 0, true, 0},
        {INT64_C(1) << 32, INT64_C(1) << 30, true, INT64_C(1) << 62},
        {INT64_C(1) << 32, INT64_C(1) << 31, false, 0},
        {-(INT64_C(1) << 32), INT64_C(1) << 31, true, INT64_MIN},
        {INT64_C(3037000500), INT64_C(3037000500), false, 0},
        {INT64_C(3037000499), INT64_C(3037000499), true, INT64_C(9223372030926249001)},
    };
    (void)state;
    run_arith_cases(money_mul, cases, sizeof cases / sizeof cases[0]);
}

/* Runs fn in a child and reports whether it aborted, as a failed TL_ASSERT does. */
static bool dies_by_assert(void (*fn)(void))
{
    int status = 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka catches crash signals to report a failed test; the child must just die. */
        static const int crash_signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
        for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) {
            signal(crash_signals[i], SIG_DFL);
        }
        if (freopen("/dev/null", "w", stderr) == NULL) {
            _exit(2);
        }
        fn();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void parse_null_currency(void)
{
    int64_t minor = 0;
    (void)money_parse("1", 1, NULL, &minor);
}

static void format_null_currency(void)
{
    char buf[MONEY_FORMAT_BYTES_MAX];
    (void)money_format(1, NULL, buf, sizeof buf);
}

static void currency_at_past_end(void)
{
    (void)money_currency_at(money_currency_count());
}

/* A NULL currency or an index past the table is our bug, not input: the process stops. */
static void test_contract_violations_abort(void **state)
{
    (void)state;
    assert_true(dies_by_assert(parse_null_currency));
    assert_true(dies_by_assert(format_null_currency));
    assert_true(dies_by_assert(currency_at_past_end));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_accepted),
    cmocka_unit_test(test_parse_overflow),
    cmocka_unit_test(test_parse_rejected),
    cmocka_unit_test(test_parse_fraction_digits_per_currency),
    cmocka_unit_test(test_parse_null_text_with_zero_len),
    cmocka_unit_test(test_parse_reads_only_len),
    cmocka_unit_test(test_format_cases),
    cmocka_unit_test(test_format_buffer_too_small),
    cmocka_unit_test(test_format_longest_fits),
    cmocka_unit_test(test_round_trip_values),
    cmocka_unit_test(test_round_trip_text),
    cmocka_unit_test(test_currency_known),
    cmocka_unit_test(test_currency_unknown),
    cmocka_unit_test(test_currency_table),
    cmocka_unit_test(test_add),
    cmocka_unit_test(test_sub),
    cmocka_unit_test(test_mul),
    cmocka_unit_test(test_contract_violations_abort),
};

TL_TEST_MAIN(tests)
