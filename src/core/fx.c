#include "core/fx.h"

#include <stdbool.h>
#include <string.h>

#include "util/assert.h"

/* Denominators are 10^0 .. 10^FX_DEN_DIGITS_MAX: a parsed scale plus one spread factor. */
#define FX_DEN_DIGITS_MAX (FX_RATE_SCALE_MAX + 4u)
#define FX_INT_DIGITS_MAX 9u
#define FX_BPS_ONE 10000u

typedef unsigned __int128 fx_u128;

static int64_t fx_pow10(unsigned digits)
{
    TL_ASSERT(digits <= 18u);
    int64_t value = 1;
    for (unsigned i = 0; i < digits; i++) {
        value *= 10;
    }
    return value;
}

/* log10 of den when it is a power of ten within bounds, else -1. */
static int fx_den_digits(int64_t den)
{
    for (unsigned k = 0; k <= FX_DEN_DIGITS_MAX; k++) {
        if (den == fx_pow10(k)) {
            return (int)k;
        }
    }
    return -1;
}

static bool fx_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

enum tl_err fx_rate_parse(const char *text, size_t len, struct fx_rate *out)
{
    TL_ASSERT(text != NULL);
    TL_ASSERT(out != NULL);
    size_t int_digits = 0;
    while (int_digits < len && fx_is_digit(text[int_digits])) {
        int_digits++;
    }
    if (int_digits == 0 || int_digits > FX_INT_DIGITS_MAX || (int_digits > 1 && text[0] == '0')) {
        return TL_ERR_INVALID_REQUEST;
    }
    size_t frac_digits = 0;
    if (int_digits < len) {
        if (text[int_digits] != '.') {
            return TL_ERR_INVALID_REQUEST;
        }
        frac_digits = len - int_digits - 1;
        if (frac_digits == 0 || frac_digits > FX_RATE_SCALE_MAX) {
            return TL_ERR_INVALID_REQUEST;
        }
        for (size_t i = int_digits + 1; i < len; i++) {
            if (!fx_is_digit(text[i])) {
                return TL_ERR_INVALID_REQUEST;
            }
        }
    }
    /* At most 18 digits in all, so the value fits in int64 before the significance check. */
    int64_t num = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '.') {
            num = num * 10 + (text[i] - '0');
        }
    }
    if (num <= 0 || num >= fx_pow10(FX_RATE_DIGITS_MAX)) {
        return TL_ERR_INVALID_REQUEST;
    }
    out->num = num;
    out->den = fx_pow10((unsigned)frac_digits);
    TL_ASSERT(fx_rate_check(out) == TL_OK);
    return TL_OK;
}

enum tl_err fx_rate_check(const struct fx_rate *rate)
{
    TL_ASSERT(rate != NULL);
    /* A spread rate's numerator is below 10^(digits + 4). */
    if (rate->num <= 0 || rate->num >= fx_pow10(FX_RATE_DIGITS_MAX + 4u)) {
        return TL_ERR_INVALID_REQUEST;
    }
    if (fx_den_digits(rate->den) < 0) {
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

void fx_rate_format(const struct fx_rate *rate, char out[FX_RATE_TEXT_BYTES])
{
    TL_ASSERT(fx_rate_check(rate) == TL_OK);
    int k = fx_den_digits(rate->den);
    int64_t whole = rate->num / rate->den;
    int64_t frac = rate->num % rate->den;
    char digits[FX_RATE_TEXT_BYTES];
    size_t n = 0;
    /* Integer part, most significant digit first. */
    char rev[24];
    size_t r = 0;
    do {
        rev[r++] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole > 0);
    while (r > 0) {
        digits[n++] = rev[--r];
    }
    if (frac != 0) {
        digits[n++] = '.';
        for (int i = k - 1; i >= 0; i--) {
            digits[n++] = (char)('0' + (frac / fx_pow10((unsigned)i)) % 10);
        }
        while (digits[n - 1] == '0') {
            n--;
        }
    }
    TL_ASSERT(n < FX_RATE_TEXT_BYTES);
    memcpy(out, digits, n);
    out[n] = '\0';
}

struct fx_rate fx_rate_spread(const struct fx_rate *mid, uint32_t spread_bps)
{
    TL_ASSERT(fx_rate_check(mid) == TL_OK);
    TL_ASSERT(spread_bps <= FX_SPREAD_BPS_MAX);
    TL_ASSERT(mid->num < fx_pow10(FX_RATE_DIGITS_MAX));
    TL_ASSERT(fx_den_digits(mid->den) <= (int)FX_RATE_SCALE_MAX);
    struct fx_rate out = {mid->num * (int64_t)(FX_BPS_ONE - spread_bps),
                          mid->den * (int64_t)FX_BPS_ONE};
    while (out.den > 1 && out.num % 10 == 0) {
        out.num /= 10;
        out.den /= 10;
    }
    TL_ASSERT(fx_rate_check(&out) == TL_OK);
    return out;
}

/* n / d rounded half-up (d > 0). */
static fx_u128 fx_div_half_up(fx_u128 n, fx_u128 d)
{
    TL_ASSERT(d > 0);
    fx_u128 q = n / d;
    fx_u128 r = n % d;
    /* r < d <= 2^127 here (d is at most 10^34), so 2r cannot wrap. */
    if (r >= d - r) {
        q++;
    }
    return q;
}

/* round_half_up(a * b * c / d) as int64, or TL_ERR_OVERFLOW. */
static enum tl_err fx_muldiv(uint64_t a, uint64_t b, uint64_t c, fx_u128 d, int64_t *out)
{
    fx_u128 product = 0;
    if (__builtin_mul_overflow((fx_u128)a, (fx_u128)b, &product) ||
        __builtin_mul_overflow(product, (fx_u128)c, &product)) {
        return TL_ERR_OVERFLOW;
    }
    fx_u128 q = fx_div_half_up(product, d);
    if (q > (fx_u128)INT64_MAX) {
        return TL_ERR_OVERFLOW;
    }
    *out = (int64_t)q;
    return TL_OK;
}

enum tl_err fx_convert(int64_t amount, uint8_t from_exponent, uint8_t to_exponent,
                       const struct fx_rate *rate, int64_t *out)
{
    TL_ASSERT(amount > 0);
    TL_ASSERT(from_exponent <= FX_EXPONENT_MAX);
    TL_ASSERT(to_exponent <= FX_EXPONENT_MAX);
    TL_ASSERT(fx_rate_check(rate) == TL_OK);
    uint64_t up =
        to_exponent > from_exponent ? (uint64_t)fx_pow10(to_exponent - from_exponent) : 1u;
    uint64_t down =
        from_exponent > to_exponent ? (uint64_t)fx_pow10(from_exponent - to_exponent) : 1u;
    fx_u128 divisor = (fx_u128)(uint64_t)rate->den * down;
    enum tl_err err = fx_muldiv((uint64_t)amount, (uint64_t)rate->num, up, divisor, out);
    TL_ASSERT(err != TL_OK || *out >= 0);
    return err;
}

enum tl_err fx_convert_inverse(int64_t received, uint8_t from_exponent, uint8_t to_exponent,
                               const struct fx_rate *rate, int64_t *out)
{
    TL_ASSERT(received > 0);
    TL_ASSERT(from_exponent <= FX_EXPONENT_MAX);
    TL_ASSERT(to_exponent <= FX_EXPONENT_MAX);
    TL_ASSERT(fx_rate_check(rate) == TL_OK);
    /* sent = received / rate * 10^(from - to) = received * den * 10^from / (num * 10^to). */
    uint64_t up =
        from_exponent > to_exponent ? (uint64_t)fx_pow10(from_exponent - to_exponent) : 1u;
    uint64_t down =
        to_exponent > from_exponent ? (uint64_t)fx_pow10(to_exponent - from_exponent) : 1u;
    fx_u128 divisor = (fx_u128)(uint64_t)rate->num * down;
    enum tl_err err = fx_muldiv((uint64_t)received, (uint64_t)rate->den, up, divisor, out);
    TL_ASSERT(err != TL_OK || *out >= 0);
    return err;
}
