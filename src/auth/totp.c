#include "auth/totp.h"

#include <assert.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "auth/auth_crypto.h"
#include "util/assert.h"

static_assert(TOTP_DIGITS <= TOTP_DIGITS_MAX, "digits within max");
static_assert(TOTP_SECRET_BYTES <= TOTP_SECRET_BYTES_MAX, "secret within max");

static const uint32_t totp_pow10[TOTP_DIGITS_MAX + 1] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u};

uint32_t totp_hotp(const uint8_t *key, size_t key_bytes, uint64_t counter, unsigned digits)
{
    uint8_t message[8];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_bytes = 0;

    TL_ASSERT(key != NULL);
    TL_ASSERT(key_bytes > 0 && key_bytes <= TOTP_SECRET_BYTES_MAX);
    TL_ASSERT(digits >= 1 && digits <= TOTP_DIGITS_MAX);
    for (int i = 7; i >= 0; i--) {
        message[i] = (uint8_t)(counter & 0xffu);
        counter >>= 8;
    }
    /* One-shot HMAC: fails only on allocation inside OpenSSL, which we treat as fatal. */
    TL_ASSERT(HMAC(EVP_sha1(), key, (int)key_bytes, message, sizeof(message), mac, &mac_bytes) !=
              NULL);
    TL_ASSERT(mac_bytes == 20);
    /* RFC 4226 5.3: dynamic truncation. */
    unsigned offset = mac[19] & 0x0fu;
    uint32_t binary = ((uint32_t)(mac[offset] & 0x7fu) << 24) | ((uint32_t)mac[offset + 1] << 16) |
                      ((uint32_t)mac[offset + 2] << 8) | (uint32_t)mac[offset + 3];
    auth_crypto_wipe(mac, sizeof(mac));
    return binary % totp_pow10[digits];
}

uint64_t totp_step_of(uint64_t unix_s)
{
    return unix_s / TOTP_STEP_S;
}

/* The code of a step as TOTP_DIGITS ASCII digits (zero-padded). */
static void totp_code_text(const uint8_t *key, size_t key_bytes, uint64_t step,
                           char out[TOTP_DIGITS])
{
    uint32_t value = totp_hotp(key, key_bytes, step, TOTP_DIGITS);
    for (int i = (int)TOTP_DIGITS - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10u);
        value /= 10u;
    }
}

enum tl_err totp_verify(const uint8_t *key, size_t key_bytes, uint64_t now_s, uint64_t last_step,
                        const char *code, size_t code_len, uint64_t *matched_step)
{
    char given[TOTP_DIGITS];
    char expected[TOTP_DIGITS];
    uint64_t now_step = totp_step_of(now_s);
    uint64_t found = 0;
    unsigned shape_ok = code_len == TOTP_DIGITS;

    /* Copy a fixed number of bytes so that timing does not depend on the input's shape. */
    memset(given, 'x', sizeof(given));
    if (shape_ok) {
        memcpy(given, code, TOTP_DIGITS);
    }
    for (size_t i = 0; i < TOTP_DIGITS; i++) {
        shape_ok &= (unsigned)(given[i] >= '0') & (unsigned)(given[i] <= '9');
    }
    /* Newest first, so a code valid for the current step records that step. Every candidate
     * is computed and compared; which one matched is chosen without a branch on the secret. */
    for (uint64_t back = 0; back <= TOTP_STEPS_BACK; back++) {
        uint64_t step = now_step - back;
        if (back > now_step) {
            break;
        }
        totp_code_text(key, key_bytes, step, expected);
        uint64_t match = (uint64_t)auth_crypto_equal(given, expected, sizeof(given));
        uint64_t fresh = (uint64_t)(step > last_step);
        uint64_t take = match & fresh & (uint64_t)(found == 0);
        found |= (0u - take) & step;
    }
    auth_crypto_wipe(expected, sizeof(expected));
    auth_crypto_wipe(given, sizeof(given));
    if (!shape_ok || found == 0) {
        return TL_ERR_UNAUTHORIZED;
    }
    *matched_step = found;
    return TL_OK;
}

static const char totp_base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void totp_base32_encode(const uint8_t *in, size_t in_bytes, char *out, size_t out_bytes)
{
    size_t chars = (in_bytes * 8 + 4) / 5;
    uint32_t buffer = 0;
    unsigned bits = 0;
    size_t n = 0;

    TL_ASSERT(out_bytes >= chars + 1);
    for (size_t i = 0; i < in_bytes; i++) {
        buffer = (buffer << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[n++] = totp_base32_alphabet[(buffer >> (bits - 5)) & 31u];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out[n++] = totp_base32_alphabet[(buffer << (5 - bits)) & 31u];
    }
    TL_ASSERT(n == chars);
    out[n] = '\0';
}

enum tl_err totp_base32_decode(const char *in, size_t in_len, uint8_t *out, size_t out_bytes_max,
                               size_t *out_bytes)
{
    uint32_t buffer = 0;
    unsigned bits = 0;
    size_t n = 0;

    for (size_t i = 0; i < in_len; i++) {
        char c = in[i];
        unsigned value;
        if (c >= 'A' && c <= 'Z') {
            value = (unsigned)(c - 'A');
        } else if (c >= 'a' && c <= 'z') {
            value = (unsigned)(c - 'a');
        } else if (c >= '2' && c <= '7') {
            value = (unsigned)(c - '2') + 26u;
        } else {
            return TL_ERR_INVALID_REQUEST;
        }
        buffer = (buffer << 5) | value;
        bits += 5;
        if (bits >= 8) {
            if (n == out_bytes_max) {
                return TL_ERR_INVALID_REQUEST;
            }
            out[n++] = (uint8_t)((buffer >> (bits - 8)) & 0xffu);
            bits -= 8;
        }
    }
    *out_bytes = n;
    return TL_OK;
}
