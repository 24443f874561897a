#include "api/audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/json.h"
#include "api/page.h"
#include "api/render.h"
#include "api/requests.h"
#include "core/money.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"
#include "util/thread.h"

static_assert(TL_REQUEST_ID_BYTES_MAX < STORE_AUDIT_REQUEST_ID_BYTES_MAX, "a request id fits");

/* ---- Entries ---- */

/* A reference ("pay_...") as an entry's subject. Cannot fail. */
static void audit_subject(struct store_audit *e, const char *prefix, struct id128 id)
{
    char text[TYPEID_STR_BYTES];
    size_t n = typeid_encode(prefix, id, text);
    TL_ASSERT(n < sizeof(e->subject));
    memcpy(e->subject, text, n + 1);
}

/* The fields every entry of a request shares. */
static void audit_entry_init(struct store_audit *e, const struct http_request *req,
                             struct id128 user_id, const char *kind, uint64_t created_ns)
{
    TL_ASSERT(kind != NULL);
    TL_ASSERT(strlen(kind) < sizeof(e->kind));
    memset(e, 0, sizeof(*e));
    e->user_id = user_id;
    e->created_ns = created_ns;
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    snprintf(e->request_id, sizeof(e->request_id), "%s", req->request_id);
    snprintf(e->ip, sizeof(e->ip), "%s", req->client_ip);
}

static void audit_append(struct http_request *req, const struct store_audit *entry)
{
    struct store *store = NULL;
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_audit_append(store, entry, NULL);
        api_app_store_release(req->app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_ERROR, "audit_append_failed", LOG_STR("request_id", req->request_id),
            LOG_STR("action", entry->kind), LOG_STR("cause", tl_err_code(err)));
    }
}

void audit_record(struct http_request *req, struct id128 user_id, const char *action,
                  const char *subject)
{
    struct store_audit entry;
    TL_ASSERT(subject != NULL);
    TL_ASSERT(strlen(subject) < sizeof(entry.subject));
    audit_entry_init(&entry, req, user_id, action, clock_wall_ns());
    snprintf(entry.subject, sizeof(entry.subject), "%s", subject);
    audit_append(req, &entry);
}

void audit_record_requests(struct http_request *req, const struct store_request *rows,
                           uint32_t count)
{
    struct store_audit entry;
    for (uint32_t i = 0; i < count; i++) {
        const struct store_request *r = &rows[i];
        bool split = !id128_is_zero(r->split_id);
        audit_entry_init(&entry, req, r->requester_id,
                         split ? AUDIT_SPLIT_REQUEST_CREATED : AUDIT_REQUEST_CREATED,
                         r->created_ns);
        entry.counterparty_id = r->payer_id;
        entry.amount = r->amount;
        entry.currency = r->currency;
        audit_subject(&entry, REQUESTS_TYPEID_PREFIX, r->id);
        audit_append(req, &entry);
    }
}

enum tl_err audit_attach_payment(struct writer_batch *batch, const struct http_request *req,
                                 const struct store_payment *payment, enum tl_err exists_err)
{
    struct store_audit entry;
    struct store_audit buf;
    struct store_record record;
    const char *kind = exists_err == TL_ERR_REQUEST_PAID ? AUDIT_REQUEST_PAID : AUDIT_PAYMENT_SENT;
    TL_ASSERT(payment->created_ns != 0);
    audit_entry_init(&entry, req, payment->from_user, kind, payment->created_ns);
    entry.counterparty_id = payment->to_user;
    entry.amount = payment->amount;
    entry.currency = payment->currency;
    audit_subject(&entry, TYPEID_PREFIX_PAYMENT, payment->id);
    store_record_audit(&entry, &buf, &record);
    return writer_batch_attach(batch, &record); /* copies the record's bytes */
}

enum tl_err audit_attach_deposit(struct writer_batch *batch, const struct http_request *req,
                                 struct id128 deposit_id, struct id128 user_id, int64_t amount,
                                 uint16_t currency, uint64_t created_ns)
{
    struct store_audit entry;
    struct store_audit buf;
    struct store_record record;
    audit_entry_init(&entry, req, user_id, AUDIT_DEPOSIT_CREATED, created_ns);
    entry.amount = amount;
    entry.currency = currency;
    audit_subject(&entry, TYPEID_PREFIX_DEPOSIT, deposit_id);
    store_record_audit(&entry, &buf, &record);
    return writer_batch_attach(batch, &record);
}

static void audit_entry_money(struct store_audit *e, const struct http_request *req,
                              const struct audit_money *m)
{
    TL_ASSERT(m->kind != NULL);
    TL_ASSERT(strlen(m->kind) < sizeof(e->kind));
    TL_ASSERT(!id128_is_zero(m->user_id));
    TL_ASSERT(m->created_ns != 0);
    memset(e, 0, sizeof(*e));
    e->user_id = m->user_id;
    e->counterparty_id = m->counterparty_id;
    e->created_ns = m->created_ns;
    e->amount = m->currency != 0 ? m->amount : 0;
    e->currency = m->currency;
    snprintf(e->kind, sizeof(e->kind), "%s", m->kind);
    if (req != NULL) {
        snprintf(e->request_id, sizeof(e->request_id), "%s", req->request_id);
        /* The address is the user's own only when they made the request (an escrow the payee
         * canceled, an operator's reversal: someone else's address, not stored). */
        if (req->principal.authenticated && id128_eq(req->principal.user_id, m->user_id)) {
            snprintf(e->ip, sizeof(e->ip), "%s", req->client_ip);
        }
    }
    if (m->subject_prefix != NULL) {
        audit_subject(e, m->subject_prefix, m->subject_id);
    }
}

enum tl_err audit_attach_money(struct writer_batch *batch, const struct http_request *req,
                               const struct audit_money *m)
{
    struct store_audit entry;
    struct store_audit buf;
    struct store_record record;
    audit_entry_money(&entry, req, m);
    store_record_audit(&entry, &buf, &record);
    return writer_batch_attach(batch, &record); /* copies the record's bytes */
}

void audit_append_money(struct http_request *req, struct store *store,
                        const struct audit_money *m)
{
    struct store_audit entry;
    audit_entry_money(&entry, req, m);
    if (req != NULL) {
        audit_append(req, &entry);
        return;
    }
    TL_ASSERT(store != NULL);
    enum tl_err err = store_audit_append(store, &entry, NULL);
    if (err != TL_OK) {
        LOG(LOG_ERROR, "audit_append_failed", LOG_STR("action", entry.kind),
            LOG_STR("cause", tl_err_code(err)));
    }
}

/* ---- GET /v1/me/audit ---- */

/* An entry's public id: its seq in the low 64 bits (the listing cursor). */
static struct id128 audit_id(uint64_t seq)
{
    return id128_make(0, seq);
}

static void audit_hex(const uint8_t bytes[STORE_AUDIT_HASH_BYTES],
                      char out[2 * STORE_AUDIT_HASH_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < STORE_AUDIT_HASH_BYTES; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * STORE_AUDIT_HASH_BYTES] = '\0';
}

/* The name the counterparty of an entry sees it under. */
static const char *audit_counterpart_action(const char *kind)
{
    if (strcmp(kind, AUDIT_PAYMENT_SENT) == 0) {
        return AUDIT_PAYMENT_RECEIVED;
    }
    if (strcmp(kind, AUDIT_REQUEST_PAID) == 0) {
        return AUDIT_REQUEST_PAYMENT_RECEIVED;
    }
    if (strcmp(kind, AUDIT_REFUND_SENT) == 0) {
        return AUDIT_REFUND_RECEIVED;
    }
    if (strcmp(kind, AUDIT_PAYMENT_REVERSED) == 0) {
        return AUDIT_REVERSAL_RECEIVED;
    }
    return kind;
}

static json_t *audit_json_optional_id(const char *prefix, struct id128 id)
{
    char text[TYPEID_STR_BYTES];
    if (id128_is_zero(id)) {
        return json_null();
    }
    typeid_encode(prefix, id, text);
    return json_string(text);
}

/* One entry as viewer sees it: the payee's name for a payment it received, and the client
 * address only to the one who acted (it is theirs). */
static json_t *audit_json(const struct store_audit *e, struct id128 viewer, const char *reason)
{
    char id[TYPEID_STR_BYTES];
    char created_at[RENDER_TIME_BYTES];
    char created_ns[24];
    char hash[2 * STORE_AUDIT_HASH_BYTES + 1];
    char prev_hash[2 * STORE_AUDIT_HASH_BYTES + 1];
    bool actor = id128_eq(e->user_id, viewer);
    const struct money_currency *currency =
        e->currency != 0 ? money_currency_by_numeric(e->currency) : NULL;
    typeid_encode(AUDIT_TYPEID_PREFIX, audit_id(e->seq), id);
    render_time_text(e->created_ns, created_at);
    snprintf(created_ns, sizeof(created_ns), "%llu", (unsigned long long)e->created_ns);
    audit_hex(e->hash, hash);
    audit_hex(e->prev_hash, prev_hash);
    json_t *amount = e->currency != 0 ? json_integer(e->amount) : json_null();
    return json_pack(
        "{s:o, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}",
        "reason", reason != NULL ? json_string(reason) : json_null(), "id", id,
        "seq", (json_int_t)e->seq, "action", actor ? e->kind : audit_counterpart_action(e->kind),
        "kind", e->kind, "created_at", created_at, "created_ns", created_ns, "user",
        audit_json_optional_id(TYPEID_PREFIX_USER, e->user_id), "counterparty",
        audit_json_optional_id(TYPEID_PREFIX_USER, e->counterparty_id), "amount", amount,
        "currency", currency != NULL ? json_string(currency->code) : json_null(), "subject",
        e->subject[0] != '\0' ? json_string(e->subject) : json_null(), "request_id", e->request_id,
        "ip", actor && e->ip[0] != '\0' ? json_string(e->ip) : json_null(), "prev_hash",
        e->sealed ? json_string(prev_hash) : json_null(), "hash",
        e->sealed ? json_string(hash) : json_null());
}

/* The reason of a reversal entry, read from the reversal's row (the reason is operator text,
 * kept with the reversal, not in the chain). *found false for any other entry. */
static enum tl_err audit_reason(struct store *reader, const struct store_audit *e,
                                struct store_refund *row, bool *found)
{
    struct id128 id;
    *found = false;
    if (strcmp(e->kind, AUDIT_PAYMENT_REVERSED) != 0 ||
        typeid_decode(e->subject, strlen(e->subject), TYPEID_PREFIX_REVERSAL, &id, NULL) !=
            TL_OK) {
        return TL_OK;
    }
    return store_refund_get(reader, id, row, found);
}

/* The query's cursor as a seq: an "aud_" id whose high half is zero. */
static enum tl_err audit_page(const struct page_query *query, struct http_response *resp,
                              struct store_audit_page *page)
{
    memset(page, 0, sizeof(*page));
    page->limit = query->limit;
    if (!query->has_cursor) {
        return TL_OK;
    }
    if (query->cursor.hi != 0 || query->cursor.lo == 0 || query->cursor.lo > (uint64_t)INT64_MAX) {
        return page_fail_cursor(query, resp);
    }
    if (query->ending_before) {
        page->ending_before_seq = query->cursor.lo;
    } else {
        page->starting_after_seq = query->cursor.lo;
    }
    return TL_OK;
}

enum tl_err audit_list(struct http_request *req, struct http_response *resp)
{
    struct page_query query;
    struct store_audit_page page;
    struct store *reader = NULL;
    uint32_t count = 0;
    bool has_more = false;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = page_from_request(req, AUDIT_TYPEID_PREFIX, &query, resp);
    if (err == TL_OK) {
        err = audit_page(&query, resp, &page);
    }
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err != TL_OK) {
        return err;
    }
    struct store_audit *rows = malloc(query.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_audit_list(reader, req->principal.user_id, &page, rows, &count, &has_more);
    json_t *data = err == TL_OK ? json_array() : NULL;
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        struct store_refund reversal;
        bool found = false;
        err = audit_reason(reader, &rows[i], &reversal, &found);
        if (err == TL_OK &&
            (data == NULL ||
             json_array_append_new(data, audit_json(&rows[i], req->principal.user_id,
                                                    found ? reversal.reason : NULL)) != 0)) {
            err = TL_ERR_NOMEM;
        }
    }
    free(rows);
    if (err != TL_OK) {
        json_decref(data);
        return err;
    }
    return http_response_json(resp, 200,
                              json_pack("{s:o, s:b}", "data", data, "has_more", has_more));
}

/* ---- GET /v1/admin/audit/verify ---- */

enum tl_err audit_admin_verify(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_audit_report report;
    char head[2 * STORE_AUDIT_HASH_BYTES + 1];
    TL_ASSERT(req->operator);
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_audit_verify(reader, audit_checkpoint_key(), &report);
    }
    if (err != TL_OK) {
        return err;
    }
    audit_hex(report.head_hash, head);
    json_t *body = json_pack(
        "{s:b, s:I, s:I, s:o, s:I, s:o, s:o, s:o}", "ok", report.ok, "entries",
        (json_int_t)report.entry_count, "head_seq", (json_int_t)report.head_seq, "head_hash",
        report.entry_count > 0 ? json_string(head) : json_null(), "checkpoints",
        (json_int_t)report.checkpoint_count, "checkpoint_seq_last",
        report.checkpoint_seq_last > 0 ? json_integer((json_int_t)report.checkpoint_seq_last)
                                       : json_null(),
        "bad_seq", report.ok ? json_null() : json_integer((json_int_t)report.bad_seq), "reason",
        report.ok ? json_null() : json_string(report.reason));
    return http_response_json(resp, 200, body);
}

/* ---- Checkpoints ---- */

/* Replaced by audit_secret_set at startup. */
static uint8_t audit_key[STORE_AUDIT_KEY_BYTES] = "tally audit checkpoint v1.......";

void audit_secret_set(const uint8_t *secret, size_t secret_bytes)
{
    store_audit_checkpoint_key(secret, secret_bytes, audit_key);
}

const uint8_t *audit_checkpoint_key(void)
{
    return audit_key;
}

struct audit_checkpointer {
    struct api_app *app;
    uint64_t interval_ns;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool stopping;
};

static void audit_checkpoint_once(struct api_app *app)
{
    struct store *store = NULL;
    uint64_t seq = 0;
    enum tl_err err = api_app_store_acquire(app, &store);
    if (err == TL_OK) {
        err = store_audit_checkpoint_head(store, audit_key, clock_wall_ns(), &seq);
        api_app_store_release(app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "audit_checkpoint_failed", LOG_STR("error", tl_err_code(err)));
    } else if (seq > 0) {
        LOG(LOG_DEBUG, "audit_checkpoint", LOG_U64("seq", seq));
    }
}

static struct timespec audit_deadline(uint64_t after_ns)
{
    struct timespec now;
    TL_ASSERT(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
    uint64_t ns = (uint64_t)now.tv_nsec + after_ns % 1000000000u;
    now.tv_sec += (time_t)(after_ns / 1000000000u + ns / 1000000000u);
    now.tv_nsec = (long)(ns % 1000000000u);
    return now;
}

static void *audit_checkpointer_main(void *arg)
{
    struct audit_checkpointer *c = arg;
    TL_ASSERT(pthread_mutex_lock(&c->mutex) == 0);
    while (!c->stopping) {
        struct timespec deadline = audit_deadline(c->interval_ns);
        while (!c->stopping) {
            int rc = pthread_cond_timedwait(&c->wake, &c->mutex, &deadline);
            if (rc == ETIMEDOUT) {
                break;
            }
            TL_ASSERT(rc == 0);
        }
        TL_ASSERT(pthread_mutex_unlock(&c->mutex) == 0);
        audit_checkpoint_once(c->app); /* on every tick, and once more when stopping */
        TL_ASSERT(pthread_mutex_lock(&c->mutex) == 0);
    }
    TL_ASSERT(pthread_mutex_unlock(&c->mutex) == 0);
    return NULL;
}

enum tl_err audit_checkpointer_start(struct api_app *app, uint32_t interval_s,
                                     struct audit_checkpointer **out)
{
    *out = NULL;
    if (interval_s == 0) {
        return TL_OK;
    }
    struct audit_checkpointer *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return TL_ERR_NOMEM;
    }
    c->app = app;
    c->interval_ns = (uint64_t)interval_s * 1000000000u;
    clock_cond_init_mono(&c->wake);
    TL_ASSERT(pthread_mutex_init(&c->mutex, NULL) == 0);
    if (!thread_start(&c->thread, "tl-audit-ckpt", audit_checkpointer_main, c)) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->mutex);
        free(c);
        return TL_ERR_INTERNAL;
    }
    *out = c;
    return TL_OK;
}

void audit_checkpointer_stop(struct audit_checkpointer *c)
{
    if (c == NULL) {
        return;
    }
    TL_ASSERT(pthread_mutex_lock(&c->mutex) == 0);
    c->stopping = true;
    TL_ASSERT(pthread_cond_signal(&c->wake) == 0);
    TL_ASSERT(pthread_mutex_unlock(&c->mutex) == 0);
    TL_ASSERT(pthread_join(c->thread, NULL) == 0);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->mutex);
    free(c);
}
