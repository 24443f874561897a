// fuzz-sources: src/auth/token.c src/auth/auth_crypto.c
// fuzz-libs: -lsodium
// fuzz-args: -max_len=128
/*
 * fuzz_token.c - libFuzzer target for token_wellformed, token_hash_presented and
 * token_hash_equal: the path every bearer token a client presents goes through.
 *
 * Properties checked for every input, beyond "no crash":
 *   - what token_wellformed accepts agrees with a slow reference written here from token.h
 *     ("tly_" + 43 base64url characters, the last carrying 4 bits with its low 2 zero), and
 *     token_hash_presented answers TL_OK exactly then, TL_ERR_UNAUTHORIZED otherwise with the
 *     hash untouched;
 *   - an accepted token decodes (reference decoder) to 32 bytes that re-encode through the
 *     module's own base64url to exactly the input (one spelling per secret), and libsodium's
 *     decoder agrees on the bytes;
 *   - hashing is deterministic, equals BLAKE2b-256 keyed with the secret over the 47 bytes,
 *     differs under another key, and token_hash_equal agrees with memcmp;
 *   - the first 32 bytes, taken as a token's random part, make a token that is well-formed
 *     and survives every single-character change only when the change keeps it well-formed.
 * Build and run with tests/fuzz/run.sh.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "auth/auth_crypto.h"
#include "auth/token.h"
#include "util/assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct token_key key_a;
static struct token_key key_b;
static bool keys_ready;

static void keys_init(void)
{
    uint8_t secret[TOKEN_SECRET_BYTES_MAX];
    if (keys_ready) {
        return;
    }
    for (size_t i = 0; i < sizeof secret; i++) {
        secret[i] = (uint8_t)(i * 7 + 1);
    }
    TL_ASSERT(token_key_init(&key_a, secret, TOKEN_SECRET_BYTES_MIN) == TL_OK);
    TL_ASSERT(token_key_init(&key_b, secret, TOKEN_SECRET_BYTES_MAX) == TL_OK);
    TL_ASSERT(token_key_init(&key_b, secret, TOKEN_SECRET_BYTES_MIN - 1) == TL_ERR_LIMIT);
    TL_ASSERT(token_key_init(&key_b, secret, TOKEN_SECRET_BYTES_MAX + 1) == TL_ERR_LIMIT);
    keys_ready = true;
}

/* 0..63 for a base64url character, -1 otherwise (NUL included). */
static int reference_value(char c)
{
    const char *hit = c == '\0' ? NULL : strchr(b64url, c);
    return hit == NULL ? -1 : (int)(hit - b64url);
}

/* Reference: the shape rules, checked naively; fills out[32] with the decoded secret. */
static bool reference_parse(const char *s, size_t len, uint8_t out[TOKEN_RANDOM_BYTES])
{
    if (len != 47 || memcmp(s, "tly_", 4) != 0) {
        return false;
    }
    uint8_t bits[43 * 6];
    for (size_t i = 0; i < 43; i++) {
        int v = reference_value(s[4 + i]);
        if (v < 0) {
            return false;
        }
        for (int b = 0; b < 6; b++) {
            bits[i * 6 + (size_t)b] = (uint8_t)((v >> (5 - b)) & 1);
        }
    }
    /* 258 bits, 256 used: the last two must be zero. */
    if (bits[256] != 0 || bits[257] != 0) {
        return false;
    }
    for (size_t i = 0; i < TOKEN_RANDOM_BYTES; i++) {
        uint8_t byte = 0;
        for (size_t b = 0; b < 8; b++) {
            byte = (uint8_t)(byte << 1 | bits[i * 8 + b]);
        }
        out[i] = byte;
    }
    return true;
}

static void check_hashes(const char *s, size_t len)
{
    struct token_hash h1, h2, hb, ref;
    TL_ASSERT(token_hash_presented(&key_a, s, len, &h1) == TL_OK);
    TL_ASSERT(token_hash_presented(&key_a, s, len, &h2) == TL_OK);
    TL_ASSERT(memcmp(h1.bytes, h2.bytes, sizeof h1.bytes) == 0);
    TL_ASSERT(token_hash_equal(&h1, &h2));
    TL_ASSERT(crypto_generichash(ref.bytes, sizeof ref.bytes, (const unsigned char *)s, len,
                                 key_a.secret, key_a.secret_bytes) == 0);
    TL_ASSERT(memcmp(h1.bytes, ref.bytes, sizeof h1.bytes) == 0);
    TL_ASSERT(token_hash_presented(&key_b, s, len, &hb) == TL_OK);
    TL_ASSERT(memcmp(h1.bytes, hb.bytes, sizeof h1.bytes) != 0);
    TL_ASSERT(!token_hash_equal(&h1, &hb));
}

static void check_input(const char *s, size_t len)
{
    uint8_t secret[TOKEN_RANDOM_BYTES];
    struct token_hash hash;
    memset(hash.bytes, 0xa5, sizeof hash.bytes);

    bool ref_ok = reference_parse(s, len, secret);
    TL_ASSERT(token_wellformed(s, len) == ref_ok);
    if (!ref_ok) {
        TL_ASSERT(token_hash_presented(&key_a, s, len, &hash) == TL_ERR_UNAUTHORIZED);
        for (size_t i = 0; i < sizeof hash.bytes; i++) {
            TL_ASSERT(hash.bytes[i] == 0xa5);
        }
        return;
    }
    char again[TOKEN_STR_BYTES];
    memcpy(again, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    auth_crypto_base64url(again + TOKEN_PREFIX_LEN, sizeof again - TOKEN_PREFIX_LEN, secret,
                          sizeof secret);
    TL_ASSERT(strlen(again) == len);
    TL_ASSERT(memcmp(again, s, len) == 0);
    uint8_t sodium_bytes[TOKEN_RANDOM_BYTES + 1];
    size_t sodium_len = 0;
    TL_ASSERT(sodium_base642bin(sodium_bytes, sizeof sodium_bytes, s + TOKEN_PREFIX_LEN,
                                TOKEN_BODY_LEN, NULL, &sodium_len, NULL,
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
    TL_ASSERT(sodium_len == TOKEN_RANDOM_BYTES);
    TL_ASSERT(memcmp(sodium_bytes, secret, sizeof secret) == 0);
    check_hashes(s, len);
}

/* A token made from the first 32 bytes, then each single-character edit from the input. */
static void check_made(const uint8_t *data, size_t size)
{
    char token[TOKEN_STR_BYTES];
    if (size < TOKEN_RANDOM_BYTES) {
        return;
    }
    memcpy(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    auth_crypto_base64url(token + TOKEN_PREFIX_LEN, sizeof token - TOKEN_PREFIX_LEN, data,
                          TOKEN_RANDOM_BYTES);
    TL_ASSERT(strlen(token) == TOKEN_LEN);
    TL_ASSERT(token_wellformed(token, TOKEN_LEN));
    check_input(token, TOKEN_LEN);
    /* Byte pairs after the secret: (position, replacement). */
    for (size_t i = TOKEN_RANDOM_BYTES; i + 1 < size; i += 2) {
        char edited[TOKEN_STR_BYTES];
        memcpy(edited, token, sizeof edited);
        edited[data[i] % TOKEN_LEN] = (char)data[i + 1];
        check_input(edited, TOKEN_LEN);
    }
    /* Shorter and longer are never tokens. */
    TL_ASSERT(!token_wellformed(token, TOKEN_LEN - 1));
    TL_ASSERT(!token_wellformed(token, TOKEN_LEN + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keys_init();
    check_input((const char *)data, size);
    check_made(data, size);
    return 0;
}
