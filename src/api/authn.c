#include "api/authn.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/app.h"
#include "api/seen.h"
#include "auth/auth_crypto.h"
#include "auth/mfa.h"
#include "auth/throttle.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/log.h"

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
    uint64_t seen_ns;         /* wall clock of the last recorded last-seen (0: none yet) */
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
    uint8_t csrf_key[AUTHN_CSRF_KEY_BYTES]; /* keys the CSRF token of cookie sessions */
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
    clock_cond_init_mono(&gate->freed);
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
    auth_crypto_keyed_hash(authn->csrf_key, sizeof(authn->csrf_key), AUTHN_CSRF_LABEL,
                           sizeof(AUTHN_CSRF_LABEL) - 1, authn->token_key.secret,
                           authn->token_key.secret_bytes);
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
    uint64_t seen_ns = entry != NULL ? entry->seen_ns : 0; /* kept across reloads */
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
        entry->seen_ns = seen_ns;
    }
    TL_ASSERT(pthread_mutex_unlock(&stripe->mutex) == 0);
}

/* authn_cache_get; with seen_due not NULL, also says (once per AUTHN_LAST_SEEN_INTERVAL_S of
 * the wall clock per cached session) that the session's last-seen time should be written. */
static bool authn_cache_lookup(struct authn *authn, const struct token_hash *hash,
                               struct authn_session *out, bool *revoked, bool *seen_due,
                               bool count);

bool authn_cache_get(struct authn *authn, const struct token_hash *hash, struct authn_session *out,
                     bool *revoked)
{
    return authn_cache_lookup(authn, hash, out, revoked, NULL, true);
}

/* count: whether the lookup counts as a hit or miss in the stats. */
static bool authn_cache_lookup(struct authn *authn, const struct token_hash *hash,
                               struct authn_session *out, bool *revoked, bool *seen_due,
                               bool count)
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
        if (alive && seen_due != NULL &&
            wall_ns - entry->seen_ns >= (uint64_t)AUTHN_LAST_SEEN_INTERVAL_S * 1000000000u) {
            entry->seen_ns = wall_ns;
            *seen_due = true;
        }
    }
    if (count && alive) {
        stripe->hits++;
    } else if (count) {
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

static enum tl_err authn_cookie_token_hash(const struct authn *authn,
                                           const struct http_request *req, struct token_hash *out);
static enum tl_err authn_csrf_check(const struct authn *authn, const struct http_request *req,
                                    struct id128 session_id);
static void authn_session_seen(struct http_request *req, const struct token_hash *hash,
                               uint64_t now_ns);

enum tl_err authn_request_token_hash(const struct authn *authn, const struct http_request *req,
                                     struct token_hash *out)
{
    const char *value = http_request_header(req, "Authorization");
    if (value == NULL) {
        return authn_cookie_token_hash(authn, req, out); /* a cookie session (the web app) */
    }
    /* RFC 9110: the scheme is case-insensitive, then one or more spaces, then the token. */
    if (strncasecmp(value, AUTHN_BEARER, AUTHN_BEARER_LEN) != 0 ||
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
    bool seen_due = false;
    if (!authn_cache_lookup(authn, &hash, &session, &revoked, &seen_due, true)) {
        if (revoked) {
            return TL_ERR_UNAUTHORIZED;
        }
        err = authn_session_load(authn, req, &hash, &session);
        if (err != TL_OK) {
            return err;
        }
        struct authn_session again;
        /* Just loaded and cached: only asks whether last-seen is due (not a hit). */
        (void)authn_cache_lookup(authn, &hash, &again, NULL, &seen_due, false);
    }
    if (http_request_header(req, "Authorization") == NULL) {
        err = authn_csrf_check(authn, req, session.session_id);
        if (err != TL_OK) {
            return err;
        }
    }
    if (seen_due) {
        authn_session_seen(req, &hash, authn->wall_ns(authn->clock_ctx));
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
    struct timespec deadline = clock_mono_deadline(AUTHN_HASH_WAIT_MS);
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

/* ---- Cookie sessions (the web app) and last-seen ---- */

bool authn_cookie_get(const char *header, const char *name, char *out, size_t out_bytes)
{
    size_t name_len = strlen(name);
    const char *p = header;
    TL_ASSERT(out_bytes > 0);
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';') {
            p++;
        }
        const char *end = strchr(p, ';');
        size_t pair_len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (pair_len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            size_t value_len = pair_len - name_len - 1;
            while (value_len > 0 && (p[name_len + 1 + value_len - 1] == ' ' ||
                                     p[name_len + 1 + value_len - 1] == '\t')) {
                value_len--;
            }
            if (value_len == 0 || value_len >= out_bytes) {
                return false; /* the first cookie of that name decides */
            }
            memcpy(out, p + name_len + 1, value_len);
            out[value_len] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

static enum tl_err authn_cookie_token_hash(const struct authn *authn,
                                           const struct http_request *req, struct token_hash *out)
{
    char token[TOKEN_STR_BYTES + 1];
    if (!authn_cookie_get(http_request_header(req, "Cookie"), AUTHN_COOKIE_SESSION, token,
                          sizeof(token))) {
        return TL_ERR_UNAUTHORIZED;
    }
    enum tl_err err = token_hash_presented(&authn->token_key, token, strlen(token), out);
    explicit_bzero(token, sizeof(token));
    return err;
}

bool authn_request_cookie(const struct http_request *req)
{
    return http_request_header(req, "Authorization") == NULL;
}

void authn_csrf_token(const struct authn *authn, struct id128 session_id,
                      char out[AUTHN_CSRF_TOKEN_BYTES])
{
    uint8_t id[ID128_BYTES];
    uint8_t mac[AUTHN_CSRF_MAC_BYTES];
    id128_to_bytes(session_id, id);
    auth_crypto_keyed_hash(mac, sizeof(mac), id, sizeof(id), authn->csrf_key,
                           sizeof(authn->csrf_key));
    auth_crypto_base64url(out, AUTHN_CSRF_TOKEN_BYTES, mac, sizeof(mac));
}

/* "scheme://host[:port]" of the request itself (its Host header), into out. */
static bool authn_own_origin(const struct http_request *req, char *out, size_t out_bytes)
{
    const char *host = http_request_header(req, "Host");
    if (host == NULL || host[0] == '\0') {
        return false;
    }
    int n = snprintf(out, out_bytes, "%s://%s", req->tls ? "https" : "http", host);
    return n > 0 && (size_t)n < out_bytes;
}

/* An Origin header, when the browser sent one, must be the web app's: webauthn.origin (the
 * configured origin of the pages) or the origin the request was addressed to. */
static bool authn_origin_ok(const struct http_request *req)
{
    const char *origin = http_request_header(req, "Origin");
    char own[TL_HTTP_HEADER_VALUE_BYTES_MAX + 16];
    if (origin == NULL) {
        return true;
    }
    const struct config *config = req->app != NULL ? req->app->config : NULL;
    if (config != NULL && config->webauthn_origin[0] != '\0' &&
        strcmp(origin, config->webauthn_origin) == 0) {
        return true;
    }
    return authn_own_origin(req, own, sizeof(own)) && strcmp(origin, own) == 0;
}

/* A cookie-authenticated request with an unsafe method must echo the session's CSRF token in
 * X-CSRF-Token (compared in constant time) and come from the web app's origin. */
static enum tl_err authn_csrf_check(const struct authn *authn, const struct http_request *req,
                                    struct id128 session_id)
{
    char expected[AUTHN_CSRF_TOKEN_BYTES];
    if (req->method == HTTP_GET || req->method == HTTP_HEAD || req->method == HTTP_OPTIONS) {
        return TL_OK;
    }
    const char *sent = http_request_header(req, AUTHN_CSRF_HEADER);
    authn_csrf_token(authn, session_id, expected);
    bool ok = sent != NULL && strlen(sent) == AUTHN_CSRF_TOKEN_BYTES - 1 &&
              auth_crypto_equal(sent, expected, AUTHN_CSRF_TOKEN_BYTES - 1);
    explicit_bzero(expected, sizeof(expected));
    if (!ok || !authn_origin_ok(req)) {
        return TL_ERR_CSRF_FAILED;
    }
    return TL_OK;
}

/* Records the session's last-seen time (best effort: a failure is logged and ignored). */
static void authn_session_seen(struct http_request *req, const struct token_hash *hash,
                               uint64_t now_ns)
{
    struct store *store = NULL;
    if (req->app == NULL || req->app->app_store == NULL) {
        return;
    }
    if (req->app->seen != NULL) {
        /* Queued for seen.h's thread: a request never waits for this write. A full queue
         * drops it; the session falls due again after AUTHN_LAST_SEEN_INTERVAL_S. */
        (void)seen_note(req->app->seen, hash->bytes, now_ns);
        return;
    }
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_session_touch(store, hash->bytes, now_ns,
                                  (uint64_t)AUTHN_LAST_SEEN_INTERVAL_S * 1000000000u / 2u);
        api_app_store_release(req->app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "session_last_seen_failed", LOG_STR("request_id", req->request_id),
            LOG_STR("error", tl_err_code(err)));
    }
}

/* One Set-Cookie header: name=value with the attributes of our cookies. */
static enum tl_err authn_cookie_add(struct http_response *resp, const char *name,
                                    const char *value, uint64_t max_age_s, bool http_only)
{
    char header[TL_HTTP_HEADER_VALUE_BYTES_MAX];
    int n = snprintf(header, sizeof(header), "%s=%s; Path=/; Max-Age=%llu; Secure;%s SameSite=Strict",
                     name, value, (unsigned long long)max_age_s, http_only ? " HttpOnly;" : "");
    TL_ASSERT(n > 0 && (size_t)n < sizeof(header));
    enum tl_err err = http_response_header_add(resp, "Set-Cookie", header);
    explicit_bzero(header, sizeof(header));
    return err;
}

enum tl_err authn_cookies_set(const struct authn *authn, struct http_response *resp,
                              const char *token, struct id128 session_id, uint64_t max_age_s,
                              char out_csrf[AUTHN_CSRF_TOKEN_BYTES])
{
    authn_csrf_token(authn, session_id, out_csrf);
    enum tl_err err = authn_cookie_add(resp, AUTHN_COOKIE_SESSION, token, max_age_s, true);
    if (err == TL_OK) {
        err = authn_cookie_add(resp, AUTHN_COOKIE_CSRF, out_csrf, max_age_s, false);
    }
    return err;
}

enum tl_err authn_cookies_clear(struct http_response *resp)
{
    enum tl_err err = authn_cookie_add(resp, AUTHN_COOKIE_SESSION, "", 0, true);
    if (err == TL_OK) {
        err = authn_cookie_add(resp, AUTHN_COOKIE_CSRF, "", 0, false);
    }
    return err;
}
