/*
 * recur.h - when the occurrences of a scheduled payment fall: pure date arithmetic.
 *
 * No I/O, no clock, no allocation: given a rule and an occurrence index it answers that
 * occurrence's time, deterministically. Times are nanoseconds since the Unix epoch, UTC (no
 * time zones, no leap seconds: a day is 86,400 s).
 *
 * Rules:
 *   ONCE           one occurrence, at start.
 *   WEEKLY         occurrence k at start + k * 7 days.
 *   MONTHLY        occurrence k in the k-th month after start's month, on start's day of the
 *                  month at start's time of day; when that month is shorter, on its last day.
 *                  Each occurrence is computed from start, never from the one before, so a
 *                  schedule starting on the 31st runs on Feb 28 (29 in leap years), Apr 30, and
 *                  again on the 31st in months that have one.
 *   EVERY_SECONDS  occurrence k at start + k * interval_s (a test-only rule: tallyd accepts it
 *                  only with schedules.test_intervals).
 * A rule ends after end_count occurrences (0: no limit) and has no occurrence after end_ns
 * (0: no end time).
 *
 * Never: read the clock, or answer a time past INT64_MAX nanoseconds (year 2262).
 */
#ifndef TL_CORE_RECUR_H
#define TL_CORE_RECUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/id128.h"

enum recur_repeat {
    RECUR_ONCE = 1,
    RECUR_WEEKLY = 2,
    RECUR_MONTHLY = 3,
    RECUR_EVERY_SECONDS = 4,
};

struct recur_rule {
    uint8_t repeat;      /* enum recur_repeat */
    uint32_t interval_s; /* EVERY_SECONDS only (> 0), else 0 */
    uint64_t start_ns;   /* the first occurrence; 1..INT64_MAX */
    uint32_t end_count;  /* 0: no limit */
    uint64_t end_ns;     /* 0: no end time */
};

/* The time of occurrence index of the rule, ignoring its end. TL_ERR_OVERFLOW when it falls
 * past INT64_MAX ns; TL_ERR_INVALID_REQUEST for a malformed rule. *out only on TL_OK. */
enum tl_err recur_due(const struct recur_rule *rule, uint32_t index, uint64_t *out);

/* The time of occurrence index + 1, or 0 when the rule has none (ONCE, end_count reached, past
 * end_ns, or past INT64_MAX). Cannot fail for a rule recur_due accepts. */
uint64_t recur_next(const struct recur_rule *rule, uint32_t index);

/* Civil date of a day count since 1970-01-01 (day 0), and back. Cannot fail for days in
 * 0..106751 (through year 2262). */
void recur_civil(int64_t days, int32_t *year, uint32_t *month, uint32_t *day);
int64_t recur_days(int32_t year, uint32_t month, uint32_t day);
/* Days in a month (month 1..12) of a year of the Gregorian calendar. */
uint32_t recur_month_days(int32_t year, uint32_t month);

/*
 * Parses an RFC 3339 UTC time as the API writes them: "YYYY-MM-DDTHH:MM:SS" then optionally "."
 * and 1..9 digits, then "Z" (upper case; no other offset). Years 1970..2262, within int64 ns.
 * TL_ERR_INVALID_REQUEST for anything else. *out only on TL_OK.
 */
enum tl_err recur_time_parse(const char *text, size_t len, uint64_t *out);

/*
 * The id of the payment occurrence index of a schedule makes: a UUIDv7 whose time is due_ns's
 * millisecond and whose 74 other bits are a mix of (schedule_id, index), so the same occurrence
 * always names the same payment and the ledger refuses to pay it twice. Cannot fail.
 */
struct id128 recur_payment_id(struct id128 schedule_id, uint32_t index, uint64_t due_ns);

#endif
