/*
 * password.h - password policy, Argon2id hashing and verification.
 *
 * Policy (password_policy_check, for every new password): valid UTF-8, 12 to 1024 characters
 * counted in Unicode code points, and not in the common-password list (ASCII case ignored).
 * Any code point is allowed, spaces included; nothing is trimmed, normalised or truncated: the
 * exact bytes the client sent are hashed. (No Unicode normalisation: a client that sends NFD
 * once and NFC later sends two different passwords. Clients should send what the user typed.)
 *
 * Hashing is Argon2id through libsodium with a random salt; the stored string carries its own
 * parameters, so raising the cost later only makes old hashes "need rehash" (rehash at the next
 * successful login). The default cost, and why, is next to PASSWORD_OPSLIMIT_DEFAULT.
 *
 * A struct password_ctx holds the cost, the common-password set and a dummy hash; it is
 * read-only after password_ctx_new, so threads share one. This module never sees users, the
 * store or HTTP, and never logs a password.
 */
#ifndef TL_AUTH_PASSWORD_H
#define TL_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/fault.h"
#include "util/err.h"

#define PASSWORD_CODEPOINTS_MIN 12
#define PASSWORD_CODEPOINTS_MAX 1024
/* UTF-8 needs at most 4 bytes per code point; longer input is rejected before decoding. */
#define PASSWORD_BYTES_MAX (PASSWORD_CODEPOINTS_MAX * 4)
/* Buffer for a stored hash string with its NUL ("$argon2id$v=19$m=65536,t=2,p=1$...$..."). */
#define PASSWORD_HASH_STR_BYTES 128

/*
 * Default Argon2id cost: libsodium's "interactive" level, t = 2 passes over m = 64 MiB, p = 1.
 * About 64 ms on one core of our 2-core machines (measured on the dev box's AMD EPYC), so one
 * core does about 15 logins per second. Logins are rare next to payments (a session token
 * lasts days), throttle.h caps guesses per account, and the login handler should let at most
 * one hash run at a time so the other core always serves payments. Cheaper settings (OWASP's
 * floor, 19 MiB and t = 2, about 16 ms) make a stolen hash table 3-4 times cheaper to attack;
 * libsodium's "moderate" (256 MiB, t = 3, about 400 ms) would let a burst of logins starve both
 * cores. Tests use password_cost_min().
 */
#define PASSWORD_OPSLIMIT_DEFAULT 2u
#define PASSWORD_MEMLIMIT_BYTES_DEFAULT (64u * 1024u * 1024u)
/* Bounds a configured cost must stay within (the upper ones are libsodium's "sensitive"). */
#define PASSWORD_OPSLIMIT_MAX 4u
#define PASSWORD_MEMLIMIT_BYTES_MAX (1024u * 1024u * 1024u)

struct password_cost {
    uint64_t opslimit;     /* Argon2 t: passes over memory */
    size_t memlimit_bytes; /* Argon2 m: memory one hash fills */
};

struct password_config {
    struct password_cost cost;
    /* A list file to load instead of the list embedded at build time; NULL for the embedded. */
    const char *common_list_path;
};

/* The production cost above. Cannot fail. */
struct password_cost password_cost_default(void);
/* libsodium's minimum cost (t = 1, 8 KiB): for tests only, never for stored passwords. */
struct password_cost password_cost_min(void);
/* Default cost and the embedded list. Cannot fail. */
void password_config_default(struct password_config *out);

struct password_ctx;

/*
 * Loads the common-password list, and hashes a random password with the configured cost to
 * serve password_verify_dummy (one hash at startup). On success *out owns the context (free with
 * password_ctx_free). Errors: TL_ERR_LIMIT if the cost is outside the bounds above or the list
 * is over its limits; TL_ERR_IO if the list file cannot be read; TL_ERR_NOMEM; TL_ERR_INTERNAL
 * if libsodium cannot start. *out is untouched on error.
 */
enum tl_err password_ctx_new(const struct password_config *config, struct password_ctx **out);

/* Frees the context; NULL is a no-op. */
void password_ctx_free(struct password_ctx *ctx);

/* Entries in the loaded common-password list. Cannot fail. */
size_t password_ctx_common_count(const struct password_ctx *ctx);

/*
 * Checks a new password against the policy. TL_OK, or TL_ERR_INVALID_REQUEST with *fault (if
 * not NULL) set to param "password" and reason "invalid_utf8", "too_short", "too_long" or
 * "too_common".
 */
enum tl_err password_policy_check(const struct password_ctx *ctx, const char *password,
                                  size_t password_bytes, struct auth_fault *fault);

/*
 * Hashes password (password_bytes bytes) into out, a NUL-terminated Argon2id string to store.
 * Does not apply the policy (so a login can rehash an old password that a newer policy would
 * refuse): callers setting a new password call password_policy_check first. Errors:
 * TL_ERR_INVALID_REQUEST if password_bytes > PASSWORD_BYTES_MAX; TL_ERR_NOMEM. out is undefined
 * on error.
 */
enum tl_err password_hash(const struct password_ctx *ctx, const char *password,
                          size_t password_bytes, char out[PASSWORD_HASH_STR_BYTES]);

/*
 * Checks password against a stored hash string (NUL-terminated). TL_OK if it matches;
 * TL_ERR_UNAUTHORIZED if it does not (or password_bytes > PASSWORD_BYTES_MAX); TL_ERR_CORRUPT if
 * the stored string is not an Argon2id hash string (a store problem, worth logging).
 */
enum tl_err password_verify(const struct password_ctx *ctx, const char *stored_hash,
                            const char *password, size_t password_bytes);

/*
 * For a login naming no known user: does the same work as password_verify against a real hash
 * (a hash of a random password made at startup with the current cost), so "no such user" and
 * "wrong password" take about the same time. Always returns TL_ERR_UNAUTHORIZED.
 */
enum tl_err password_verify_dummy(const struct password_ctx *ctx, const char *password,
                                  size_t password_bytes);

/* True if stored_hash was made with another algorithm or cost than ctx's (or is unreadable):
 * after a successful login, hash the password again and store the new string. Cannot fail. */
bool password_needs_rehash(const struct password_ctx *ctx, const char *stored_hash);

#endif
