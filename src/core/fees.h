/*
 * fees.h - what the platform charges for a movement of money.
 *
 * A peer-to-peer payment fee is a rate in basis points of the amount plus a fixed part in
 * minor units of the payment's currency, paid by the sender on top of the amount:
 *
 *   fee = round_half_up(amount * bps / 10000) + fixed_minor
 *
 * Half-up on the exact quotient: 0.5 of a minor unit and more rounds up (1050 at 150 bps is
 * 15.75 -> 16; 1000 at 5 bps is 0.5 -> 1; 999 at 5 bps is 0.4995 -> 0). The product is
 * computed in 128 bits, so no amount overflows on the way; a fee beyond int64 is an error.
 *
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef TL_CORE_FEES_H
#define TL_CORE_FEES_H

#include <stdint.h>

#include "util/err.h"

/* Largest rate: 100 %. */
#define FEES_BPS_MAX 10000u

/* The fee for a payment of amount (> 0) at bps (0..FEES_BPS_MAX) plus fixed_minor. TL_OK with
 * *out_fee >= 0, or TL_ERR_OVERFLOW when the fee exceeds INT64_MAX (*out_fee untouched). */
enum tl_err fees_p2p(int64_t amount, uint32_t bps, uint32_t fixed_minor, int64_t *out_fee);

#endif
