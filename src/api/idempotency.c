#include "api/idempotency.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/async.h"
#include "api/router.h"
#include "auth/auth_crypto.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/thread.h"

/* ---- In-flight table ---- */

/* Hash buckets of the table: twice the slots, so chains stay short. */
#define IDEMPOTENCY_FLIGHT_BUCKETS (2u * IDEMPOTENCY_INFLIGHT_MAX)
static_assert((IDEMPOTENCY_FLIGHT_BUCKETS & (IDEMPOTENCY_FLIGHT_BUCKETS - 1u)) == 0,
              "power of two");

struct idempotency_flight {
    bool used;
    uint32_t next;     /* index + 1 of the next slot in its bucket or the free list; 0: none */
    uint64_t key_hash; /* of scope and key: the bucket, and skips most string compares */
    char scope[STORE_IDEMPOTENCY_SCOPE_BYTES_MAX];
    char key[STORE_IDEMPOTENCY_KEY_BYTES_MAX];
    uint8_t request_hash[STORE_HASH_BYTES];
    struct async_call *waiters; /* parked duplicates (async.h), woken at release */
};

static struct idempotency_flight flights[IDEMPOTENCY_INFLIGHT_MAX];
static uint32_t flight_buckets[IDEMPOTENCY_FLIGHT_BUCKETS]; /* index + 1 of a chain's head */
static uint32_t flight_free;                                /* index + 1 of a free slot */
static uint32_t flights_used;
static struct async_call *flights_full_waiters; /* parked while every slot was taken */
static pthread_mutex_t flights_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flights_changed; /* CLOCK_MONOTONIC; set up once */
static pthread_once_t flights_once = PTHREAD_ONCE_INIT;

static void flights_init(void)
{
    clock_cond_init_mono(&flights_changed);
    for (uint32_t i = 0; i < IDEMPOTENCY_INFLIGHT_MAX; i++) {
        flights[i].next = i + 2u < IDEMPOTENCY_INFLIGHT_MAX + 1u ? i + 2u : 0;
    }
    flight_free = 1;
}

static uint64_t flight_key_hash(const char *scope, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = scope; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    }
    h = (h ^ 0xffu) * 0x100000001b3ull; /* separator: no scope/key split collides */
    for (const char *p = key; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    }
    return h;
}

static uint32_t *flight_bucket(uint64_t key_hash)
{
    return &flight_buckets[key_hash & (IDEMPOTENCY_FLIGHT_BUCKETS - 1u)];
}

/* Under flights_mutex: the claim for (scope, key), or NULL. */
static struct idempotency_flight *flight_find(uint64_t key_hash, const char *scope, const char *key)
{
    for (uint32_t at = *flight_bucket(key_hash); at != 0; at = flights[at - 1u].next) {
        struct idempotency_flight *f = &flights[at - 1u];
        TL_ASSERT(f->used);
        if (f->key_hash == key_hash && strcmp(f->scope, scope) == 0 && strcmp(f->key, key) == 0) {
            return f;
        }
    }
    return NULL;
}

/* Under flights_mutex: a free slot claimed for (scope, key), or NULL when all are taken. */
static struct idempotency_flight *flight_take(uint64_t key_hash, const char *scope,
                                              const char *key,
                                              const uint8_t request_hash[STORE_HASH_BYTES])
{
    if (flight_free == 0) {
        return NULL;
    }
    uint32_t at = flight_free;
    struct idempotency_flight *f = &flights[at - 1u];
    TL_ASSERT(!f->used);
    flight_free = f->next;
    uint32_t *bucket = flight_bucket(key_hash);
    f->used = true;
    f->next = *bucket;
    *bucket = at;
    f->key_hash = key_hash;
    f->waiters = NULL;
    memcpy(f->scope, scope, strlen(scope) + 1);
    memcpy(f->key, key, strlen(key) + 1);
    memcpy(f->request_hash, request_hash, STORE_HASH_BYTES);
    flights_used++;
    return f;
}

/* How a request that can park (async.h) waits for a duplicate instead of blocking its worker:
 * the holder may need that very worker thread to finish. */
struct flight_park {
    struct http_request *req;
    async_resume_fn next;
    void *ctx;
};

/* acquire, or (with park) park the request as a waiter of the holder: *parked. */
static enum tl_err flight_acquire(const char *scope, const char *key,
                                  const uint8_t request_hash[STORE_HASH_BYTES], uint32_t wait_ms,
                                  const struct flight_park *park, struct idempotency_flight **out,
                                  bool *parked)
{
    size_t scope_len = strlen(scope);
    size_t key_len = strlen(key);
    TL_ASSERT(scope_len > 0 && scope_len < STORE_IDEMPOTENCY_SCOPE_BYTES_MAX);
    TL_ASSERT(key_len > 0 && key_len < STORE_IDEMPOTENCY_KEY_BYTES_MAX);
    TL_ASSERT(pthread_once(&flights_once, flights_init) == 0);
    uint64_t key_hash = flight_key_hash(scope, key);
    struct timespec deadline = clock_mono_deadline(wait_ms);
    enum tl_err err = TL_OK;
    *parked = false;
    TL_ASSERT(pthread_mutex_lock(&flights_mutex) == 0);
    for (;;) {
        struct idempotency_flight *held = flight_find(key_hash, scope, key);
        if (held != NULL && memcmp(held->request_hash, request_hash, STORE_HASH_BYTES) != 0) {
            err = TL_ERR_IDEMPOTENCY_KEY_REUSED;
            break;
        }
        if (held == NULL) {
            *out = flight_take(key_hash, scope, key, request_hash);
            if (*out != NULL) {
                break;
            }
        }
        /* The same request is running (or the table is full): wait for a release. */
        if (park != NULL) {
            /* Parked under the mutex, so the release that wakes it comes after. A server that
             * is stopping refuses the park; waiting here instead could hold the very worker
             * the holder needs, so the client retries (with its key, maybe on another node). */
            if (!async_park(park->req, park->next, park->ctx)) {
                err = TL_ERR_SHUTDOWN;
                break;
            }
            struct async_call **list = held != NULL ? &held->waiters : &flights_full_waiters;
            park->req->async_->waiter_next_ = *list;
            *list = park->req->async_;
            *parked = true;
            break;
        }
        int rc = pthread_cond_timedwait(&flights_changed, &flights_mutex, &deadline);
        if (rc == ETIMEDOUT) {
            err = TL_ERR_BUSY;
            break;
        }
        TL_ASSERT(rc == 0);
    }
    TL_ASSERT(pthread_mutex_unlock(&flights_mutex) == 0);
    return err;
}

enum tl_err idempotency_flight_acquire(const char *scope, const char *key,
                                       const uint8_t request_hash[STORE_HASH_BYTES],
                                       uint32_t wait_ms, struct idempotency_flight **out)
{
    bool parked = false;
    return flight_acquire(scope, key, request_hash, wait_ms, NULL, out, &parked);
}

/* Under flights_mutex: unlinks f from its bucket and frees its slot. */
static void flight_remove(struct idempotency_flight *f)
{
    uint32_t at = (uint32_t)(f - flights) + 1u;
    uint32_t *link = flight_bucket(f->key_hash);
    while (*link != at) {
        TL_ASSERT(*link != 0);
        link = &flights[*link - 1u].next;
    }
    *link = f->next;
    f->used = false;
    f->next = flight_free;
    flight_free = at;
    flights_used--;
}

void idempotency_flight_release(struct idempotency_flight *flight)
{
    TL_ASSERT(flight >= &flights[0] && flight < &flights[IDEMPOTENCY_INFLIGHT_MAX]);
    TL_ASSERT(pthread_mutex_lock(&flights_mutex) == 0);
    TL_ASSERT(flight->used);
    TL_ASSERT(flights_used > 0);
    struct async_call *waiters = flight->waiters;
    struct async_call *full = flights_full_waiters;
    flight->waiters = NULL;
    flights_full_waiters = NULL;
    flight_remove(flight);
    TL_ASSERT(pthread_cond_broadcast(&flights_changed) == 0);
    TL_ASSERT(pthread_mutex_unlock(&flights_mutex) == 0);
    /* Each waiter tries again from its own worker; read the link before the wake frees it. */
    struct async_call *lists[2] = {waiters, full};
    for (uint32_t i = 0; i < 2; i++) {
        for (struct async_call *call = lists[i]; call != NULL;) {
            struct async_call *next = call->waiter_next_;
            call->waiter_next_ = NULL;
            async_wake(call);
            call = next;
        }
    }
}

uint32_t idempotency_flight_count(void)
{
    TL_ASSERT(pthread_mutex_lock(&flights_mutex) == 0);
    uint32_t count = flights_used;
    TL_ASSERT(pthread_mutex_unlock(&flights_mutex) == 0);
    return count;
}

/* ---- Fingerprints ---- */

bool idempotency_storable(int status)
{
    return (status >= 200 && status < 300) || status == 409 || status == 422;
}

void idempotency_scope(const struct http_request *req, char out[STORE_IDEMPOTENCY_SCOPE_BYTES_MAX])
{
    if (req->operator) {
        static_assert(sizeof("operator") <= STORE_IDEMPOTENCY_SCOPE_BYTES_MAX, "fits a scope");
        memcpy(out, "operator", sizeof("operator"));
        return;
    }
    if (req->principal.authenticated) {
        char hex[ID128_HEX_BYTES];
        id128_to_hex(req->principal.user_id, hex);
        int n = snprintf(out, STORE_IDEMPOTENCY_SCOPE_BYTES_MAX, "user:%s", hex);
        TL_ASSERT(n > 0 && n < (int)STORE_IDEMPOTENCY_SCOPE_BYTES_MAX);
        return;
    }
    static_assert(sizeof(req->client_ip) + 3 <= STORE_IDEMPOTENCY_SCOPE_BYTES_MAX,
                  "an address fits in a scope");
    int n = snprintf(out, STORE_IDEMPOTENCY_SCOPE_BYTES_MAX, "ip:%s", req->client_ip);
    TL_ASSERT(n > 0 && n < (int)STORE_IDEMPOTENCY_SCOPE_BYTES_MAX);
}

/*
 * The request fingerprint is keyed with a key derived from the server secret: a sign-up body
 * holds a password, and an unkeyed (or publicly keyed) fast hash of it kept for 48 hours would
 * let anyone holding a copy of the database guess passwords at hash speed, past Argon2id.
 * Until idempotency_secret_set runs (unit tests), a fixed domain key is used.
 */
static uint8_t idempotency_domain_key[32] = "tally idempotency request v1....";

void idempotency_secret_set(const uint8_t *secret, size_t secret_bytes)
{
    static const char label[] = "tally idempotency request v1";
    TL_ASSERT(secret != NULL);
    TL_ASSERT(secret_bytes >= 16);
    TL_ASSERT(auth_crypto_init() == TL_OK);
    uint8_t derived[sizeof(idempotency_domain_key)];
    auth_crypto_keyed_hash(derived, sizeof(derived), label, sizeof(label) - 1, secret,
                           secret_bytes);
    memcpy(idempotency_domain_key, derived, sizeof(derived));
    explicit_bzero(derived, sizeof(derived));
}

static pthread_once_t idempotency_crypto_once = PTHREAD_ONCE_INIT;

static void idempotency_crypto_init(void)
{
    TL_ASSERT(auth_crypto_init() == TL_OK);
}

void idempotency_hash(enum http_method method, const char *route_name, const uint8_t *body,
                      size_t body_bytes, uint8_t out[STORE_HASH_BYTES])
{
    char head[96];
    uint8_t route_key[32];
    TL_ASSERT(pthread_once(&idempotency_crypto_once, idempotency_crypto_init) == 0);
    int n = snprintf(head, sizeof(head), "%s%c%s", http_method_name(method), '\0', route_name);
    TL_ASSERT(n > 0 && (size_t)n < sizeof(head));
    /* Two steps so the body is hashed where it lies, without copying it next to the route. */
    auth_crypto_keyed_hash(route_key, sizeof(route_key), head, (size_t)n, idempotency_domain_key,
                           sizeof(idempotency_domain_key));
    static const uint8_t empty[1] = {0};
    auth_crypto_keyed_hash(out, STORE_HASH_BYTES, body != NULL ? body : empty, body_bytes,
                           route_key, sizeof(route_key));
}

/* ---- The dispatcher's steps ---- */

static _Thread_local struct idempotency_request *idempotency_running;

void idempotency_request_init(struct idempotency_request *idem)
{
    memset(idem, 0, sizeof(*idem));
}

/* Fills resp with a stored answer. */
static enum tl_err idempotency_replay(const struct store_idempotency *row,
                                      struct http_response *resp)
{
    buf_reset(&resp->body);
    enum tl_err err = buf_append(&resp->body, row->body, row->body_bytes);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(http_response_header_set(resp, "Idempotent-Replayed", "true") == TL_OK);
    resp->status = row->status;
    resp->content_type = row->status >= 400 ? "application/problem+json" : "application/json";
    return TL_OK;
}

/* The store side of begin: replay, 409, or nothing stored yet. */
static enum tl_err idempotency_lookup(struct http_request *req, struct http_response *resp,
                                      struct idempotency_request *idem)
{
    struct store *reader = NULL;
    struct store_idempotency row;
    bool found = false;
    if (req->app->readers == NULL) {
        return TL_OK; /* no store (tests): the in-flight table alone */
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_idempotency_get(reader, idem->scope, idem->key, &row, &found);
    }
    if (err != TL_OK || !found) {
        return err;
    }
    if (memcmp(row.request_hash, idem->request_hash, STORE_HASH_BYTES) != 0) {
        err = TL_ERR_IDEMPOTENCY_KEY_REUSED;
    } else {
        err = idempotency_replay(&row, resp);
        idem->replayed = err == TL_OK;
    }
    free((void *)row.body);
    return err;
}

/* ---- Store claims: one execution per key across the nodes of one database ---- */

/* Claims are needed only when other processes write the database: a SQLite file has one
 * writer process (flock), whose in-flight table already admits one request per key. */
static bool idempotency_claims_needed(const struct api_app *app)
{
    return app->app_store != NULL && !store_exclusive(app->app_store);
}

/* Takes the store claim for idem. TL_OK with idem->claim_owner set when it is ours; otherwise
 * *held says who holds it (STORE_CLAIM_HELD or _HELD_OTHER) and the caller looks for a
 * finished answer before refusing. */
static enum tl_err idempotency_claim_take(struct idempotency_request *idem,
                                          enum store_claim_result *held)
{
    struct store_idempotency_claim claim;
    struct store *store = NULL;
    enum store_claim_result result = STORE_CLAIM_HELD;
    uint64_t now_ns = clock_wall_ns();
    memset(&claim, 0, sizeof(claim));
    size_t scope_len = strlen(idem->scope);
    size_t key_len = strlen(idem->key);
    TL_ASSERT(scope_len < sizeof(claim.scope));
    TL_ASSERT(key_len < sizeof(claim.key));
    memcpy(claim.scope, idem->scope, scope_len + 1);
    memcpy(claim.key, idem->key, key_len + 1);
    memcpy(claim.request_hash, idem->request_hash, STORE_HASH_BYTES);
    claim.owner = id128_new();
    claim.expires_ns = now_ns + IDEMPOTENCY_CLAIM_TTL_NS;
    enum tl_err err = api_app_store_acquire(idem->app, &store);
    if (err == TL_OK) {
        err = store_idempotency_claim(store, &claim, now_ns, &result);
        api_app_store_release(idem->app, store);
    }
    if (err != TL_OK) {
        return err;
    }
    *held = result;
    if (result == STORE_CLAIM_ACQUIRED) {
        idem->claim_owner = claim.owner;
    }
    return TL_OK;
}

/* Gives the store claim back. Cannot fail: an error is logged and the claim expires. */
static void idempotency_claim_release(struct idempotency_request *idem, const char *request_id)
{
    struct store *store = NULL;
    if (id128_is_zero(idem->claim_owner)) {
        return;
    }
    enum tl_err err = api_app_store_acquire(idem->app, &store);
    if (err == TL_OK) {
        err = store_idempotency_claim_release(store, idem->scope, idem->key, idem->claim_owner);
        api_app_store_release(idem->app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "idempotency_claim_release_failed", LOG_STR("request_id", request_id),
            LOG_STR("error", tl_err_code(err)));
    }
    idem->claim_owner = id128_make(0, 0);
}

/* The store side of begin with claims: claim, then look for a finished answer. A key held by
 * another request with no answer yet is refused (in progress, or reused for another body). */
static enum tl_err idempotency_claim_lookup(struct http_request *req, struct http_response *resp,
                                            struct idempotency_request *idem)
{
    enum store_claim_result held = STORE_CLAIM_ACQUIRED;
    enum tl_err err = idempotency_claim_take(idem, &held);
    if (err == TL_OK) {
        /* After the claim: an answer that committed before it is visible now. */
        err = idempotency_lookup(req, resp, idem);
    }
    if (err != TL_OK || idem->replayed || held == STORE_CLAIM_ACQUIRED) {
        return err;
    }
    if (held == STORE_CLAIM_HELD_OTHER) {
        return TL_ERR_IDEMPOTENCY_KEY_REUSED;
    }
    TL_ASSERT(http_response_header_set(resp, "Retry-After", IDEMPOTENCY_IN_PROGRESS_RETRY_S) ==
              TL_OK);
    return http_fail(resp, TL_ERR_IDEMPOTENCY_KEY_IN_PROGRESS, "Idempotency-Key",
                     "a request with this key is running on another server; retry after "
                     "Retry-After seconds to get its answer");
}

/* begin, parking the request (park non-NULL) instead of waiting for a duplicate in flight. */
static enum tl_err idempotency_begin_with(struct http_request *req, struct http_response *resp,
                                          struct idempotency_request *idem,
                                          const struct flight_park *park)
{
    TL_ASSERT(req->idempotency_key != NULL);
    TL_ASSERT(req->route != NULL);
    TL_ASSERT(idem->flight == NULL);
    bool parked = false;
    idem->app = req->app;
    idem->key = req->idempotency_key;
    idempotency_scope(req, idem->scope);
    idempotency_hash(req->method, req->route->name, req->body, req->body_bytes, idem->request_hash);
    enum tl_err err = flight_acquire(idem->scope, idem->key, idem->request_hash,
                                     IDEMPOTENCY_WAIT_MS, park, &idem->flight, &parked);
    if (parked) {
        TL_ASSERT(err == TL_OK);
        return TL_OK; /* park->next runs begin again once the holder is done */
    }
    if (err == TL_OK) {
        err = idempotency_claims_needed(req->app) ? idempotency_claim_lookup(req, resp, idem)
                                                  : idempotency_lookup(req, resp, idem);
        if (err != TL_OK || idem->replayed) {
            idempotency_claim_release(idem, req->request_id);
            idempotency_flight_release(idem->flight);
            idem->flight = NULL;
        }
    }
    if (err == TL_ERR_IDEMPOTENCY_KEY_REUSED) {
        return http_fail(resp, err, "Idempotency-Key",
                         "this key was already used with a different request");
    }
    if (err == TL_ERR_BUSY) {
        return http_fail(resp, err, NULL, "a request with this key is still running; retry");
    }
    return err;
}

enum tl_err idempotency_begin(struct http_request *req, struct http_response *resp,
                              struct idempotency_request *idem)
{
    return idempotency_begin_with(req, resp, idem, NULL);
}

enum tl_err idempotency_begin_async(struct http_request *req, struct http_response *resp,
                                    struct idempotency_request *idem, async_resume_fn next,
                                    void *ctx)
{
    struct flight_park park = {req, next, ctx};
    return idempotency_begin_with(req, resp, idem, async_can_park(req) ? &park : NULL);
}

void idempotency_enter(struct idempotency_request *idem)
{
    idempotency_running = idem;
}

struct idempotency_request *idempotency_current(void)
{
    struct idempotency_request *idem = idempotency_running;
    return idem != NULL && idem->flight != NULL ? idem : NULL;
}

void idempotency_exclude(void)
{
    struct idempotency_request *idem = idempotency_current();
    if (idem != NULL) {
        idem->excluded = true;
    }
}

static void idempotency_row(const struct idempotency_request *idem, int status, const char *body,
                            size_t body_bytes, struct store_idempotency *row)
{
    memset(row, 0, sizeof(*row));
    size_t scope_len = strlen(idem->scope);
    size_t key_len = strlen(idem->key);
    TL_ASSERT(scope_len < sizeof(row->scope));
    TL_ASSERT(key_len < sizeof(row->key));
    memcpy(row->scope, idem->scope, scope_len + 1);
    memcpy(row->key, idem->key, key_len + 1);
    memcpy(row->request_hash, idem->request_hash, STORE_HASH_BYTES);
    row->status = (uint16_t)status;
    row->created_ns = clock_wall_ns();
    row->body = body;
    row->body_bytes = (uint32_t)body_bytes;
    row->claim_owner = idem->claim_owner;
}

enum tl_err idempotency_attach(struct idempotency_request *idem, struct writer_batch *batch,
                               int status, const char *body, size_t body_bytes)
{
    uint8_t record_buf[TL_RECORD_BYTES_MAX]; /* the writer thread's stack; attach copies it */
    struct store_idempotency row;
    struct store_record record;
    TL_ASSERT(idem->flight != NULL);
    TL_ASSERT(idempotency_storable(status));
    if (body_bytes > IDEMPOTENCY_BODY_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    idempotency_row(idem, status, body, body_bytes, &row);
    enum tl_err err = store_record_idempotency(&row, record_buf, sizeof(record_buf), &record);
    if (err == TL_OK) {
        err = writer_batch_attach(batch, &record);
    }
    if (err == TL_OK) {
        idem->recorded = true;
    }
    return err;
}

/* Whether finish stores resp. */
static bool idempotency_should_store(const struct http_response *resp,
                                     const struct idempotency_request *idem)
{
    if (idem->recorded || idem->excluded || !idempotency_storable(resp->status)) {
        return false;
    }
    const char *cache_control = http_response_header(resp, "Cache-Control");
    if (cache_control != NULL && strcasestr(cache_control, "no-store") != NULL) {
        return false;
    }
    if (resp->body.len > IDEMPOTENCY_BODY_BYTES_MAX) {
        LOG(LOG_WARN, "idempotency_body_too_large", LOG_U64("bytes", resp->body.len));
        return false;
    }
    return true;
}

static void idempotency_store(const struct http_request *req, const struct http_response *resp,
                              const struct idempotency_request *idem)
{
    struct store *store = NULL;
    struct store_idempotency row;
    idempotency_row(idem, resp->status, buf_str(&resp->body), resp->body.len, &row);
    enum tl_err err = api_app_store_acquire(idem->app, &store);
    if (err == TL_ERR_STORAGE) {
        return; /* the server runs without an app store (tests): the in-flight table alone */
    }
    if (err == TL_OK) {
        err = store_idempotency_put(store, &row);
        api_app_store_release(idem->app, store);
    }
    /* TL_ERR_CONFLICT: another node stored the key first; its row is the one replayed. */
    if (err != TL_OK && err != TL_ERR_CONFLICT) {
        LOG(LOG_WARN, "idempotency_store_failed", LOG_STR("request_id", req->request_id),
            LOG_STR("error", tl_err_code(err)));
    }
}

void idempotency_finish(const struct http_request *req, const struct http_response *resp,
                        struct idempotency_request *idem)
{
    if (idem->flight == NULL) {
        return;
    }
    if (idempotency_should_store(resp, idem)) {
        idempotency_store(req, resp, idem);
    }
    if (idem->recorded && idempotency_storable(resp->status)) {
        /* The batch that committed the answer deleted the claim with it. */
        idem->claim_owner = id128_make(0, 0);
    }
    idempotency_claim_release(idem, req->request_id);
    idempotency_flight_release(idem->flight);
    idem->flight = NULL;
}

/* ---- Pruner ---- */

struct idempotency_pruner {
    struct api_app *app;
    uint32_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool stopping;
};

static void idempotency_prune_once(struct api_app *app)
{
    struct store *store = NULL;
    uint32_t deleted = 0;
    uint64_t now_ns = clock_wall_ns();
    if (now_ns <= IDEMPOTENCY_RETENTION_NS) {
        return;
    }
    enum tl_err err = api_app_store_acquire(app, &store);
    if (err == TL_OK) {
        err = store_idempotency_prune(store, now_ns - IDEMPOTENCY_RETENTION_NS, &deleted);
        api_app_store_release(app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "idempotency_prune_failed", LOG_STR("error", tl_err_code(err)));
    } else if (deleted > 0) {
        LOG(LOG_INFO, "idempotency_pruned", LOG_U64("rows", deleted));
    }
    if (!idempotency_claims_needed(app)) {
        return;
    }
    /* Claims left by nodes that died while holding them. */
    err = api_app_store_acquire(app, &store);
    if (err == TL_OK) {
        err = store_idempotency_claims_prune(store, now_ns, &deleted);
        api_app_store_release(app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "idempotency_claims_prune_failed", LOG_STR("error", tl_err_code(err)));
    } else if (deleted > 0) {
        LOG(LOG_INFO, "idempotency_claims_pruned", LOG_U64("rows", deleted));
    }
}

static void *idempotency_pruner_main(void *arg)
{
    struct idempotency_pruner *p = arg;
    TL_ASSERT(pthread_mutex_lock(&p->mutex) == 0);
    while (!p->stopping) {
        TL_ASSERT(pthread_mutex_unlock(&p->mutex) == 0);
        idempotency_prune_once(p->app);
        struct timespec deadline = clock_mono_deadline(p->interval_ms);
        TL_ASSERT(pthread_mutex_lock(&p->mutex) == 0);
        while (!p->stopping) {
            int rc = pthread_cond_timedwait(&p->wake, &p->mutex, &deadline);
            if (rc == ETIMEDOUT) {
                break;
            }
            TL_ASSERT(rc == 0);
        }
    }
    TL_ASSERT(pthread_mutex_unlock(&p->mutex) == 0);
    return NULL;
}

enum tl_err idempotency_pruner_start(struct api_app *app, uint32_t interval_ms,
                                     struct idempotency_pruner **out)
{
    struct idempotency_pruner *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return TL_ERR_NOMEM;
    }
    p->app = app;
    p->interval_ms = interval_ms != 0 ? interval_ms : IDEMPOTENCY_PRUNE_INTERVAL_MS;
    clock_cond_init_mono(&p->wake);
    TL_ASSERT(pthread_mutex_init(&p->mutex, NULL) == 0);
    if (!thread_start(&p->thread, "tl-idem-prune", idempotency_pruner_main, p)) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mutex);
        free(p);
        return TL_ERR_INTERNAL;
    }
    *out = p;
    return TL_OK;
}

void idempotency_pruner_stop(struct idempotency_pruner *pruner)
{
    if (pruner == NULL) {
        return;
    }
    TL_ASSERT(pthread_mutex_lock(&pruner->mutex) == 0);
    pruner->stopping = true;
    TL_ASSERT(pthread_cond_signal(&pruner->wake) == 0);
    TL_ASSERT(pthread_mutex_unlock(&pruner->mutex) == 0);
    TL_ASSERT(pthread_join(pruner->thread, NULL) == 0);
    pthread_cond_destroy(&pruner->wake);
    pthread_mutex_destroy(&pruner->mutex);
    free(pruner);
}
