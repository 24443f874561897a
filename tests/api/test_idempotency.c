/*
 * test_idempotency.c - Idempotency-Key without a store: what is stored, scopes, request
 * fingerprints, the in-flight table under contention, and the dispatcher step (a duplicate in
 * flight waits, or parks when its request can, a different body gets 409 at once, handlers see
 * their claim); then with a real
 * SQLite store: replay, what is and is not stored, scopes, and the pruner.
 */
#include <jansson.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <unistd.h>

#include "api/async.h"
#include "api/dispatch.h"
#include "api/idempotency.h"
#include "api/metrics.h"
#include "api/readers.h"
#include "store/app.h"
#include "store/store.h"
#include "test.h"
#include "util/clock.h"

static void test_storable(void **state)
{
    (void)state;
    const int stored[] = {200, 201, 204, 299, 409, 422};
    const int never[] = {100, 301, 400, 401, 403, 404, 413, 415, 429, 500, 503};
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
        assert_true(idempotency_storable(stored[i]));
    }
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        assert_false(idempotency_storable(never[i]));
    }
}

static void test_scope(void **state)
{
    (void)state;
    struct http_request req;
    char scope[STORE_IDEMPOTENCY_SCOPE_BYTES_MAX];
    memset(&req, 0, sizeof(req));
    snprintf(req.client_ip, sizeof(req.client_ip), "2001:db8::1");
    idempotency_scope(&req, scope);
    assert_string_equal(scope, "ip:2001:db8::1");
    req.principal.authenticated = true;
    req.principal.user_id = id128_make(0x0123456789abcdefull, 0xfedcba9876543210ull);
    idempotency_scope(&req, scope);
    assert_string_equal(scope, "user:0123456789abcdeffedcba9876543210");
    /* The longest address text still fits. */
    memset(&req, 0, sizeof(req));
    memset(req.client_ip, '9', sizeof(req.client_ip) - 1);
    idempotency_scope(&req, scope);
    assert_int_equal(strlen(scope), 3 + sizeof(req.client_ip) - 1);
}

static void hash_of(enum http_method method, const char *route, const char *body,
                    uint8_t out[STORE_HASH_BYTES])
{
    idempotency_hash(method, route, (const uint8_t *)body, body != NULL ? strlen(body) : 0, out);
}

static void test_hash(void **state)
{
    (void)state;
    uint8_t a[STORE_HASH_BYTES];
    uint8_t b[STORE_HASH_BYTES];
    hash_of(HTTP_POST, "payments.create", "{\"amount\":5}", a);
    hash_of(HTTP_POST, "payments.create", "{\"amount\":5}", b);
    assert_memory_equal(a, b, sizeof(a));
    hash_of(HTTP_POST, "payments.create", "{\"amount\":6}", b);
    assert_memory_not_equal(a, b, sizeof(a));
    hash_of(HTTP_POST, "deposits.create", "{\"amount\":5}", b);
    assert_memory_not_equal(a, b, sizeof(a));
    hash_of(HTTP_PUT, "payments.create", "{\"amount\":5}", b);
    assert_memory_not_equal(a, b, sizeof(a));
    /* Where the route ends and the body starts is part of the fingerprint. */
    hash_of(HTTP_POST, "ab", "c", a);
    hash_of(HTTP_POST, "a", "bc", b);
    assert_memory_not_equal(a, b, sizeof(a));
    /* No body and an empty body are the same request. */
    hash_of(HTTP_POST, "wallets.create", NULL, a);
    hash_of(HTTP_POST, "wallets.create", "", b);
    assert_memory_equal(a, b, sizeof(a));
}

/* ---- In-flight table ---- */

static const uint8_t hash_one[STORE_HASH_BYTES] = {1};
static const uint8_t hash_two[STORE_HASH_BYTES] = {2};

static void test_flight_claims(void **state)
{
    (void)state;
    struct idempotency_flight *first = NULL;
    struct idempotency_flight *other = NULL;
    assert_int_equal(idempotency_flight_count(), 0);
    assert_int_equal(idempotency_flight_acquire("user:1", "k", hash_one, 1000, &first), TL_OK);
    assert_int_equal(idempotency_flight_count(), 1);

    uint64_t start_ns = clock_mono_ns();
    assert_int_equal(idempotency_flight_acquire("user:1", "k", hash_two, 5000, &other),
                     TL_ERR_IDEMPOTENCY_KEY_REUSED);
    assert_true(clock_mono_ns() - start_ns < 1000000000ull); /* at once, not after the wait */

    start_ns = clock_mono_ns();
    assert_int_equal(idempotency_flight_acquire("user:1", "k", hash_one, 50, &other), TL_ERR_BUSY);
    assert_true(clock_mono_ns() - start_ns >= 40000000ull);

    /* Other scope or other key: independent. */
    assert_int_equal(idempotency_flight_acquire("user:2", "k", hash_two, 0, &other), TL_OK);
    idempotency_flight_release(other);
    assert_int_equal(idempotency_flight_acquire("user:1", "k2", hash_two, 0, &other), TL_OK);
    idempotency_flight_release(other);

    idempotency_flight_release(first);
    assert_int_equal(idempotency_flight_count(), 0);
    assert_int_equal(idempotency_flight_acquire("user:1", "k", hash_two, 0, &other), TL_OK);
    idempotency_flight_release(other);
    assert_int_equal(idempotency_flight_count(), 0);
}

struct full_waiter {
    struct idempotency_flight *flight;
    enum tl_err err;
};

static void *full_waiter_main(void *arg)
{
    struct full_waiter *w = arg;
    w->err = idempotency_flight_acquire("user:late", "late", hash_one, 5000, &w->flight);
    return NULL;
}

static void test_flight_table_full(void **state)
{
    (void)state;
    static struct idempotency_flight *held[IDEMPOTENCY_INFLIGHT_MAX];
    for (uint32_t i = 0; i < IDEMPOTENCY_INFLIGHT_MAX; i++) {
        char key[32];
        snprintf(key, sizeof(key), "key-%u", i);
        assert_int_equal(idempotency_flight_acquire("user:full", key, hash_one, 0, &held[i]),
                         TL_OK);
    }
    struct idempotency_flight *extra = NULL;
    assert_int_equal(idempotency_flight_acquire("user:full", "one-more", hash_one, 20, &extra),
                     TL_ERR_BUSY);
    /* A waiter gets the first slot that frees up. */
    struct full_waiter waiter = {NULL, TL_ERR_INTERNAL};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, full_waiter_main, &waiter), 0);
    clock_sleep_ms(50);
    idempotency_flight_release(held[7]);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(waiter.err, TL_OK);
    idempotency_flight_release(waiter.flight);
    for (uint32_t i = 0; i < IDEMPOTENCY_INFLIGHT_MAX; i++) {
        if (i != 7) {
            idempotency_flight_release(held[i]);
        }
    }
    assert_int_equal(idempotency_flight_count(), 0);
}

#define CONTENDERS 8
#define ROUNDS 300

static atomic_int inside;
static atomic_int entered;
static atomic_int overlap;

static void *contender_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < ROUNDS; round++) {
        struct idempotency_flight *flight = NULL;
        if (idempotency_flight_acquire("user:c", "same", hash_one, 10000, &flight) != TL_OK) {
            atomic_fetch_add(&overlap, 1000000);
            continue;
        }
        if (atomic_fetch_add(&inside, 1) != 0) {
            atomic_fetch_add(&overlap, 1);
        }
        atomic_fetch_add(&entered, 1);
        for (volatile int spin = 0; spin < 200; spin++) {
        }
        atomic_fetch_sub(&inside, 1);
        idempotency_flight_release(flight);
    }
    return NULL;
}

static void test_flight_one_at_a_time(void **state)
{
    (void)state;
    pthread_t threads[CONTENDERS];
    atomic_store(&inside, 0);
    atomic_store(&entered, 0);
    atomic_store(&overlap, 0);
    for (int i = 0; i < CONTENDERS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, contender_main, NULL), 0);
    }
    for (int i = 0; i < CONTENDERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    }
    assert_int_equal(atomic_load(&overlap), 0);
    assert_int_equal(atomic_load(&entered), CONTENDERS * ROUNDS);
    assert_int_equal(idempotency_flight_count(), 0);
}

/* ---- Through the dispatcher ---- */

static sem_t handler_entered;
static sem_t handler_proceed;
static atomic_int handler_runs;
static atomic_bool handler_saw_claim;
static atomic_bool handler_blocks;

static enum tl_err slow_create(struct http_request *req, struct http_response *resp)
{
    atomic_store(&handler_saw_claim, idempotency_current() != NULL);
    atomic_fetch_add(&handler_runs, 1);
    if (atomic_load(&handler_blocks)) {
        sem_post(&handler_entered);
        sem_wait(&handler_proceed);
    }
    (void)req;
    return http_response_json(resp, 201, json_pack("{s:b}", "ok", 1));
}

static const struct route table[] = {
    {HTTP_POST, "/v1/things", slow_create, "things.create", ROUTE_IDEMPOTENT, ROUTE_LIMIT_NONE},
};
static const char *table_names[] = {"things.create"};

struct call {
    struct api_app *app;
    const char *key;
    const char *body;
    int status;
    char code[64];
    bool replayed;
    const char *client_ip; /* NULL: 192.0.2.9 */
    char body_out[256];
};

static const char *call_lookup(void *ctx, enum http_lookup_kind kind, const char *name)
{
    const struct call *c = ctx;
    if (kind == HTTP_LOOKUP_HEADER && strcasecmp(name, "Idempotency-Key") == 0) {
        return c->key;
    }
    if (kind == HTTP_LOOKUP_HEADER && strcasecmp(name, "Content-Type") == 0) {
        return "application/json";
    }
    return NULL;
}

static void *call_main(void *arg)
{
    struct call *c = arg;
    struct http_request req;
    const char *ip = c->client_ip != NULL ? c->client_ip : "192.0.2.9";
    struct http_response resp;
    memset(&req, 0, sizeof(req));
    req.method = HTTP_POST;
    req.path = "/v1/things";
    req.body = (const uint8_t *)c->body;
    req.body_bytes = strlen(c->body);
    snprintf(req.request_id, sizeof(req.request_id), "req_test");
    snprintf(req.client_ip, sizeof(req.client_ip), "%s", ip);
    req.lookup_ = call_lookup;
    req.lookup_ctx_ = c;
    http_response_init(&resp);
    dispatch_run(c->app, &req, &resp);
    c->status = resp.status;
    c->replayed = http_response_header(&resp, "Idempotent-Replayed") != NULL;
    snprintf(c->body_out, sizeof(c->body_out), "%s", buf_str(&resp.body));
    json_error_t error;
    json_t *body = json_loadb(resp.body.data, resp.body.len, 0, &error);
    const char *code = json_string_value(json_object_get(body, "code"));
    snprintf(c->code, sizeof(c->code), "%s", code != NULL ? code : "");
    json_decref(body);
    http_response_free(&resp);
    return NULL;
}

static void test_dispatch_in_flight(void **state)
{
    (void)state;
    struct api_app app;
    memset(&app, 0, sizeof(app));
    app.routes = table;
    app.route_count = 1;
    assert_int_equal(metrics_new(table_names, 1, &app.metrics), TL_OK);
    assert_int_equal(sem_init(&handler_entered, 0, 0), 0);
    assert_int_equal(sem_init(&handler_proceed, 0, 0), 0);

    /* Without a key the handler runs with no claim. */
    atomic_store(&handler_blocks, false);
    struct call plain = {.app = &app, .key = NULL, .body = "{}"};
    call_main(&plain);
    assert_int_equal(plain.status, 201);
    assert_false(atomic_load(&handler_saw_claim));

    /* The first request holds the key inside its handler. */
    atomic_store(&handler_blocks, true);
    atomic_store(&handler_runs, 0);
    struct call first = {.app = &app, .key = "order-1", .body = "{\"n\":1}"};
    pthread_t first_thread;
    assert_int_equal(pthread_create(&first_thread, NULL, call_main, &first), 0);
    assert_int_equal(sem_wait(&handler_entered), 0);
    assert_true(atomic_load(&handler_saw_claim));

    /* Same key, other body: 409 at once, while the first still runs. */
    struct call other = {.app = &app, .key = "order-1", .body = "{\"n\":2}"};
    call_main(&other);
    assert_int_equal(other.status, 409);
    assert_string_equal(other.code, "idempotency_key_reused");

    /* Same key, same body: waits for the first (the handler does not run meanwhile). */
    atomic_store(&handler_blocks, false);
    struct call again = {.app = &app, .key = "order-1", .body = "{\"n\":1}"};
    pthread_t again_thread;
    assert_int_equal(pthread_create(&again_thread, NULL, call_main, &again), 0);
    clock_sleep_ms(100);
    assert_int_equal(atomic_load(&handler_runs), 1);
    assert_int_equal(again.status, 0);

    sem_post(&handler_proceed);
    assert_int_equal(pthread_join(first_thread, NULL), 0);
    assert_int_equal(pthread_join(again_thread, NULL), 0);
    assert_int_equal(first.status, 201);
    /* No store here, so nothing to replay: the waiter ran after the first finished. */
    assert_int_equal(again.status, 201);
    assert_int_equal(atomic_load(&handler_runs), 2);
    assert_int_equal(idempotency_flight_count(), 0);

    sem_destroy(&handler_entered);
    sem_destroy(&handler_proceed);
    metrics_free(app.metrics);
}


/* A fake connection for a request that can park (api/async.h): counts suspends and resumes. */
struct fake_conn {
    atomic_int suspends;
    atomic_int resumes;
};

static void fake_suspend(void *conn)
{
    struct fake_conn *c = conn;
    atomic_fetch_add(&c->suspends, 1);
}

static void fake_resume(void *conn)
{
    struct fake_conn *c = conn;
    atomic_fetch_add(&c->resumes, 1);
}

/* A continuation that is never run (test_gate_counts only compares it). */
static enum tl_err counting_next(struct http_request *req, struct http_response *resp, void *ctx)
{
    (void)req;
    (void)resp;
    (void)ctx;
    return TL_ERR_INTERNAL;
}

/* A duplicate of a key in flight: the first request runs on its own thread and blocks in the
 * handler; the duplicate is dispatched on the test's thread with a fake connection that can
 * park, its gate closed or open. */
struct dup_fixture {
    struct api_app app;
    struct call first;
    pthread_t first_thread;
    struct call again;
    struct fake_conn conn;
    struct async_gate gate;
    struct async_call async;
    struct http_request req;
    struct http_response resp;
    struct dispatch_call dcall;
};

static void dup_start(struct dup_fixture *f, const char *key, const char *request_id,
                      bool gate_closed)
{
    memset(f, 0, sizeof(*f));
    f->app.routes = table;
    f->app.route_count = 1;
    assert_int_equal(metrics_new(table_names, 1, &f->app.metrics), TL_OK);
    assert_int_equal(sem_init(&handler_entered, 0, 0), 0);
    assert_int_equal(sem_init(&handler_proceed, 0, 0), 0);

    atomic_store(&handler_blocks, true);
    atomic_store(&handler_runs, 0);
    f->first = (struct call){.app = &f->app, .key = key, .body = "{\"n\":1}"};
    assert_int_equal(pthread_create(&f->first_thread, NULL, call_main, &f->first), 0);
    assert_int_equal(sem_wait(&handler_entered), 0);
    atomic_store(&handler_blocks, false);

    f->again = (struct call){.app = &f->app, .key = key, .body = "{\"n\":1}"};
    async_gate_init(&f->gate);
    if (gate_closed) {
        async_gate_close(&f->gate);
    }
    f->async.suspend = fake_suspend;
    f->async.resume = fake_resume;
    f->async.conn = &f->conn;
    f->async.gate = &f->gate;
    f->req.method = HTTP_POST;
    f->req.path = "/v1/things";
    f->req.body = (const uint8_t *)f->again.body;
    f->req.body_bytes = strlen(f->again.body);
    snprintf(f->req.request_id, sizeof(f->req.request_id), "%s", request_id);
    snprintf(f->req.client_ip, sizeof(f->req.client_ip), "192.0.2.9");
    f->req.lookup_ = call_lookup;
    f->req.lookup_ctx_ = &f->again;
    f->req.async_ = &f->async;
    http_response_init(&f->resp);
}

/* Lets the first request finish; it answers 201. */
static void dup_finish_first(struct dup_fixture *f)
{
    sem_post(&handler_proceed);
    assert_int_equal(pthread_join(f->first_thread, NULL), 0);
    assert_int_equal(f->first.status, 201);
}

/* Frees what dup_start made (the response is the test's to free). */
static void dup_free(struct dup_fixture *f)
{
    sem_destroy(&handler_entered);
    sem_destroy(&handler_proceed);
    metrics_free(f->app.metrics);
}

/* A request that can park does not block its thread while a duplicate is in flight (on a real
 * server the duplicate may need that very worker thread to finish): it parks, the holder's
 * release wakes it, and its continuation runs the handler then (no store: nothing to replay). */
static void test_dispatch_parks_duplicate(void **state)
{
    (void)state;
    struct dup_fixture f;
    dup_start(&f, "order-park", "req_park", false);
    /* Parked at once, on this thread, while the first still runs: suspended, not resumed. */
    assert_true(dispatch_start(&f.app, &f.req, &f.resp, &f.dcall));
    assert_int_equal(atomic_load(&f.conn.suspends), 1);
    assert_int_equal(atomic_load(&f.conn.resumes), 0);
    assert_int_equal(async_gate_parked(&f.gate), 1);
    assert_int_equal(atomic_load(&handler_runs), 1);

    dup_finish_first(&f);
    /* The release woke it exactly once; the continuation runs the handler now. */
    assert_int_equal(atomic_load(&f.conn.resumes), 1);
    assert_int_equal(async_gate_parked(&f.gate), 0);
    assert_false(dispatch_resume(&f.app, &f.req, &f.resp, &f.dcall));
    assert_int_equal(f.resp.status, 201);
    assert_int_equal(atomic_load(&handler_runs), 2);
    assert_int_equal(atomic_load(&f.conn.suspends), 1);
    assert_int_equal(idempotency_flight_count(), 0);
    http_response_free(&f.resp);
    dup_free(&f);
}

/* A stopping server closes its gate (async.h): a park that starts after that is refused and
 * changes nothing, so the server can stop the library with no connection suspended. A
 * duplicate of a key in flight then answers 503 shutting_down instead of waiting on a worker
 * thread the holder may need. */
static void test_dispatch_closed_gate(void **state)
{
    (void)state;
    struct dup_fixture f;
    dup_start(&f, "order-gate", "req_gate", true);
    /* Answered at once, on this thread, while the first still runs: never suspended. */
    assert_false(dispatch_start(&f.app, &f.req, &f.resp, &f.dcall));
    assert_int_equal(f.resp.status, 503);
    assert_non_null(strstr(buf_str(&f.resp.body), "shutting_down"));
    assert_false(f.async.parked);
    assert_int_equal(atomic_load(&f.conn.suspends), 0);
    assert_int_equal(async_gate_parked(&f.gate), 0);
    assert_int_equal(atomic_load(&handler_runs), 1);
    http_response_free(&f.resp);

    dup_finish_first(&f);
    /* The first's release had no waiter to wake; nothing is held. */
    assert_int_equal(atomic_load(&f.conn.resumes), 0);
    assert_int_equal(idempotency_flight_count(), 0);
    dup_free(&f);
}

/* The gate's count: a park counts in, its wake counts out; a refused park leaves it alone. */
static void test_gate_counts(void **state)
{
    (void)state;
    struct fake_conn conn = {0, 0};
    struct async_gate gate;
    async_gate_init(&gate);
    struct async_call async;
    memset(&async, 0, sizeof(async));
    async.suspend = fake_suspend;
    async.resume = fake_resume;
    async.conn = &conn;
    async.gate = &gate;
    struct http_request req;
    memset(&req, 0, sizeof(req));
    req.async_ = &async;
    int ctx = 0;

    assert_true(async_park(&req, counting_next, &ctx));
    assert_true(async_parked(&req));
    assert_int_equal(atomic_load(&conn.suspends), 1);
    assert_int_equal(async_gate_parked(&gate), 1);
    /* Closing does not undo a park counted before it: the server waits for its wake. */
    async_gate_close(&gate);
    assert_int_equal(async_gate_parked(&gate), 1);
    async_wake(&async);
    assert_int_equal(atomic_load(&conn.resumes), 1);
    assert_int_equal(async_gate_parked(&gate), 0);
    async_resume_fn next = NULL;
    void *next_ctx = NULL;
    async_resumed(&async, &next, &next_ctx);
    assert_ptr_equal(next, counting_next);
    assert_ptr_equal(next_ctx, &ctx);

    assert_false(async_park(&req, counting_next, &ctx));
    assert_false(async_parked(&req));
    assert_int_equal(atomic_load(&conn.suspends), 1);
    assert_int_equal(async_gate_parked(&gate), 0);
}

/* ---- With a store ---- */

static atomic_int stored_runs;

/* 201 with a run counter (a replay shows the first run's number), 400 for "bad" bodies, 422
 * for "refuse" bodies. */
static enum tl_err counting_create(struct http_request *req, struct http_response *resp)
{
    int run = atomic_fetch_add(&stored_runs, 1) + 1;
    if (memmem(req->body, req->body_bytes, "bad", 3) != NULL) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "x", "bad");
    }
    if (memmem(req->body, req->body_bytes, "refuse", 6) != NULL) {
        return http_fail(resp, TL_ERR_INSUFFICIENT_FUNDS, "amount", "no");
    }
    return http_response_json(resp, 201, json_pack("{s:i}", "run", run));
}

static const struct route stored_table[] = {
    {HTTP_POST, "/v1/things", counting_create, "things.create", ROUTE_IDEMPOTENT, ROUTE_LIMIT_NONE},
};

struct store_fixture {
    char dir[64];
    char path[96];
    struct store *store;
    struct readers *readers;
    struct api_app app;
};

static void fixture_open(struct store_fixture *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/tl-idempotency-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    struct store_config config = {.backend = NULL, .path = f->path, .read_only = false};
    assert_int_equal(store_open(&config, &f->store), TL_OK);
    assert_int_equal(readers_open(&config, 2, &f->readers), TL_OK);
    assert_int_equal(api_app_init(&f->app, NULL, NULL, f->readers), TL_OK);
    f->app.app_store = f->store;
    f->app.routes = stored_table;
    f->app.route_count = 1;
}

static void fixture_close(struct store_fixture *f)
{
    api_app_fini(&f->app);
    readers_close(f->readers);
    store_close(f->store);
    char files[3][128];
    snprintf(files[0], sizeof(files[0]), "%s-wal", f->path);
    snprintf(files[1], sizeof(files[1]), "%s-shm", f->path);
    snprintf(files[2], sizeof(files[2]), "%s", f->path);
    for (int i = 0; i < 3; i++) {
        unlink(files[i]);
    }
    rmdir(f->dir);
}

static struct call stored_call(struct store_fixture *f, const char *key, const char *body)
{
    struct call c;
    memset(&c, 0, sizeof(c));
    c.app = &f->app;
    c.key = key;
    c.body = body;
    call_main(&c);
    return c;
}

static void test_store_replay(void **state)
{
    (void)state;
    struct store_fixture f;
    fixture_open(&f);
    atomic_store(&stored_runs, 0);

    struct call first = stored_call(&f, "k1", "{\"a\":1}");
    assert_int_equal(first.status, 201);
    assert_false(first.replayed);
    struct call again = stored_call(&f, "k1", "{\"a\":1}");
    assert_int_equal(again.status, 201);
    assert_true(again.replayed);
    assert_string_equal(again.body_out, first.body_out);
    assert_int_equal(atomic_load(&stored_runs), 1);

    struct call other = stored_call(&f, "k1", "{\"a\":2}");
    assert_int_equal(other.status, 409);
    assert_string_equal(other.code, "idempotency_key_reused");

    /* Another caller may use the same key for its own request. */
    struct call stranger;
    memset(&stranger, 0, sizeof(stranger));
    stranger.app = &f.app;
    stranger.key = "k1";
    stranger.body = "{\"a\":2}";
    stranger.client_ip = "198.51.100.4";
    call_main(&stranger);
    assert_int_equal(stranger.status, 201);
    assert_false(stranger.replayed);
    assert_int_equal(atomic_load(&stored_runs), 2);

    /* A 400 is not stored: the retry runs again. A 422 is, problem and all. */
    assert_int_equal(stored_call(&f, "k2", "{\"bad\":1}").status, 400);
    assert_int_equal(stored_call(&f, "k2", "{\"bad\":1}").status, 400);
    assert_int_equal(atomic_load(&stored_runs), 4);
    struct call refused = stored_call(&f, "k3", "{\"refuse\":1}");
    assert_int_equal(refused.status, 422);
    struct call refused_again = stored_call(&f, "k3", "{\"refuse\":1}");
    assert_int_equal(refused_again.status, 422);
    assert_true(refused_again.replayed);
    assert_string_equal(refused_again.code, "insufficient_funds");
    assert_string_equal(refused_again.body_out, refused.body_out);
    assert_int_equal(atomic_load(&stored_runs), 5);
    assert_int_equal(idempotency_flight_count(), 0);
    fixture_close(&f);
}

static void put_row(struct store *store, const char *key, uint64_t created_ns)
{
    struct store_idempotency row;
    memset(&row, 0, sizeof(row));
    snprintf(row.scope, sizeof(row.scope), "ip:192.0.2.1");
    snprintf(row.key, sizeof(row.key), "%s", key);
    row.status = 201;
    row.created_ns = created_ns;
    row.body = "{}";
    row.body_bytes = 2;
    assert_int_equal(store_idempotency_put(store, &row), TL_OK);
}

static bool row_exists(struct store *store, const char *key)
{
    struct store_idempotency row;
    bool found = false;
    assert_int_equal(store_idempotency_get(store, "ip:192.0.2.1", key, &row, &found), TL_OK);
    if (found) {
        free((void *)row.body);
    }
    return found;
}

static void test_pruner(void **state)
{
    (void)state;
    struct store_fixture f;
    fixture_open(&f);
    uint64_t now_ns = clock_wall_ns();
    put_row(f.store, "old", now_ns - IDEMPOTENCY_RETENTION_NS - 1000000000ull);
    put_row(f.store, "young", now_ns - IDEMPOTENCY_RETENTION_NS + 3600ull * 1000000000ull);
    struct idempotency_pruner *pruner = NULL;
    assert_int_equal(idempotency_pruner_start(&f.app, 20, &pruner), TL_OK);
    for (int i = 0; i < 2000 && row_exists(f.store, "old"); i++) {
        clock_sleep_ms(10); /* up to 20 s on a loaded machine */
    }
    idempotency_pruner_stop(pruner);
    assert_false(row_exists(f.store, "old"));
    assert_true(row_exists(f.store, "young"));
    fixture_close(&f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_storable),
    cmocka_unit_test(test_scope),
    cmocka_unit_test(test_hash),
    cmocka_unit_test(test_flight_claims),
    cmocka_unit_test(test_flight_table_full),
    cmocka_unit_test(test_flight_one_at_a_time),
    cmocka_unit_test(test_dispatch_in_flight),
    cmocka_unit_test(test_dispatch_parks_duplicate),
    cmocka_unit_test(test_dispatch_closed_gate),
    cmocka_unit_test(test_gate_counts),
    cmocka_unit_test(test_store_replay),
    cmocka_unit_test(test_pruner),
};

TL_TEST_MAIN(tests)
