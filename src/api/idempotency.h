/*
 * idempotency.h - Idempotency-Key: execute a POST once, replay its answer to retries.
 *
 * docs/api.md: a key is scoped to the caller ("user:<hex id>" when authenticated, else
 * "ip:<client address>"). The request is fingerprinted by a hash of method, route name and
 * body. The dispatcher runs three steps around the handler of a ROUTE_IDEMPOTENT route that
 * got a key:
 *
 *   begin    claim (scope, key) in the in-process in-flight table; a concurrent request with
 *            the same key and body waits for the first (parked, async.h; once the server is
 *            stopping and refuses parks, 503 shutting_down instead), one with another body
 *            gets 409 idempotency_key_reused at once. When other nodes write the same database
 *            (!store_exclusive), also claim the key in the store (store_idempotency_claim): a
 *            live claim of another node for the same body is 409 idempotency_key_in_progress
 *            with Retry-After, for another body 409 idempotency_key_reused. Then look the key up
 *            in the store: a stored row with the same hash is replayed (status, body,
 *            `Idempotent-Replayed: true`), another hash is 409.
 *   handler  runs as usual. A money handler attaches the row to its writer batch itself
 *            (idempotency_current + idempotency_attach in its on_applied hook), so the answer
 *            commits atomically with the money: no crash window in which money moved but a
 *            retry would move it again.
 *   finish   other handlers' answers are stored directly (store_idempotency_put on the app
 *            store handle); then the store claim (unless the batch that committed the answer
 *            deleted it) and the in-flight claim are released and waiters replay.
 *
 * What is stored: 2xx answers and the business refusals 409 and 422 (e.g. insufficient_funds,
 * wallet_exists) - answers a retry must see again. Never 5xx (the retry should run again),
 * never 400/401/403/404/413/415/429 (nothing was executed; the client may fix the request and
 * reuse the key), never a response marked `Cache-Control: no-store` or excluded with
 * idempotency_exclude (it carries a secret such as a session token), and never a body above
 * IDEMPOTENCY_BODY_BYTES_MAX. Rows are kept IDEMPOTENCY_RETENTION_NS (48 h, the contract
 * promises 24 h) and pruned by idempotency_pruner.
 *
 * Never: execute a handler for a (scope, key) that is in flight elsewhere in the process or,
 * with a shared database, on another node; or replay a row whose hash differs from the
 * request's.
 */
#ifndef TL_API_IDEMPOTENCY_H
#define TL_API_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "api/async.h"
#include "api/http.h"
#include "store/app.h"
#include "util/err.h"

struct writer_batch;

/* Requests with a key the process executes at once; more wait for a free slot. A parked
 * request (async.h) keeps its key until it is answered, and every connection may have one. */
#define IDEMPOTENCY_INFLIGHT_MAX TL_HTTP_CONNECTIONS_MAX
/* How long a request waits for the first of its duplicates (or a free slot) before 503. */
#define IDEMPOTENCY_WAIT_MS 10000u
/* Rows older than this are pruned. */
#define IDEMPOTENCY_RETENTION_NS (48ull * 3600ull * 1000000000ull)
/* How often the pruner runs. */
#define IDEMPOTENCY_PRUNE_INTERVAL_MS (60u * 1000u)
/* How long a store claim (cross-node, see idempotency_begin) holds a key when its node dies
 * before releasing it. A request still running past it cannot commit money: its batch fails
 * (the claim is the batch's fence) and the client retries. */
#define IDEMPOTENCY_CLAIM_TTL_NS (60ull * 1000000000ull)
/* Seconds a client is told to wait (Retry-After) when the key is in progress on another node. */
#define IDEMPOTENCY_IN_PROGRESS_RETRY_S "1"
/* Largest response body stored for replay; larger answers are not stored (logged). */
#define IDEMPOTENCY_BODY_BYTES_MAX (12u * 1024u)

static_assert(IDEMPOTENCY_BODY_BYTES_MAX + 1024u <= TL_RECORD_BYTES_MAX,
              "a stored answer and its key fit in one writer record");
static_assert(IDEMPOTENCY_INFLIGHT_MAX >= TL_HTTP_CONNECTIONS_MAX,
              "every connection can own a key at once");

struct idempotency_flight;

/* One request's idempotency state; lives on the dispatcher's stack. */
struct idempotency_request {
    struct api_app *app;
    const char *key; /* the validated header value */
    char scope[STORE_IDEMPOTENCY_SCOPE_BYTES_MAX];
    uint8_t request_hash[STORE_HASH_BYTES];
    struct idempotency_flight *flight; /* claimed in the in-flight table; NULL when not owner */
    struct id128 claim_owner;          /* the store claim this request holds; zero when none */
    bool replayed;                     /* begin answered from the store */
    bool recorded;                     /* the handler attached the row to a writer batch */
    bool excluded;                     /* the handler said the answer must not be stored */
};

/* An idle state (no key). Cannot fail. */
void idempotency_request_init(struct idempotency_request *idem);

/*
 * The begin step for req (a ROUTE_IDEMPOTENT route with req->idempotency_key set). TL_OK with
 * idem->replayed when resp now holds the stored answer; TL_OK without it when the handler must
 * run (idem owns the key until idempotency_finish). Errors, recorded with http_fail:
 * TL_ERR_IDEMPOTENCY_KEY_REUSED (409), TL_ERR_BUSY (waited too long), the store's errors.
 * Without a reader pool (tests) the store lookup is skipped.
 */
enum tl_err idempotency_begin(struct http_request *req, struct http_response *resp,
                              struct idempotency_request *idem);

/*
 * begin for a request that can park (async.h): while a duplicate is in flight the request
 * parks instead of blocking its worker thread (the duplicate may need that thread to finish),
 * and next(req, resp, ctx) runs once the duplicate released the key; it calls this again.
 * TL_OK with async_parked(req) then; TL_ERR_SHUTDOWN (nothing held) when the server is
 * stopping and refuses the park; otherwise as idempotency_begin (which it is when req cannot
 * park).
 */
enum tl_err idempotency_begin_async(struct http_request *req, struct http_response *resp,
                                    struct idempotency_request *idem, async_resume_fn next,
                                    void *ctx);

/* Marks idem as the request the calling thread's handler is running (NULL: none). */
void idempotency_enter(struct idempotency_request *idem);

/* The state of the request the calling thread's handler runs, when it carries a key this
 * request owns; NULL otherwise. Call it on the handler's thread (not in a writer hook) and
 * hand the pointer to the hook. */
struct idempotency_request *idempotency_current(void);

/* The answer of the current request carries a secret: do not store it (a retry then runs
 * again). No-op when there is no current keyed request. */
void idempotency_exclude(void);

/*
 * Writer hook side: attaches the row (status and body, copied) to batch so it commits with
 * the money, and marks idem recorded. Call from on_applied only, while the owner sleeps in
 * writer_submit. TL_ERR_LIMIT (body too large for a record; nothing attached), or
 * writer_batch_attach's errors. Status must be storable (asserted).
 */
enum tl_err idempotency_attach(struct idempotency_request *idem, struct writer_batch *batch,
                               int status, const char *body, size_t body_bytes);

/* The finish step: stores resp if it should be and was not recorded, releases the key.
 * Cannot fail (a failed store is logged: a retry then runs again). No-op for an idle state. */
void idempotency_finish(const struct http_request *req, const struct http_response *resp,
                        struct idempotency_request *idem);

/* ---- Pieces, exposed for tests ---- */

/* True for statuses whose answer is stored (2xx, 409, 422). Cannot fail. */
bool idempotency_storable(int status);

/* "user:<32 hex>" for an authenticated request, else "ip:<client address>". Cannot fail. */
void idempotency_scope(const struct http_request *req, char out[STORE_IDEMPOTENCY_SCOPE_BYTES_MAX]);

/* BLAKE2b of method, route name and body (a keyed hash of the body under a key derived from
 * method and route). Cannot fail. */
void idempotency_hash(enum http_method method, const char *route_name, const uint8_t *body,
                      size_t body_bytes, uint8_t out[STORE_HASH_BYTES]);

/*
 * Claims (scope, key) for a request with request_hash, waiting up to wait_ms while another
 * request with the same hash holds it (or while the table is full). TL_OK with *out set;
 * TL_ERR_IDEMPOTENCY_KEY_REUSED when the holder's hash differs; TL_ERR_BUSY after wait_ms.
 * Thread-safe.
 */
enum tl_err idempotency_flight_acquire(const char *scope, const char *key,
                                       const uint8_t request_hash[STORE_HASH_BYTES],
                                       uint32_t wait_ms, struct idempotency_flight **out);
/* Releases a claim and wakes its waiters. Cannot fail. */
void idempotency_flight_release(struct idempotency_flight *flight);
/* Claims held right now (tests). */
uint32_t idempotency_flight_count(void);

/* ---- Pruning ---- */

struct idempotency_pruner;

/* Starts a thread that deletes rows older than IDEMPOTENCY_RETENTION_NS (and store claims
 * that expired) through app's store handle every interval_ms (0: IDEMPOTENCY_PRUNE_INTERVAL_MS), first right away. TL_ERR_NOMEM,
 * TL_ERR_INTERNAL (no thread). */
enum tl_err idempotency_pruner_start(struct api_app *app, uint32_t interval_ms,
                                     struct idempotency_pruner **out);
/* Stops and joins the thread; NULL is a no-op. Call before api_app_fini. */
void idempotency_pruner_stop(struct idempotency_pruner *pruner);

/* Keys the request fingerprints with a key derived from the server secret. Call once at
 * startup, before the server accepts requests (it is not synchronized). Cannot fail. */
void idempotency_secret_set(const uint8_t *secret, size_t secret_bytes);

#endif
