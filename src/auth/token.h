/*
 * token.h - session tokens: random bearer secrets the server stores only as keyed hashes.
 *
 * A token is "tly_" followed by 32 random bytes in base64url without padding (43 characters),
 * 47 characters in all. The prefix lets secret scanners and people recognise a leaked Tally
 * token. The server keeps only token_hash(token) = BLAKE2b-256 keyed with the server's token
 * secret: a copy of the sessions table is useless without the secret, and finding a session is
 * a lookup by hash, not a comparison of secrets.
 *
 * token_hash_presented does the same work for every well-formed token and rejects malformed
 * input after looking at its length and characters only, so timing tells a client nothing but
 * whether what it sent had the right shape (which it already knows). Hashes are compared with
 * token_hash_equal (constant time). This module never logs a token and never sees the store.
 */
#ifndef TL_AUTH_TOKEN_H
#define TL_AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define TOKEN_PREFIX "tly_"
#define TOKEN_PREFIX_LEN 4
#define TOKEN_RANDOM_BYTES 32
/* 32 bytes in base64url without padding. */
#define TOKEN_BODY_LEN 43
#define TOKEN_LEN (TOKEN_PREFIX_LEN + TOKEN_BODY_LEN)
/* Buffer for a token string with its NUL. */
#define TOKEN_STR_BYTES (TOKEN_LEN + 1)
#define TOKEN_HASH_BYTES 32
/* The server secret that keys the hash: 32 to 64 bytes from the config. */
#define TOKEN_SECRET_BYTES_MIN 32
#define TOKEN_SECRET_BYTES_MAX 64

struct token_hash {
    uint8_t bytes[TOKEN_HASH_BYTES];
};

/* The server's hashing key; the caller owns it (usually one for the process). */
struct token_key {
    uint8_t secret[TOKEN_SECRET_BYTES_MAX];
    size_t secret_bytes;
};

/*
 * Copies secret into *key. TL_ERR_LIMIT if secret_bytes is outside
 * [TOKEN_SECRET_BYTES_MIN, TOKEN_SECRET_BYTES_MAX]; TL_ERR_INTERNAL if libsodium cannot start.
 * *key is untouched on error. Wipe with token_key_wipe when done.
 */
enum tl_err token_key_init(struct token_key *key, const uint8_t *secret, size_t secret_bytes);

/* Zeroes the key. Cannot fail. */
void token_key_wipe(struct token_key *key);

/*
 * Makes a new token: writes the string to give the client (NUL-terminated) into out_token and
 * the hash to store into *out_hash. Cannot fail.
 */
void token_new(const struct token_key *key, char out_token[TOKEN_STR_BYTES],
               struct token_hash *out_hash);

/* True if token (token_len bytes, no NUL needed) has the shape of a token. Cannot fail. */
bool token_wellformed(const char *token, size_t token_len);

/*
 * Hashes a token a client presented, to look its session up. TL_OK with *out_hash filled, or
 * TL_ERR_UNAUTHORIZED (with *out_hash untouched) if it is not shaped like a token.
 */
enum tl_err token_hash_presented(const struct token_key *key, const char *token, size_t token_len,
                                 struct token_hash *out_hash);

/* Constant-time comparison of two token hashes. Cannot fail. */
bool token_hash_equal(const struct token_hash *a, const struct token_hash *b);

#endif
