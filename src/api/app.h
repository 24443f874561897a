/*
 * app.h - the services a request may use, reached through req->app.
 *
 * One api_app lives for the whole server. It borrows the writer and the reader pool from main
 * and owns the metrics registry and the rate-limit tables. Handlers read it; only the server
 * (draining) and main (setup, teardown) change it.
 *
 * Application rows (users, sessions, wallet rows, direct idempotency rows) are written
 * through one writable store handle that main opens and lends to the app; handlers borrow it
 * with api_app_store_acquire for the shortest time they can and give it back on every path.
 *
 * Never: hold the ledger (the writer thread owns it), or write money through the app store
 * handle (money goes through the writer).
 */
#ifndef TL_API_APP_H
#define TL_API_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "api/router.h"
#include "util/err.h"

struct authn;
struct config;
struct events_hub;
struct seen;
struct kyc;
struct metrics;
struct ratelimit;
struct readers;
struct store;
struct writer;

/* The authenticate phase: reads credentials (Authorization header) and fills req->principal.
 * Returns TL_OK or the error to answer (TL_ERR_UNAUTHORIZED). Must never log credentials. */
typedef enum tl_err (*api_authenticate_fn)(void *ctx, struct http_request *req);

struct api_app {
    const struct config *config; /* may be NULL in tests */
    const struct route *routes;  /* normally api_routes */
    size_t route_count;
    struct writer *writer;   /* NULL when no ledger runs (tests): money routes answer 503 */
    struct readers *readers; /* NULL: http_request_store answers TL_ERR_STORAGE */
    struct metrics *metrics; /* never NULL */
    struct ratelimit *limits[ROUTE_LIMIT_COUNT]; /* NULL: that class is not limited */
    api_authenticate_fn authenticate;            /* NULL: ROUTE_AUTH routes answer 401 */
    void *authenticate_ctx;
    /* Identity services: token hashing, the session cache, password hashing behind a gate,
     * the login throttle (authn.h). Set by main; NULL: identity routes answer 503. */
    struct authn *authn;
    /* The event streams of GET /v1/events (events.h). Set by main; NULL: that route answers
     * 503. */
    struct events_hub *events;
    /* The operator credential of ROUTE_OPERATOR routes (operator.h). Set by main; NULL or not
     * enabled: those routes answer 404. */
    const struct operator_auth *operator_auth;
    /* Verification tiers' limits (kyc.h), made by api_app_init from config's [limits]; NULL
     * without a config (no limits). */
    struct kyc *kyc;
    uint64_t (*clock_ns)(void); /* monotonic, for rate limits; NULL = clock_mono_ns */
    /* Sessions' last-seen writes, off the request path (seen.h), borrowed from main; NULL:
     * the request writes it itself (tests without the thread). */
    struct seen *seen;
    _Atomic bool draining;      /* set when shutdown starts: /readyz answers 503 */
    /* The writable handle for application rows, borrowed from main: set it after
     * api_app_init (NULL: api_app_store_acquire answers TL_ERR_STORAGE). Reach it only
     * through api_app_store_acquire/release; the fields below are theirs. */
    struct store *app_store;
    pthread_mutex_t app_store_mutex;
    pthread_cond_t app_store_freed;
    bool app_store_busy;
};

/* Milliseconds api_app_store_acquire waits for the handle before answering TL_ERR_BUSY. */
#define API_APP_STORE_WAIT_MS 2000u

/*
 * Sets up app for the api_routes table: metrics registry and the rate-limit tables of config's
 * [ratelimit] section (config may be NULL: no rate limits). Borrows writer and readers (either
 * may be NULL). TL_ERR_NOMEM or TL_ERR_INVALID_REQUEST (bad limits); app is cleaned up on error.
 */
enum tl_err api_app_init(struct api_app *app, const struct config *config, struct writer *writer,
                         struct readers *readers);
/* Frees what api_app_init made. Cannot fail. */
void api_app_fini(struct api_app *app);

/*
 * Borrows the writable application-row handle (users, sessions, wallet rows). One caller at a
 * time: others wait up to API_APP_STORE_WAIT_MS, then get TL_ERR_BUSY. TL_ERR_STORAGE when
 * the server runs without one. Thread-safe. Each call is its own transaction in the store; do
 * no slow work (password hashing, writer round trips) while holding it.
 */
enum tl_err api_app_store_acquire(struct api_app *app, struct store **out);
/* Gives back a handle from api_app_store_acquire. Thread-safe. Cannot fail. */
void api_app_store_release(struct api_app *app, struct store *store);

#endif
