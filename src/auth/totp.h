/*
 * totp.h - one-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA1, base32.
 *
 * What authenticator apps speak: a 20-byte shared secret shown as RFC 4648 base32, 6 digits, a
 * 30 s step counted from the Unix epoch, HMAC-SHA1. HMAC-SHA1 comes from OpenSSL's libcrypto
 * (libsodium has no SHA-1); in the TOTP code only totp.c includes OpenSSL headers. SHA-1's
 * collision weakness does not touch HMAC-SHA1 as a PRF, and it is what every app supports.
 *
 * totp_verify compares the code against the current step and the one before (a clock a little
 * behind, a code typed as the step turned) and only against steps after the last one used, so a
 * code is never accepted twice: the caller stores the step it returns (atomically, see
 * store_totp_use_step). Both candidate codes are computed and compared in constant time whatever
 * the input. Pure: no clock, no I/O, no allocation; never logs a secret or a code.
 */
#ifndef TL_AUTH_TOTP_H
#define TL_AUTH_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define TOTP_SECRET_BYTES 20 /* RFC 4226's recommended 160 bits */
#define TOTP_SECRET_BYTES_MAX 64
#define TOTP_STEP_S 30u
#define TOTP_DIGITS 6u
#define TOTP_DIGITS_MAX 8u
/* base32 of TOTP_SECRET_BYTES_MAX bytes without padding, plus NUL. */
#define TOTP_BASE32_BYTES_MAX (((TOTP_SECRET_BYTES_MAX * 8) + 4) / 5 + 1)
/* Steps before the current one a code may come from. */
#define TOTP_STEPS_BACK 1u

/* HOTP(key, counter) as an integer of digits (1..TOTP_DIGITS_MAX) digits. Cannot fail. */
uint32_t totp_hotp(const uint8_t *key, size_t key_bytes, uint64_t counter, unsigned digits);

/* The step of a Unix time: floor(unix_s / TOTP_STEP_S). Cannot fail. */
uint64_t totp_step_of(uint64_t unix_s);

/*
 * Checks a code the user typed (code_len characters; exactly TOTP_DIGITS ASCII digits, else a
 * mismatch) for the step of now_s and TOTP_STEPS_BACK steps before, skipping steps <= last_step
 * (0: none used yet). TL_OK with *matched_step set, or TL_ERR_UNAUTHORIZED. Constant time in
 * the code and the secret.
 */
enum tl_err totp_verify(const uint8_t *key, size_t key_bytes, uint64_t now_s, uint64_t last_step,
                        const char *code, size_t code_len, uint64_t *matched_step);

/* RFC 4648 base32 of in, upper case, without padding, NUL-terminated into out; out_bytes must
 * hold (in_bytes * 8 + 4) / 5 + 1 (asserted). Cannot fail. */
void totp_base32_encode(const uint8_t *in, size_t in_bytes, char *out, size_t out_bytes);
/* Decodes base32 (either case, no padding, no spaces). TL_ERR_INVALID_REQUEST on a bad
 * character or when it does not fit out_bytes_max; *out_bytes is the decoded length. */
enum tl_err totp_base32_decode(const char *in, size_t in_len, uint8_t *out, size_t out_bytes_max,
                               size_t *out_bytes);

#endif
