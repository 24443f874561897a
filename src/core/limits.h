/*
 * limits.h - verification tiers (KYC) and the arithmetic of their limits.
 *
 * Every user has one tier: unverified (the default), verified or business. Each tier may limit
 * three things per currency:
 *
 *   send     the sum of the amounts a user paid in the rolling window (fees not included)
 *   receive  the sum of the amounts a user was paid in the rolling window
 *   hold     the balance of the user's wallet (credits_posted - debits_posted) at any time
 *
 * A tier's limits are written once for every currency in major units ("send=299.99,
 * receive=1000,hold=2000.00", at most 4 decimals) and apply to each currency separately, in
 * that currency's units (299.99 is 29999 cents of USD and 299 yen). Conversions to minor units
 * round DOWN: a limit is never larger than what was configured. A limit that is absent is no
 * limit; an empty spec limits nothing.
 *
 * The rolling window counts every movement with a timestamp after t - window; it is kept as
 * running totals per time bucket (below) and counts whole buckets, so a movement frees its
 * amount between window and window + one bucket after it happened, never earlier.
 *
 * Pure: no I/O, no clock, no allocation. Enforcement (which movements count, and where the
 * check runs so that no race can exceed a limit) is src/api/kyc.h's.
 */
#ifndef TL_CORE_LIMITS_H
#define TL_CORE_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum limits_tier {
    LIMITS_TIER_UNVERIFIED = 0,
    LIMITS_TIER_VERIFIED = 1,
    LIMITS_TIER_BUSINESS = 2,
};
#define LIMITS_TIER_COUNT 3

enum limits_kind {
    LIMITS_SEND = 0,
    LIMITS_RECEIVE = 1,
    LIMITS_HOLD = 2,
};
#define LIMITS_KIND_COUNT 3

/* No limit (a spec amount or a limit in minor units). */
#define LIMITS_NONE (-1)
/* Spec amounts are in units of 10^-LIMITS_SCALE_EXPONENT of a major unit. */
#define LIMITS_SCALE_EXPONENT 4u
/* Largest spec amount: 10^14 major units (every conversion stays inside int64). */
#define LIMITS_SCALED_MAX 1000000000000000000LL
/* Longest window: one year. */
#define LIMITS_WINDOW_S_MAX (366u * 86400u)
/* Bytes of a spec's error message, with its NUL. */
#define LIMITS_ERROR_BYTES 128u

/* One tier's limits: per kind, ten-thousandths of a major unit, or LIMITS_NONE. */
struct limits_spec {
    int64_t max_e4[LIMITS_KIND_COUNT];
};

/* "unverified", "verified", "business"; NULL outside the enum. Cannot fail. */
const char *limits_tier_name(enum limits_tier tier);
/* The tier with that name; false when there is none. */
bool limits_tier_find(const char *name, size_t name_len, enum limits_tier *out);
/* "send", "receive", "hold"; NULL outside the enum. Cannot fail. */
const char *limits_kind_name(enum limits_kind kind);

/*
 * Parses "kind=D[,kind=D]..." (kinds send, receive, hold, each at most once; D a decimal of
 * major units, [0-9]+ with an optional '.' and 1..4 digits, at most LIMITS_SCALED_MAX
 * ten-thousandths). "" limits nothing. TL_OK with *out filled, else TL_ERR_INVALID_REQUEST with
 * a sentence in error (out untouched).
 */
enum tl_err limits_spec_parse(const char *text, struct limits_spec *out,
                              char error[LIMITS_ERROR_BYTES]);

/* True when the spec limits anything. */
bool limits_spec_any(const struct limits_spec *spec);

/* The limit of kind in minor units of a currency with exponent 0..LIMITS_SCALE_EXPONENT,
 * rounded down, or LIMITS_NONE. Cannot fail. */
int64_t limits_spec_minor(const struct limits_spec *spec, enum limits_kind kind,
                          uint8_t exponent);

/* Movements with a timestamp after this count in the window that ends at now_ns (0 when the
 * window reaches back past the epoch). Cannot fail. */
uint64_t limits_window_after(uint64_t now_ns, uint64_t window_ns);

/*
 * Does a movement of amount (> 0) fit under limit (LIMITS_NONE or >= 0) when used (>= 0) is
 * already counted? Exact in 128 bits: no sum overflows. Cannot fail.
 */
bool limits_allows(int64_t limit, int64_t used, int64_t amount);

/* What is left under limit (>= 0) with used (>= 0) counted: limit - used, at least 0. */
int64_t limits_remaining(int64_t limit, int64_t used);

/* When the oldest counted movement (oldest_ns, 0 = none) leaves the window: oldest_ns +
 * window_ns, saturating; 0 when nothing is counted. Cannot fail. */
uint64_t limits_frees_at(uint64_t oldest_ns, uint64_t window_ns);

/*
 * Running totals. The send and receive windows are not summed over every movement: each
 * movement adds its amount to the total of its bucket, a span of limits_bucket_ns(window)
 * aligned to the Unix epoch, named by its end (limits_bucket_end: every movement of a bucket
 * happened before its end). The window that ends at now counts a bucket WHOLE while any part
 * of it is inside the window, i.e. while its end is after limits_window_after(now, window):
 *   - exact in the direction that matters: every movement inside the window is counted, so a
 *     window never admits more than the limit;
 *   - conservative by at most one bucket: a movement keeps counting until window after the
 *     end of its bucket (up to one bucket longer than the exact window);
 *   - bounded: one width counts at most LIMITS_BUCKETS_PER_WINDOW + 1 buckets.
 * Correct for any mix of widths (a window changed in the configuration, a backfill at 1 s):
 * only "a bucket's movements happened before its end" is relied on.
 */
#define LIMITS_BUCKETS_PER_WINDOW 64u
#define LIMITS_NS_PER_S 1000000000ull

/* The bucket width for a window of window_s (1..LIMITS_WINDOW_S_MAX) seconds: window_s /
 * LIMITS_BUCKETS_PER_WINDOW whole seconds, at least 1 s. Cannot fail. */
uint64_t limits_bucket_ns(uint32_t window_s);

/*
 * Buckets no window can count again. No window is longer than LIMITS_WINDOW_S_MAX, and "now"
 * is at least the newest movement's time, which is at most one bucket width (at most the
 * longest window's) before the newest bucket's end. So a bucket that ends more than
 * LIMITS_DEAD_AFTER_NS before the newest bucket end can never count again, whatever the
 * configuration, now or after a change: the stores delete such rows (sqlite_limits.c,
 * postgres_app.c), and what they delete depends only on what was committed, not on a clock.
 */
#define LIMITS_DEAD_AFTER_NS                                                                       \
    ((uint64_t)LIMITS_WINDOW_S_MAX * LIMITS_NS_PER_S +                                             \
     ((uint64_t)LIMITS_WINDOW_S_MAX / LIMITS_BUCKETS_PER_WINDOW) * LIMITS_NS_PER_S)
/* Dead buckets are looked for at most once per hour of the data's clock (the newest end). */
#define LIMITS_PRUNE_STEP_NS (3600ull * LIMITS_NS_PER_S)

/* The end at or before which a bucket is dead when the newest bucket ends at newest_end_ns;
 * 0 when none can be yet. Cannot fail. */
uint64_t limits_dead_before(uint64_t newest_end_ns);

/* The end of the bucket of width bucket_ns (> 0) that holds timestamp_ns: the first multiple
 * of bucket_ns strictly after it. timestamp_ns <= INT64_MAX - bucket_ns. Cannot fail. */
uint64_t limits_bucket_end(uint64_t timestamp_ns, uint64_t bucket_ns);

/* Does a bucket that ends at end_ns count in the window of window_ns that ends at now_ns?
 * (end_ns > limits_window_after(now_ns, window_ns)). Cannot fail. */
bool limits_bucket_counts(uint64_t end_ns, uint64_t now_ns, uint64_t window_ns);

#endif
