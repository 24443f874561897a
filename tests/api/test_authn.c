/*
 * test_authn.c - the session cache (with injected clocks), the bearer header parser and the
 * password-hashing gate.
 */
#include <pthread.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/app.h"
#include "api/authn.h"
#include "api/readers.h"
#include "api/seen.h"
#include "auth/password.h"
#include "store/app.h"
#include "util/clock.h"
#include "test.h"

#define SECOND_NS 1000000000ull

/* Both clocks of the authn under test; tests move them by hand. */
static _Atomic uint64_t fake_wall_ns;
static _Atomic uint64_t fake_mono_ns;

static uint64_t fake_wall(void *ctx)
{
    (void)ctx;
    return fake_wall_ns;
}

static uint64_t fake_mono(void *ctx)
{
    (void)ctx;
    return fake_mono_ns;
}

static struct token_key test_key;

static struct authn *authn_make(uint32_t entries, struct password_ctx *passwords,
                                uint32_t waiters_max)
{
    static const uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    struct authn *authn = NULL;
    assert_int_equal(token_key_init(&test_key, secret, sizeof(secret)), TL_OK);
    struct authn_config config = {
        .token_key = &test_key,
        .passwords = passwords,
        .session_ttl_s = 3600,
        .cache_entries_max = entries,
        .cache_ttl_ms = 30000,
        .hash_waiters_max = waiters_max,
        .wall_ns = fake_wall,
        .mono_ns = fake_mono,
    };
    fake_wall_ns = 1700000000ull * SECOND_NS;
    fake_mono_ns = 1000 * SECOND_NS;
    assert_int_equal(authn_new(&config, &authn), TL_OK);
    return authn;
}

/* A token hash whose bytes come from n, and a session tied to it, so a hit can be checked. */
static struct token_hash hash_of(uint64_t n)
{
    struct token_hash hash;
    crypto_generichash(hash.bytes, sizeof(hash.bytes), (const uint8_t *)&n, sizeof(n), NULL, 0);
    return hash;
}

static struct authn_session session_of(uint64_t n, uint64_t expires_ns)
{
    struct authn_session session = {id128_make(n + 1, 7), id128_make(n + 1, 9), expires_ns};
    return session;
}

static void test_config_bounds(void **state)
{
    (void)state;
    struct authn *authn = NULL;
    struct authn_config config = {.token_key = &test_key, .session_ttl_s = 10};
    assert_int_equal(authn_new(&config, &authn), TL_ERR_LIMIT);
    config.session_ttl_s = 3600;
    config.cache_entries_max = 3;
    assert_int_equal(authn_new(&config, &authn), TL_ERR_LIMIT);
    config.cache_entries_max = 0;
    config.cache_ttl_ms = AUTHN_CACHE_TTL_MS_MAX + 1;
    assert_int_equal(authn_new(&config, &authn), TL_ERR_LIMIT);
    config.token_key = NULL;
    config.cache_ttl_ms = 0;
    assert_int_equal(authn_new(&config, &authn), TL_ERR_LIMIT);
    assert_null(authn);
}

static void test_cache_hit_and_miss(void **state)
{
    (void)state;
    struct authn *authn = authn_make(0, NULL, 0);
    struct token_hash a = hash_of(1);
    struct token_hash b = hash_of(2);
    struct authn_session in = session_of(1, fake_wall_ns + 3600 * SECOND_NS);
    struct authn_session out;
    bool revoked = true;
    assert_false(authn_cache_get(authn, &a, &out, &revoked));
    assert_false(revoked);
    authn_cache_put(authn, &a, &in);
    assert_true(authn_cache_get(authn, &a, &out, &revoked));
    assert_false(revoked);
    assert_true(id128_eq(out.user_id, in.user_id));
    assert_true(id128_eq(out.session_id, in.session_id));
    assert_int_equal(out.expires_ns, in.expires_ns);
    assert_false(authn_cache_get(authn, &b, &out, NULL));
    struct authn_stats stats;
    authn_stats_get(authn, &stats);
    assert_int_equal(stats.hits, 1);
    assert_int_equal(stats.misses, 2);
    authn_free(authn);
}

static void test_cache_ttl_expiry(void **state)
{
    (void)state;
    struct authn *authn = authn_make(0, NULL, 0);
    struct token_hash a = hash_of(1);
    struct authn_session in = session_of(1, fake_wall_ns + 3600 * SECOND_NS);
    struct authn_session out;
    authn_cache_put(authn, &a, &in);
    fake_mono_ns += 30 * SECOND_NS - 1;
    assert_true(authn_cache_get(authn, &a, &out, NULL));
    fake_mono_ns += 1; /* the cache TTL is up: ask the store again */
    assert_false(authn_cache_get(authn, &a, &out, NULL));
    authn_cache_put(authn, &a, &in); /* refreshed from the store */
    assert_true(authn_cache_get(authn, &a, &out, NULL));
    authn_free(authn);
}

static void test_cache_session_expiry(void **state)
{
    (void)state;
    struct authn *authn = authn_make(0, NULL, 0);
    struct token_hash a = hash_of(1);
    struct authn_session in = session_of(1, fake_wall_ns + 5 * SECOND_NS);
    struct authn_session out;
    authn_cache_put(authn, &a, &in);
    fake_wall_ns += 5 * SECOND_NS - 1;
    assert_true(authn_cache_get(authn, &a, &out, NULL));
    fake_wall_ns += 1; /* the session itself expired, well inside the cache TTL */
    assert_false(authn_cache_get(authn, &a, &out, NULL));
    /* An expired session is never cached. */
    authn_cache_put(authn, &a, &in);
    assert_false(authn_cache_get(authn, &a, &out, NULL));
    authn_free(authn);
}

static void test_forget_is_immediate_and_sticks(void **state)
{
    (void)state;
    struct authn *authn = authn_make(0, NULL, 0);
    struct token_hash a = hash_of(1);
    struct authn_session in = session_of(1, fake_wall_ns + 3600 * SECOND_NS);
    struct authn_session out;
    bool revoked = false;
    authn_cache_put(authn, &a, &in);
    authn_forget(authn, &a);
    assert_false(authn_cache_get(authn, &a, &out, &revoked));
    assert_true(revoked);
    /* A lookup that read the row before the revoke must not bring it back. */
    authn_cache_put(authn, &a, &in);
    assert_false(authn_cache_get(authn, &a, &out, &revoked));
    assert_true(revoked);
    /* The marker lasts a cache TTL; after that the store (revoked row) answers. */
    fake_mono_ns += 30 * SECOND_NS;
    assert_false(authn_cache_get(authn, &a, &out, &revoked));
    assert_false(revoked);
    /* Forgetting a token that was never cached works too. */
    struct token_hash b = hash_of(2);
    authn_forget(authn, &b);
    authn_cache_put(authn, &b, &in);
    assert_false(authn_cache_get(authn, &b, &out, &revoked));
    assert_true(revoked);
    authn_free(authn);
}

/* Far more sessions than slots: memory stays fixed, and a hit always is the right session. */
static void test_cache_is_bounded(void **state)
{
    (void)state;
    struct authn *authn = authn_make(AUTHN_CACHE_ENTRIES_MIN, NULL, 0);
    uint64_t expires_ns = fake_wall_ns + 3600 * SECOND_NS;
    const uint64_t count = 20 * AUTHN_CACHE_ENTRIES_MIN;
    for (uint64_t n = 0; n < count; n++) {
        struct token_hash hash = hash_of(n);
        struct authn_session in = session_of(n, expires_ns);
        authn_cache_put(authn, &hash, &in);
    }
    uint64_t hits = 0;
    for (uint64_t n = 0; n < count; n++) {
        struct token_hash hash = hash_of(n);
        struct authn_session out;
        if (authn_cache_get(authn, &hash, &out, NULL)) {
            assert_true(id128_eq(out.user_id, session_of(n, 0).user_id));
            hits++;
        }
    }
    struct authn_stats stats;
    authn_stats_get(authn, &stats);
    assert_true(hits <= AUTHN_CACHE_ENTRIES_MIN);
    assert_true(hits > AUTHN_CACHE_ENTRIES_MIN / 2);
    assert_int_equal(stats.evictions, count - AUTHN_CACHE_ENTRIES_MIN);
    authn_free(authn);
}

/* Eviction takes the entry whose time runs out first, so fresh logins push out old ones. */
static void test_cache_evicts_oldest(void **state)
{
    (void)state;
    struct authn *authn = authn_make(AUTHN_CACHE_ENTRIES_MIN, NULL, 0);
    uint64_t expires_ns = fake_wall_ns + 3600 * SECOND_NS;
    struct token_hash first = hash_of(0);
    struct authn_session in = session_of(0, expires_ns);
    struct authn_session out;
    authn_cache_put(authn, &first, &in);
    fake_mono_ns += SECOND_NS;
    /* Enough newer entries that first's set certainly overflows. */
    for (uint64_t n = 1; n < 64 * AUTHN_CACHE_ENTRIES_MIN; n++) {
        struct token_hash hash = hash_of(n);
        struct authn_session s = session_of(n, expires_ns);
        authn_cache_put(authn, &hash, &s);
    }
    assert_false(authn_cache_get(authn, &first, &out, NULL));
    authn_free(authn);
}

struct hammer {
    struct authn *authn;
    uint64_t seed;
    uint64_t wrong;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    uint64_t expires_ns = fake_wall_ns + 3600 * SECOND_NS;
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t n = (h->seed * 7919 + i * 104729) % 4096;
        struct token_hash hash = hash_of(n);
        struct authn_session out;
        if (i % 3 == 0) {
            struct authn_session in = session_of(n, expires_ns);
            authn_cache_put(h->authn, &hash, &in);
        } else if (i % 97 == 0) {
            authn_forget(h->authn, &hash);
        } else if (authn_cache_get(h->authn, &hash, &out, NULL) &&
                   !id128_eq(out.user_id, session_of(n, 0).user_id)) {
            h->wrong++;
        }
    }
    return NULL;
}

static void test_cache_threads(void **state)
{
    (void)state;
    struct authn *authn = authn_make(1024, NULL, 0);
    pthread_t threads[8];
    struct hammer hammers[8];
    for (int i = 0; i < 8; i++) {
        hammers[i] = (struct hammer){authn, (uint64_t)i + 1, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_run, &hammers[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(hammers[i].wrong, 0);
    }
    authn_free(authn);
}

/* ---- The bearer header ---- */

struct fake_headers {
    const char *authorization;
};

static const char *fake_lookup(void *ctx, enum http_lookup_kind kind, const char *name)
{
    struct fake_headers *headers = ctx;
    if (kind == HTTP_LOOKUP_HEADER && strcasecmp(name, "Authorization") == 0) {
        return headers->authorization;
    }
    return NULL;
}

static enum tl_err authenticate_with(struct authn *authn, struct api_app *app, const char *value,
                                     struct http_request *req)
{
    struct fake_headers headers = {value};
    memset(req, 0, sizeof(*req));
    req->app = app;
    req->lookup_ = fake_lookup;
    req->lookup_ctx_ = &headers;
    return authn_authenticate(authn, req);
}

static void test_bearer_header(void **state)
{
    (void)state;
    struct authn *authn = authn_make(0, NULL, 0);
    struct api_app app;
    struct http_request req;
    char token[TOKEN_STR_BYTES];
    char header[TOKEN_STR_BYTES + 16];
    struct token_hash hash;
    memset(&app, 0, sizeof(app)); /* no readers: a cache miss cannot reach a store */
    authn_token_new(authn, token, &hash);
    struct authn_session in = session_of(5, fake_wall_ns + 60 * SECOND_NS);
    authn_cache_put(authn, &hash, &in);

    snprintf(header, sizeof(header), "Bearer %s", token);
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_OK);
    assert_true(req.principal.authenticated);
    assert_true(id128_eq(req.principal.user_id, in.user_id));
    assert_true(id128_eq(req.principal.session_id, in.session_id));
    snprintf(header, sizeof(header), "bearer   %s", token); /* scheme case, extra spaces */
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_OK);

    assert_int_equal(authenticate_with(authn, &app, NULL, &req), TL_ERR_UNAUTHORIZED);
    assert_int_equal(authenticate_with(authn, &app, "", &req), TL_ERR_UNAUTHORIZED);
    assert_int_equal(authenticate_with(authn, &app, "Bearer", &req), TL_ERR_UNAUTHORIZED);
    assert_int_equal(authenticate_with(authn, &app, "Bearer ", &req), TL_ERR_UNAUTHORIZED);
    snprintf(header, sizeof(header), "Basic %s", token);
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_ERR_UNAUTHORIZED);
    snprintf(header, sizeof(header), "Bearer%s", token);
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_ERR_UNAUTHORIZED);
    snprintf(header, sizeof(header), "Bearer %sx", token);
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_ERR_UNAUTHORIZED);
    assert_false(req.principal.authenticated);

    /* Logged out: refused at once, without asking the (absent) store. */
    authn_forget(authn, &hash);
    snprintf(header, sizeof(header), "Bearer %s", token);
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_ERR_UNAUTHORIZED);
    /* A well-formed unknown token needs the store; without one the phase says so. */
    authn_token_new(authn, token, &hash);
    snprintf(header, sizeof(header), "Bearer %s", token);
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_ERR_STORAGE);
    authn_free(authn);
}

/* ---- Cache misses go to the store ---- */

struct store_fixture {
    char dir[64];
    char path[96];
    struct store *writable;
    struct readers *readers;
    struct api_app app;
    struct id128 user_id;
};

static void store_fixture_open(struct store_fixture *f)
{
    memset(f, 0, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/tally-authn-XXXXXX", tmp != NULL ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    struct store_config config = {.backend = NULL, .path = f->path, .read_only = false};
    assert_int_equal(store_open(&config, &f->writable), TL_OK);
    assert_int_equal(readers_open(&config, 1, &f->readers), TL_OK);
    f->app.readers = f->readers;
    /* Sessions belong to a user. */
    struct store_user user;
    struct store_wallet wallet;
    enum store_user_conflict conflict = STORE_USER_CONFLICT_NONE;
    memset(&user, 0, sizeof(user));
    memset(&wallet, 0, sizeof(wallet));
    user.id = id128_new();
    snprintf(user.handle, sizeof(user.handle), "alice");
    snprintf(user.email, sizeof(user.email), "alice@example.com");
    snprintf(user.display_name, sizeof(user.display_name), "Alice");
    snprintf(user.password_hash, sizeof(user.password_hash), "$argon2id$v=19$x");
    user.created_ns = fake_wall_ns;
    wallet.id = id128_new();
    wallet.user_id = user.id;
    wallet.currency = 840;
    wallet.created_ns = fake_wall_ns;
    assert_int_equal(store_user_create(f->writable, &user, &wallet, &conflict), TL_OK);
    f->user_id = user.id;
}

static void store_fixture_close(struct store_fixture *f)
{
    static const char *const names[] = {"t.db", "t.db-wal", "t.db-shm"};
    char path[128];
    readers_close(f->readers);
    store_close(f->writable);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
        unlink(path);
    }
    rmdir(f->dir);
}

/* A stored session for a new token; header gets "Bearer <token>". */
static struct store_session session_stored(struct authn *authn, struct store_fixture *f,
                                           uint64_t expires_ns, char *header, size_t header_bytes)
{
    char token[TOKEN_STR_BYTES];
    struct token_hash hash;
    struct store_session row;
    memset(&row, 0, sizeof(row));
    authn_token_new(authn, token, &hash);
    memcpy(row.token_hash, hash.bytes, sizeof(row.token_hash));
    row.id = id128_new();
    row.user_id = f->user_id;
    row.created_ns = fake_wall_ns;
    row.expires_ns = expires_ns;
    assert_int_equal(store_session_create(f->writable, &row), TL_OK);
    snprintf(header, header_bytes, "Bearer %s", token);
    return row;
}

/* The authenticate phase as the dispatcher runs it: the reader goes back afterwards. */
static enum tl_err authenticate_stored(struct authn *authn, struct store_fixture *f,
                                       const char *header, struct http_request *req)
{
    enum tl_err err = authenticate_with(authn, &f->app, header, req);
    if (req->reader_ != NULL) {
        readers_release(f->readers, req->reader_);
        req->reader_ = NULL;
    }
    return err;
}

static void test_store_lookup(void **state)
{
    (void)state;
    struct authn *authn = authn_make(0, NULL, 0);
    struct store_fixture f;
    struct http_request req;
    struct authn_stats stats;
    char header[TOKEN_STR_BYTES + 16];
    store_fixture_open(&f);
    struct store_session row =
        session_stored(authn, &f, fake_wall_ns + 3600 * SECOND_NS, header, sizeof(header));

    /* A miss reads the row, and caches it: the second call does not touch the store. */
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_OK);
    assert_true(id128_eq(req.principal.user_id, f.user_id));
    assert_true(id128_eq(req.principal.session_id, row.id));
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_OK);
    authn_stats_get(authn, &stats);
    assert_int_equal(stats.hits, 1);
    assert_int_equal(stats.misses, 1);

    /* Revoked by another process: this one notices within a cache TTL. */
    assert_int_equal(store_session_revoke(f.writable, row.token_hash), TL_OK);
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_OK);
    fake_mono_ns += 30 * SECOND_NS;
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_ERR_UNAUTHORIZED);

    /* Expired rows and unknown tokens. */
    session_stored(authn, &f, fake_wall_ns - 1, header, sizeof(header));
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_ERR_UNAUTHORIZED);
    session_stored(authn, &f, fake_wall_ns + 10 * SECOND_NS, header, sizeof(header));
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_OK);
    fake_wall_ns += 10 * SECOND_NS; /* expires while cached */
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_ERR_UNAUTHORIZED);
    char unknown[TOKEN_STR_BYTES];
    struct token_hash unknown_hash;
    authn_token_new(authn, unknown, &unknown_hash);
    snprintf(header, sizeof(header), "Bearer %s", unknown);
    assert_int_equal(authenticate_stored(authn, &f, header, &req), TL_ERR_UNAUTHORIZED);

    store_fixture_close(&f);
    authn_free(authn);
}

/* The last-seen write waits for the app-store handle (on SQLite, for the ledger writer's lock
 * too); the request must not. With the handle held elsewhere, authenticating a session that is
 * due for a touch answers at once, and the touch lands once the handle is free. Before seen.h,
 * the request waited up to API_APP_STORE_WAIT_MS (the payments benchmark's 1-2 s tails). */
static uint64_t last_seen_of(struct store *store, struct id128 user_id, struct id128 session_id)
{
    struct store_session_seen seen[STORE_SESSIONS_LIST_MAX];
    uint32_t count = 0;
    assert_int_equal(store_sessions_seen(store, user_id, fake_wall_ns, seen,
                                         STORE_SESSIONS_LIST_MAX, &count),
                     TL_OK);
    for (uint32_t i = 0; i < count; i++) {
        if (id128_eq(seen[i].id, session_id)) {
            return seen[i].last_seen_ns;
        }
    }
    fail_msg("session not listed");
    return 0;
}

static void test_last_seen_off_the_request_path(void **state)
{
    (void)state;
    struct authn *authn = authn_make(0, NULL, 0);
    struct store_fixture f;
    struct api_app app;
    struct http_request req;
    struct seen *seen = NULL;
    struct store *held = NULL;
    char header[TOKEN_STR_BYTES + 16];
    store_fixture_open(&f);
    assert_int_equal(api_app_init(&app, NULL, NULL, f.readers), TL_OK);
    app.app_store = f.writable;
    assert_int_equal(seen_start(&app, &seen), TL_OK);
    app.seen = seen;
    struct store_session row =
        session_stored(authn, &f, fake_wall_ns + 3600 * SECOND_NS, header, sizeof(header));

    assert_int_equal(api_app_store_acquire(&app, &held), TL_OK);
    uint64_t start_ns = clock_mono_ns();
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_OK);
    uint64_t took_ns = clock_mono_ns() - start_ns;
    readers_release(f.readers, req.reader_);
    assert_true(took_ns < (uint64_t)API_APP_STORE_WAIT_MS * 1000000u * 3u / 4u); /* no wait */
    assert_int_equal(last_seen_of(held, f.user_id, row.id), 0); /* queued, not written */
    api_app_store_release(&app, held);

    seen_flush(seen);
    assert_int_equal(last_seen_of(f.writable, f.user_id, row.id), fake_wall_ns);
    /* Within the interval the cached session is not due again: nothing more is queued. */
    fake_wall_ns += SECOND_NS;
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_OK);
    seen_flush(seen);
    assert_int_equal(last_seen_of(f.writable, f.user_id, row.id), fake_wall_ns - SECOND_NS);
    /* Due again after the interval; seen_stop writes what is still queued. */
    fake_wall_ns += (uint64_t)AUTHN_LAST_SEEN_INTERVAL_S * SECOND_NS;
    assert_int_equal(api_app_store_acquire(&app, &held), TL_OK);
    assert_int_equal(authenticate_with(authn, &app, header, &req), TL_OK);
    api_app_store_release(&app, held);
    seen_stop(seen);
    assert_int_equal(last_seen_of(f.writable, f.user_id, row.id), fake_wall_ns);

    app.app_store = NULL;
    api_app_fini(&app);
    store_fixture_close(&f);
    authn_free(authn);
}

/* ---- The hashing gate ---- */

struct hasher {
    struct authn *authn;
    enum tl_err err;
};

static void *hasher_run(void *arg)
{
    struct hasher *h = arg;
    char out[PASSWORD_HASH_STR_BYTES];
    h->err = authn_password_hash(h->authn, "correct horse battery", 21, out);
    return NULL;
}

/* With the default (slow) cost one hash is running while the others arrive. */
static void gate_run(uint32_t waiters_max, int callers, int expect_busy)
{
    struct password_config config;
    struct password_ctx *passwords = NULL;
    password_config_default(&config);
    assert_int_equal(password_ctx_new(&config, &passwords), TL_OK);
    struct authn *authn = authn_make(0, passwords, waiters_max);
    pthread_t threads[4];
    struct hasher hashers[4];
    for (int i = 0; i < callers; i++) {
        hashers[i] = (struct hasher){authn, TL_OK};
        assert_int_equal(pthread_create(&threads[i], NULL, hasher_run, &hashers[i]), 0);
        usleep(10000); /* well inside one hash, so they overlap */
    }
    int busy = 0;
    for (int i = 0; i < callers; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_true(hashers[i].err == TL_OK || hashers[i].err == TL_ERR_BUSY);
        busy += hashers[i].err == TL_ERR_BUSY;
    }
    struct authn_stats stats;
    authn_stats_get(authn, &stats);
    assert_int_equal(busy, expect_busy);
    assert_int_equal(stats.hash_busy, (uint64_t)expect_busy);
    authn_free(authn);
    password_ctx_free(passwords);
}

static void test_gate_refuses_past_waiters(void **state)
{
    (void)state;
    gate_run(0, 2, 1); /* one hashing, nobody may wait */
    gate_run(1, 3, 1); /* one hashing, one waiting, the third refused */
    gate_run(2, 3, 0);
}

static void test_password_policy_is_weak_password(void **state)
{
    (void)state;
    struct password_config config;
    struct password_ctx *passwords = NULL;
    const char *detail = NULL;
    password_config_default(&config);
    assert_int_equal(password_ctx_new(&config, &passwords), TL_OK);
    struct authn *authn = authn_make(0, passwords, 0);
    assert_int_equal(authn_password_policy(authn, "short", 5, &detail), TL_ERR_WEAK_PASSWORD);
    assert_non_null(detail);
    assert_int_equal(authn_password_policy(authn, "qwerty123456", 12, &detail),
                     TL_ERR_WEAK_PASSWORD);
    assert_int_equal(authn_password_policy(authn, "tally-wallet-0xC0FFEE", 21, &detail), TL_OK);
    /* Verify through the gate: right, wrong, and the dummy for unknown users. */
    char stored[PASSWORD_HASH_STR_BYTES];
    assert_int_equal(authn_password_hash(authn, "tally-wallet-0xC0FFEE", 21, stored), TL_OK);
    assert_int_equal(authn_password_verify(authn, stored, "tally-wallet-0xC0FFEE", 21), TL_OK);
    assert_int_equal(authn_password_verify(authn, stored, "tally-wallet-0xC0FFEF", 21),
                     TL_ERR_UNAUTHORIZED);
    assert_int_equal(authn_password_verify(authn, NULL, "tally-wallet-0xC0FFEE", 21),
                     TL_ERR_UNAUTHORIZED);
    authn_free(authn);
    password_ctx_free(passwords);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_config_bounds),
    cmocka_unit_test(test_cache_hit_and_miss),
    cmocka_unit_test(test_cache_ttl_expiry),
    cmocka_unit_test(test_cache_session_expiry),
    cmocka_unit_test(test_forget_is_immediate_and_sticks),
    cmocka_unit_test(test_cache_is_bounded),
    cmocka_unit_test(test_cache_evicts_oldest),
    cmocka_unit_test(test_cache_threads),
    cmocka_unit_test(test_bearer_header),
    cmocka_unit_test(test_store_lookup),
    cmocka_unit_test(test_last_seen_off_the_request_path),
    cmocka_unit_test(test_gate_refuses_past_waiters),
    cmocka_unit_test(test_password_policy_is_weak_password),
};

/* token_key_init (in every authn_make) starts libsodium before anything hashes. */
TL_TEST_MAIN(tests)
