#include "api/authn.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/mfa.h"
#include "auth/throttle.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/clock.h"

static_assert(STORE_HASH_BYTES == TOKEN_HASH_BYTES, "sessions are stored by token hash");
static_assert((AUTHN_CACHE_STRIPES & (AUTHN_CACHE_STRIPES - 1)) == 0, "stripes: a power of two");
static_assert(AUTHN_CACHE_ENTRIES_DEFAULT >= AUTHN_CACHE_ENTRIES_MIN, "default within bounds");
static_assert(AUTHN_CACHE_ENTRIES_DEFAULT <= AUTHN_CACHE_ENTRIES_MAX, "default within bounds");
static_assert(AUTHN_CACHE_TTL_MS_DEFAULT <= AUTHN_CACHE_TTL_MS_MAX, "default within bounds");

#define AUTHN_BEARER "Bearer"
#define AUTHN_BEARER_LEN 6

/* One cached token. An empty slot has cached_until_ns == 0. */
struct authn_entry {
    struct token_hash token_hash;
    struct authn_session session;
    uint64_t cached_until_ns; /* monotonic */
    bool revoked;             /* a logout marker: the token fails without asking the store */
};

/* One lock and its share of the sets; aligned so that stripes never share a cache line. */
struct authn_stripe {
    alignas(64) pthread_mutex_t mutex;
    struct authn_entry *entries; /* set_count * AUTHN_CACHE_WAYS */
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
};

/* Counts hashes running and workers waiting for a turn. */
struct authn_gate {
    pthread_mutex_t mutex;
    pthread_cond_t freed;
    uint32_t running;
    uint32_t waiting;
    uint32_t waiters_max;
    uint64_t busy;
};

struct authn {
    struct token_key token_key;
    struct mfa_key mfa_key;
    struct password_ctx *passwords;
    struct throttle *throttle;
    uint32_t session_ttl_s;
    uint32_t mfa_challenge_ttl_s;
    uint64_t cache_ttl_ns;
    uint32_t set_count; /* sets per stripe, a power of two */
    authn_clock_fn wall_ns;
    authn_clock_fn mono_ns;
    void *clock_ctx;
    struct authn_gate gate;
    struct authn_stripe stripes[AUTHN_CACHE_STRIPES];
};

static uint64_t authn_default_wall_ns(void *ctx)
{
    (void)ctx;
    return clock_wall_ns();
}

static uint64_t authn_default_mono_ns(void *ctx)
{
    (void)ctx;
    return clock_mono_ns();
}

static uint32_t authn_pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

static enum tl_err authn_config_check(const struct authn_config *config)
{
    if (config->token_key == NULL) {
        return TL_ERR_LIMIT;
    }
    if (config->session_ttl_s < AUTHN_SESSION_TTL_S_MIN ||
        config->session_ttl_s > AUTHN_SESSION_TTL_S_MAX) {
        return TL_ERR_LIMIT;
    }
    if (config->cache_entries_max != 0 && (config->cache_entries_max < AUTHN_CACHE_ENTRIES_MIN ||
                                           config->cache_entries_max > AUTHN_CACHE_ENTRIES_MAX)) {
        return TL_ERR_LIMIT;
    }
    if (config->cache_ttl_ms > AUTHN_CACHE_TTL_MS_MAX) {
        return TL_ERR_LIMIT;
    }
    if (config->mfa_challenge_ttl_s > AUTHN_MFA_CHALLENGE_TTL_S_MAX) {
        return TL_ERR_LIMIT;
    }
    return TL_OK;
}

static void authn_gate_init(struct authn_gate *gate, uint32_t waiters_max)
{
    pthread_condattr_t attr;
    TL_ASSERT(pthread_condattr_init(&attr) == 0);
    TL_ASSERT(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0);
    TL_ASSERT(pthread_cond_init(&gate->freed, &attr) == 0);
    pthread_condattr_destroy(&attr);
    TL_ASSERT(pthread_mutex_init(&gate->mutex, NULL) == 0);
    gate->waiters_max = waiters_max;
}

enum tl_err authn_new(const struct authn_config *config, struct authn **out)
{
    enum tl_err err = authn_config_check(config);
    if (err != TL_OK) {
        return err;
    }
    uint32_t entries =
        config->cache_entries_max != 0 ? config->cache_entries_max : AUTHN_CACHE_ENTRIES_DEFAULT;
    entries = authn_pow2_at_least(entries);
    struct authn *authn = calloc(1, sizeof(*authn));
    if (authn == NULL) {
        return TL_ERR_NOMEM;
    }
    authn->token_key = *config->token_key;
    if (mfa_key_derive(authn->token_key.secret, authn->token_key.secret_bytes, &authn->mfa_key) !=
        TL_OK) {
        token_key_wipe(&authn->token_key);
        free(authn);
        return TL_ERR_INTERNAL;
    }
    authn->passwords = config->passwords;
    authn->throttle = config->throttle;
    authn->session_ttl_s = config->session_ttl_s;
    authn->mfa_challenge_ttl_s = config->mfa_challenge_ttl_s != 0
                                     ? config->mfa_challenge_ttl_s
                                     : AUTHN_MFA_CHALLENGE_TTL_S_DEFAULT;
    uint32_t ttl_ms = config->cache_ttl_ms != 0 ? config->cache_ttl_ms : AUTHN_CACHE_TTL_MS_DEFAULT;
    authn->cache_ttl_ns = (uint64_t)ttl_ms * 1000000u;
    authn->set_count = entries / AUTHN_CACHE_STRIPES / AUTHN_CACHE_WAYS;
    TL_ASSERT(authn->set_count >= 1);
    authn->wall_ns = config->wall_ns != NULL ? config->wall_ns : authn_default_wall_ns;
    authn->mono_ns = config->mono_ns != NULL ? config->mono_ns : authn_default_mono_ns;
    authn->clock_ctx = config->clock_ctx;
    authn_gate_init(&authn->gate, config->hash_waiters_max);
    for (uint32_t s = 0; s < AUTHN_CACHE_STRIPES; s++) {
        struct authn_stripe *stripe = &authn->stripes[s];
        TL_ASSERT(pthread_mutex_init(&stripe->mutex, NULL) == 0);
        stripe->entries =
            calloc((size_t)authn->set_count * AUTHN_CACHE_WAYS, sizeof(struct authn_entry));
        if (stripe->entries == NULL) {
            authn_free(authn);
            return TL_ERR_NOMEM;
        }
    }
    *out = authn;
    return TL_OK;
}

void authn_free(struct authn *authn)
{
    if (authn == NULL) {
        return;
    }
    for (uint32_t s = 0; s < AUTHN_CACHE_STRIPES; s++) {
        free(authn->stripes[s].entries);
        pthread_mutex_destroy(&authn->stripes[s].mutex);
    }
    TL_ASSERT(authn->gate.running == 0);
    TL_ASSERT(authn->gate.waiting == 0);
    pthread_cond_destroy(&authn->gate.freed);
    pthread_mutex_destroy(&authn->gate.mutex);
    token_key_wipe(&authn->token_key);
    mfa_key_wipe(&authn->mfa_key);
    free(authn);
}

/* ---- The cache ---- */

/* The token hash is a keyed BLAKE2b output, uniform already: its bytes pick stripe and set. */
static struct authn_stripe *authn_stripe_of(struct authn *authn, const struct token_hash *hash,
                                            struct authn_entry **out_set)
{
    uint64_t h = 0;
    memcpy(&h, hash->bytes, sizeof(h));
    struct authn_stripe *stripe = &authn->stripes[h & (AUTHN_CACHE_STRIPES - 1)];
    uint64_t set_index = (h / AUTHN_CACHE_STRIPES) & (authn->set_count - 1);
    *out_set = &stripe->entries[set_index * AUTHN_CACHE_WAYS];
    return stripe;
}

/* The way holding hash, or NULL. Caller holds the stripe lock. */
static struct authn_entry *authn_set_find(struct authn_entry *set, const struct token_hash *hash)
{
    for (uint32_t way = 0; way < AUTHN_CACHE_WAYS; way++) {
        if (set[way].cached_until_ns != 0 && token_hash_equal(&set[way].token_hash, hash)) {
            return &set[way];
        }
    }
    return NULL;
}

/* The way for a new entry: an empty or stale one, else the one whose time runs out first
 * (counted as an eviction). Caller holds the stripe lock. */
static struct authn_entry *authn_set_victim(struct authn_stripe *stripe, struct authn_entry *set,
                                            uint64_t now_ns)
{
    struct authn_entry *victim = &set[0];
    for (uint32_t way = 0; way < AUTHN_CACHE_WAYS; way++) {
        if (set[way].cached_until_ns <= now_ns) {
            return &set[way];
        }
        if (set[way].cached_until_ns < victim->cached_until_ns) {
            victim = &set[way];
        }
    }
    stripe->evictions++;
    return victim;
}

void authn_cache_put(struct authn *authn, const struct token_hash *hash,
                     const struct authn_session *session)
{
    struct authn_entry *set = NULL;
    uint64_t now_ns = authn->mono_ns(authn->clock_ctx);
    TL_ASSERT(!id128_is_zero(session->user_id));
    if (session->expires_ns <= authn->wall_ns(authn->clock_ctx)) {
        return;
    }
    struct authn_stripe *stripe = authn_stripe_of(authn, hash, &set);
    TL_ASSERT(pthread_mutex_lock(&stripe->mutex) == 0);
    struct authn_entry *entry = authn_set_find(set, hash);
    if (entry != NULL && entry->cached_until_ns <= now_ns) {
        entry->cached_until_ns = 0; /* stale, marker or not: the store knows better now */
        entry = NULL;
    }
    if (entry == NULL || !entry->revoked) {
        if (entry == NULL) {
            entry = authn_set_victim(stripe, set, now_ns);
        }
        entry->token_hash = *hash;
        entry->session = *session;
        entry->revoked = false;
        entry->cached_until_ns = now_ns + authn->cache_ttl_ns;
    }
    TL_ASSERT(pthread_mutex_unlock(&stripe->mutex) == 0);
}

bool authn_cache_get(struct authn *authn, const struct token_hash *hash, struct authn_session *out,
                     bool *revoked)
{
    struct authn_entry *set = NULL;
    uint64_t now_ns = authn->mono_ns(authn->clock_ctx);
    uint64_t wall_ns = authn->wall_ns(authn->clock_ctx);
    bool alive = false;
    bool is_revoked = false;
    struct authn_stripe *stripe = authn_stripe_of(authn, hash, &set);
    TL_ASSERT(pthread_mutex_lock(&stripe->mutex) == 0);
    struct authn_entry *entry = authn_set_find(set, hash);
    if (entry != NULL && entry->cached_until_ns <= now_ns) {
        entry->cached_until_ns = 0;
        entry = NULL;
    }
    if (entry != NULL) {
        is_revoked = entry->revoked;
        alive = !entry->revoked && wall_ns < entry->session.expires_ns;
        if (alive) {
            *out = entry->session;
        }
    }
    if (alive) {
        stripe->hits++;
    } else {
        stripe->misses++;
    }
    TL_ASSERT(pthread_mutex_unlock(&stripe->mutex) == 0);
    if (revoked != NULL) {
        *revoked = is_revoked;
    }
    return alive;
}

void authn_forget(struct authn *authn, const struct token_hash *hash)
{
    struct authn_entry *set = NULL;
    uint64_t now_ns = authn->mono_ns(authn->clock_ctx);
    struct authn_stripe *stripe = authn_stripe_of(authn, hash, &set);
    TL_ASSERT(pthread_mutex_lock(&stripe->mutex) == 0);
    struct authn_entry *entry = authn_set_find(set, hash);
    if (entry == NULL) {
        entry = authn_set_victim(stripe, set, now_ns);
    }
    entry->token_hash = *hash;
    memset(&entry->session, 0, sizeof(entry->session));
    entry->revoked = true;
    /* Outlives any lookup that read the row before the revoke and now wants to cache it. */
    entry->cached_until_ns = now_ns + authn->cache_ttl_ns;
    TL_ASSERT(pthread_mutex_unlock(&stripe->mutex) == 0);
}

/* Marks every live entry that match() accepts revoked; the marker outlives racing lookups. */
static void authn_forget_where(struct authn *authn, struct id128 user_id, struct id128 session_id,
                               struct id128 keep_session_id)
{
    uint64_t now_ns = authn->mono_ns(authn->clock_ctx);
    size_t entries = (size_t)authn->set_count * AUTHN_CACHE_WAYS;
    for (uint32_t s = 0; s < AUTHN_CACHE_STRIPES; s++) {
        struct authn_stripe *stripe = &authn->stripes[s];
        TL_ASSERT(pthread_mutex_lock(&stripe->mutex) == 0);
        for (size_t i = 0; i < entries; i++) {
            struct authn_entry *entry = &stripe->entries[i];
            if (entry->cached_until_ns <= now_ns || entry->revoked) {
                continue;
            }
            bool hit = id128_is_zero(session_id)
                           ? id128_eq(entry->session.user_id, user_id) &&
                                 !id128_eq(entry->session.session_id, keep_session_id)
                           : id128_eq(entry->session.session_id, session_id);
            if (hit) {
                memset(&entry->session, 0, sizeof(entry->session));
                entry->revoked = true;
                entry->cached_until_ns = now_ns + authn->cache_ttl_ns;
            }
        }
        TL_ASSERT(pthread_mutex_unlock(&stripe->mutex) == 0);
    }
}

void authn_forget_user(struct authn *authn, struct id128 user_id, struct id128 keep_session_id)
{
    TL_ASSERT(!id128_is_zero(user_id));
    authn_forget_where(authn, user_id, id128_make(0, 0), keep_session_id);
}

void authn_forget_session(struct authn *authn, struct id128 session_id)
{
    TL_ASSERT(!id128_is_zero(session_id));
    authn_forget_where(authn, id128_make(0, 0), session_id, id128_make(0, 0));
}

const struct mfa_key *authn_mfa_key(const struct authn *authn)
{
    return &authn->mfa_key;
}

uint32_t authn_mfa_challenge_ttl_s(const struct authn *authn)
{
    return authn->mfa_challenge_ttl_s;
}

void authn_stats_get(struct authn *authn, struct authn_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t s = 0; s < AUTHN_CACHE_STRIPES; s++) {
        struct authn_stripe *stripe = &authn->stripes[s];
        TL_ASSERT(pthread_mutex_lock(&stripe->mutex) == 0);
        out->hits += stripe->hits;
        out->misses += stripe->misses;
        out->evictions += stripe->evictions;
        TL_ASSERT(pthread_mutex_unlock(&stripe->mutex) == 0);
    }
    TL_ASSERT(pthread_mutex_lock(&authn->gate.mutex) == 0);
    out->hash_busy = authn->gate.busy;
    TL_ASSERT(pthread_mutex_unlock(&authn->gate.mutex) == 0);
}

/* ---- The authenticate phase ---- */

enum tl_err authn_request_token_hash(const struct authn *authn, const struct http_request *req,
                                     struct token_hash *out)
{
    const char *value = http_request_header(req, "Authorization");
    /* RFC 9110: the scheme is case-insensitive, then one or more spaces, then the token. */
    if (value == NULL || strncasecmp(value, AUTHN_BEARER, AUTHN_BEARER_LEN) != 0 ||
        value[AUTHN_BEARER_LEN] != ' ') {
        return TL_ERR_UNAUTHORIZED;
    }
    const char *token = value + AUTHN_BEARER_LEN;
    while (*token == ' ') {
        token++;
    }
    return token_hash_presented(&authn->token_key, token, strlen(token), out);
}

/* A cache miss: the session row from the store, cached when it is alive. */
static enum tl_err authn_session_load(struct authn *authn, struct http_request *req,
                                      const struct token_hash *hash, struct authn_session *out)
{
    struct store *store = NULL;
    struct store_session row;
    bool found = false;
    enum tl_err err = http_request_store(req, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_session_get(store, hash->bytes, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || row.revoked || row.expires_ns <= authn->wall_ns(authn->clock_ctx)) {
        return TL_ERR_UNAUTHORIZED;
    }
    TL_ASSERT(!id128_is_zero(row.user_id));
    out->user_id = row.user_id;
    out->session_id = row.id;
    out->expires_ns = row.expires_ns;
    authn_cache_put(authn, hash, out);
    return TL_OK;
}

enum tl_err authn_authenticate(void *ctx, struct http_request *req)
{
    struct authn *authn = ctx;
    struct token_hash hash;
    struct authn_session session;
    bool revoked = false;
    TL_ASSERT(authn != NULL);
    enum tl_err err = authn_request_token_hash(authn, req, &hash);
    if (err != TL_OK) {
        return err;
    }
    if (!authn_cache_get(authn, &hash, &session, &revoked)) {
        if (revoked) {
            return TL_ERR_UNAUTHORIZED;
        }
        err = authn_session_load(authn, req, &hash, &session);
        if (err != TL_OK) {
            return err;
        }
    }
    req->principal.authenticated = true;
    req->principal.user_id = session.user_id;
    req->principal.session_id = session.session_id;
    return TL_OK;
}

/* ---- Sessions ---- */

uint32_t authn_session_ttl_s(const struct authn *authn)
{
    return authn->session_ttl_s;
}

uint64_t authn_wall_ns(const struct authn *authn)
{
    return authn->wall_ns(authn->clock_ctx);
}

void authn_token_new(const struct authn *authn, char out_token[TOKEN_STR_BYTES],
                     struct token_hash *out_hash)
{
    token_new(&authn->token_key, out_token, out_hash);
}

/* ---- The hashing gate ---- */

static enum tl_err authn_gate_enter(struct authn_gate *gate)
{
    struct timespec deadline;
    TL_ASSERT(clock_gettime(CLOCK_MONOTONIC, &deadline) == 0);
    deadline.tv_sec += (time_t)(AUTHN_HASH_WAIT_MS / 1000u);
    deadline.tv_nsec += (long)(AUTHN_HASH_WAIT_MS % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    enum tl_err err = TL_OK;
    TL_ASSERT(pthread_mutex_lock(&gate->mutex) == 0);
    if (gate->running >= AUTHN_HASH_CONCURRENCY && gate->waiting >= gate->waiters_max) {
        err = TL_ERR_BUSY;
    } else {
        gate->waiting++;
        while (gate->running >= AUTHN_HASH_CONCURRENCY) {
            int rc = pthread_cond_timedwait(&gate->freed, &gate->mutex, &deadline);
            if (rc == ETIMEDOUT) {
                err = TL_ERR_BUSY;
                break;
            }
            TL_ASSERT(rc == 0);
        }
        gate->waiting--;
    }
    if (err == TL_OK) {
        gate->running++;
    } else {
        gate->busy++;
    }
    TL_ASSERT(pthread_mutex_unlock(&gate->mutex) == 0);
    return err;
}

static void authn_gate_leave(struct authn_gate *gate)
{
    TL_ASSERT(pthread_mutex_lock(&gate->mutex) == 0);
    TL_ASSERT(gate->running > 0);
    gate->running--;
    TL_ASSERT(pthread_cond_signal(&gate->freed) == 0);
    TL_ASSERT(pthread_mutex_unlock(&gate->mutex) == 0);
}

enum tl_err authn_password_hash(struct authn *authn, const char *password, size_t password_bytes,
                                char out[PASSWORD_HASH_STR_BYTES])
{
    if (authn->passwords == NULL) {
        return TL_ERR_STORAGE;
    }
    enum tl_err err = authn_gate_enter(&authn->gate);
    if (err != TL_OK) {
        return err;
    }
    err = password_hash(authn->passwords, password, password_bytes, out);
    authn_gate_leave(&authn->gate);
    return err;
}

enum tl_err authn_password_verify(struct authn *authn, const char *stored_hash,
                                  const char *password, size_t password_bytes)
{
    if (authn->passwords == NULL) {
        return TL_ERR_STORAGE;
    }
    enum tl_err err = authn_gate_enter(&authn->gate);
    if (err != TL_OK) {
        return err;
    }
    if (stored_hash != NULL) {
        err = password_verify(authn->passwords, stored_hash, password, password_bytes);
    } else {
        err = password_verify_dummy(authn->passwords, password, password_bytes);
    }
    authn_gate_leave(&authn->gate);
    return err;
}

enum tl_err authn_password_policy(const struct authn *authn, const char *password,
                                  size_t password_bytes, const char **detail)
{
    struct auth_fault fault = {0};
    if (authn->passwords == NULL) {
        return TL_ERR_STORAGE;
    }
    if (password_policy_check(authn->passwords, password, password_bytes, &fault) == TL_OK) {
        return TL_OK;
    }
    *detail = fault.detail;
    return TL_ERR_WEAK_PASSWORD;
}

/* ---- The login throttle ---- */

enum tl_err authn_login_attempt(struct authn *authn, const void *account, size_t account_bytes,
                                uint32_t *retry_after_s)
{
    if (authn->throttle == NULL) {
        return TL_OK;
    }
    return throttle_attempt(authn->throttle, account, account_bytes, retry_after_s);
}

void authn_login_succeeded(struct authn *authn, const void *account, size_t account_bytes)
{
    if (authn->throttle != NULL) {
        throttle_succeeded(authn->throttle, account, account_bytes);
    }
}
