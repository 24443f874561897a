/*
 * fx.h - exchange rates and the conversion of minor units between currencies.
 *
 * A rate is an exact decimal: "0.9213" is 9213/10000, held as an integer numerator over a
 * power-of-ten denominator (struct fx_rate), never as a float. A rate of the pair (base, quote)
 * says how many major units of quote one major unit of base buys: USD JPY 151.25 means
 * 1.00 USD = 151.25 JPY. Amounts are minor units, so a conversion also scales by the two
 * currencies' ISO 4217 exponents (JPY 0, USD 2, KWD 3, up to 4):
 *
 *   to_minor = from_minor * rate * 10^(to_exponent - from_exponent)
 *
 * The spread is what the platform keeps: a customer rate is the mid rate times
 * (10000 - spread_bps) / 10000, which is still an exact decimal.
 *
 * THE rounding rule, the same as core/fees.h: half-up on the exact quotient (0.5 of a minor
 * unit and more rounds up). Both directions use it: fx_convert (what a sent amount buys) and
 * fx_convert_inverse (what must be sent to buy a received amount). Every product is computed in
 * 128 bits; a result beyond INT64_MAX, or an intermediate beyond 2^128 - 1 (amounts around
 * 10^17 minor units and more), is TL_ERR_OVERFLOW.
 *
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef TL_CORE_FX_H
#define TL_CORE_FX_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Significant digits of a parsed rate (its numerator is below 10^FX_RATE_DIGITS_MAX). */
#define FX_RATE_DIGITS_MAX 12u
/* Fraction digits of a parsed rate. */
#define FX_RATE_SCALE_MAX 9u
/* Largest spread: 10 %. */
#define FX_SPREAD_BPS_MAX 1000u
/* Largest currency exponent fx converts (money.h's MONEY_EXPONENT_MAX is 4). */
#define FX_EXPONENT_MAX 4u
/* A formatted rate: at most 17 digits, a point and a NUL. */
#define FX_RATE_TEXT_BYTES 32u

/* rate = num / den exactly; num > 0; den = 10^k with 0 <= k <= 13. */
struct fx_rate {
    int64_t num;
    int64_t den;
};

/*
 * Parses a decimal rate: 1..9 integer digits without superfluous leading zeros ("0.5", not
 * "00.5"), optionally '.' and 1..FX_RATE_SCALE_MAX fraction digits; no sign, spaces or
 * exponent; greater than zero; at most FX_RATE_DIGITS_MAX significant digits. TL_OK with *out
 * (den = 10^fraction digits, as written), else TL_ERR_INVALID_REQUEST (*out untouched).
 */
enum tl_err fx_rate_parse(const char *text, size_t len, struct fx_rate *out);

/* TL_OK for a rate fx_rate_parse or fx_rate_spread could have made, else
 * TL_ERR_INVALID_REQUEST (a stored rate that fails this is corrupt). */
enum tl_err fx_rate_check(const struct fx_rate *rate);

/* The exact decimal text of a checked rate, trailing fraction zeros removed ("151.25", "1",
 * "0.9213"). Cannot fail. */
void fx_rate_format(const struct fx_rate *rate, char out[FX_RATE_TEXT_BYTES]);

/* The customer rate: mid * (10000 - spread_bps) / 10000 (spread_bps <= FX_SPREAD_BPS_MAX),
 * with common factors of ten removed. Cannot fail. */
struct fx_rate fx_rate_spread(const struct fx_rate *mid, uint32_t spread_bps);

/*
 * What amount (>= 1 minor units of a currency with exponent from_exponent) buys in a currency
 * with exponent to_exponent at rate: half-up. TL_OK with *out >= 0 (0 when the amount buys less
 * than half a minor unit), or TL_ERR_OVERFLOW (*out untouched).
 */
enum tl_err fx_convert(int64_t amount, uint8_t from_exponent, uint8_t to_exponent,
                       const struct fx_rate *rate, int64_t *out);

/*
 * What must be sent (minor units of the from currency) to buy received (>= 1 minor units of
 * the to currency) at rate: received / rate, half-up. TL_OK with *out >= 0, or
 * TL_ERR_OVERFLOW (*out untouched).
 */
enum tl_err fx_convert_inverse(int64_t received, uint8_t from_exponent, uint8_t to_exponent,
                               const struct fx_rate *rate, int64_t *out);

#endif
