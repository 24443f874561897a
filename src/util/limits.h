/*
 * limits.h - every named maximum in one place.
 *
 * Going over a limit is an error returned to the caller, never a silent truncation. Related
 * limits are tied together with static_asserts so that changing one cannot break another.
 */
#ifndef TL_UTIL_LIMITS_H
#define TL_UTIL_LIMITS_H

#include <assert.h>

/* Ledger events (account or transfer creations) the writer applies in one durable batch. */
#define TL_BATCH_EVENTS_MAX 8190
/* Events in one writer command; a linked chain never spans two commands. */
#define TL_COMMAND_EVENTS_MAX 64
/* Commands waiting in the writer's queue before submit answers TL_ERR_BUSY. */
#define TL_WRITER_QUEUE_MAX 16384
/* The longest a batch may wait for more commands once its first is queued ([writer] linger_us). */
#define TL_WRITER_LINGER_US_MAX 100000u
/* Attached store records (outbox rows, app rows) one command may add to a batch. A payment
 * with every option takes 9: its row, sealed note, device signature, two outbox events, an
 * audit entry, the idempotent answer and two limit running totals (api/kyc.h). */
#define TL_COMMAND_RECORDS_MAX 16
/* Bytes of one attached record's payload. */
#define TL_RECORD_BYTES_MAX 16384
/* Accounts the in-memory ledger can hold (a sizing default; configurable at open). */
#define TL_LEDGER_ACCOUNTS_DEFAULT (1u << 20)
/* Rows one history page may return. */
#define TL_PAGE_LIMIT_MAX 100
/* Wallets one user may hold (one per currency; ISO 4217 lists fewer than this). A payment
 * list walks the history chains of all of them at once (store/sqlite_paylists.c). */
#define TL_WALLETS_PER_USER_MAX 256u
/* Pending (hold) transfers that may expire in one sweep. */
#define TL_EXPIRE_SWEEP_MAX 1024
/* Longest hold, in seconds (one year). */
#define TL_PENDING_TIMEOUT_S_MAX (366u * 24u * 3600u)

static_assert(TL_COMMAND_EVENTS_MAX <= TL_BATCH_EVENTS_MAX, "a command must fit in a batch");
static_assert(TL_EXPIRE_SWEEP_MAX <= TL_BATCH_EVENTS_MAX, "a sweep must fit in a batch");

/* ---- HTTP API (src/api) ---- */

/* Bytes of one request body; a larger body is refused with 413 before it is read. */
#define TL_HTTP_BODY_BYTES_MAX (64u * 1024u)
/* Bytes of one response body (a history page, /metrics); past it the handler fails. */
#define TL_HTTP_RESPONSE_BYTES_MAX (1024u * 1024u)
/* Per-connection memory for the request line, headers and read buffer (libmicrohttpd's
 * connection memory limit); a larger header block is refused by the server library. */
#define TL_HTTP_HEADER_BYTES_MAX (32u * 1024u)
/* Seconds a connection may stay idle or dribble a request before it is closed. */
#define TL_HTTP_TIMEOUT_S_DEFAULT 15u
#define TL_HTTP_TIMEOUT_S_MAX 300u
/* Open connections in total and from one client address. */
#define TL_HTTP_CONNECTIONS_DEFAULT 1024u
#define TL_HTTP_CONNECTIONS_MAX 16384u
#define TL_HTTP_CONNECTIONS_PER_IP_DEFAULT 64u
/* Worker threads of the HTTP server. A worker blocks while the writer commits its request's
 * batch, so the number of workers bounds how many payments one commit can carry: the default
 * is well above the core count on purpose (docs/performance.md). */
#define TL_HTTP_THREADS_DEFAULT 32u
#define TL_HTTP_THREADS_MAX 64u
/* Milliseconds graceful shutdown waits for in-flight requests before closing them. */
#define TL_HTTP_DRAIN_MS_MAX 10000u
/* Extra headers one response may carry (Location, Retry-After, Allow, ...). */
#define TL_HTTP_RESPONSE_HEADERS_MAX 8u
/* Bytes of one extra response header value. */
#define TL_HTTP_HEADER_VALUE_BYTES_MAX 256u
/* Bytes of a Request-Id (an incoming one longer than this is replaced, not cut). */
#define TL_REQUEST_ID_BYTES_MAX 64u
/* Bytes of a request path the router looks at; a longer path is not found. */
#define TL_ROUTE_PATH_BYTES_MAX 512u
/* Path segments of a route pattern and of a request path the router matches. */
#define TL_ROUTE_SEGMENTS_MAX 8u
/* {param} segments in one route pattern, and bytes of one captured value. */
#define TL_ROUTE_PARAMS_MAX 4u
#define TL_ROUTE_PARAM_BYTES_MAX 64u
/* Routes in the route table (metrics keep one slot per route). */
#define TL_ROUTES_MAX 128u
/* Nesting of a JSON request body ({} and [] levels, the top-level object counting as 1). */
#define TL_JSON_DEPTH_MAX 8u
/* Members of a request body's top-level object. */
#define TL_JSON_FIELDS_MAX 32u
/* Bytes of a field name reported in a problem's param. */
#define TL_JSON_PARAM_BYTES_MAX 64u
/* Keys (client addresses, user ids) each rate-limit table tracks; the least recently seen
 * key of a full set is evicted. */
#define TL_RATELIMIT_KEYS_MAX (64u * 1024u)
#define TL_RATELIMIT_KEY_BYTES_MAX 64u
/* Requests per minute one rate-limit bucket may be configured to allow, and its burst. */
#define TL_RATELIMIT_PER_MIN_MAX 60000000u
#define TL_RATELIMIT_BURST_MAX 100000u
/* Reader store handles the API keeps open (one per worker thread). */
#define TL_READERS_MAX TL_HTTP_THREADS_MAX
/* Bytes of a file-system path in the configuration. */
#define TL_CONFIG_PATH_BYTES_MAX 1024u
/* Bytes of a chunked request body read and thrown away past TL_HTTP_BODY_BYTES_MAX so that
 * a 413 can still be sent; a client sending more loses its connection without an answer. */
#define TL_HTTP_DISCARD_BYTES_MAX (1024u * 1024u)
/* Bytes of a TLS certificate or key PEM file. */
#define TL_TLS_PEM_BYTES_MAX (64u * 1024u)

static_assert(TL_JSON_DEPTH_MAX >= 2, "a body object must be able to hold an object");
static_assert(TL_HTTP_CONNECTIONS_PER_IP_DEFAULT <= TL_HTTP_CONNECTIONS_DEFAULT,
              "one client cannot be allowed more than everyone");
static_assert(TL_HTTP_CONNECTIONS_DEFAULT <= TL_HTTP_CONNECTIONS_MAX, "default within max");
static_assert(TL_HTTP_THREADS_DEFAULT <= TL_HTTP_THREADS_MAX, "default within max");
static_assert(TL_HTTP_TIMEOUT_S_DEFAULT <= TL_HTTP_TIMEOUT_S_MAX, "default within max");
static_assert(TL_HTTP_BODY_BYTES_MAX <= TL_HTTP_RESPONSE_BYTES_MAX,
              "a body may be echoed in a response");
static_assert(TL_HTTP_HEADER_BYTES_MAX >= 4u * 1024u, "room for ordinary request headers");
static_assert(TL_ROUTE_PARAMS_MAX <= TL_ROUTE_SEGMENTS_MAX, "params are segments");
static_assert(TL_REQUEST_ID_BYTES_MAX < TL_HTTP_HEADER_VALUE_BYTES_MAX,
              "a request id fits in a header");
static_assert(TL_RATELIMIT_KEY_BYTES_MAX >= 46, "an IPv6 address text fits in a key");
static_assert(TL_READERS_MAX >= TL_HTTP_THREADS_MAX, "a reader per worker thread");
static_assert(TL_HTTP_DISCARD_BYTES_MAX >= TL_HTTP_BODY_BYTES_MAX,
              "a body just over the maximum still gets its 413");

#endif
