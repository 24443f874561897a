#include "auth/mfa.h"

#include <assert.h>
#include <string.h>

#include "auth/auth_crypto.h"
#include "util/assert.h"

static_assert(MFA_SEALED_BYTES_MAX == AUTH_CRYPTO_SEAL_OVERHEAD + TOTP_SECRET_BYTES_MAX,
              "sealed size");
static_assert(MFA_KEY_BYTES == AUTH_CRYPTO_SEAL_KEY_BYTES, "seal key size");
static_assert(AUTH_CRYPTO_BASE64URL_LEN(32) + 4 == MFA_CHALLENGE_LEN, "challenge length");

#define MFA_LABEL_SEAL "tally mfa totp seal v1"
#define MFA_LABEL_HASH "tally mfa hash v1"

enum tl_err mfa_key_derive(const uint8_t *secret, size_t secret_bytes, struct mfa_key *out)
{
    TL_ASSERT(secret_bytes >= AUTH_CRYPTO_HASH_KEY_BYTES_MIN);
    TL_ASSERT(secret_bytes <= AUTH_CRYPTO_HASH_KEY_BYTES_MAX);
    enum tl_err err = auth_crypto_init();
    if (err != TL_OK) {
        return err;
    }
    auth_crypto_keyed_hash(out->seal, sizeof(out->seal), MFA_LABEL_SEAL, sizeof(MFA_LABEL_SEAL) - 1,
                           secret, secret_bytes);
    auth_crypto_keyed_hash(out->hash, sizeof(out->hash), MFA_LABEL_HASH, sizeof(MFA_LABEL_HASH) - 1,
                           secret, secret_bytes);
    return TL_OK;
}

void mfa_key_wipe(struct mfa_key *key)
{
    auth_crypto_wipe(key, sizeof(*key));
}

void mfa_totp_secret_new(uint8_t out[TOTP_SECRET_BYTES])
{
    auth_crypto_random(out, TOTP_SECRET_BYTES);
}

/* The per-user sealing key: BLAKE2b keyed with the seal key over the user id. */
static void mfa_user_key(const struct mfa_key *key, struct id128 user_id,
                         uint8_t out[MFA_KEY_BYTES])
{
    uint8_t id[ID128_BYTES];
    id128_to_bytes(user_id, id);
    auth_crypto_keyed_hash(out, MFA_KEY_BYTES, id, sizeof(id), key->seal, sizeof(key->seal));
}

void mfa_totp_seal(const struct mfa_key *key, struct id128 user_id, const uint8_t *secret,
                   size_t secret_bytes, uint8_t out[MFA_SEALED_BYTES_MAX], size_t *out_bytes)
{
    uint8_t user_key[MFA_KEY_BYTES];
    TL_ASSERT(secret_bytes > 0 && secret_bytes <= TOTP_SECRET_BYTES_MAX);
    mfa_user_key(key, user_id, user_key);
    auth_crypto_seal(out, MFA_SEALED_BYTES_MAX, secret, secret_bytes, user_key);
    auth_crypto_wipe(user_key, sizeof(user_key));
    *out_bytes = secret_bytes + AUTH_CRYPTO_SEAL_OVERHEAD;
}

enum tl_err mfa_totp_open(const struct mfa_key *key, struct id128 user_id, const uint8_t *sealed,
                          size_t sealed_bytes, uint8_t out[TOTP_SECRET_BYTES_MAX],
                          size_t *out_bytes)
{
    uint8_t user_key[MFA_KEY_BYTES];
    mfa_user_key(key, user_id, user_key);
    bool ok = sealed_bytes > AUTH_CRYPTO_SEAL_OVERHEAD &&
              auth_crypto_open(out, TOTP_SECRET_BYTES_MAX, sealed, sealed_bytes, user_key);
    auth_crypto_wipe(user_key, sizeof(user_key));
    if (!ok) {
        auth_crypto_wipe(out, TOTP_SECRET_BYTES_MAX);
        return TL_ERR_CORRUPT;
    }
    *out_bytes = sealed_bytes - AUTH_CRYPTO_SEAL_OVERHEAD;
    return TL_OK;
}

/* Hash of a normalised code (MFA_RECOVERY_CODE_CHARS lower-case base32 characters), bound to
 * the user. */
static void mfa_recovery_hash_normal(const struct mfa_key *key, struct id128 user_id,
                                     const char normal[MFA_RECOVERY_CODE_CHARS],
                                     uint8_t out[MFA_HASH_BYTES])
{
    uint8_t message[ID128_BYTES + MFA_RECOVERY_CODE_CHARS];
    id128_to_bytes(user_id, message);
    memcpy(message + ID128_BYTES, normal, MFA_RECOVERY_CODE_CHARS);
    auth_crypto_keyed_hash(out, MFA_HASH_BYTES, message, sizeof(message), key->hash,
                           sizeof(key->hash));
    auth_crypto_wipe(message, sizeof(message));
}

void mfa_recovery_codes_new(const struct mfa_key *key, struct id128 user_id,
                            char out_codes[MFA_RECOVERY_CODE_COUNT][MFA_RECOVERY_CODE_STR_BYTES],
                            uint8_t out_hashes[MFA_RECOVERY_CODE_COUNT][MFA_HASH_BYTES])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    for (size_t i = 0; i < MFA_RECOVERY_CODE_COUNT; i++) {
        uint8_t random[MFA_RECOVERY_CODE_CHARS];
        char normal[MFA_RECOVERY_CODE_CHARS];
        auth_crypto_random(random, sizeof(random));
        for (size_t j = 0; j < MFA_RECOVERY_CODE_CHARS; j++) {
            normal[j] = alphabet[random[j] & 31u]; /* 256 is a multiple of 32: no bias */
        }
        memcpy(out_codes[i], normal, 5);
        out_codes[i][5] = '-';
        memcpy(out_codes[i] + 6, normal + 5, 5);
        out_codes[i][11] = '\0';
        mfa_recovery_hash_normal(key, user_id, normal, out_hashes[i]);
        auth_crypto_wipe(random, sizeof(random));
        auth_crypto_wipe(normal, sizeof(normal));
    }
}

enum tl_err mfa_recovery_code_hash(const struct mfa_key *key, struct id128 user_id,
                                   const char *code, size_t code_len, uint8_t out[MFA_HASH_BYTES])
{
    char normal[MFA_RECOVERY_CODE_CHARS];
    size_t n = 0;
    if (code_len > MFA_RECOVERY_CODE_INPUT_BYTES_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    for (size_t i = 0; i < code_len; i++) {
        char c = code[i];
        if (c == '-' || c == ' ') {
            continue;
        }
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
        if (!ok || n == MFA_RECOVERY_CODE_CHARS) {
            return TL_ERR_INVALID_REQUEST;
        }
        normal[n++] = c;
    }
    if (n != MFA_RECOVERY_CODE_CHARS) {
        return TL_ERR_INVALID_REQUEST;
    }
    mfa_recovery_hash_normal(key, user_id, normal, out);
    auth_crypto_wipe(normal, sizeof(normal));
    return TL_OK;
}

static void mfa_challenge_hash_text(const struct mfa_key *key, const char *text,
                                    uint8_t out[MFA_HASH_BYTES])
{
    auth_crypto_keyed_hash(out, MFA_HASH_BYTES, text, MFA_CHALLENGE_LEN, key->hash,
                           sizeof(key->hash));
}

void mfa_challenge_new(const struct mfa_key *key, char out[MFA_CHALLENGE_STR_BYTES],
                       uint8_t out_hash[MFA_HASH_BYTES])
{
    uint8_t random[32];
    auth_crypto_random(random, sizeof(random));
    memcpy(out, MFA_CHALLENGE_PREFIX, 4);
    auth_crypto_base64url(out + 4, MFA_CHALLENGE_STR_BYTES - 4, random, sizeof(random));
    auth_crypto_wipe(random, sizeof(random));
    TL_ASSERT(strlen(out) == MFA_CHALLENGE_LEN);
    mfa_challenge_hash_text(key, out, out_hash);
}

enum tl_err mfa_challenge_hash(const struct mfa_key *key, const char *challenge, size_t len,
                               uint8_t out[MFA_HASH_BYTES])
{
    if (len != MFA_CHALLENGE_LEN || memcmp(challenge, MFA_CHALLENGE_PREFIX, 4) != 0) {
        return TL_ERR_UNAUTHORIZED;
    }
    for (size_t i = 4; i < len; i++) {
        char c = challenge[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok) {
            return TL_ERR_UNAUTHORIZED;
        }
    }
    mfa_challenge_hash_text(key, challenge, out);
    return TL_OK;
}
