#include "auth/auth_crypto.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "util/assert.h"

static_assert(AUTH_CRYPTO_PWHASH_STR_BYTES == crypto_pwhash_STRBYTES, "hash string buffer");
static_assert(AUTH_CRYPTO_HASH_KEY_BYTES_MIN == crypto_generichash_KEYBYTES_MIN, "key min");
static_assert(AUTH_CRYPTO_HASH_KEY_BYTES_MAX == crypto_generichash_KEYBYTES_MAX, "key max");
static_assert(AUTH_CRYPTO_HASH_BYTES_MIN == crypto_generichash_BYTES_MIN, "hash min");
static_assert(AUTH_CRYPTO_HASH_BYTES_MAX == crypto_generichash_BYTES_MAX, "hash max");

enum tl_err auth_crypto_init(void)
{
    /* 0: initialised now, 1: already initialised, -1: cannot run. */
    if (sodium_init() < 0) {
        return TL_ERR_INTERNAL;
    }
    /* The argon2id string prefix and minimum costs are part of our contract with callers. */
    TL_ASSERT(crypto_pwhash_opslimit_min() == AUTH_CRYPTO_PWHASH_OPSLIMIT_MIN);
    TL_ASSERT(crypto_pwhash_memlimit_min() == AUTH_CRYPTO_PWHASH_MEMLIMIT_MIN_BYTES);
    TL_ASSERT(crypto_pwhash_alg_default() == crypto_pwhash_ALG_ARGON2ID13);
    return TL_OK;
}

void auth_crypto_random(void *buf, size_t buf_bytes)
{
    randombytes_buf(buf, buf_bytes);
}

void auth_crypto_wipe(void *buf, size_t buf_bytes)
{
    sodium_memzero(buf, buf_bytes);
}

bool auth_crypto_equal(const void *a, const void *b, size_t bytes)
{
    return sodium_memcmp(a, b, bytes) == 0;
}

enum tl_err auth_crypto_pwhash_str(char out[AUTH_CRYPTO_PWHASH_STR_BYTES], const char *password,
                                   size_t password_bytes, uint64_t opslimit, size_t memlimit_bytes)
{
    TL_ASSERT(opslimit >= crypto_pwhash_OPSLIMIT_MIN);
    TL_ASSERT(memlimit_bytes >= crypto_pwhash_MEMLIMIT_MIN);
    TL_ASSERT(password_bytes <= crypto_pwhash_PASSWD_MAX);
    /* crypto_pwhash_str uses Argon2id v1.3 and writes "$argon2id$v=19$m=..,t=..,p=1$salt$hash". */
    if (crypto_pwhash_str(out, password, password_bytes, opslimit, memlimit_bytes) != 0) {
        return TL_ERR_NOMEM;
    }
    TL_ASSERT(strncmp(out, AUTH_CRYPTO_PWHASH_PREFIX, strlen(AUTH_CRYPTO_PWHASH_PREFIX)) == 0);
    return TL_OK;
}

bool auth_crypto_pwhash_verify(const char *hash_str, const char *password, size_t password_bytes)
{
    return crypto_pwhash_str_verify(hash_str, password, password_bytes) == 0;
}

int auth_crypto_pwhash_needs_rehash(const char *hash_str, uint64_t opslimit, size_t memlimit_bytes)
{
    return crypto_pwhash_str_needs_rehash(hash_str, opslimit, memlimit_bytes);
}

void auth_crypto_keyed_hash(uint8_t *out, size_t out_bytes, const void *in, size_t in_bytes,
                            const uint8_t *key, size_t key_bytes)
{
    TL_ASSERT(out_bytes >= crypto_generichash_BYTES_MIN);
    TL_ASSERT(out_bytes <= crypto_generichash_BYTES_MAX);
    TL_ASSERT(key_bytes >= crypto_generichash_KEYBYTES_MIN);
    TL_ASSERT(key_bytes <= crypto_generichash_KEYBYTES_MAX);
    /* Only fails on out-of-range sizes, which the assertions above rule out. */
    int rc = crypto_generichash(out, out_bytes, in, in_bytes, key, key_bytes);
    TL_ASSERT(rc == 0);
}

void auth_crypto_base64url(char *out, size_t out_bytes, const uint8_t *in, size_t in_bytes)
{
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    TL_ASSERT(out_bytes >= AUTH_CRYPTO_BASE64URL_LEN(in_bytes) + 1);
    TL_ASSERT(sodium_base64_encoded_len(in_bytes, variant) ==
              AUTH_CRYPTO_BASE64URL_LEN(in_bytes) + 1);
    sodium_bin2base64(out, out_bytes, in, in_bytes, variant);
}

static_assert(AUTH_CRYPTO_SEAL_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key");
static_assert(AUTH_CRYPTO_SEAL_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
              "secretbox overhead");

void auth_crypto_seal(uint8_t *out, size_t out_bytes, const uint8_t *in, size_t in_bytes,
                      const uint8_t key[AUTH_CRYPTO_SEAL_KEY_BYTES])
{
    TL_ASSERT(out_bytes >= in_bytes + AUTH_CRYPTO_SEAL_OVERHEAD);
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    /* Cannot fail for in-memory buffers of these sizes. */
    int rc = crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, in, in_bytes, out, key);
    TL_ASSERT(rc == 0);
}

bool auth_crypto_open(uint8_t *out, size_t out_bytes, const uint8_t *in, size_t in_bytes,
                      const uint8_t key[AUTH_CRYPTO_SEAL_KEY_BYTES])
{
    if (in_bytes < AUTH_CRYPTO_SEAL_OVERHEAD || in_bytes - AUTH_CRYPTO_SEAL_OVERHEAD > out_bytes) {
        return false;
    }
    if (crypto_secretbox_open_easy(out, in + crypto_secretbox_NONCEBYTES,
                                   in_bytes - crypto_secretbox_NONCEBYTES, in, key) != 0) {
        sodium_memzero(out, out_bytes);
        return false;
    }
    return true;
}

/* ---- Device keys (api/device_keys.h): Ed25519, SHA-256, standard base64 ---- */

static_assert(AUTH_CRYPTO_ED25519_KEY_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 key");
static_assert(AUTH_CRYPTO_ED25519_SIG_BYTES == crypto_sign_BYTES, "Ed25519 signature");
static_assert(AUTH_CRYPTO_SHA256_BYTES == crypto_hash_sha256_BYTES, "SHA-256");

bool auth_crypto_ed25519_verify(const uint8_t sig[AUTH_CRYPTO_ED25519_SIG_BYTES],
                                const uint8_t *msg, size_t msg_bytes,
                                const uint8_t key[AUTH_CRYPTO_ED25519_KEY_BYTES])
{
    /* libsodium rejects non-canonical signatures and small-order keys (strict RFC 8032). */
    return crypto_sign_verify_detached(sig, msg, msg_bytes, key) == 0;
}

bool auth_crypto_ed25519_key_ok(const uint8_t key[AUTH_CRYPTO_ED25519_KEY_BYTES])
{
    /* A key that is not a valid point, or one of small order, can verify nothing honestly:
     * crypto_sign_ed25519_pk_to_curve25519 refuses both. */
    uint8_t curve[crypto_scalarmult_curve25519_BYTES];
    bool ok = crypto_sign_ed25519_pk_to_curve25519(curve, key) == 0;
    sodium_memzero(curve, sizeof(curve));
    return ok;
}

void auth_crypto_sha256(const void *in, size_t in_bytes, uint8_t out[AUTH_CRYPTO_SHA256_BYTES])
{
    int rc = crypto_hash_sha256(out, in, in_bytes);
    TL_ASSERT(rc == 0);
}

bool auth_crypto_base64_decode(const char *text, size_t text_len, uint8_t *out,
                               size_t out_bytes_max, size_t *out_bytes)
{
    const char *end = NULL;
    size_t bytes = 0;
    if (sodium_base642bin(out, out_bytes_max, text, text_len, NULL, &bytes, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return false;
    }
    if (end != text + text_len) {
        return false; /* trailing bytes */
    }
    *out_bytes = bytes;
    return true;
}

void auth_crypto_base64(char *out, size_t out_bytes, const uint8_t *in, size_t in_bytes)
{
    TL_ASSERT(out_bytes >= AUTH_CRYPTO_BASE64_LEN(in_bytes) + 1);
    sodium_bin2base64(out, out_bytes, in, in_bytes, sodium_base64_VARIANT_ORIGINAL);
}
