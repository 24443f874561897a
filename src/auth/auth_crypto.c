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

/* ---- End-to-end encrypted notes ---- */

static_assert(AUTH_CRYPTO_X25519_KEY_BYTES == crypto_box_PUBLICKEYBYTES, "X25519 public key");
static_assert(AUTH_CRYPTO_X25519_KEY_BYTES == crypto_scalarmult_BYTES, "X25519 point");
static_assert(AUTH_CRYPTO_SEALED_BOX_OVERHEAD == crypto_box_SEALBYTES, "sealed box overhead");

void auth_crypto_base64(char *out, size_t out_bytes, const uint8_t *in, size_t in_bytes)
{
    const int variant = sodium_base64_VARIANT_ORIGINAL;
    TL_ASSERT(out_bytes >= AUTH_CRYPTO_BASE64_LEN(in_bytes) + 1);
    TL_ASSERT(sodium_base64_encoded_len(in_bytes, variant) == AUTH_CRYPTO_BASE64_LEN(in_bytes) + 1);
    sodium_bin2base64(out, out_bytes, in, in_bytes, variant);
}

bool auth_crypto_base64_decode(uint8_t *out, size_t out_bytes, const char *text,
                               size_t text_bytes, size_t *decoded_bytes)
{
    const char *end = NULL;
    size_t bytes = 0;
    /* Padding makes every valid text a multiple of 4 characters; libsodium checks the
     * alphabet, the padding and that the unused bits are zero. */
    if (text_bytes == 0 || text_bytes % 4 != 0) {
        return false;
    }
    if (sodium_base642bin(out, out_bytes, text, text_bytes, NULL, &bytes, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return false;
    }
    if (end != text + text_bytes) {
        return false;
    }
    *decoded_bytes = bytes;
    return true;
}

bool auth_crypto_x25519_key_usable(const uint8_t key[AUTH_CRYPTO_X25519_KEY_BYTES])
{
    /* Any clamped scalar is a multiple of the cofactor, so a small-order point gives the
     * all-zero result, which crypto_scalarmult reports as -1. */
    static const uint8_t scalar[crypto_scalarmult_SCALARBYTES] = {
        0x40, 0x1f, 0x5e, 0x27, 0x9a, 0x31, 0xc4, 0x02, 0x6d, 0x88, 0x13, 0xb5, 0x77, 0x0e, 0xe9, 0x4c,
        0x21, 0x90, 0x3a, 0xd6, 0x58, 0x0b, 0x6f, 0xa2, 0x15, 0xc3, 0x84, 0x39, 0x7d, 0xe0, 0x62, 0x51,
    };
    uint8_t shared[crypto_scalarmult_BYTES];
    bool usable = crypto_scalarmult(shared, scalar, key) == 0;
    sodium_memzero(shared, sizeof(shared));
    return usable;
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
