#include "api/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/render.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"
#include "util/thread.h"

/* ---- Writer side: the payloads ---- */

/* Renders {"type", "user_id", "created_at", "data": {... and leaves "data" open. */
static void events_render_head(struct render *r, const char *topic, struct id128 user_id,
                               uint64_t created_ns)
{
    render_object_begin(r);
    render_key(r, "type");
    render_str(r, topic);
    render_key(r, "user_id");
    render_typeid(r, TYPEID_PREFIX_USER, user_id);
    render_key(r, "created_at");
    render_time(r, created_ns);
    render_key(r, "data");
    render_object_begin(r);
}

/* Closes the payload and attaches it as an outbox row keyed by the user it is for. */
static enum tl_err events_attach(struct writer_batch *batch, struct render *r, struct buf *out,
                                 const char *topic, struct id128 user_id)
{
    struct store_record record;
    render_object_end(r); /* data */
    render_object_end(r);
    enum tl_err err = render_finish(r);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(memchr(out->data, '\n', out->len) == NULL); /* one SSE data line */
    memset(&record, 0, sizeof(record));
    record.kind = STORE_RECORD_OUTBOX;
    record.key = user_id;
    size_t topic_bytes = strlen(topic) + 1;
    TL_ASSERT(topic_bytes <= sizeof(record.topic));
    memcpy(record.topic, topic, topic_bytes);
    record.data = out->data;
    record.data_bytes = (uint32_t)out->len;
    return writer_batch_attach(batch, &record);
}

void events_render_open(struct render *r, const char *topic, struct id128 user_id,
                        uint64_t created_ns)
{
    events_render_head(r, topic, user_id, created_ns);
}

enum tl_err events_render_close(struct render *r)
{
    render_object_end(r); /* data */
    render_object_end(r);
    return render_finish(r);
}

enum tl_err events_render_session_revoked(struct buf *out, struct id128 user_id,
                                          struct id128 session_id, bool all_except,
                                          uint64_t now_ns)
{
    struct render r;
    render_init(&r, out);
    events_render_head(&r, EVENTS_TOPIC_SESSION_REVOKED, user_id, now_ns);
    render_key(&r, all_except ? "all_except" : "session_id");
    render_typeid(&r, TYPEID_PREFIX_SESSION, session_id);
    render_object_end(&r); /* data */
    render_object_end(&r);
    return render_finish(&r);
}

static enum tl_err events_attach_payment_side(struct writer_batch *batch,
                                              const struct events_payment *p, bool sent)
{
    struct buf out;
    struct render r;
    struct id128 user = sent ? p->from_user : p->to_user;
    buf_init(&out, EVENTS_PAYLOAD_BYTES_MAX);
    render_init(&r, &out);
    events_render_head(&r, EVENTS_TOPIC_PAYMENT_CREATED, user, p->created_ns);
    render_key(&r, "payment_id");
    render_typeid(&r, TYPEID_PREFIX_PAYMENT, p->payment_id);
    render_key(&r, "direction");
    render_str(&r, sent ? "sent" : "received");
    render_key(&r, "amount");
    render_i64(&r, p->amount);
    render_key(&r, "fee");
    render_i64(&r, p->fee);
    render_key(&r, "currency");
    render_str(&r, p->currency);
    render_key(&r, "counterparty");
    render_object_begin(&r);
    render_key(&r, "id");
    render_typeid(&r, TYPEID_PREFIX_USER, sent ? p->to_user : p->from_user);
    render_key(&r, "handle");
    render_str_or_null(&r, sent ? p->to_handle : p->from_handle);
    render_object_end(&r);
    render_key(&r, "balance_after");
    render_i64(&r, sent ? p->sender_available_after : p->recipient_available_after);
    render_key(&r, "sealed_note");
    render_str_or_null(&r, sent ? p->sealed_note_sender : p->sealed_note_recipient);
    enum tl_err err = events_attach(batch, &r, &out, EVENTS_TOPIC_PAYMENT_CREATED, user);
    buf_free(&out);
    return err;
}

enum tl_err events_attach_payment(struct writer_batch *batch, const struct events_payment *p)
{
    TL_ASSERT(p != NULL);
    TL_ASSERT(!id128_is_zero(p->from_user));
    TL_ASSERT(!id128_is_zero(p->to_user));
    TL_ASSERT(!id128_eq(p->from_user, p->to_user));
    TL_ASSERT(p->amount > 0);
    enum tl_err err = events_attach_payment_side(batch, p, true);
    if (err == TL_OK) {
        err = events_attach_payment_side(batch, p, false);
    }
    return err;
}

enum tl_err events_attach_deposit(struct writer_batch *batch, const struct events_deposit *d)
{
    struct buf out;
    struct render r;
    TL_ASSERT(d != NULL);
    TL_ASSERT(!id128_is_zero(d->user_id));
    TL_ASSERT(d->amount > 0);
    buf_init(&out, EVENTS_PAYLOAD_BYTES_MAX);
    render_init(&r, &out);
    events_render_head(&r, EVENTS_TOPIC_DEPOSIT_CREATED, d->user_id, d->created_ns);
    render_key(&r, "deposit_id");
    render_typeid(&r, TYPEID_PREFIX_DEPOSIT, d->deposit_id);
    render_key(&r, "wallet_id");
    render_typeid(&r, TYPEID_PREFIX_WALLET, d->wallet_id);
    render_key(&r, "amount");
    render_i64(&r, d->amount);
    render_key(&r, "currency");
    render_str(&r, d->currency);
    render_key(&r, "balance_after");
    render_i64(&r, d->available_after);
    enum tl_err err = events_attach(batch, &r, &out, EVENTS_TOPIC_DEPOSIT_CREATED, d->user_id);
    buf_free(&out);
    return err;
}

void events_begin(struct events_builder *b, const char *topic, struct id128 user_id,
                  uint64_t created_ns)
{
    TL_ASSERT(topic != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    buf_init(&b->out, EVENTS_PAYLOAD_BYTES_MAX);
    render_init(&b->render, &b->out);
    b->user_id = user_id;
    b->topic = topic;
    events_render_head(&b->render, topic, user_id, created_ns);
}

enum tl_err events_attach_built(struct events_builder *b, struct writer_batch *batch)
{
    enum tl_err err = events_attach(batch, &b->render, &b->out, b->topic, b->user_id);
    buf_free(&b->out);
    return err;
}

enum tl_err events_append_built(struct events_builder *b, struct store *store)
{
    uint64_t seq = 0;
    render_object_end(&b->render); /* data */
    render_object_end(&b->render);
    enum tl_err err = render_finish(&b->render);
    if (err == TL_OK) {
        TL_ASSERT(memchr(b->out.data, '\n', b->out.len) == NULL); /* one SSE data line */
        err = store_outbox_append(store, b->user_id, b->topic, b->out.data, (uint32_t)b->out.len,
                                  &seq);
    }
    buf_free(&b->out);
    return err;
}

void events_render_counterparty(struct render *r, struct id128 user_id, const char *handle)
{
    render_key(r, "counterparty");
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_USER, user_id);
    render_key(r, "handle");
    render_str_or_null(r, handle != NULL && handle[0] != '\0' ? handle : NULL);
    render_object_end(r);
}

/* ---- Streams ---- */

struct events_stream {
    struct http_stream base; /* first: the server hands this pointer back */
    struct events_hub *hub;
    struct id128 user_id;
    /* Under hub->mutex. */
    struct events_stream *prev;
    struct events_stream *next;
    uint64_t serial;   /* names the stream across unlocked store reads */
    uint64_t last_seq; /* newest outbox seq queued (or the resume point) */
    bool catching_up;  /* rows up to the hub's cursor still come from the store by key */
    /* Under mutex. */
    pthread_mutex_t mutex;
    struct buf out;  /* bytes not yet read, from out_off */
    size_t out_off;
    bool parked;     /* the server suspended the connection; wake once */
    bool ending;     /* the stream ends once out is drained */
    uint64_t events; /* events queued, for the close log line */
};

struct events_hub {
    struct events_hub_config config;
    struct store *reader;
    const _Atomic bool *draining;
    pthread_t thread;
    pthread_cond_t tick; /* CLOCK_MONOTONIC */
    bool stopping;       /* under mutex */
    pthread_mutex_t mutex;
    struct events_stream *streams; /* every open stream */
    uint32_t stream_count;
    uint64_t cursor;      /* newest outbox seq handed to the streams that are live */
    uint64_t serial_next; /* next stream's serial */
    uint64_t heartbeat_last_ns;
};

/* Queues bytes on a stream and wakes it. A stream whose client does not keep up ends instead:
 * it sends what it has, and the client resumes from the store. Call with hub->mutex held (the
 * stream cannot be released meanwhile) or before the stream is registered. Cannot fail. */
static void stream_push(struct events_stream *s, const char *bytes, size_t len)
{
    TL_ASSERT(pthread_mutex_lock(&s->mutex) == 0);
    if (!s->ending) {
        if (s->out_off > 0) { /* drop what was read, keep what was not */
            size_t pending = s->out.len - s->out_off;
            memmove(s->out.data, s->out.data + s->out_off, pending);
            buf_truncate(&s->out, pending);
            s->out_off = 0;
        }
        if (buf_append(&s->out, bytes, len) != TL_OK) {
            s->ending = true;
            LOG(LOG_WARN, "event_stream_overrun", LOG_U64("pending_bytes", s->out.len));
        }
    }
    if (s->parked) {
        s->parked = false;
        s->base.wake(s->base.conn);
    }
    TL_ASSERT(pthread_mutex_unlock(&s->mutex) == 0);
}

/* Ends a stream after what it has queued. Same locking as stream_push. Cannot fail. */
static void stream_end(struct events_stream *s)
{
    TL_ASSERT(pthread_mutex_lock(&s->mutex) == 0);
    s->ending = true;
    if (s->parked) {
        s->parked = false;
        s->base.wake(s->base.conn);
    }
    TL_ASSERT(pthread_mutex_unlock(&s->mutex) == 0);
}

/* One outbox row as an SSE message: id, event, one data line. */
static void stream_push_row(struct events_stream *s, const struct store_outbox_row *row)
{
    char head[160];
    TL_ASSERT(row->seq > s->last_seq);
    int n = snprintf(head, sizeof(head), "id: %llu\nevent: %s\ndata: ",
                     (unsigned long long)row->seq, row->topic);
    TL_ASSERT(n > 0 && (size_t)n < sizeof(head));
    s->last_seq = row->seq;
    /* A payload with a line break would end the message early: ours never has one. */
    if (memchr(row->data, '\n', row->data_bytes) != NULL ||
        memchr(row->data, '\r', row->data_bytes) != NULL) {
        LOG(LOG_WARN, "event_skipped_multiline", LOG_U64("seq", row->seq));
        return;
    }
    size_t total = (size_t)n + row->data_bytes + 2;
    char *message = malloc(total);
    if (message == NULL) {
        stream_end(s); /* the client resumes after the last event it got */
        return;
    }
    memcpy(message, head, (size_t)n);
    memcpy(message + n, row->data, row->data_bytes);
    memcpy(message + n + row->data_bytes, "\n\n", 2);
    stream_push(s, message, total);
    free(message);
    s->events++;
}

static ptrdiff_t stream_read(struct http_stream *base, char *buf, size_t max)
{
    struct events_stream *s = (struct events_stream *)base;
    ptrdiff_t n = 0;
    TL_ASSERT(pthread_mutex_lock(&s->mutex) == 0);
    if (s->out_off < s->out.len) {
        size_t pending = s->out.len - s->out_off;
        size_t take = pending < max ? pending : max;
        memcpy(buf, s->out.data + s->out_off, take);
        s->out_off += take;
        if (s->out_off == s->out.len) {
            buf_truncate(&s->out, 0);
            s->out_off = 0;
        }
        n = (ptrdiff_t)take;
    } else if (s->ending) {
        n = -1;
    } else {
        /* Nothing to send: the connection waits suspended until a push wakes it. */
        TL_ASSERT(!s->parked);
        s->parked = true;
        s->base.park(s->base.conn);
    }
    TL_ASSERT(pthread_mutex_unlock(&s->mutex) == 0);
    return n;
}

static void stream_release(struct http_stream *base)
{
    struct events_stream *s = (struct events_stream *)base;
    struct events_hub *hub = s->hub;
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        TL_ASSERT(hub->streams == s);
        hub->streams = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    TL_ASSERT(hub->stream_count > 0);
    hub->stream_count--;
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    LOG(LOG_INFO, "event_stream_closed", LOG_U64("events", s->events),
        LOG_U64("last_seq", s->last_seq));
    pthread_mutex_destroy(&s->mutex);
    buf_free(&s->out);
    free(s);
}

/* ---- The hub's poll ---- */

/* Live rows: every row after the cursor, to the streams of its user that are not catching up.
 * The store read runs without the hub's lock; only this thread moves the cursor. */
static enum tl_err hub_poll_live(struct events_hub *hub, uint64_t cursor)
{
    struct store_outbox_row rows[64];
    static_assert(sizeof(rows) / sizeof(rows[0]) <= STORE_OUTBOX_LIST_MAX, "one page");
    const uint32_t page_rows = (uint32_t)(sizeof(rows) / sizeof(rows[0]));
    for (uint32_t page = 0; page < EVENTS_POLL_PAGES_MAX * (STORE_OUTBOX_LIST_MAX / page_rows);
         page++) {
        uint32_t count = 0;
        enum tl_err err = store_outbox_list(hub->reader, cursor, page_rows, rows, &count);
        if (err != TL_OK) {
            return err;
        }
        TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
        for (uint32_t i = 0; i < count; i++) {
            TL_ASSERT(rows[i].seq > cursor);
            cursor = rows[i].seq;
            if (hub->config.on_row != NULL &&
                (hub->config.on_row_topic == NULL ||
                 strcmp(rows[i].topic, hub->config.on_row_topic) == 0)) {
                hub->config.on_row(hub->config.on_row_ctx, &rows[i]);
            }
            for (struct events_stream *s = hub->streams; s != NULL; s = s->next) {
                if (!s->catching_up && rows[i].seq > s->last_seq &&
                    id128_eq(s->user_id, rows[i].key)) {
                    stream_push_row(s, &rows[i]);
                }
            }
        }
        TL_ASSERT(cursor >= hub->cursor);
        hub->cursor = cursor;
        TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
        store_outbox_rows_free(rows, count);
        if (count < page_rows) {
            break;
        }
    }
    return TL_OK;
}

struct hub_catchup {
    uint64_t serial;
    struct id128 user_id;
    uint64_t after_seq;
    uint64_t upto_seq; /* the end of the seq range this query reads, <= the hub's cursor */
};

/* Under hub->mutex: the stream with serial, if it is still open. */
static struct events_stream *hub_find(struct events_hub *hub, uint64_t serial)
{
    for (struct events_stream *s = hub->streams; s != NULL; s = s->next) {
        if (s->serial == serial) {
            return s;
        }
    }
    return NULL;
}

/* Under hub->mutex: hands a catch-up page to its stream. The rows up to the cursor are the
 * stream's to send (live polling skipped it); once the page ends before the cursor's end of
 * this user's rows, the stream goes live with last_seq at the cursor. */
static void hub_catchup_apply(struct events_hub *hub, const struct hub_catchup *c,
                              const struct store_outbox_row *rows, uint32_t count)
{
    struct events_stream *s = hub_find(hub, c->serial);
    if (s == NULL || !s->catching_up || s->last_seq != c->after_seq) {
        return; /* closed meanwhile */
    }
    TL_ASSERT(c->upto_seq <= hub->cursor); /* the cursor never goes back */
    for (uint32_t i = 0; i < count; i++) {
        stream_push_row(s, &rows[i]);
    }
    if (count == EVENTS_CATCHUP_ROWS_MAX) {
        return; /* a full page: the range may hold more of this user's rows */
    }
    /* The whole range was read: the stream has seen every row of it. */
    if (s->last_seq < c->upto_seq) {
        s->last_seq = c->upto_seq;
    }
    if (s->last_seq >= hub->cursor) {
        s->catching_up = false; /* the rest comes live */
    }
}

/* Streams that resumed from an older seq read their user's rows from the store, a page per
 * poll each, until they reach the cursor. */
static enum tl_err hub_catchup(struct events_hub *hub)
{
    struct hub_catchup todo[EVENTS_CATCHUP_STREAMS_MAX];
    uint32_t todo_count = 0;
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    for (struct events_stream *s = hub->streams;
         s != NULL && todo_count < EVENTS_CATCHUP_STREAMS_MAX; s = s->next) {
        if (s->catching_up) {
            /* Bounded: the outbox has no index by user, so a query reads its whole range. */
            uint64_t upto = hub->cursor;
            if (s->last_seq < upto && upto - s->last_seq > EVENTS_CATCHUP_SCAN_SEQ) {
                upto = s->last_seq + EVENTS_CATCHUP_SCAN_SEQ;
            }
            if (upto < s->last_seq) {
                upto = s->last_seq; /* resumed past the cursor: an empty range */
            }
            todo[todo_count++] =
                (struct hub_catchup){.serial = s->serial, .user_id = s->user_id,
                                     .after_seq = s->last_seq, .upto_seq = upto};
        }
    }
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    for (uint32_t i = 0; i < todo_count; i++) {
        struct store_outbox_row *rows = calloc(EVENTS_CATCHUP_ROWS_MAX, sizeof(*rows));
        uint32_t count = 0;
        if (rows == NULL) {
            return TL_ERR_NOMEM;
        }
        enum tl_err err =
            store_outbox_list_key(hub->reader, todo[i].user_id, todo[i].after_seq,
                                  todo[i].upto_seq, EVENTS_CATCHUP_ROWS_MAX, rows, &count);
        if (err == TL_OK) {
            TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
            hub_catchup_apply(hub, &todo[i], rows, count);
            TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
            store_outbox_rows_free(rows, count);
        }
        free(rows);
        if (err != TL_OK) {
            return err;
        }
    }
    return TL_OK;
}

/* Under hub->mutex: every stream gets fn. */
static void hub_each(struct events_hub *hub, void (*fn)(struct events_stream *s, void *ctx),
                     void *ctx)
{
    for (struct events_stream *s = hub->streams; s != NULL; s = s->next) {
        fn(s, ctx);
    }
}

static void hub_end_one(struct events_stream *s, void *ctx)
{
    (void)ctx;
    stream_end(s);
}

static void hub_beat_one(struct events_stream *s, void *ctx)
{
    static const char beat[] = ": heartbeat\n\n";
    (void)ctx;
    stream_push(s, beat, sizeof(beat) - 1);
}

/*
 * No stream is open: the rows of on_row_topic up to the newest seq go to on_row (the cursor
 * then jumps to that seq, every other row unread). Without on_row the cursor just jumps. On
 * an error the cursor stays where on_row's last row left it, so the next poll resumes there.
 */
static enum tl_err hub_poll_quiet(struct events_hub *hub, uint64_t cursor)
{
    uint64_t seq_last = 0;
    enum tl_err err = store_outbox_seq_last(hub->reader, &seq_last);
    if (err == TL_OK && seq_last > cursor && hub->config.on_row != NULL &&
        hub->config.on_row_topic == NULL) {
        return hub_poll_live(hub, cursor); /* every row is wanted: read them all */
    }
    struct store_outbox_row rows[64];
    const uint32_t page_rows = (uint32_t)(sizeof(rows) / sizeof(rows[0]));
    for (uint32_t count = page_rows; err == TL_OK && seq_last > cursor &&
                                     hub->config.on_row != NULL && count == page_rows;) {
        err = store_outbox_list_topic(hub->reader, hub->config.on_row_topic, cursor, seq_last,
                                      page_rows, rows, &count);
        for (uint32_t i = 0; err == TL_OK && i < count; i++) {
            hub->config.on_row(hub->config.on_row_ctx, &rows[i]);
            cursor = rows[i].seq;
        }
        if (err == TL_OK) {
            store_outbox_rows_free(rows, count);
        }
    }
    if (err == TL_OK) {
        cursor = seq_last > cursor ? seq_last : cursor;
    }
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    if (cursor > hub->cursor) {
        hub->cursor = cursor;
    }
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    return err;
}

/* One poll: end everything when draining; otherwise live rows, catch-up, heartbeats. */
static void hub_poll(struct events_hub *hub)
{
    enum tl_err err = TL_OK;
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    if (atomic_load(hub->draining)) {
        hub_each(hub, hub_end_one, NULL);
        TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
        return;
    }
    uint32_t stream_count = hub->stream_count;
    uint64_t cursor = hub->cursor;
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    if (stream_count == 0) {
        err = hub_poll_quiet(hub, cursor); /* nobody listens: only on_row's rows are read */
    } else {
        err = hub_poll_live(hub, cursor);
        if (err == TL_OK) {
            err = hub_catchup(hub);
        }
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "event_poll_failed", LOG_STR("error", tl_err_code(err)));
    }
    uint64_t now_ns = clock_mono_ns();
    if (now_ns - hub->heartbeat_last_ns >= (uint64_t)hub->config.heartbeat_ms * 1000000u) {
        hub->heartbeat_last_ns = now_ns;
        TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
        hub_each(hub, hub_beat_one, NULL);
        TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    }
}

static void *hub_main(void *arg)
{
    struct events_hub *hub = arg;
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    while (!hub->stopping) {
        struct timespec deadline = clock_mono_deadline(hub->config.poll_ms);
        int rc = 0;
        while (!hub->stopping && rc != ETIMEDOUT) {
            rc = pthread_cond_timedwait(&hub->tick, &hub->mutex, &deadline);
            TL_ASSERT(rc == 0 || rc == ETIMEDOUT);
        }
        if (hub->stopping) {
            break;
        }
        TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
        hub_poll(hub);
        TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    }
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    return NULL;
}

static void hub_config_defaults(const struct events_hub_config *in, struct events_hub_config *out)
{
    *out = *in;
    if (out->poll_ms == 0) {
        out->poll_ms = EVENTS_POLL_MS;
    }
    if (out->heartbeat_ms == 0 || out->heartbeat_ms > EVENTS_HEARTBEAT_MS_MAX) {
        out->heartbeat_ms = EVENTS_HEARTBEAT_MS_MAX;
    }
    if (out->streams_max == 0 || out->streams_max > EVENTS_STREAMS_MAX) {
        out->streams_max = EVENTS_STREAMS_MAX;
    }
    if (out->streams_per_user_max == 0 || out->streams_per_user_max > out->streams_max) {
        out->streams_per_user_max =
            EVENTS_STREAMS_PER_USER_MAX < out->streams_max ? EVENTS_STREAMS_PER_USER_MAX
                                                           : out->streams_max;
    }
}

enum tl_err events_hub_start(const struct events_hub_config *config, struct store *reader,
                             const _Atomic bool *draining, struct events_hub **out)
{
    TL_ASSERT(config != NULL);
    TL_ASSERT(reader != NULL);
    TL_ASSERT(draining != NULL);
    struct events_hub *hub = calloc(1, sizeof(*hub));
    if (hub == NULL) {
        return TL_ERR_NOMEM;
    }
    hub_config_defaults(config, &hub->config);
    hub->reader = reader;
    hub->draining = draining;
    hub->serial_next = 1;
    hub->heartbeat_last_ns = clock_mono_ns();
    enum tl_err err = store_outbox_seq_last(reader, &hub->cursor);
    if (err != TL_OK) {
        free(hub);
        return err;
    }
    clock_cond_init_mono(&hub->tick);
    TL_ASSERT(pthread_mutex_init(&hub->mutex, NULL) == 0);
    if (!thread_start(&hub->thread, "tl-event-hub", hub_main, hub)) {
        pthread_cond_destroy(&hub->tick);
        pthread_mutex_destroy(&hub->mutex);
        free(hub);
        return TL_ERR_INTERNAL;
    }
    *out = hub;
    return TL_OK;
}

void events_hub_stop(struct events_hub *hub)
{
    if (hub == NULL) {
        return;
    }
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    hub->stopping = true;
    TL_ASSERT(pthread_cond_signal(&hub->tick) == 0);
    uint32_t left = hub->stream_count;
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    TL_ASSERT(pthread_join(hub->thread, NULL) == 0);
    if (left > 0) {
        /* The server was cut off with streams open; their releases may still come. */
        LOG(LOG_WARN, "event_hub_streams_left", LOG_U64("streams", left));
        return;
    }
    pthread_cond_destroy(&hub->tick);
    pthread_mutex_destroy(&hub->mutex);
    free(hub);
}

uint32_t events_hub_stream_count(struct events_hub *hub)
{
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    uint32_t count = hub->stream_count;
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    return count;
}

/* ---- GET /v1/events ---- */

/* Last-Event-ID: 1..19 decimal digits, at most INT64_MAX. *has is false when absent. */
static enum tl_err events_last_id(const struct http_request *req, struct http_response *resp,
                                  uint64_t *out, bool *has)
{
    const char *text = http_request_header(req, "Last-Event-ID");
    *has = text != NULL;
    if (text == NULL) {
        return TL_OK;
    }
    size_t len = strlen(text);
    uint64_t value = 0;
    bool ok = len >= 1 && len <= 19;
    for (size_t i = 0; ok && i < len; i++) {
        ok = text[i] >= '0' && text[i] <= '9';
        value = ok ? value * 10u + (uint64_t)(text[i] - '0') : value;
    }
    if (!ok || value > (uint64_t)INT64_MAX) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "Last-Event-ID",
                         "must be the id of an event this stream sent (a decimal number)");
    }
    *out = value;
    return TL_OK;
}

static enum tl_err events_stream_new(struct events_hub *hub, struct id128 user_id,
                                     struct events_stream **out)
{
    static const char hello[] = "retry: 2000\n: connected\n\n";
    struct events_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TL_ERR_NOMEM;
    }
    s->base.read = stream_read;
    s->base.release = stream_release;
    s->hub = hub;
    s->user_id = user_id;
    TL_ASSERT(pthread_mutex_init(&s->mutex, NULL) == 0);
    buf_init(&s->out, EVENTS_STREAM_BYTES_MAX);
    /* The first bytes make the server send the headers at once. */
    if (buf_append(&s->out, hello, sizeof(hello) - 1) != TL_OK) {
        pthread_mutex_destroy(&s->mutex);
        free(s);
        return TL_ERR_NOMEM;
    }
    *out = s;
    return TL_OK;
}

/* Registers s starting after start_seq, within the limits. */
static enum tl_err events_register(struct events_hub *hub, struct events_stream *s,
                                   uint64_t start_seq, struct http_response *resp)
{
    uint32_t user_streams = 0;
    enum tl_err err = TL_OK;
    TL_ASSERT(pthread_mutex_lock(&hub->mutex) == 0);
    for (struct events_stream *o = hub->streams; o != NULL; o = o->next) {
        user_streams += id128_eq(o->user_id, s->user_id) ? 1u : 0u;
    }
    if (user_streams >= hub->config.streams_per_user_max) {
        err = TL_ERR_TOO_MANY_STREAMS;
    } else if (hub->stream_count >= hub->config.streams_max) {
        err = TL_ERR_BUSY;
    } else {
        s->serial = hub->serial_next++;
        s->last_seq = start_seq;
        s->catching_up = start_seq < hub->cursor;
        s->next = hub->streams;
        if (hub->streams != NULL) {
            hub->streams->prev = s;
        }
        hub->streams = s;
        hub->stream_count++;
    }
    TL_ASSERT(pthread_mutex_unlock(&hub->mutex) == 0);
    if (err == TL_ERR_TOO_MANY_STREAMS) {
        TL_ASSERT(http_response_header_set(resp, "Retry-After", "5") == TL_OK);
        return http_fail(resp, err, NULL, "close another event stream of this user first");
    }
    if (err == TL_ERR_BUSY) {
        TL_ASSERT(http_response_header_set(resp, "Retry-After", "5") == TL_OK);
        return http_fail(resp, err, NULL, "this server holds as many event streams as it can");
    }
    return TL_OK;
}

enum tl_err events_stream(struct http_request *req, struct http_response *resp)
{
    struct events_hub *hub = req->app->events;
    struct events_stream *s = NULL;
    uint64_t start_seq = 0;
    bool resume = false;
    if (hub == NULL) {
        return TL_ERR_NOT_READY;
    }
    if (atomic_load(&req->app->draining)) {
        return TL_ERR_SHUTDOWN;
    }
    enum tl_err err = events_last_id(req, resp, &start_seq, &resume);
    if (err != TL_OK) {
        return err;
    }
    if (!resume) {
        /* Events committed from now on: everything up to the newest row is history. */
        struct store *reader = NULL;
        err = http_request_store(req, &reader);
        if (err == TL_OK) {
            err = store_outbox_seq_last(reader, &start_seq);
        }
        if (err != TL_OK) {
            return err;
        }
    }
    err = events_stream_new(hub, req->principal.user_id, &s);
    if (err != TL_OK) {
        return err;
    }
    err = events_register(hub, s, start_seq, resp);
    if (err != TL_OK) {
        pthread_mutex_destroy(&s->mutex);
        buf_free(&s->out);
        free(s);
        return err;
    }
    resp->stream = &s->base;
    resp->status = 200;
    resp->content_type = "text/event-stream";
    /* Proxies such as nginx must pass events on as they come. */
    TL_ASSERT(http_response_header_set(resp, "X-Accel-Buffering", "no") == TL_OK);
    return TL_OK;
}
