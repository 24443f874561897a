/*
 * ratelimit.h - token buckets keyed by a short string (client address, user id).
 *
 * Each table holds one bucket per key: it refills at per_min tokens a minute up to burst, and
 * every request takes one token; an empty bucket answers "limited, retry after N seconds".
 * Memory is fixed when the table is made: keys live in sets of RATELIMIT_WAYS slots chosen by
 * hash, and a new key in a full set evicts the slot seen least recently (the fullest bucket,
 * which a new key would get anyway). Thread-safe with striped mutexes: callers on different
 * sets never contend.
 *
 * Time is passed in (now_ns, monotonic), so tests drive the clock. Never allocates after
 * ratelimit_new and never fails a request for its own reasons: a table that cannot track a key
 * lets the request through.
 */
#ifndef TL_API_RATELIMIT_H
#define TL_API_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define RATELIMIT_WAYS 8

struct ratelimit_config {
    uint32_t per_min;  /* refill rate, 1..TL_RATELIMIT_PER_MIN_MAX tokens a minute */
    uint32_t burst;    /* bucket size, 1..TL_RATELIMIT_BURST_MAX */
    uint32_t keys_max; /* RATELIMIT_WAYS..TL_RATELIMIT_KEYS_MAX; rounded up to a power of 2 */
};

struct ratelimit;

/* TL_ERR_INVALID_REQUEST for a config out of bounds, TL_ERR_NOMEM; *out set only on TL_OK. */
enum tl_err ratelimit_new(const struct ratelimit_config *config, struct ratelimit **out);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes one token from key's bucket at now_ns. Returns true when allowed; false when the
 * bucket is empty, with *retry_after_s (>= 1) the whole seconds until a token is back.
 * Keys longer than TL_RATELIMIT_KEY_BYTES_MAX are compared by their first bytes and hash.
 */
bool ratelimit_take(struct ratelimit *rl, const char *key, size_t key_len, uint64_t now_ns,
                    uint32_t *retry_after_s);

#endif
