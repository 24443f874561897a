/*
 * test_recur.c - the date arithmetic of scheduled payments (core/recur.h): a table of monthly
 * end-of-month cases (31st -> last day of shorter months -> back on the 31st; leap years,
 * 2100 not leap, 2000 leap), weekly across years and leap days, the end rules, overflow at
 * year 2262, the civil calendar against a day-by-day walk, and derived payment ids. The
 * expected times were computed independently (Python's datetime, UTC).
 */
#include "core/recur.h"

#include <string.h>

#include "test.h"

struct recur_case {
    uint8_t repeat;
    uint32_t interval_s;
    uint64_t start_ns;
    uint32_t index;
    uint64_t due_ns;
};

static const struct recur_case recur_cases[] = {
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 0u, 1769850000000000000ull}, /* 2026-01-31 #0 -> 2026-01-31 */
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 1u, 1772269200000000000ull}, /* 2026-01-31 #1 -> 2026-02-28 */
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 2u, 1774947600000000000ull}, /* 2026-01-31 #2 -> 2026-03-31 */
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 3u, 1777539600000000000ull}, /* 2026-01-31 #3 -> 2026-04-30 */
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 4u, 1780218000000000000ull}, /* 2026-01-31 #4 -> 2026-05-31 */
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 11u, 1798707600000000000ull}, /* 2026-01-31 #11 -> 2026-12-31 */
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 12u, 1801386000000000000ull}, /* 2026-01-31 #12 -> 2027-01-31 */
    {RECUR_MONTHLY, 0, 1769850000000000000ull, 25u, 1835427600000000000ull}, /* 2026-01-31 #25 -> 2028-02-29 */
    {RECUR_MONTHLY, 0, 4102444799000000000ull, 2u, 4107542399000000000ull}, /* 2099-12-31 #2 -> 2100-02-28 */
    {RECUR_MONTHLY, 0, 949190400000000000ull, 1u, 951782400000000000ull}, /* 2000-01-30 #1 -> 2000-02-29 */
    {RECUR_MONTHLY, 0, 1788004800000000000ull, 6u, 1803816000000000000ull}, /* 2026-08-29 #6 -> 2027-02-28 */
    {RECUR_MONTHLY, 0, 1773532801000000000ull, 10u, 1799971201000000000ull}, /* 2026-03-15 #10 -> 2027-01-15 */
    {RECUR_MONTHLY, 0, 1000000000ull, 1u, 2678401000000000ull}, /* 1970-01-01T00:00:01 #1 -> 1970-02-01 */
    {RECUR_WEEKLY, 0, 1795410000000000000ull, 0u, 1795410000000000000ull}, /* 2026-11-23 #0 -> 2026-11-23 */
    {RECUR_WEEKLY, 0, 1795410000000000000ull, 1u, 1796014800000000000ull}, /* 2026-11-23 #1 -> 2026-11-30 */
    {RECUR_WEEKLY, 0, 1798434000000000000ull, 1u, 1799038800000000000ull}, /* 2026-12-28 #1 -> 2027-01-04 */
    {RECUR_WEEKLY, 0, 1835154000000000000ull, 1u, 1835758800000000000ull}, /* 2028-02-26 #1 -> 2028-03-04 */
    {RECUR_ONCE, 0, 1795410000000000000ull, 0u, 1795410000000000000ull}, /* 2026-11-23 #0 */
    {RECUR_EVERY_SECONDS, 2, 1795410000000000000ull, 3u, 1795410006000000000ull}, /* +6 s */
};

static void test_due_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(recur_cases) / sizeof(recur_cases[0]); i++) {
        const struct recur_case *c = &recur_cases[i];
        struct recur_rule rule = {c->repeat, c->interval_s, c->start_ns, 0, 0};
        uint64_t due = 0;
        assert_int_equal(recur_due(&rule, c->index, &due), TL_OK);
        if (due != c->due_ns) {
            fail_msg("case %zu: expected %llu, got %llu", i, (unsigned long long)c->due_ns,
                     (unsigned long long)due);
        }
    }
}

/* A schedule on the 31st, month by month for four years: every occurrence is on the 31st or
 * on the last day of its month, at 09:00, and months never repeat or skip. */
static void test_monthly_end_of_month(void **state)
{
    (void)state;
    struct recur_rule rule = {RECUR_MONTHLY, 0, 1769850000000000000ull, 0, 0}; /* 2026-01-31 */
    for (uint32_t k = 0; k < 48; k++) {
        uint64_t due = 0;
        int32_t year = 0;
        uint32_t month = 0, day = 0;
        assert_int_equal(recur_due(&rule, k, &due), TL_OK);
        assert_int_equal(due % 86400000000000ull, 9ull * 3600ull * 1000000000ull);
        recur_civil((int64_t)(due / 86400000000000ull), &year, &month, &day);
        assert_int_equal(year, 2026 + (int32_t)(k / 12));
        assert_int_equal(month, k % 12 + 1);
        uint32_t last = recur_month_days(year, month);
        assert_int_equal(day, last < 31 ? last : 31);
    }
}

static void test_civil_walk(void **state)
{
    (void)state;
    int32_t year = 1970;
    uint32_t month = 1, day = 1;
    for (int64_t days = 0; days <= 106751; days++) {
        int32_t y = 0;
        uint32_t m = 0, d = 0;
        recur_civil(days, &y, &m, &d);
        assert_int_equal(y, year);
        assert_int_equal(m, month);
        assert_int_equal(d, day);
        if (days % 97 == 0) { /* recur_days walks years: sample it */
            assert_int_equal(recur_days(y, m, d), days);
        }
        if (++day > recur_month_days(year, month)) {
            day = 1;
            if (++month > 12) {
                month = 1;
                year++;
            }
        }
    }
    assert_int_equal(recur_month_days(2100, 2), 28);
    assert_int_equal(recur_month_days(2000, 2), 29);
    assert_int_equal(recur_month_days(2028, 2), 29);
}

static void test_next_and_end(void **state)
{
    (void)state;
    struct recur_rule once = {RECUR_ONCE, 0, 1795410000000000000ull, 0, 0};
    assert_int_equal(recur_next(&once, 0), 0);
    struct recur_rule weekly = {RECUR_WEEKLY, 0, 1795410000000000000ull, 3, 0};
    assert_int_equal(recur_next(&weekly, 0), 1796014800000000000ull);
    assert_int_not_equal(recur_next(&weekly, 1), 0);
    assert_int_equal(recur_next(&weekly, 2), 0); /* three occurrences: 0, 1, 2 */
    weekly.end_count = 0;
    weekly.end_ns = 1796014800000000000ull; /* the second occurrence exactly: included */
    assert_int_equal(recur_next(&weekly, 0), 1796014800000000000ull);
    assert_int_equal(recur_next(&weekly, 1), 0);
    struct recur_rule late = {RECUR_MONTHLY, 0, 9200000000000000000ull, 0, 0}; /* 2261 */
    uint64_t due = 0;
    assert_int_equal(recur_due(&late, 24, &due), TL_ERR_OVERFLOW);
    assert_int_equal(recur_next(&late, 23), 0);
    struct recur_rule seconds = {RECUR_EVERY_SECONDS, 1, (uint64_t)INT64_MAX - 1000000000ull, 0,
                                 0};
    assert_int_equal(recur_due(&seconds, 1, &due), TL_OK);
    assert_int_equal(recur_due(&seconds, 2, &due), TL_ERR_OVERFLOW);
    struct recur_rule bad = {RECUR_WEEKLY, 5, 1795410000000000000ull, 0, 0};
    assert_int_equal(recur_due(&bad, 0, &due), TL_ERR_INVALID_REQUEST);
    bad.repeat = 9;
    bad.interval_s = 0;
    assert_int_equal(recur_due(&bad, 0, &due), TL_ERR_INVALID_REQUEST);
}

static void test_payment_id(void **state)
{
    (void)state;
    struct id128 schedule = id128_make(0x0193aabbccdd7123ull, 0x8badf00ddeadbeefull);
    uint64_t due = 1795410000123456789ull;
    struct id128 a = recur_payment_id(schedule, 0, due);
    struct id128 b = recur_payment_id(schedule, 0, due);
    assert_true(id128_eq(a, b));
    assert_int_equal(a.hi >> 16, due / 1000000u);      /* UUIDv7 time: the due millisecond */
    assert_int_equal((a.hi >> 12) & 0xf, 7);           /* version 7 */
    assert_int_equal(a.lo >> 62, 2);                   /* variant 10 */
    for (uint32_t i = 1; i < 1000; i++) {
        struct id128 other = recur_payment_id(schedule, i, due);
        assert_false(id128_eq(a, other));
    }
    schedule.lo ^= 1;
    assert_false(id128_eq(a, recur_payment_id(schedule, 0, due)));
}

static void test_time_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ns; /* 0: refused */
    } cases[] = {
        {"2026-01-31T09:00:00Z", 1769850000000000000ull},
        {"2026-01-31T09:00:00.5Z", 1769850000500000000ull},
        {"2026-01-31T09:00:00.123456789Z", 1769850000123456789ull},
        {"2028-02-29T00:00:00Z", 1835395200000000000ull},
        {"1970-01-01T00:00:01Z", 1000000000ull},
        {"1970-01-01T00:00:00Z", 0},        /* time 0 is not a time we store */
        {"2027-02-29T00:00:00Z", 0},        /* not a leap year */
        {"2026-01-31T09:00:00", 0},         /* no zone */
        {"2026-01-31T09:00:00+00:00", 0},   /* only Z */
        {"2026-01-31t09:00:00Z", 0},
        {"2026-13-01T00:00:00Z", 0},
        {"2026-01-31T24:00:00Z", 0},
        {"2026-01-31T09:00:60Z", 0},
        {"2026-01-31T09:00:00.Z", 0},
        {"2026-01-31T09:00:00.1234567890Z", 0},
        {"1969-12-31T23:59:59Z", 0},
        {"2263-01-01T00:00:00Z", 0},
        {"2262-12-31T00:00:00Z", 0},        /* past INT64_MAX ns */
        {"+026-01-31T09:00:00Z", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ns = 0;
        enum tl_err err = recur_time_parse(cases[i].text, strlen(cases[i].text), &ns);
        if (cases[i].ns == 0) {
            assert_int_equal(err, TL_ERR_INVALID_REQUEST);
        } else {
            assert_int_equal(err, TL_OK);
            assert_int_equal(ns, cases[i].ns);
        }
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_due_table),
    cmocka_unit_test(test_monthly_end_of_month),
    cmocka_unit_test(test_civil_walk),
    cmocka_unit_test(test_next_and_end),
    cmocka_unit_test(test_payment_id),
    cmocka_unit_test(test_time_parse),
};

TL_TEST_MAIN(tests)
