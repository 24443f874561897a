/*
 * events.h - a user's money events: outbox rows written with the money, and GET /v1/events,
 * a Server-Sent Events stream of them.
 *
 * Writer side: the money handlers' on_applied hooks attach one outbox row per user an event
 * is for (payment.created to the payer and to the payee, deposit.created), so an event
 * commits atomically with its money and exists exactly when the money moved. The row's key is
 * the id of the user it is for and its data is the
 * JSON object the stream sends: {"type", "user_id", "created_at", "data": {...}}, with
 * pseudonymous ids, amounts, currency and the counterparty's handle, never an email, phone,
 * display name or note.
 *
 * Stream side: one hub per process polls the shared outbox every EVENTS_POLL_MS with its own
 * reader handle (one query for all streams: the outbox is in the shared database, so a payment
 * made through another node appears too) and hands each row to the streams of its user. A
 * stream's `id:` is the outbox seq; a client reconnecting with Last-Event-ID gets the rows
 * after it from the store first (catch-up: its user's rows of a bounded seq range per query,
 * read and filtered, since the outbox has no index by user), then live rows, in seq order,
 * none twice.
 * Between events a stream's connection is suspended (http_stream park/wake), so a stream holds
 * no worker thread; a comment line every heartbeat keeps proxies and the idle timeout from
 * closing it and finds clients that left. Streams are bounded per user and in all.
 *
 * Never: send a user another user's event, block the writer thread, or hold a worker thread
 * for the life of a stream.
 */
#ifndef TL_API_EVENTS_H
#define TL_API_EVENTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "api/render.h"
#include "store/app.h"
#include "util/err.h"

struct writer_batch;
struct store;

#define EVENTS_TOPIC_PAYMENT_CREATED "payment.created"
#define EVENTS_TOPIC_DEPOSIT_CREATED "deposit.created"
#define EVENTS_TOPIC_SESSION_REVOKED "session.revoked"
/* Schema v6 money events (docs/api.md "Events"), to each party, committed with the money. */
#define EVENTS_TOPIC_REFUND_CREATED "refund.created"
#define EVENTS_TOPIC_PAYMENT_REVERSED "payment.reversed"
#define EVENTS_TOPIC_ESCROW_EXPIRED "escrow.expired"
#define EVENTS_TOPIC_CONVERSION_CREATED "conversion.created"
/* Move no money: appended after their row changed (events_append, best effort). */
#define EVENTS_TOPIC_DISPUTE_OPENED "dispute.opened"
#define EVENTS_TOPIC_DISPUTE_RESOLVED "dispute.resolved"
#define EVENTS_TOPIC_SCHEDULE_SKIPPED "scheduled_payment.skipped"

/* How often the hub reads the outbox: the most an event waits before a stream sees it. */
#define EVENTS_POLL_MS 200u
/* Heartbeat interval at most; the hub beats at half the server's idle timeout if shorter. */
#define EVENTS_HEARTBEAT_MS_MAX 15000u
/* Streams a user may hold at once (429 too_many_streams beyond). */
#define EVENTS_STREAMS_PER_USER_MAX 4u
/* Streams the process holds at once (503 service_busy beyond), unless configured lower. */
#define EVENTS_STREAMS_MAX 256u
/* Bytes a stream may have waiting for a slow client; past it the stream ends and the client
 * resumes from the store with Last-Event-ID. */
#define EVENTS_STREAM_BYTES_MAX (64u * 1024u)
/* Outbox pages (STORE_OUTBOX_LIST_MAX rows each) the hub reads per poll; the rest next poll. */
#define EVENTS_POLL_PAGES_MAX 8u
/* Rows of one user read per catch-up query, and streams caught up per poll. */
#define EVENTS_CATCHUP_ROWS_MAX 256u
/* Outbox seq range one catch-up query reads (the outbox has no index by user: it reads and
 * filters the range): a stream resuming far behind advances this much per poll at least. */
#define EVENTS_CATCHUP_SCAN_SEQ 16384u
#define EVENTS_CATCHUP_STREAMS_MAX 16u
/* Largest event payload (JSON): room for a payment event with a sealed note (api/notes.h,
 * up to 1,560 characters of base64). */
#define EVENTS_PAYLOAD_BYTES_MAX 4096u

static_assert(EVENTS_STREAMS_PER_USER_MAX <= EVENTS_STREAMS_MAX, "a user's streams fit");
static_assert(EVENTS_CATCHUP_ROWS_MAX <= STORE_OUTBOX_LIST_MAX, "one catch-up query");
static_assert(EVENTS_PAYLOAD_BYTES_MAX <= TL_RECORD_BYTES_MAX, "a payload fits in a record");
static_assert(EVENTS_PAYLOAD_BYTES_MAX * 4u <= EVENTS_STREAM_BYTES_MAX,
              "a stream buffers several events");

/* ---- Writer side (on_applied hooks) ---- */

/* What a payment event says; handles are the parties' current handles. */
struct events_payment {
    struct id128 payment_id;
    struct id128 from_user;
    struct id128 to_user;
    const char *from_handle;
    const char *to_handle;
    int64_t amount;
    int64_t fee;
    const char *currency; /* ISO 4217 code */
    uint64_t created_ns;
    int64_t sender_available_after;
    int64_t recipient_available_after;
    /* The sealed note's copies in base64 (api/notes.h), each shown only to its party, or NULL
     * for a payment without one. */
    const char *sealed_note_sender;
    const char *sealed_note_recipient;
};

/* Attaches payment.created for the payer and for the payee to batch. Errors are
 * writer_batch_attach's (TL_ERR_LIMIT) or TL_ERR_NOMEM; the hook then drops its command. */
enum tl_err events_attach_payment(struct writer_batch *batch, const struct events_payment *p);

struct events_deposit {
    struct id128 deposit_id;
    struct id128 user_id;
    struct id128 wallet_id;
    int64_t amount;
    const char *currency;
    uint64_t created_ns;
    int64_t available_after;
};

/* Attaches deposit.created for the depositor. Errors as events_attach_payment. */
enum tl_err events_attach_deposit(struct writer_batch *batch, const struct events_deposit *d);

/*
 * Any other event: events_begin renders {"type", "user_id", "created_at", "data": { and leaves
 * "data" open on b->render for the caller's members; events_attach_built closes it and
 * attaches it to batch (errors as events_attach_payment), events_append_built appends it
 * outside any batch through store (store_outbox_append, for events that move no money; the
 * store's errors). Both free the builder, whatever the outcome.
 */
struct events_builder {
    struct buf out;
    struct render render;
    struct id128 user_id;
    const char *topic;
};
void events_begin(struct events_builder *b, const char *topic, struct id128 user_id,
                  uint64_t created_ns);
enum tl_err events_attach_built(struct events_builder *b, struct writer_batch *batch);
enum tl_err events_append_built(struct events_builder *b, struct store *store);
/* "counterparty": {"id", "handle"} (handle null when unknown). Cannot fail. */
void events_render_counterparty(struct render *r, struct id128 user_id, const char *handle);
/* The envelope every event shares, for events rendered outside the writer (written with the
 * app rows they announce): events_render_open renders {type, user_id, created_at, data: { and
 * leaves data open for the caller's keys; events_render_close closes both and finishes r
 * (TL_ERR_NOMEM or TL_ERR_LIMIT: the buffer's bound). */
struct render;
void events_render_open(struct render *r, const char *topic, struct id128 user_id,
                        uint64_t created_ns);
enum tl_err events_render_close(struct render *r);

/* The payload of a session.revoked event (api/sessions.h: sessions_broadcast_revoked), in the
 * same envelope as the money events: {type, user_id, created_at, data: {session_id} or
 * {all_except}}. out must be empty; TL_ERR_NOMEM or TL_ERR_LIMIT (out's bound). */
enum tl_err events_render_session_revoked(struct buf *out, struct id128 user_id,
                                          struct id128 session_id, bool all_except,
                                          uint64_t now_ns);

/* ---- The hub ---- */

struct events_hub;

struct events_hub_config {
    uint32_t poll_ms;              /* 0: EVENTS_POLL_MS */
    uint32_t heartbeat_ms;         /* 0: EVENTS_HEARTBEAT_MS_MAX */
    uint32_t streams_max;          /* 0: EVENTS_STREAMS_MAX; at most EVENTS_STREAMS_MAX */
    uint32_t streams_per_user_max; /* 0: EVENTS_STREAMS_PER_USER_MAX */
    /* Optional: called on the hub's thread for every outbox row of on_row_topic (every row
     * when on_row_topic is NULL), in seq order, whoever wrote it (this node or another): how
     * other nodes learn of events that need action here, such as a session revoked elsewhere.
     * With no stream open the hub reads only on_row_topic's rows (with on_row_topic NULL, every
     * row). Must not block. */
    void (*on_row)(void *ctx, const struct store_outbox_row *row);
    void *on_row_ctx;
    const char *on_row_topic; /* NULL: every topic */
};

/*
 * Starts the hub's thread, which polls the outbox through reader (a read-only store handle the
 * hub borrows until events_hub_stop) and ends every stream once *draining is set. TL_ERR_NOMEM,
 * TL_ERR_INTERNAL (no thread), or reader's errors reading the newest seq.
 */
enum tl_err events_hub_start(const struct events_hub_config *config, struct store *reader,
                             const _Atomic bool *draining, struct events_hub **out);
/* Stops and joins the thread and frees the hub. Call after server_stop (no stream is left
 * then). NULL is a no-op. Cannot fail. */
void events_hub_stop(struct events_hub *hub);
/* Streams open now (tests, metrics). Thread-safe. */
uint32_t events_hub_stream_count(struct events_hub *hub);

/* ---- GET /v1/events ---- */

/* Opens the signed-in user's stream (200 text/event-stream). Last-Event-ID (an outbox seq,
 * decimal) resumes after it; without it the stream starts with events committed from now on.
 * 400 invalid_request (bad Last-Event-ID), 429 too_many_streams, 503 service_busy / not_ready /
 * shutting_down. */
enum tl_err events_stream(struct http_request *req, struct http_response *resp);

#endif
