// fuzz-sources: src/core/money.c src/util/err.c @currencies
// fuzz-args: -max_len=64
/*
 * fuzz_money.c - libFuzzer target for money_parse and money_format.
 *
 * Every input is parsed as an amount in one currency of each exponent class (0, 2, 3, 4), and
 * the target checks properties of the answer, not only that nothing crashed:
 *   - the only answers are TL_OK, TL_ERR_INVALID_AMOUNT and TL_ERR_OVERFLOW, and an error
 *     leaves the out value untouched;
 *   - an accepted string formats back to itself, padded with zeros to the currency's exponent
 *     (so nothing outside the grammar can be accepted: format only writes canonical text);
 *   - TL_ERR_OVERFLOW only for a well-formed amount whose magnitude is past int64;
 *   - the first eight bytes read as an int64 format, then parse back to the same value.
 * Build and run with tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <string.h>

#include "core/money.h"
#include "util/assert.h"

#define UNTOUCHED INT64_C(0x5a5a5a5a5a5a5a5a)
/* Longest input the target looks at; libFuzzer's -max_len keeps inputs below it anyway. */
#define INPUT_BYTES_MAX 256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One currency per exponent class, found in the table so the classes follow the data. */
static const struct money_currency *class_currency[MONEY_EXPONENT_MAX + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < money_currency_count(); i++) {
        const struct money_currency *cur = money_currency_at(i);
        if (class_currency[cur->exponent] == NULL) {
            class_currency[cur->exponent] = cur;
        }
    }
    return 0;
}

/* The input with '.' and zeros added to exactly exponent fraction digits; 0 if it won't fit. */
static size_t text_pad(const char *s, size_t len, unsigned exponent, char *out, size_t out_bytes)
{
    const char *point = memchr(s, '.', len);
    size_t fraction_count = point == NULL ? 0 : len - (size_t)(point - s) - 1;
    size_t padded = len + (point == NULL && exponent > 0 ? 1 : 0);

    if (fraction_count > exponent || padded + exponent - fraction_count >= out_bytes) {
        return 0;
    }
    memcpy(out, s, len);
    if (point == NULL && exponent > 0) {
        out[len] = '.';
    }
    memset(out + padded, '0', exponent - fraction_count);
    padded += exponent - fraction_count;
    out[padded] = '\0';
    return padded;
}

/* Digits of the padded text without sign or point, leading zeros dropped. */
static size_t text_magnitude_digits(const char *padded, char *out)
{
    size_t count = 0;
    for (const char *p = padded; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9' && (count > 0 || *p != '0')) {
            out[count++] = *p;
        }
    }
    out[count] = '\0';
    return count;
}

/* Whether the padded text's magnitude is beyond int64, by comparing decimal strings. */
static bool text_beyond_int64(const char *padded)
{
    char digits[INPUT_BYTES_MAX + MONEY_EXPONENT_MAX + 2];
    const char *limit = padded[0] == '-' ? "9223372036854775808" : "9223372036854775807";
    size_t count = text_magnitude_digits(padded, digits);
    size_t limit_count = strlen(limit);

    if (count != limit_count) {
        return count > limit_count;
    }
    return strcmp(digits, limit) > 0;
}

/* Optional '-', digits, optional '.' and digits: the shape only overflow may have. */
static bool text_is_numeric(const char *s, size_t len)
{
    size_t points = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            points++;
        } else if (!(s[i] >= '0' && s[i] <= '9') && !(i == 0 && s[i] == '-')) {
            return false;
        }
    }
    return points <= 1;
}

static void check_parse(const char *s, size_t len, const struct money_currency *cur)
{
    char padded[INPUT_BYTES_MAX + MONEY_EXPONENT_MAX + 2];
    char formatted[MONEY_FORMAT_BYTES_MAX];
    int64_t minor = UNTOUCHED;
    enum tl_err err = money_parse(s, len, cur, &minor);

    if (err == TL_ERR_INVALID_AMOUNT) {
        TL_ASSERT(minor == UNTOUCHED);
        return;
    }
    TL_ASSERT(err == TL_OK || err == TL_ERR_OVERFLOW);
    TL_ASSERT(text_is_numeric(s, len));
    size_t padded_len = text_pad(s, len, cur->exponent, padded, sizeof padded);
    TL_ASSERT(padded_len > 0);
    if (err == TL_ERR_OVERFLOW) {
        TL_ASSERT(minor == UNTOUCHED);
        TL_ASSERT(text_beyond_int64(padded));
        return;
    }
    TL_ASSERT(!text_beyond_int64(padded));
    size_t formatted_len = money_format(minor, cur, formatted, sizeof formatted);
    TL_ASSERT(formatted_len == padded_len);
    TL_ASSERT(memcmp(formatted, padded, padded_len) == 0);
}

static void check_format(int64_t minor, const struct money_currency *cur)
{
    char formatted[MONEY_FORMAT_BYTES_MAX];
    int64_t parsed = UNTOUCHED;
    size_t len = money_format(minor, cur, formatted, sizeof formatted);

    TL_ASSERT(len > 0);
    TL_ASSERT(strlen(formatted) == len);
    TL_ASSERT(money_parse(formatted, len, cur, &parsed) == TL_OK);
    TL_ASSERT(parsed == minor);
    /* One byte short of the NUL: nothing written but an empty string. */
    TL_ASSERT(money_format(minor, cur, formatted, len) == 0);
    TL_ASSERT(formatted[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    if (size > INPUT_BYTES_MAX) {
        return 0;
    }
    for (unsigned exponent = 0; exponent <= MONEY_EXPONENT_MAX; exponent++) {
        if (class_currency[exponent] == NULL) {
            continue;
        }
        check_parse(s, size, class_currency[exponent]);
        if (size >= sizeof(uint64_t)) {
            uint64_t bits;
            memcpy(&bits, data, sizeof bits);
            check_format((int64_t)bits, class_currency[exponent]);
        }
    }
    return 0;
}
