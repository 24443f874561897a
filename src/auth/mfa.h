/*
 * mfa.h - the secrets of the second factor: sealed TOTP secrets, recovery codes, login
 * challenges.
 *
 * Keys: one struct mfa_key per process, derived from the server secret (data dir secret.key)
 * with keyed BLAKE2b and a label per use, so a copy of the database alone opens nothing:
 *   - seal: a TOTP secret is stored sealed (libsodium secretbox, random nonce) under a key
 *     derived again per user (seal key, user id), so a sealed secret copied into another user's
 *     row does not open;
 *   - hash: recovery codes and challenges are stored only as keyed BLAKE2b-256 hashes (they
 *     carry 50 and 256 random bits: a fast keyed hash is enough, as for session tokens).
 * Recovery codes are 10 base32 characters shown as "xxxxx-xxxxx" (lower case); what a user
 * types back is normalised (case, '-' and spaces ignored). A challenge is "mfa_" plus 32 random
 * bytes in base64url. This module never logs, stores or sees the store; callers never log
 * what it returns.
 */
#ifndef TL_AUTH_MFA_H
#define TL_AUTH_MFA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/totp.h"
#include "util/err.h"
#include "util/id128.h"

#define MFA_KEY_BYTES 32
#define MFA_HASH_BYTES 32
/* A sealed TOTP secret: nonce, MAC, secret. */
#define MFA_SEALED_BYTES_MAX (24 + 16 + TOTP_SECRET_BYTES_MAX)
#define MFA_RECOVERY_CODE_COUNT 10
#define MFA_RECOVERY_CODE_CHARS 10 /* base32 characters: 50 bits */
/* "xxxxx-xxxxx" and NUL. */
#define MFA_RECOVERY_CODE_STR_BYTES (MFA_RECOVERY_CODE_CHARS + 2)
/* What a client may send as a recovery code (spaces and dashes allowed). */
#define MFA_RECOVERY_CODE_INPUT_BYTES_MAX 32
#define MFA_CHALLENGE_PREFIX "mfa_"
#define MFA_CHALLENGE_LEN (4 + 43)
#define MFA_CHALLENGE_STR_BYTES (MFA_CHALLENGE_LEN + 1)

struct mfa_key {
    uint8_t seal[MFA_KEY_BYTES];
    uint8_t hash[MFA_KEY_BYTES];
};

/* Derives both keys from the server secret (16..64 bytes, asserted). TL_ERR_INTERNAL when
 * libsodium cannot start. Wipe with mfa_key_wipe. */
enum tl_err mfa_key_derive(const uint8_t *secret, size_t secret_bytes, struct mfa_key *out);
void mfa_key_wipe(struct mfa_key *key);

/* A new random TOTP secret. Cannot fail. */
void mfa_totp_secret_new(uint8_t out[TOTP_SECRET_BYTES]);
/* Seals secret for user into out (MFA_SEALED_BYTES_MAX); *out_bytes its length. Cannot fail. */
void mfa_totp_seal(const struct mfa_key *key, struct id128 user_id, const uint8_t *secret,
                   size_t secret_bytes, uint8_t out[MFA_SEALED_BYTES_MAX], size_t *out_bytes);
/* Opens a sealed secret of user. TL_ERR_CORRUPT when it does not open (another user's row, a
 * changed server secret, a damaged row); out is then wiped. */
enum tl_err mfa_totp_open(const struct mfa_key *key, struct id128 user_id, const uint8_t *sealed,
                          size_t sealed_bytes, uint8_t out[TOTP_SECRET_BYTES_MAX],
                          size_t *out_bytes);

/* MFA_RECOVERY_CODE_COUNT new codes to show once, and their hashes to store. Cannot fail. */
void mfa_recovery_codes_new(const struct mfa_key *key, struct id128 user_id,
                            char out_codes[MFA_RECOVERY_CODE_COUNT][MFA_RECOVERY_CODE_STR_BYTES],
                            uint8_t out_hashes[MFA_RECOVERY_CODE_COUNT][MFA_HASH_BYTES]);
/* The hash of a code a user typed. TL_ERR_INVALID_REQUEST when it cannot be a code. */
enum tl_err mfa_recovery_code_hash(const struct mfa_key *key, struct id128 user_id,
                                   const char *code, size_t code_len, uint8_t out[MFA_HASH_BYTES]);

/* A new challenge string and its hash to store. Cannot fail. */
void mfa_challenge_new(const struct mfa_key *key, char out[MFA_CHALLENGE_STR_BYTES],
                       uint8_t out_hash[MFA_HASH_BYTES]);
/* The hash of a challenge a client sent. TL_ERR_UNAUTHORIZED when it is not shaped like one. */
enum tl_err mfa_challenge_hash(const struct mfa_key *key, const char *challenge, size_t len,
                               uint8_t out[MFA_HASH_BYTES]);

#endif
