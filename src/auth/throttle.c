#include "auth/throttle.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_crypto.h"
#include "util/assert.h"

#define THROTTLE_WAYS 8u
#define THROTTLE_KEY_BYTES 16
#define THROTTLE_HASH_KEY_BYTES 32

static_assert((THROTTLE_ACCOUNTS_MIN & (THROTTLE_ACCOUNTS_MIN - 1)) == 0, "power of two");
static_assert(THROTTLE_ACCOUNTS_MIN >= THROTTLE_WAYS, "at least one set");
static_assert(THROTTLE_WINDOW_FAILURES_MAX <= UINT16_MAX, "ring indexes are 16 bits");
static_assert(THROTTLE_BACKOFF_BASE_MS <= THROTTLE_BACKOFF_MAX_MS, "backoff bounds");
static_assert(THROTTLE_BACKOFF_MAX_MS < THROTTLE_WINDOW_S * 1000u,
              "a backoff ends before the hour that resets the consecutive count");

struct throttle_entry {
    uint8_t key[THROTTLE_KEY_BYTES]; /* keyed hash of the account key */
    bool used;
    uint16_t ring_head;  /* index of the oldest failure */
    uint16_t ring_count; /* failures in the ring, all within the last hour once pruned */
    uint32_t consecutive;
    uint64_t last_failure_ms;
    uint64_t blocked_until_ms;
    uint32_t ring_s[THROTTLE_WINDOW_FAILURES_MAX]; /* failure times, clock seconds */
};

struct throttle {
    pthread_mutex_t lock;
    throttle_clock_fn clock_ms;
    void *clock_ctx;
    size_t set_mask; /* set count - 1 */
    uint64_t evictions;
    uint8_t hash_key[THROTTLE_HASH_KEY_BYTES];
    struct throttle_entry *entries; /* set i is entries[i * THROTTLE_WAYS ...] */
};

static uint64_t throttle_monotonic_ms(void *clock_ctx)
{
    struct timespec ts;
    (void)clock_ctx;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    TL_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void throttle_config_default(struct throttle_config *out)
{
    out->accounts_max = THROTTLE_ACCOUNTS_DEFAULT;
    out->clock_ms = NULL;
    out->clock_ctx = NULL;
}

enum tl_err throttle_new(const struct throttle_config *config, struct throttle **out)
{
    struct throttle *t = NULL;
    size_t slots = THROTTLE_ACCOUNTS_MIN;
    enum tl_err err = auth_crypto_init();
    if (err != TL_OK) {
        return err;
    }
    if (config->accounts_max < THROTTLE_ACCOUNTS_MIN ||
        config->accounts_max > THROTTLE_ACCOUNTS_MAX) {
        return TL_ERR_LIMIT;
    }
    while (slots < config->accounts_max) {
        slots *= 2;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return TL_ERR_NOMEM;
    }
    t->entries = calloc(slots, sizeof *t->entries);
    if (t->entries == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t->entries);
        free(t);
        return TL_ERR_NOMEM;
    }
    t->clock_ms = config->clock_ms != NULL ? config->clock_ms : throttle_monotonic_ms;
    t->clock_ctx = config->clock_ctx;
    t->set_mask = slots / THROTTLE_WAYS - 1;
    auth_crypto_random(t->hash_key, sizeof t->hash_key);
    *out = t;
    return TL_OK;
}

void throttle_free(struct throttle *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_destroy(&t->lock);
    free(t->entries);
    auth_crypto_wipe(t, sizeof *t);
    free(t);
}

/* The set index is taken from the hash too, so both depend on the secret key. */
static void throttle_key(const struct throttle *t, const void *account, size_t account_bytes,
                         uint8_t key[THROTTLE_KEY_BYTES])
{
    auth_crypto_keyed_hash(key, THROTTLE_KEY_BYTES, account, account_bytes, t->hash_key,
                           sizeof t->hash_key);
}

static struct throttle_entry *throttle_set(struct throttle *t,
                                           const uint8_t key[THROTTLE_KEY_BYTES])
{
    uint64_t h = 0;
    memcpy(&h, key, sizeof h);
    return &t->entries[((size_t)h & t->set_mask) * THROTTLE_WAYS];
}

static struct throttle_entry *throttle_find(struct throttle *t,
                                            const uint8_t key[THROTTLE_KEY_BYTES])
{
    struct throttle_entry *set = throttle_set(t, key);
    for (size_t i = 0; i < THROTTLE_WAYS; i++) {
        if (set[i].used && memcmp(set[i].key, key, THROTTLE_KEY_BYTES) == 0) {
            return &set[i];
        }
    }
    return NULL;
}

/* True if the entry no longer limits anything: no failure within the hour and no backoff. */
static bool throttle_idle(const struct throttle_entry *e, uint64_t now_ms)
{
    return now_ms - e->last_failure_ms >= THROTTLE_WINDOW_S * 1000u &&
           now_ms >= e->blocked_until_ms;
}

/* Drops failures older than the window; forgets the consecutive count after an idle hour. */
static void throttle_prune(struct throttle_entry *e, uint64_t now_ms)
{
    uint32_t now_s = (uint32_t)(now_ms / 1000u);
    while (e->ring_count > 0 && now_s - e->ring_s[e->ring_head] >= THROTTLE_WINDOW_S) {
        e->ring_head = (uint16_t)((e->ring_head + 1u) % THROTTLE_WINDOW_FAILURES_MAX);
        e->ring_count--;
    }
    if (throttle_idle(e, now_ms)) {
        e->consecutive = 0;
    }
}

/* A slot for a new account: free, else idle, else the one that failed longest ago. */
static struct throttle_entry *throttle_claim(struct throttle *t,
                                             const uint8_t key[THROTTLE_KEY_BYTES], uint64_t now_ms)
{
    struct throttle_entry *set = throttle_set(t, key);
    struct throttle_entry *pick = NULL;
    for (size_t i = 0; i < THROTTLE_WAYS && pick == NULL; i++) {
        if (!set[i].used || throttle_idle(&set[i], now_ms)) {
            pick = &set[i];
        }
    }
    if (pick == NULL) {
        pick = &set[0];
        for (size_t i = 1; i < THROTTLE_WAYS; i++) {
            if (set[i].last_failure_ms < pick->last_failure_ms) {
                pick = &set[i];
            }
        }
        t->evictions++;
    }
    memset(pick, 0, sizeof *pick);
    memcpy(pick->key, key, THROTTLE_KEY_BYTES);
    pick->used = true;
    return pick;
}

static uint32_t throttle_ceil_s(uint64_t ms)
{
    uint64_t s = (ms + 999u) / 1000u;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* Seconds until the entry allows an attempt; 0 if it allows one now. */
static uint32_t throttle_wait_s(const struct throttle_entry *e, uint64_t now_ms)
{
    uint32_t wait_s = 0;
    if (now_ms < e->blocked_until_ms) {
        wait_s = throttle_ceil_s(e->blocked_until_ms - now_ms);
    }
    if (e->ring_count >= THROTTLE_WINDOW_FAILURES_MAX) {
        uint32_t now_s = (uint32_t)(now_ms / 1000u);
        uint32_t oldest_s = e->ring_s[e->ring_head];
        TL_ASSERT(now_s - oldest_s < THROTTLE_WINDOW_S);
        uint32_t window_s = oldest_s + THROTTLE_WINDOW_S - now_s;
        wait_s = window_s > wait_s ? window_s : wait_s;
    }
    return wait_s;
}

static uint64_t throttle_backoff_ms(uint32_t consecutive)
{
    if (consecutive < THROTTLE_FREE_FAILURES) {
        return 0;
    }
    uint32_t doublings = consecutive - THROTTLE_FREE_FAILURES;
    /* 2^10 s already passes the 15-minute cap; stop shifting there. */
    if (doublings >= 10) {
        return THROTTLE_BACKOFF_MAX_MS;
    }
    uint64_t ms = (uint64_t)THROTTLE_BACKOFF_BASE_MS << doublings;
    return ms < THROTTLE_BACKOFF_MAX_MS ? ms : THROTTLE_BACKOFF_MAX_MS;
}

static void throttle_count_failure(struct throttle_entry *e, uint64_t now_ms)
{
    TL_ASSERT(e->ring_count < THROTTLE_WINDOW_FAILURES_MAX);
    size_t tail = ((size_t)e->ring_head + e->ring_count) % THROTTLE_WINDOW_FAILURES_MAX;
    e->ring_s[tail] = (uint32_t)(now_ms / 1000u);
    e->ring_count++;
    if (e->consecutive < UINT32_MAX) {
        e->consecutive++;
    }
    e->last_failure_ms = now_ms;
    e->blocked_until_ms = now_ms + throttle_backoff_ms(e->consecutive);
}

enum tl_err throttle_attempt(struct throttle *t, const void *account, size_t account_bytes,
                             uint32_t *retry_after_s)
{
    uint8_t key[THROTTLE_KEY_BYTES];
    enum tl_err err = TL_OK;

    throttle_key(t, account, account_bytes, key);
    pthread_mutex_lock(&t->lock);
    /* Read inside the lock so the failures of one entry are recorded in clock order. */
    uint64_t now_ms = t->clock_ms(t->clock_ctx);
    TL_ASSERT(now_ms / 1000u <= UINT32_MAX);
    struct throttle_entry *e = throttle_find(t, key);
    if (e != NULL) {
        throttle_prune(e, now_ms);
        uint32_t wait_s = throttle_wait_s(e, now_ms);
        if (wait_s > 0) {
            *retry_after_s = wait_s;
            err = TL_ERR_RATE_LIMITED;
            goto out;
        }
    } else {
        e = throttle_claim(t, key, now_ms);
    }
    throttle_count_failure(e, now_ms);
out:
    pthread_mutex_unlock(&t->lock);
    return err;
}

void throttle_succeeded(struct throttle *t, const void *account, size_t account_bytes)
{
    uint8_t key[THROTTLE_KEY_BYTES];

    throttle_key(t, account, account_bytes, key);
    pthread_mutex_lock(&t->lock);
    struct throttle_entry *e = throttle_find(t, key);
    if (e != NULL) {
        /* Concurrent attempts were recorded at about the same second; uncount the newest. */
        if (e->ring_count > 0) {
            e->ring_count--;
        }
        e->consecutive = 0;
        e->blocked_until_ms = 0;
    }
    pthread_mutex_unlock(&t->lock);
}

uint64_t throttle_evictions(struct throttle *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t evictions = t->evictions;
    pthread_mutex_unlock(&t->lock);
    return evictions;
}
