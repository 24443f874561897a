#include "api/quotes.h"

#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/async.h"
#include "api/fx.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "api/render.h"
#include "auth/validate.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/limits.h"
#include "util/typeid.h"

static_assert(CONFIG_FEE_OPERATIONS == FEES_OPERATION_COUNT, "one schedule per operation");
static_assert(TL_COMMAND_RECORDS_MAX >= 2, "a quote and its stored answer fit one command");
#define QUOTES_TTL_S_DEFAULT 60u
#define NS_PER_S 1000000000ull

enum tl_err quotes_fee(const struct config *config, enum fees_operation operation,
                       const struct money_currency *currency, int64_t amount,
                       struct fees_quote *out)
{
    struct fees_schedule schedule = {0, 0, 0, -1, 0};
    int64_t sent = 0;
    TL_ASSERT((unsigned)operation < FEES_OPERATION_COUNT);
    TL_ASSERT(currency != NULL);
    if (config != NULL) {
        const struct config_fee_schedule *c = &config->fee_schedules[operation];
        schedule = (struct fees_schedule){c->bps, c->fixed_e4, c->min_e4, c->max_e4,
                                          c->fixed_minor};
    }
    TL_ASSERT(fees_schedule_check(&schedule) == TL_OK); /* config checked it */
    uint8_t exponent = currency->exponent < FEES_SCALE_EXPONENT ? currency->exponent
                                                                : (uint8_t)FEES_SCALE_EXPONENT;
    struct fees_quote q;
    enum tl_err err = fees_compute(&schedule, exponent, amount, &q);
    if (err == TL_OK && !money_add(amount, q.fee, &sent)) {
        err = TL_ERR_OVERFLOW;
    }
    if (err == TL_OK) {
        *out = q;
    }
    return err;
}

/* ---- POST /v1/quotes ---- */

static const struct json_field quotes_fields[] = {
    JSON_STRING("operation", true, 32),
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("recipient", false, STORE_TO_BYTES_MAX - 1),
    JSON_STRING("send_currency", false, 64), /* fx only: the currency paid in */
};

struct quotes_input {
    enum fees_operation operation;
    const struct money_currency *currency;
    const struct money_currency *send_currency; /* fx: what is paid in; else currency */
    int64_t amount;
    bool has_recipient;
    struct recipient recipient;
};

/* fx quotes name the currency they are paid in (send_currency, not the amount's currency);
 * other operations take none. */
static enum tl_err quotes_send_currency(const json_t *body, struct http_response *resp,
                                        struct quotes_input *in)
{
    const char *text = json_field_string(body, "send_currency");
    in->send_currency = in->currency;
    if (in->operation != FEES_FX) {
        return text == NULL ? TL_OK
                            : http_fail(resp, TL_ERR_INVALID_REQUEST, "send_currency",
                                        "only fx quotes take a send_currency");
    }
    if (text == NULL) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "send_currency",
                         "an fx quote names the currency it is paid in");
    }
    in->send_currency = money_currency_find(text, strlen(text));
    if (in->send_currency == NULL) {
        return http_fail(resp, TL_ERR_UNKNOWN_CURRENCY, "send_currency",
                         "not an ISO 4217 currency code");
    }
    if (in->send_currency == in->currency) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "send_currency",
                         "must differ from currency (the currency received)");
    }
    return TL_OK;
}

static enum tl_err quotes_parse(const struct http_request *req, struct http_response *resp,
                                struct quotes_input *in)
{
    struct json_error error;
    struct auth_fault fault = {NULL, NULL, NULL};
    json_t *body = NULL;
    enum tl_err err = json_body_read(req->body, req->body_bytes, quotes_fields,
                                     sizeof(quotes_fields) / sizeof(quotes_fields[0]), &body,
                                     &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *operation = json_field_string(body, "operation");
    const char *recipient = json_field_string(body, "recipient");
    if (!fees_operation_find(operation, strlen(operation), &in->operation)) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "operation",
                        "must be p2p, instant_payout, standard_payout, card_funding or fx");
    }
    if (err == TL_OK) {
        err = movement_currency(body, resp, &in->currency);
    }
    if (err == TL_OK) {
        err = quotes_send_currency(body, resp, in);
    }
    in->has_recipient = recipient != NULL;
    if (err == TL_OK && recipient != NULL &&
        validate_recipient(recipient, strlen(recipient), &in->recipient, &fault) != TL_OK) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "recipient", fault.detail);
    }
    in->amount = json_field_int(body, "amount", 0);
    json_decref(body);
    return err;
}

static void quotes_render(struct render *r, const struct store_quote *q,
                          const struct money_user *recipient)
{
    const struct money_currency *currency = money_currency_by_numeric(q->receive_currency);
    const struct money_currency *send = money_currency_by_numeric(q->send_currency);
    struct fx_rate rate = {q->rate_num, q->rate_den};
    char rate_text[FX_RATE_TEXT_BYTES];
    TL_ASSERT(currency != NULL);
    TL_ASSERT(send != NULL);
    TL_ASSERT(fx_rate_check(&rate) == TL_OK);
    fx_rate_format(&rate, rate_text);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, QUOTES_TYPEID_PREFIX, q->id);
    render_key(r, "operation");
    render_str(r, fees_operation_name((enum fees_operation)q->operation));
    render_key(r, "amount");
    render_i64(r, q->amount);
    render_key(r, "currency");
    render_str(r, currency->code);
    render_key(r, "send_currency");
    render_str(r, send->code);
    render_key(r, "fee");
    render_i64(r, q->fee);
    render_key(r, "sent");
    render_i64(r, q->sent);
    render_key(r, "received");
    render_i64(r, q->amount);
    render_key(r, "rate");
    render_str(r, rate_text);
    render_key(r, "recipient");
    if (recipient == NULL) {
        render_null(r);
    } else {
        render_object_begin(r);
        render_key(r, "id");
        render_typeid(r, TYPEID_PREFIX_USER, recipient->id);
        render_key(r, "handle");
        render_str(r, recipient->handle);
        render_key(r, "display_name");
        render_str(r, recipient->display_name);
        render_object_end(r);
    }
    render_key(r, "expires_at");
    render_time(r, q->expires_ns);
    render_key(r, "created_at");
    render_time(r, q->created_ns);
    render_object_end(r);
}

/* The recipient named by the body, when it named one: must exist and not be the caller. */
static enum tl_err quotes_recipient(struct http_request *req, struct http_response *resp,
                                    const struct quotes_input *in, struct money_user *out,
                                    bool *named)
{
    struct store *reader = NULL;
    bool found = false;
    *named = in->has_recipient;
    if (!in->has_recipient) {
        return TL_OK;
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = money_cache_recipient_find(reader, &in->recipient, out, &found);
    }
    if (err == TL_OK && !found) {
        err = http_fail(resp, TL_ERR_RECIPIENT_NOT_FOUND, "recipient",
                        "nobody matches this recipient");
    }
    if (err == TL_OK && id128_eq(out->id, req->principal.user_id)) {
        err = http_fail(resp, TL_ERR_CANNOT_PAY_SELF, "recipient", "you cannot pay yourself");
    }
    return err;
}

/* A quote on its way through the writer: the row, its record's bytes, the 201 answer already
 * rendered in resp, and the request's Idempotency-Key state (NULL without a key). */
struct quotes_exec {
    struct store_quote quote;
    uint8_t record_buf[STORE_RECORD_QUOTE_BYTES];
    const struct http_response *resp;
    struct idempotency_request *idem;
    struct writer_command cmd;
};

/*
 * Writer thread, before commit: the quote row and, with an Idempotency-Key, the answer a retry
 * replays ride the same batch, so they are durable together (one fsync per batch, shared with
 * the money of the other commands). The writer runs a hook again when another command of the
 * batch is dropped, and the records of an earlier run are gone then: every run attaches all.
 * An error drops the quote (nothing stored) and submit returns it.
 */
static enum tl_err quotes_on_applied(struct writer_command *cmd, struct writer_batch *batch)
{
    struct quotes_exec *x = cmd->ctx;
    struct store_record record;
    TL_ASSERT(cmd->event_count == 0);
    TL_ASSERT(x->resp->body.len > 0);
    if (x->idem != NULL) {
        x->idem->recorded = false; /* an earlier run's row was discarded with its batch pass */
    }
    store_record_quote(&x->quote, x->record_buf, &record);
    enum tl_err err = writer_batch_attach(batch, &record);
    if (err == TL_OK && x->idem != NULL) {
        err = idempotency_attach(x->idem, batch, 201, x->resp->body.data, x->resp->body.len);
    }
    return err;
}

/* After the quote's batch (a worker thread): the 201 rendered before, or the writer's error.
 * Frees x. */
static enum tl_err quotes_resume(struct http_request *req, struct http_response *resp, void *ctx)
{
    struct quotes_exec *x = ctx;
    enum tl_err err = x->cmd.err;
    (void)req;
    if (err == TL_OK) {
        TL_ASSERT(x->idem == NULL || x->idem->recorded);
        resp->status = 201;
        resp->content_type = "application/json";
    }
    free(x);
    return err;
}

/* Renders the 201 answer into resp, then stores the quote through the writer's group commit
 * as a record-only command; answers only once its batch is durable. The request parks while
 * it waits (async.h), so a worker is not held for the commit. Takes x (heap; freed by
 * quotes_resume, or here when nothing was submitted). */
static enum tl_err quotes_store(struct http_request *req, struct http_response *resp,
                                struct quotes_exec *x, const struct money_user *recipient)
{
    struct render r;
    render_init(&r, &resp->body);
    quotes_render(&r, &x->quote, recipient);
    enum tl_err err = render_finish(&r);
    if (err != TL_OK) {
        free(x);
        return err;
    }
    /* Bounded fields (ids, codes, a handle and display name): always storable for replay. */
    TL_ASSERT(resp->body.len <= IDEMPOTENCY_BODY_BYTES_MAX);
    x->resp = resp;
    x->idem = idempotency_current();
    x->cmd = (struct writer_command){.events = NULL,
                                     .event_count = 0,
                                     .results = NULL,
                                     .on_applied = quotes_on_applied,
                                     .ctx = x};
    return async_submit(req, resp, true, &x->cmd, quotes_resume, x);
}

enum tl_err quotes_create(struct http_request *req, struct http_response *resp)
{
    const struct config *config = req->app->config;
    struct quotes_input in;
    struct money_user recipient;
    struct fees_quote fee;
    bool named = false;
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    enum tl_err err = quotes_parse(req, resp, &in);
    if (err == TL_OK) {
        err = quotes_recipient(req, resp, &in, &recipient, &named);
    }
    if (err != TL_OK) {
        return err;
    }
    struct fx_terms terms = {.from = in.currency, .to = in.currency, .received = in.amount,
                             .principal = in.amount, .rate = {1, 1}};
    if (in.operation == FEES_FX) {
        err = fx_terms(req, resp, in.send_currency, in.currency, in.amount, &terms);
        if (err != TL_OK) {
            return err;
        }
        fee.fee = terms.fee;
    } else if (quotes_fee(config, in.operation, in.currency, in.amount, &fee) != TL_OK) {
        return http_fail(resp, TL_ERR_OVERFLOW, "amount",
                         "the amount and its fee pass the largest representable value");
    }
    uint64_t ttl_s = config != NULL ? config->quotes_ttl_s : QUOTES_TTL_S_DEFAULT;
    struct quotes_exec *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return TL_ERR_NOMEM;
    }
    struct store_quote q;
    memset(&q, 0, sizeof(q));
    q.id = id128_new();
    q.user_id = req->principal.user_id;
    q.recipient_id = named ? recipient.id : id128_make(0, 0);
    q.payment_id = id128_new();
    q.operation = (uint8_t)in.operation;
    q.send_currency = in.send_currency->numeric;
    q.receive_currency = in.currency->numeric;
    q.amount = in.amount;
    q.fee = fee.fee;
    q.sent = terms.principal + fee.fee; /* quotes_fee (in fx_terms too) checked the sum */
    q.rate_num = terms.rate.num;
    q.rate_den = terms.rate.den;
    q.created_ns = clock_wall_ns();
    q.expires_ns = q.created_ns + ttl_s * NS_PER_S;
    x->quote = q;
    return quotes_store(req, resp, x, named ? &recipient : NULL);
}

/* ---- POST /v1/payments {quote_id} ---- */

enum tl_err quotes_apply(struct http_request *req, struct http_response *resp,
                         const char *quote_text, const struct store_payment *row,
                         struct id128 *payment_id, int64_t *fee)
{
    struct store *reader = NULL;
    struct store_quote q;
    struct id128 id;
    bool found = false;
    if (typeid_decode(quote_text, strlen(quote_text), QUOTES_TYPEID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, "quote_id", "no such quote");
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_quote_get(reader, id, &q, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(q.user_id, row->from_user)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, "quote_id", "no such quote");
    }
    if (q.operation != FEES_P2P || q.amount != row->amount || q.send_currency != row->currency ||
        q.receive_currency != row->currency ||
        (!id128_is_zero(q.recipient_id) && !id128_eq(q.recipient_id, row->to_user))) {
        return http_fail(resp, TL_ERR_QUOTE_MISMATCH, "quote_id",
                         "the payment's operation, amount, currency or recipient differ from "
                         "the quote");
    }
    if (q.used) {
        return http_fail(resp, TL_ERR_QUOTE_USED, "quote_id", "this quote was used already");
    }
    if (clock_wall_ns() >= q.expires_ns) {
        return http_fail(resp, TL_ERR_QUOTE_EXPIRED, "quote_id", "this quote has expired");
    }
    *payment_id = q.payment_id;
    *fee = q.fee;
    return TL_OK;
}
