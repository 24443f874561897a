/*
 * throttle.h - per-account login throttling, in memory.
 *
 * Two rules per account (the caller picks the account key: user id bytes, or the normalised
 * login when no user matched, so guessing at unknown accounts is throttled too):
 *   - exponential backoff: the first 5 consecutive failures are free; after failure number
 *     n >= 5 the next attempt waits 2^(n-5) s (1 s, 2 s, 4 s, ...), at most 15 min;
 *   - at most 100 failures in any rolling hour (failure times kept to the second).
 * A success resets the consecutive count (and so the backoff) but not the hourly count. An hour
 * with no failure also resets the consecutive count, so a returning user starts afresh.
 *
 * Use: call throttle_attempt before checking the password. If it allows the attempt, the attempt
 * already counts as a failure; call throttle_succeeded if the password was right. Counting first
 * means concurrent attempts cannot all slip through before any failure is recorded, and an
 * attempt that ends in an error counts against the account rather than for it.
 *
 * Bounds: a fixed table of accounts (THROTTLE_ACCOUNTS_DEFAULT), 8-way set-associative on a
 * keyed hash of the account key. A new account takes a free or idle slot of its set, else the
 * slot whose last failure is oldest (counted in throttle_evictions). Because the hash key is
 * random per process, a client cannot aim at one account's set: pushing a victim out takes
 * failures on the order of the table size within the hour, each paying for an Argon2id hash;
 * per-address limits belong to the API layer in front. State is not persisted: a restart
 * forgets every count (an attacker gains at most one fresh set of free attempts per restart).
 *
 * Thread-safe: one mutex around the table; hashing the key happens outside it.
 */
#ifndef TL_AUTH_THROTTLE_H
#define TL_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define THROTTLE_FREE_FAILURES 5
#define THROTTLE_BACKOFF_BASE_MS 1000u
#define THROTTLE_BACKOFF_MAX_MS (15u * 60u * 1000u)
#define THROTTLE_WINDOW_S 3600u
#define THROTTLE_WINDOW_FAILURES_MAX 100
#define THROTTLE_ACCOUNTS_DEFAULT 32768u
#define THROTTLE_ACCOUNTS_MIN 8u
#define THROTTLE_ACCOUNTS_MAX (1u << 20)

/* Milliseconds on a clock that never goes back (CLOCK_MONOTONIC by default). */
typedef uint64_t (*throttle_clock_fn)(void *clock_ctx);

struct throttle_config {
    size_t accounts_max;        /* rounded up to a power of two */
    throttle_clock_fn clock_ms; /* NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
};

/* THROTTLE_ACCOUNTS_DEFAULT accounts and the monotonic clock. Cannot fail. */
void throttle_config_default(struct throttle_config *out);

struct throttle;

/*
 * Makes a throttle table (about 450 bytes per account slot). On success *out owns it (free with
 * throttle_free). Errors: TL_ERR_LIMIT if accounts_max is outside
 * [THROTTLE_ACCOUNTS_MIN, THROTTLE_ACCOUNTS_MAX]; TL_ERR_NOMEM; TL_ERR_INTERNAL if libsodium
 * cannot start. *out is untouched on error.
 */
enum tl_err throttle_new(const struct throttle_config *config, struct throttle **out);

/* Frees the table; NULL is a no-op. */
void throttle_free(struct throttle *t);

/*
 * Asks whether account (account_bytes bytes, any content) may try a password now. TL_OK: go
 * ahead; the attempt is counted as a failure until throttle_succeeded. TL_ERR_RATE_LIMITED:
 * not now, and *retry_after_s (at least 1) says when; nothing is counted.
 */
enum tl_err throttle_attempt(struct throttle *t, const void *account, size_t account_bytes,
                             uint32_t *retry_after_s);

/* The attempt throttle_attempt allowed was right: uncounts it and resets the consecutive count.
 * Cannot fail (an account that is no longer in the table is left alone). */
void throttle_succeeded(struct throttle *t, const void *account, size_t account_bytes);

/* Accounts pushed out of the table while they still had live state. Cannot fail. */
uint64_t throttle_evictions(struct throttle *t);

#endif
