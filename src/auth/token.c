#include "auth/token.h"

#include <assert.h>
#include <string.h>

#include "auth/auth_crypto.h"
#include "util/assert.h"

static_assert(sizeof(TOKEN_PREFIX) - 1 == TOKEN_PREFIX_LEN, "prefix length");
static_assert(AUTH_CRYPTO_BASE64URL_LEN(TOKEN_RANDOM_BYTES) == TOKEN_BODY_LEN, "body length");
static_assert(TOKEN_SECRET_BYTES_MIN >= AUTH_CRYPTO_HASH_KEY_BYTES_MIN, "BLAKE2b key size");
static_assert(TOKEN_SECRET_BYTES_MAX <= AUTH_CRYPTO_HASH_KEY_BYTES_MAX, "BLAKE2b key size");
static_assert(TOKEN_HASH_BYTES >= AUTH_CRYPTO_HASH_BYTES_MIN, "BLAKE2b output size");
/* 32 bytes = 256 bits = 42 full characters and one that carries 4 bits (its low 2 are zero). */
static_assert(TOKEN_RANDOM_BYTES * 8 == (TOKEN_BODY_LEN - 1) * 6 + 4, "last character bits");

enum tl_err token_key_init(struct token_key *key, const uint8_t *secret, size_t secret_bytes)
{
    if (secret_bytes < TOKEN_SECRET_BYTES_MIN || secret_bytes > TOKEN_SECRET_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    enum tl_err err = auth_crypto_init();
    if (err != TL_OK) {
        return err;
    }
    memset(key->secret, 0, sizeof key->secret);
    memcpy(key->secret, secret, secret_bytes);
    key->secret_bytes = secret_bytes;
    return TL_OK;
}

void token_key_wipe(struct token_key *key)
{
    auth_crypto_wipe(key, sizeof *key);
}

static void token_hash_string(const struct token_key *key, const char *token,
                              struct token_hash *out)
{
    TL_ASSERT(key->secret_bytes >= TOKEN_SECRET_BYTES_MIN);
    TL_ASSERT(key->secret_bytes <= TOKEN_SECRET_BYTES_MAX);
    auth_crypto_keyed_hash(out->bytes, sizeof out->bytes, token, TOKEN_LEN, key->secret,
                           key->secret_bytes);
}

void token_new(const struct token_key *key, char out_token[TOKEN_STR_BYTES],
               struct token_hash *out_hash)
{
    uint8_t random[TOKEN_RANDOM_BYTES];

    auth_crypto_random(random, sizeof random);
    memcpy(out_token, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    auth_crypto_base64url(out_token + TOKEN_PREFIX_LEN, TOKEN_STR_BYTES - TOKEN_PREFIX_LEN, random,
                          sizeof random);
    auth_crypto_wipe(random, sizeof random);
    TL_ASSERT(strlen(out_token) == TOKEN_LEN);
    TL_ASSERT(token_wellformed(out_token, TOKEN_LEN));
    token_hash_string(key, out_token, out_hash);
}

/*
 * 0 if c is a base64url character, non-zero otherwise, without branching on c: the token body is
 * a secret, so how long a check takes must not depend on which characters it holds. When
 * last_char is 1 (it is 0 or 1), also requires the character's low two bits (of its 6-bit value) to
 * be zero, so each 32-byte value has exactly one spelling.
 */
static unsigned token_char_bad(unsigned char c, unsigned last_char)
{
    /* Each range test is (c - low) <= (high - low) done with unsigned wrap-around; mask is
     * all-ones when c is inside. */
    unsigned upper = 0u - (unsigned)((unsigned)(c - 'A') <= 25u);
    unsigned lower = 0u - (unsigned)((unsigned)(c - 'a') <= 25u);
    unsigned digit = 0u - (unsigned)((unsigned)(c - '0') <= 9u);
    unsigned dash = 0u - (unsigned)(c == '-');
    unsigned under = 0u - (unsigned)(c == '_');
    unsigned value = (upper & (unsigned)(c - 'A')) | (lower & (unsigned)(c - 'a' + 26)) |
                     (digit & (unsigned)(c - '0' + 52)) | (dash & 62u) | (under & 63u);
    unsigned valid = upper | lower | digit | dash | under;
    unsigned last_mask = 0u - last_char;
    return (~valid & 1u) | (last_mask & value & 3u);
}

bool token_wellformed(const char *token, size_t token_len)
{
    unsigned bad = 0;
    if (token_len != TOKEN_LEN) {
        return false;
    }
    /* The prefix is public; the body is checked without an early exit. */
    if (memcmp(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0) {
        return false;
    }
    for (size_t i = TOKEN_PREFIX_LEN; i < TOKEN_LEN; i++) {
        bad |= token_char_bad((unsigned char)token[i], i == TOKEN_LEN - 1);
    }
    return bad == 0;
}

enum tl_err token_hash_presented(const struct token_key *key, const char *token, size_t token_len,
                                 struct token_hash *out_hash)
{
    if (!token_wellformed(token, token_len)) {
        return TL_ERR_UNAUTHORIZED;
    }
    token_hash_string(key, token, out_hash);
    return TL_OK;
}

bool token_hash_equal(const struct token_hash *a, const struct token_hash *b)
{
    return auth_crypto_equal(a->bytes, b->bytes, sizeof a->bytes);
}
