/*
 * fees.h - what the platform charges for a movement of money.
 *
 * A fee schedule (one per operation: p2p, instant_payout, standard_payout, card_funding, fx)
 * is a rate in basis points of the amount, a fixed part, a minimum and an optional maximum.
 * The fee is paid by the sender on top of the amount:
 *
 *   fee = clamp(round_half_up(amount * bps / 10000) + fixed, min, max)
 *
 * The fixed part, minimum and maximum are written once for every currency in ten-thousandths
 * of a major unit ("e4": 0.25 is 2500), and become minor units of the payment's currency by
 * its ISO 4217 exponent: 0.25 is 25 USD cents, 250 KWD fils, and 0 yen (0.25 rounded half-up
 * to whole yen; 0.50 would be 1 yen).
 *
 * THE rounding rule, everywhere a fee has a fraction of a minor unit: half-up on the exact
 * quotient (0.5 of a minor unit and more rounds up; fees are never negative, so half-up and
 * half-away-from-zero are the same). 1050 at 150 bps is 15.75 -> 16; 1000 at 5 bps is 0.5 -> 1;
 * 999 at 5 bps is 0.4995 -> 0. Products are computed in 128 bits, so no amount overflows on
 * the way; a fee beyond INT64_MAX is TL_ERR_OVERFLOW.
 *
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef TL_CORE_FEES_H
#define TL_CORE_FEES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Largest rate: 100 %. */
#define FEES_BPS_MAX 10000u
/* Schedule amounts are in units of 10^-FEES_SCALE_EXPONENT of a major unit. */
#define FEES_SCALE_EXPONENT 4u
/* Largest schedule amount: 10^14 major units (keeps every conversion inside int64). */
#define FEES_SCALED_MAX 1000000000000000000LL

enum fees_operation {
    FEES_P2P = 0,
    FEES_INSTANT_PAYOUT = 1,
    FEES_STANDARD_PAYOUT = 2,
    FEES_CARD_FUNDING = 3,
    FEES_FX = 4,
};
#define FEES_OPERATION_COUNT 5

struct fees_schedule {
    uint32_t bps;         /* 0..FEES_BPS_MAX */
    int64_t fixed_e4;     /* 0..FEES_SCALED_MAX */
    int64_t min_e4;       /* 0..FEES_SCALED_MAX */
    int64_t max_e4;       /* min_e4..FEES_SCALED_MAX, or -1: no maximum */
    uint32_t fixed_minor; /* legacy fees.p2p_fixed_minor: minor units whatever the exponent */
};

/* What a fee is made of, in minor units of the payment's currency. */
struct fees_quote {
    int64_t percent; /* round_half_up(amount * bps / 10000) */
    int64_t fixed;   /* fixed_e4 converted, plus fixed_minor */
    int64_t fee;     /* percent + fixed, clamped to [min, max] */
    bool clamped_min;
    bool clamped_max;
};

/* "p2p", "instant_payout", ...; NULL for a value outside the enum. Cannot fail. */
const char *fees_operation_name(enum fees_operation operation);
/* The operation with that name; false when there is none. */
bool fees_operation_find(const char *name, size_t name_len, enum fees_operation *out);

/* TL_OK when every field is in its range and min <= max; else TL_ERR_INVALID_REQUEST. */
enum tl_err fees_schedule_check(const struct fees_schedule *schedule);

/* A schedule amount (0..FEES_SCALED_MAX) in minor units of a currency with exponent
 * 0..FEES_SCALE_EXPONENT, rounded half-up. Cannot fail. */
int64_t fees_scaled_to_minor(int64_t scaled_e4, uint8_t exponent);

/* The fee for amount (> 0) of a currency with exponent (0..FEES_SCALE_EXPONENT) under a
 * checked schedule. TL_OK with *out filled, or TL_ERR_OVERFLOW when the fee would exceed
 * INT64_MAX (*out untouched). */
enum tl_err fees_compute(const struct fees_schedule *schedule, uint8_t exponent, int64_t amount,
                         struct fees_quote *out);

/* The peer-to-peer fee without minimum or maximum: bps of amount (> 0), half-up, plus
 * fixed_minor. TL_OK with *out_fee >= 0, or TL_ERR_OVERFLOW (*out_fee untouched). */
enum tl_err fees_p2p(int64_t amount, uint32_t bps, uint32_t fixed_minor, int64_t *out_fee);

#endif
