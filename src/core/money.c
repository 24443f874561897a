/*
 * money.c - the currency table lookups, the one decimal parser and printer, checked arithmetic.
 *
 * Pure: no I/O, no allocation, no static state, so every function is safe from any thread.
 * Parsing checks the whole syntax before any arithmetic, so a malformed string is always
 * TL_ERR_INVALID_AMOUNT even when it is also too large; only a well-formed string can overflow.
 */
#include "core/money.h"

#include <assert.h>
#include <string.h>

#include "core/currency_table.h" /* generated table: sorted by code, codes unique */
#include "util/assert.h"

/* Letters in an ISO 4217 alphabetic code. */
#define MONEY_CODE_CHARS 3
/* Decimal digits of the largest int64 magnitude, 2^63 = 9223372036854775808. */
#define MONEY_MAGNITUDE_DIGITS_MAX 19

static_assert(MONEY_EXPONENT_MAX + 1 <= MONEY_MAGNITUDE_DIGITS_MAX,
              "the smallest amount's digits must fit an int64 magnitude");
static_assert(MONEY_FORMAT_BYTES_MAX >= 1 + MONEY_MAGNITUDE_DIGITS_MAX + 1 + 1,
              "sign, digits, point and NUL must fit the format buffer");

/* The pieces of a syntactically valid amount; the digits point into the caller's string. */
struct amount_text {
    bool negative;
    const char *integer_digits;
    size_t integer_count;
    const char *fraction_digits;
    size_t fraction_count;
};

const struct money_currency *money_currency_find(const char *code, size_t code_len)
{
    size_t low = 0;
    size_t high = money_currency_table_count;

    TL_ASSERT(code != NULL || code_len == 0);
    if (code_len != MONEY_CODE_CHARS) {
        return NULL;
    }
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int order = memcmp(code, money_currency_table[mid].code, MONEY_CODE_CHARS);
        if (order == 0) {
            return &money_currency_table[mid];
        }
        if (order < 0) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    return NULL;
}

const struct money_currency *money_currency_by_numeric(uint16_t numeric)
{
    /* 168 rows: a scan costs less than keeping a second index in sync without allocating. */
    for (size_t i = 0; i < money_currency_table_count; i++) {
        if (money_currency_table[i].numeric == numeric) {
            return &money_currency_table[i];
        }
    }
    return NULL;
}

size_t money_currency_count(void)
{
    return money_currency_table_count;
}

const struct money_currency *money_currency_at(size_t index)
{
    TL_ASSERT(index < money_currency_table_count);
    return &money_currency_table[index];
}

static bool char_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the run of ASCII digits at the start of s. */
static size_t digit_run(const char *s, size_t len)
{
    size_t count = 0;
    while (count < len && char_is_digit(s[count])) {
        count++;
    }
    return count;
}

static bool digits_all_zero(const char *digits, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (digits[i] != '0') {
            return false;
        }
    }
    return true;
}

/* Splits s by the grammar in money.h; false when s is not a valid amount for the exponent. */
static bool amount_split(const char *s, size_t len, unsigned exponent, struct amount_text *out)
{
    size_t pos = 0;

    if (len == 0) {
        return false;
    }
    out->negative = s[0] == '-';
    if (out->negative) {
        pos++;
    }
    out->integer_digits = s + pos;
    out->integer_count = digit_run(s + pos, len - pos);
    if (out->integer_count == 0) {
        return false;
    }
    if (out->integer_count > 1 && out->integer_digits[0] == '0') {
        return false;
    }
    pos += out->integer_count;
    out->fraction_digits = s + pos;
    out->fraction_count = 0;
    if (pos < len && s[pos] == '.') {
        pos++;
        out->fraction_digits = s + pos;
        out->fraction_count = digit_run(s + pos, len - pos);
        if (out->fraction_count == 0 || out->fraction_count > exponent) {
            return false;
        }
        pos += out->fraction_count;
    }
    if (pos != len) {
        return false;
    }
    /* No leading zeros, so a zero integer part is exactly "0". */
    if (out->negative && out->integer_digits[0] == '0' &&
        digits_all_zero(out->fraction_digits, out->fraction_count)) {
        return false;
    }
    return true;
}

/* Appends digits to *magnitude in base 10; false when it would pass UINT64_MAX. */
static bool magnitude_append(uint64_t *magnitude, const char *digits, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        TL_ASSERT(char_is_digit(digits[i]));
        uint64_t digit = (uint64_t)(digits[i] - '0');
        if (__builtin_mul_overflow(*magnitude, 10u, magnitude)) {
            return false;
        }
        if (__builtin_add_overflow(*magnitude, digit, magnitude)) {
            return false;
        }
    }
    return true;
}

/* The amount in minor units; false when it is outside int64. */
static bool amount_value(const struct amount_text *text, unsigned exponent, int64_t *out_minor)
{
    uint64_t magnitude = 0;
    uint64_t limit = (uint64_t)INT64_MAX + (text->negative ? 1u : 0u);

    TL_ASSERT(text->fraction_count <= exponent);
    if (!magnitude_append(&magnitude, text->integer_digits, text->integer_count)) {
        return false;
    }
    if (!magnitude_append(&magnitude, text->fraction_digits, text->fraction_count)) {
        return false;
    }
    for (size_t i = text->fraction_count; i < exponent; i++) {
        if (__builtin_mul_overflow(magnitude, 10u, &magnitude)) {
            return false;
        }
    }
    if (magnitude > limit) {
        return false;
    }
    if (!text->negative) {
        *out_minor = (int64_t)magnitude;
    } else if (magnitude == (uint64_t)INT64_MAX + 1u) {
        *out_minor = INT64_MIN;
    } else {
        *out_minor = -(int64_t)magnitude;
    }
    return true;
}

enum tl_err money_parse(const char *s, size_t len, const struct money_currency *currency,
                        int64_t *out_minor)
{
    struct amount_text text;
    int64_t minor = 0;

    TL_ASSERT(s != NULL || len == 0);
    TL_ASSERT(currency != NULL);
    TL_ASSERT(out_minor != NULL);
    TL_ASSERT(currency->exponent <= MONEY_EXPONENT_MAX);
    if (!amount_split(s, len, currency->exponent, &text)) {
        return TL_ERR_INVALID_AMOUNT;
    }
    if (!amount_value(&text, currency->exponent, &minor)) {
        return TL_ERR_OVERFLOW;
    }
    TL_ASSERT((minor < 0) == text.negative);
    *out_minor = minor;
    return TL_OK;
}

size_t money_format(int64_t minor, const struct money_currency *currency, char *buf,
                    size_t buf_bytes)
{
    char text[MONEY_FORMAT_BYTES_MAX];
    size_t pos = sizeof text;
    uint64_t magnitude = minor < 0 ? 0u - (uint64_t)minor : (uint64_t)minor;
    unsigned digit_count = 0;

    TL_ASSERT(currency != NULL);
    TL_ASSERT(currency->exponent <= MONEY_EXPONENT_MAX);
    TL_ASSERT(buf != NULL || buf_bytes == 0);
    /* Right to left: at least exponent + 1 digits, so amounts below one unit get "0.". */
    do {
        if (digit_count == currency->exponent && digit_count > 0) {
            text[--pos] = '.';
        }
        text[--pos] = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
        digit_count++;
    } while (magnitude != 0 || digit_count <= currency->exponent);
    if (minor < 0) {
        text[--pos] = '-';
    }
    TL_ASSERT(pos > 0);
    size_t len = sizeof text - pos;
    if (buf_bytes > 0) {
        buf[0] = '\0';
    }
    if (len >= buf_bytes) {
        return 0;
    }
    memcpy(buf, text + pos, len);
    buf[len] = '\0';
    return len;
}

bool money_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t sum;

    TL_ASSERT(out != NULL);
    if (__builtin_add_overflow(a, b, &sum)) {
        return false;
    }
    *out = sum;
    return true;
}

bool money_sub(int64_t a, int64_t b, int64_t *out)
{
    int64_t difference;

    TL_ASSERT(out != NULL);
    if (__builtin_sub_overflow(a, b, &difference)) {
        return false;
    }
    *out = difference;
    return true;
}

bool money_mul(int64_t a, int64_t b, int64_t *out)
{
    int64_t product;

    TL_ASSERT(out != NULL);
    if (__builtin_mul_overflow(a, b, &product)) {
        return false;
    }
    *out = product;
    return true;
}
