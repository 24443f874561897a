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
 * The rolling window is exact: at time t a window counts the movements with a timestamp
 * after t - window (a movement frees its amount exactly window after it happened).
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

#endif
