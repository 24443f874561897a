/*
 * money.h - amounts, currencies and their one decimal syntax.
 *
 * An amount is an int64_t of minor units together with its currency; never a float. The
 * currency table is ISO 4217 (codes and numbers from Debian's iso-codes, minor-unit exponents
 * from the standard's own table, see tools/gen_currencies.py). Decimal strings are parsed and
 * printed here and nowhere else. Every arithmetic step checks overflow; nothing ever wraps.
 * Pure: no I/O, no allocation.
 */
#ifndef TL_CORE_MONEY_H
#define TL_CORE_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct money_currency {
    char code[4];      /* "USD", NUL-terminated */
    uint16_t numeric;  /* ISO 4217 number, 1..999, e.g. 840 */
    uint8_t exponent;  /* minor-unit digits: JPY 0, USD 2, KWD 3, CLF 4 */
    const char *name;  /* "US Dollar" */
};

/* Longest formatted amount: sign, 19 digits, point, NUL, with room to spare. */
#define MONEY_FORMAT_BYTES_MAX 32
/* Largest exponent in the table (CLF, UYW). */
#define MONEY_EXPONENT_MAX 4

/* Currency by its three upper-case letters; NULL when unknown (lower case is unknown). */
const struct money_currency *money_currency_find(const char *code, size_t code_len);
/* Currency by ISO number; NULL when unknown. */
const struct money_currency *money_currency_by_numeric(uint16_t numeric);
/* The table in code order, for listing. Cannot fail for index < money_currency_count(). */
size_t money_currency_count(void);
const struct money_currency *money_currency_at(size_t index);

/*
 * Parses an exact decimal ("10.50") into minor units of currency (1050 for USD).
 * Grammar: optional '-', then "0" or a digit 1-9 followed by digits, then optionally '.'
 * and 1..exponent digits. Rejected with TL_ERR_INVALID_AMOUNT: empty, spaces, '+', exponents
 * ("1e3"), leading zeros ("01"), a bare point ("1.", ".5"), more fraction digits than the
 * currency has ("10.505" USD, "1.0" JPY), negative zero ("-0", "-0.00"). Values beyond int64
 * give TL_ERR_OVERFLOW. On error *out_minor is untouched.
 */
enum tl_err money_parse(const char *s, size_t len, const struct money_currency *currency,
                        int64_t *out_minor);

/*
 * Formats minor units with exactly currency->exponent fraction digits ("10.50", "500",
 * "-0.05", "1.234"). Returns the length written (without NUL), or 0 when buf_bytes is too
 * small (buf then holds an empty string if buf_bytes > 0).
 */
size_t money_format(int64_t minor, const struct money_currency *currency, char *buf,
                    size_t buf_bytes);

/* Checked arithmetic: false on overflow, with *out untouched. */
bool money_add(int64_t a, int64_t b, int64_t *out);
bool money_sub(int64_t a, int64_t b, int64_t *out);
bool money_mul(int64_t a, int64_t b, int64_t *out);

#endif
