/*
 * auth_crypto.h - the auth layer's one door to libsodium.
 *
 * Only auth_crypto.c includes <sodium.h> in src/auth (STYLE: one file per crypto library), so
 * swapping or auditing the library means reading one file. Thin wrappers: each states its
 * failure mode; sizes that only our code chooses are asserted, not returned as errors.
 * auth_crypto_init must have succeeded before any other function here is called; password_ctx_new,
 * token_key_init and throttle_new call it.
 */
#ifndef TL_AUTH_AUTH_CRYPTO_H
#define TL_AUTH_AUTH_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Buffer for an Argon2id hash string with its NUL (libsodium's crypto_pwhash_STRBYTES). */
#define AUTH_CRYPTO_PWHASH_STR_BYTES 128
/* Every string auth_crypto_pwhash_str writes starts with this. */
#define AUTH_CRYPTO_PWHASH_PREFIX "$argon2id$"
/* Bounds of the BLAKE2b key and output sizes auth_crypto_keyed_hash accepts. */
#define AUTH_CRYPTO_HASH_KEY_BYTES_MIN 16
#define AUTH_CRYPTO_HASH_KEY_BYTES_MAX 64
#define AUTH_CRYPTO_HASH_BYTES_MIN 16
#define AUTH_CRYPTO_HASH_BYTES_MAX 64
/* Argon2id cost bounds libsodium accepts. */
#define AUTH_CRYPTO_PWHASH_OPSLIMIT_MIN 1u
#define AUTH_CRYPTO_PWHASH_MEMLIMIT_MIN_BYTES 8192u

/* Initialises libsodium; idempotent and thread-safe. TL_ERR_INTERNAL if it cannot start. */
enum tl_err auth_crypto_init(void);

/* Fills buf with bytes from the OS CSPRNG. Cannot fail. */
void auth_crypto_random(void *buf, size_t buf_bytes);

/* Overwrites buf with zeros in a way the compiler cannot drop. Cannot fail. */
void auth_crypto_wipe(void *buf, size_t buf_bytes);

/* Constant-time equality of two buffers of the same length. Cannot fail. */
bool auth_crypto_equal(const void *a, const void *b, size_t bytes);

/*
 * Hashes password (password_bytes, any bytes) with Argon2id and a random salt into out as a
 * NUL-terminated PHC string carrying its own parameters. TL_ERR_NOMEM if the memory-hard step
 * cannot get memlimit_bytes (libsodium's only runtime failure); out is then undefined.
 */
enum tl_err auth_crypto_pwhash_str(char out[AUTH_CRYPTO_PWHASH_STR_BYTES], const char *password,
                                   size_t password_bytes, uint64_t opslimit, size_t memlimit_bytes);

/* True only if password matches hash_str (NUL-terminated). A malformed string is a mismatch. */
bool auth_crypto_pwhash_verify(const char *hash_str, const char *password, size_t password_bytes);

/* 0 if hash_str is Argon2id with exactly these parameters, 1 if it is Argon2id with other
 * parameters, -1 if it is not an Argon2id string libsodium can parse. Cannot fail. */
int auth_crypto_pwhash_needs_rehash(const char *hash_str, uint64_t opslimit, size_t memlimit_bytes);

/* Keyed BLAKE2b of in into out (out_bytes and key_bytes within the bounds above, asserted).
 * Cannot fail. */
void auth_crypto_keyed_hash(uint8_t *out, size_t out_bytes, const void *in, size_t in_bytes,
                            const uint8_t *key, size_t key_bytes);

/* Authenticated encryption (XSalsa20-Poly1305, libsodium secretbox) with a random nonce in
 * front: a sealed message is AUTH_CRYPTO_SEAL_OVERHEAD bytes longer than its plaintext. */
#define AUTH_CRYPTO_SEAL_KEY_BYTES 32
#define AUTH_CRYPTO_SEAL_OVERHEAD (24 + 16)
/* Seals in into out (out_bytes >= in_bytes + AUTH_CRYPTO_SEAL_OVERHEAD, asserted). Cannot fail. */
void auth_crypto_seal(uint8_t *out, size_t out_bytes, const uint8_t *in, size_t in_bytes,
                      const uint8_t key[AUTH_CRYPTO_SEAL_KEY_BYTES]);
/* Opens a sealed message into out (in_bytes - AUTH_CRYPTO_SEAL_OVERHEAD bytes). False when it
 * is too short, does not fit out_bytes, or fails authentication (out is then wiped). */
bool auth_crypto_open(uint8_t *out, size_t out_bytes, const uint8_t *in, size_t in_bytes,
                      const uint8_t key[AUTH_CRYPTO_SEAL_KEY_BYTES]);

/* Characters base64url without padding needs for in_bytes bytes (no NUL). */
#define AUTH_CRYPTO_BASE64URL_LEN(in_bytes) (((in_bytes)*4 + 2) / 3)

/* Writes in as base64url without padding plus a NUL into out; out_bytes must be at least
 * AUTH_CRYPTO_BASE64URL_LEN(in_bytes) + 1 (asserted). Constant time. Cannot fail. */
void auth_crypto_base64url(char *out, size_t out_bytes, const uint8_t *in, size_t in_bytes);

/* ---- End-to-end encrypted notes (api/notes.h): standard base64 and X25519 public keys ---- */

/* Characters standard base64 with padding (RFC 4648 section 4) needs for in_bytes bytes. */
#define AUTH_CRYPTO_BASE64_LEN(in_bytes) ((((in_bytes) + 2) / 3) * 4)
/* Writes in as standard base64 with padding plus a NUL into out; out_bytes at least
 * AUTH_CRYPTO_BASE64_LEN(in_bytes) + 1 (asserted). Constant time. Cannot fail. */
void auth_crypto_base64(char *out, size_t out_bytes, const uint8_t *in, size_t in_bytes);
/* Decodes standard base64 with padding, canonical only (no whitespace, no other alphabet,
 * zero padding bits), into out. False when text is not that or decodes to more than out_bytes
 * bytes; *decoded_bytes is set on true. Cannot fail otherwise. */
bool auth_crypto_base64_decode(uint8_t *out, size_t out_bytes, const char *text,
                               size_t text_bytes, size_t *decoded_bytes);

/* Bytes of an X25519 public key and the overhead of a libsodium sealed box
 * (crypto_box_seal: an ephemeral public key and a Poly1305 tag). */
#define AUTH_CRYPTO_X25519_KEY_BYTES 32
#define AUTH_CRYPTO_SEALED_BOX_OVERHEAD 48
/* False for a key no box can be sealed to: one of small order (including all zeros), whose
 * shared secret with any secret key is all zeros. Constant time. Cannot fail. */
bool auth_crypto_x25519_key_usable(const uint8_t key[AUTH_CRYPTO_X25519_KEY_BYTES]);

/* ---- Device keys: Ed25519 signatures (RFC 8032), SHA-256, standard base64 (RFC 4648 4) ---- */
#define AUTH_CRYPTO_ED25519_KEY_BYTES 32
#define AUTH_CRYPTO_ED25519_SIG_BYTES 64
#define AUTH_CRYPTO_SHA256_BYTES 32
/* True when sig is key's valid detached Ed25519 signature of msg. Cannot fail otherwise. */
bool auth_crypto_ed25519_verify(const uint8_t sig[AUTH_CRYPTO_ED25519_SIG_BYTES],
                                const uint8_t *msg, size_t msg_bytes,
                                const uint8_t key[AUTH_CRYPTO_ED25519_KEY_BYTES]);
/* True when key is a valid Ed25519 point that is not of small order. Cannot fail. */
bool auth_crypto_ed25519_key_ok(const uint8_t key[AUTH_CRYPTO_ED25519_KEY_BYTES]);
/* SHA-256 of in. Cannot fail. */
void auth_crypto_sha256(const void *in, size_t in_bytes, uint8_t out[AUTH_CRYPTO_SHA256_BYTES]);
/* Standard base64: auth_crypto_base64 and auth_crypto_base64_decode above. */

#endif
