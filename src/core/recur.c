#include "core/recur.h"

#include "util/assert.h"

#define NS_PER_S 1000000000ull
#define S_PER_DAY 86400ull
#define NS_PER_DAY (S_PER_DAY * NS_PER_S)
#define RECUR_YEAR_MIN 1970
#define RECUR_YEAR_MAX 2262 /* INT64_MAX ns is in April 2262 */

static bool recur_leap(int32_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

uint32_t recur_month_days(int32_t year, uint32_t month)
{
    static const uint32_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    TL_ASSERT(month >= 1);
    TL_ASSERT(month <= 12);
    return month == 2 && recur_leap(year) ? 29u : days[month - 1];
}

static int64_t recur_year_days(int32_t year)
{
    return recur_leap(year) ? 366 : 365;
}

/* A walk over at most 293 years and 12 months: plain, and cheap at a scheduler's pace. */
void recur_civil(int64_t days, int32_t *year, uint32_t *month, uint32_t *day)
{
    int32_t y = RECUR_YEAR_MIN;
    uint32_t m = 1;
    TL_ASSERT(days >= 0);
    while (days >= recur_year_days(y)) {
        days -= recur_year_days(y);
        y++;
        TL_ASSERT(y <= RECUR_YEAR_MAX);
    }
    while (days >= (int64_t)recur_month_days(y, m)) {
        days -= (int64_t)recur_month_days(y, m);
        m++;
        TL_ASSERT(m <= 12);
    }
    *year = y;
    *month = m;
    *day = (uint32_t)days + 1u;
}

int64_t recur_days(int32_t year, uint32_t month, uint32_t day)
{
    int64_t days = 0;
    TL_ASSERT(year >= RECUR_YEAR_MIN);
    TL_ASSERT(year <= RECUR_YEAR_MAX);
    TL_ASSERT(day >= 1);
    TL_ASSERT(day <= recur_month_days(year, month));
    for (int32_t y = RECUR_YEAR_MIN; y < year; y++) {
        days += recur_year_days(y);
    }
    for (uint32_t m = 1; m < month; m++) {
        days += (int64_t)recur_month_days(year, m);
    }
    return days + (int64_t)day - 1;
}

/* start + count * step_ns, or TL_ERR_OVERFLOW past INT64_MAX. */
static enum tl_err recur_add(uint64_t start_ns, uint64_t count, uint64_t step_ns, uint64_t *out)
{
    uint64_t room = (uint64_t)INT64_MAX - start_ns;
    if (count != 0 && step_ns > room / count) {
        return TL_ERR_OVERFLOW;
    }
    *out = start_ns + count * step_ns;
    return TL_OK;
}

static enum tl_err recur_monthly(uint64_t start_ns, uint32_t index, uint64_t *out)
{
    int64_t start_day = (int64_t)(start_ns / NS_PER_DAY);
    uint64_t time_of_day_ns = start_ns % NS_PER_DAY;
    int32_t year = 0;
    uint32_t month = 0;
    uint32_t day = 0;
    recur_civil(start_day, &year, &month, &day);
    uint64_t months = (uint64_t)month - 1u + index;
    uint64_t year_at = (uint64_t)year + months / 12u;
    if (year_at > RECUR_YEAR_MAX) {
        return TL_ERR_OVERFLOW;
    }
    int32_t y = (int32_t)year_at;
    uint32_t m = (uint32_t)(months % 12u) + 1u;
    uint32_t last = recur_month_days(y, m);
    int64_t days = recur_days(y, m, day < last ? day : last);
    TL_ASSERT(days >= start_day);
    uint64_t due = 0;
    if (recur_add(time_of_day_ns, (uint64_t)days, NS_PER_DAY, &due) != TL_OK) {
        return TL_ERR_OVERFLOW;
    }
    TL_ASSERT(due >= start_ns);
    *out = due;
    return TL_OK;
}

enum tl_err recur_due(const struct recur_rule *rule, uint32_t index, uint64_t *out)
{
    TL_ASSERT(rule != NULL);
    TL_ASSERT(out != NULL);
    if (rule->start_ns == 0 || rule->start_ns > (uint64_t)INT64_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    if ((rule->repeat == RECUR_EVERY_SECONDS) != (rule->interval_s != 0)) {
        return TL_ERR_INVALID_REQUEST;
    }
    switch (rule->repeat) {
    case RECUR_ONCE:
        if (index != 0) {
            return TL_ERR_OVERFLOW; /* there is no such occurrence */
        }
        *out = rule->start_ns;
        return TL_OK;
    case RECUR_WEEKLY:
        return recur_add(rule->start_ns, index, 7u * NS_PER_DAY, out);
    case RECUR_MONTHLY:
        return recur_monthly(rule->start_ns, index, out);
    case RECUR_EVERY_SECONDS:
        return recur_add(rule->start_ns, index, (uint64_t)rule->interval_s * NS_PER_S, out);
    default:
        return TL_ERR_INVALID_REQUEST;
    }
}

uint64_t recur_next(const struct recur_rule *rule, uint32_t index)
{
    uint64_t due = 0;
    if (index == UINT32_MAX - 1u || rule->repeat == RECUR_ONCE) {
        return 0;
    }
    uint32_t next = index + 1u;
    if (rule->end_count != 0 && next >= rule->end_count) {
        return 0;
    }
    if (recur_due(rule, next, &due) != TL_OK) {
        return 0;
    }
    if (rule->end_ns != 0 && due > rule->end_ns) {
        return 0;
    }
    TL_ASSERT(due > rule->start_ns);
    return due;
}

/* A 64-bit finalizer (the constants of splitmix64): every input bit moves every output bit. */
static uint64_t recur_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

struct id128 recur_payment_id(struct id128 schedule_id, uint32_t index, uint64_t due_ns)
{
    uint64_t ms = due_ns / 1000000u;
    uint64_t a = recur_mix(schedule_id.hi ^ recur_mix(schedule_id.lo + index));
    uint64_t b = recur_mix(a ^ schedule_id.lo ^ ((uint64_t)index << 32));
    /* UUIDv7: 48 bits of ms, version 7, 12 bits, variant 10, 62 bits. */
    uint64_t hi = (ms & 0xffffffffffffull) << 16 | 0x7000u | (a & 0x0fffu);
    uint64_t lo = 0x8000000000000000ull | (b & 0x3fffffffffffffffull);
    struct id128 id = id128_make(hi, lo);
    TL_ASSERT(!id128_is_zero(id));
    return id;
}

/* len digits at text as a number; false when one is not a digit. */
static bool recur_digits(const char *text, size_t len, uint32_t *out)
{
    uint32_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10u + (uint32_t)(text[i] - '0');
    }
    *out = value;
    return true;
}

enum tl_err recur_time_parse(const char *text, size_t len, uint64_t *out)
{
    uint32_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, fraction = 0;
    size_t fraction_digits = 0;
    if (len < 20 || len > 30 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':' || text[len - 1] != 'Z') {
        return TL_ERR_INVALID_REQUEST;
    }
    if (!recur_digits(text, 4, &year) || !recur_digits(text + 5, 2, &month) ||
        !recur_digits(text + 8, 2, &day) || !recur_digits(text + 11, 2, &hour) ||
        !recur_digits(text + 14, 2, &minute) || !recur_digits(text + 17, 2, &second)) {
        return TL_ERR_INVALID_REQUEST;
    }
    if (len > 20) {
        fraction_digits = len - 21;
        if (text[19] != '.' || fraction_digits < 1 || fraction_digits > 9 ||
            !recur_digits(text + 20, fraction_digits, &fraction)) {
            return TL_ERR_INVALID_REQUEST;
        }
        for (size_t i = fraction_digits; i < 9; i++) {
            fraction *= 10u;
        }
    }
    if (year < RECUR_YEAR_MIN || year > RECUR_YEAR_MAX || month < 1 || month > 12 || day < 1 ||
        day > recur_month_days((int32_t)year, month) || hour > 23 || minute > 59 ||
        second > 59) {
        return TL_ERR_INVALID_REQUEST;
    }
    uint64_t days = (uint64_t)recur_days((int32_t)year, month, day);
    uint64_t seconds_of_day = (uint64_t)hour * 3600u + (uint64_t)minute * 60u + second;
    uint64_t base = 0;
    if (recur_add(seconds_of_day * NS_PER_S + fraction, days, NS_PER_DAY, &base) != TL_OK ||
        base == 0) {
        return TL_ERR_INVALID_REQUEST;
    }
    *out = base;
    return TL_OK;
}
