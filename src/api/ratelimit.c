#include "api/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/assert.h"
#include "util/limits.h"

/* Mutexes guarding the sets; set i is guarded by stripe i % RATELIMIT_STRIPES. */
#define RATELIMIT_STRIPES 64u
/* Tokens are counted in millionths so slow rates refill smoothly in integer arithmetic. */
#define RATELIMIT_TOKEN_MICRO 1000000ull
/* ns per minute / micro-tokens per token: a bucket gains per_min micro-tokens each 60000 ns. */
#define RATELIMIT_NS_PER_MICRO_AT_1 60000ull

struct ratelimit_slot {
    uint64_t hash; /* 0 = empty */
    uint64_t last_ns;
    uint64_t tokens_micro;
    uint8_t key_len;
    char key[TL_RATELIMIT_KEY_BYTES_MAX];
};

struct ratelimit {
    uint64_t per_min;
    uint64_t capacity_micro;
    uint64_t full_refill_ns; /* time an empty bucket takes to fill */
    uint32_t set_mask;
    struct ratelimit_slot *slots; /* (set_mask + 1) * RATELIMIT_WAYS */
    pthread_mutex_t stripes[RATELIMIT_STRIPES];
};

enum tl_err ratelimit_new(const struct ratelimit_config *config, struct ratelimit **out)
{
    if (config->per_min < 1 || config->per_min > TL_RATELIMIT_PER_MIN_MAX || config->burst < 1 ||
        config->burst > TL_RATELIMIT_BURST_MAX || config->keys_max < RATELIMIT_WAYS ||
        config->keys_max > TL_RATELIMIT_KEYS_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    uint32_t sets = 1;
    while (sets * RATELIMIT_WAYS < config->keys_max) {
        sets *= 2;
    }
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL) {
        return TL_ERR_NOMEM;
    }
    rl->slots = calloc((size_t)sets * RATELIMIT_WAYS, sizeof(*rl->slots));
    if (rl->slots == NULL) {
        free(rl);
        return TL_ERR_NOMEM;
    }
    rl->per_min = config->per_min;
    rl->capacity_micro = (uint64_t)config->burst * RATELIMIT_TOKEN_MICRO;
    /* Rounded up so that waiting this long always gives a full bucket. */
    rl->full_refill_ns =
        (rl->capacity_micro * RATELIMIT_NS_PER_MICRO_AT_1 + rl->per_min - 1) / rl->per_min;
    rl->set_mask = sets - 1;
    for (uint32_t i = 0; i < RATELIMIT_STRIPES; i++) {
        TL_ASSERT(pthread_mutex_init(&rl->stripes[i], NULL) == 0);
    }
    *out = rl;
    return TL_OK;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL) {
        return;
    }
    for (uint32_t i = 0; i < RATELIMIT_STRIPES; i++) {
        pthread_mutex_destroy(&rl->stripes[i]);
    }
    free(rl->slots);
    free(rl);
}

/* FNV-1a with a final mix; never 0 (0 marks an empty slot). */
static uint64_t ratelimit_hash(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h | 1u;
}

/* The slot for key in its set: the matching one, else an empty one, else the least recently
 * seen one, reset to a full bucket. */
static struct ratelimit_slot *ratelimit_slot_get(struct ratelimit *rl, struct ratelimit_slot *set,
                                                 uint64_t hash, const char *key, size_t len,
                                                 uint64_t now_ns)
{
    struct ratelimit_slot *victim = &set[0];
    for (uint32_t way = 0; way < RATELIMIT_WAYS; way++) {
        struct ratelimit_slot *slot = &set[way];
        if (slot->hash == hash && slot->key_len == len && memcmp(slot->key, key, len) == 0) {
            return slot;
        }
        if (victim->hash != 0 && (slot->hash == 0 || slot->last_ns < victim->last_ns)) {
            victim = slot;
        }
    }
    victim->hash = hash;
    victim->key_len = (uint8_t)len;
    memcpy(victim->key, key, len);
    victim->last_ns = now_ns;
    victim->tokens_micro = rl->capacity_micro;
    return victim;
}

static void ratelimit_refill(const struct ratelimit *rl, struct ratelimit_slot *slot,
                             uint64_t now_ns)
{
    if (now_ns <= slot->last_ns) {
        return; /* the same instant, or a clock that went back: no refill */
    }
    uint64_t elapsed_ns = now_ns - slot->last_ns;
    if (elapsed_ns >= rl->full_refill_ns) {
        slot->tokens_micro = rl->capacity_micro;
    } else {
        /* elapsed_ns * per_min < full_refill_ns * per_min ~ capacity * 60000: no overflow */
        uint64_t gained = elapsed_ns * rl->per_min / RATELIMIT_NS_PER_MICRO_AT_1;
        slot->tokens_micro += gained;
        if (slot->tokens_micro > rl->capacity_micro) {
            slot->tokens_micro = rl->capacity_micro;
        }
    }
    slot->last_ns = now_ns;
}

bool ratelimit_take(struct ratelimit *rl, const char *key, size_t key_len, uint64_t now_ns,
                    uint32_t *retry_after_s)
{
    TL_ASSERT(rl != NULL);
    TL_ASSERT(key != NULL);
    uint64_t hash = ratelimit_hash(key, key_len);
    size_t stored_len = key_len < TL_RATELIMIT_KEY_BYTES_MAX ? key_len : TL_RATELIMIT_KEY_BYTES_MAX;
    uint32_t set_index = (uint32_t)(hash >> 32) & rl->set_mask;
    pthread_mutex_t *stripe = &rl->stripes[set_index % RATELIMIT_STRIPES];
    bool allowed = true;

    TL_ASSERT(pthread_mutex_lock(stripe) == 0);
    struct ratelimit_slot *slot = ratelimit_slot_get(
        rl, &rl->slots[(size_t)set_index * RATELIMIT_WAYS], hash, key, stored_len, now_ns);
    ratelimit_refill(rl, slot, now_ns);
    if (slot->tokens_micro >= RATELIMIT_TOKEN_MICRO) {
        slot->tokens_micro -= RATELIMIT_TOKEN_MICRO;
    } else {
        uint64_t missing_micro = RATELIMIT_TOKEN_MICRO - slot->tokens_micro;
        uint64_t wait_ns =
            (missing_micro * RATELIMIT_NS_PER_MICRO_AT_1 + rl->per_min - 1) / rl->per_min;
        uint64_t wait_s = (wait_ns + 999999999ull) / 1000000000ull;
        *retry_after_s = wait_s < 1 ? 1 : (uint32_t)wait_s;
        allowed = false;
    }
    TL_ASSERT(pthread_mutex_unlock(stripe) == 0);
    return allowed;
}
