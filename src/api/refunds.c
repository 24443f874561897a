#include "api/refunds.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/async.h"
#include "api/debts.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/money_records.h"
#include "api/movement.h"
#include "api/page.h"
#include "auth/validate.h"
#include "core/money.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"

/* Attempts of a refund of "the rest" while concurrent refunds keep shrinking the rest. */
#define REFUNDS_ATTEMPTS_MAX 4
/* ISO 4217 numbers are 1..999. */
#define REFUNDS_CURRENCY_MAX 999u

#define REFUNDS_VARIANT_MASK 0x3fffffffffffffffull

/* Currencies whose capacity account is known to exist (set once, never cleared). */
static _Atomic bool refunds_capacity_ready[REFUNDS_CURRENCY_MAX + 1];

static_assert(LEDGER_KIND_REFUND_CAPACITY < (1u << 16), "a kind fits above the currency in lo");

struct id128 refunds_refundable_id(struct id128 payment_id)
{
    TL_ASSERT(payment_id.hi != 0);
    return id128_make(payment_id.hi, payment_id.lo & REFUNDS_VARIANT_MASK);
}

struct id128 refunds_capacity_id(uint16_t currency)
{
    TL_ASSERT(currency >= 1 && currency <= REFUNDS_CURRENCY_MAX);
    return id128_make(0, (uint64_t)LEDGER_KIND_REFUND_CAPACITY << 16 | currency);
}

static struct ledger_event refunds_account_event(struct id128 id, struct id128 user_id,
                                                 uint16_t currency, uint16_t kind, uint32_t flags)
{
    struct ledger_event event;
    memset(&event, 0, sizeof(event));
    event.kind = LEDGER_EVENT_ACCOUNT;
    event.as.account.id = id;
    event.as.account.user_data = user_id;
    event.as.account.currency = currency;
    event.as.account.kind = kind;
    event.as.account.flags = flags;
    return event;
}

static enum tl_err refunds_capacity_ensure(struct writer *writer, uint16_t currency)
{
    if (atomic_load_explicit(&refunds_capacity_ready[currency], memory_order_acquire)) {
        return TL_OK;
    }
    struct ledger_event event = refunds_account_event(
        refunds_capacity_id(currency), id128_make(0, 0), currency, LEDGER_KIND_REFUND_CAPACITY, 0);
    struct ledger_event_result result;
    struct writer_command cmd = {.events = &event, .event_count = 1, .results = &result};
    enum tl_err err = writer_submit(writer, &cmd);
    if (err != TL_OK) {
        return err;
    }
    if (result.result != LEDGER_OK && result.result != LEDGER_EXISTS) {
        LOG(LOG_ERROR, "refund_capacity_open_failed",
            LOG_STR("result", ledger_result_name((enum ledger_result)result.result)));
        return TL_ERR_INTERNAL;
    }
    atomic_store_explicit(&refunds_capacity_ready[currency], true, memory_order_release);
    return TL_OK;
}

/* The payment's refundable account and its amount, in one chain: it exists exactly when it
 * holds the amount. */
static void refunds_ensure_events(const struct store_payment *payment,
                                  struct ledger_event events[2])
{
    events[0] = refunds_account_event(refunds_refundable_id(payment->id), payment->to_user,
                                      payment->currency, LEDGER_KIND_REFUNDABLE,
                                      LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                                          LEDGER_ACCOUNT_LINKED);
    events[1] = movement_transfer(id128_new(), refunds_capacity_id(payment->currency),
                                  refunds_refundable_id(payment->id), payment->amount,
                                  payment->currency, LEDGER_CODE_ADJUSTMENT, payment->id, 0);
}

/* What the ledger said to refunds_ensure_events: made now, or there before. */
static enum tl_err refunds_ensure_check(const struct ledger_event_result results[2])
{
    bool made = results[0].result == LEDGER_OK && results[1].result == LEDGER_OK;
    bool existed = results[0].result == LEDGER_EXISTS;
    if (!made && !existed) {
        LOG(LOG_ERROR, "refundable_open_failed",
            LOG_STR("account", ledger_result_name((enum ledger_result)results[0].result)),
            LOG_STR("transfer", ledger_result_name((enum ledger_result)results[1].result)));
        return TL_ERR_INTERNAL;
    }
    return TL_OK;
}

enum tl_err refunds_ensure(struct writer *writer, const struct store_payment *payment)
{
    if (writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    enum tl_err err = refunds_capacity_ensure(writer, payment->currency);
    if (err != TL_OK) {
        return err;
    }
    struct ledger_event events[2];
    struct ledger_event_result results[2];
    refunds_ensure_events(payment, events);
    struct writer_command cmd = {.events = events, .event_count = 2, .results = results};
    err = writer_submit(writer, &cmd);
    return err == TL_OK ? refunds_ensure_check(results) : err;
}

enum tl_err refunds_rest(struct store *reader, const struct store_payment *payment, int64_t *out)
{
    struct ledger_account account;
    bool found = false;
    enum tl_err err =
        store_account_get(reader, refunds_refundable_id(payment->id), &account, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        *out = payment->amount;
        return TL_OK;
    }
    TL_ASSERT(account.kind == LEDGER_KIND_REFUNDABLE);
    TL_ASSERT(account.credits_posted == payment->amount);
    *out = account.credits_posted - account.debits_posted - account.debits_pending;
    TL_ASSERT(*out >= 0);
    return TL_OK;
}

enum tl_err refunds_payment_of(struct http_request *req, struct http_response *resp,
                               struct store_payment *out)
{
    const char *text = http_request_param(req, "id");
    struct store *reader = NULL;
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), TYPEID_PREFIX_PAYMENT, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment");
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_payment_get(reader, id, out, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    struct id128 user = req->principal.user_id;
    if (!found || (!id128_eq(out->from_user, user) && !id128_eq(out->to_user, user))) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment");
    }
    return TL_OK;
}

enum tl_err refunds_render_totals(struct render *r, struct store *reader,
                                  const struct store_payment *payment)
{
    int64_t refunded = 0;
    int64_t reversed = 0;
    enum tl_err err = store_refund_totals(reader, payment->id, &refunded, &reversed);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(refunded + reversed <= payment->amount);
    render_key(r, "amount_refunded");
    render_i64(r, refunded);
    render_key(r, "amount_reversed");
    render_i64(r, reversed);
    return TL_OK;
}

void refunds_render_totals_zero(struct render *r)
{
    render_key(r, "amount_refunded");
    render_i64(r, 0);
    render_key(r, "amount_reversed");
    render_i64(r, 0);
}

/* Everything up to "reason"; the object stays open. */
static void refunds_render_head(struct render *r, const struct store_refund *row)
{
    const struct money_currency *currency = money_currency_by_numeric(row->currency);
    bool reversal = row->kind == STORE_REFUND_KIND_REVERSAL;
    TL_ASSERT(currency != NULL);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, reversal ? TYPEID_PREFIX_REVERSAL : TYPEID_PREFIX_REFUND, row->id);
    render_key(r, "type");
    render_str(r, reversal ? "reversal" : "refund");
    render_key(r, "payment_id");
    render_typeid(r, TYPEID_PREFIX_PAYMENT, row->payment_id);
    render_key(r, "status");
    render_str(r, "succeeded");
    render_key(r, "amount");
    render_i64(r, row->amount);
    render_key(r, "currency");
    render_str(r, currency->code);
    if (reversal) {
        render_key(r, "from_wallet");
        render_i64(r, row->from_wallet);
        render_key(r, "shortfall");
        render_i64(r, row->shortfall);
        render_key(r, "dispute_id");
        if (id128_is_zero(row->dispute_id)) {
            render_null(r);
        } else {
            render_typeid(r, TYPEID_PREFIX_DISPUTE, row->dispute_id);
        }
    }
    render_key(r, "reason");
    render_str_or_null(r, row->reason[0] != '\0' ? row->reason : NULL);
}

void refunds_render_row(struct render *r, const struct store_refund *row)
{
    refunds_render_head(r, row);
    render_key(r, "created_at");
    render_time(r, row->created_ns);
    render_object_end(r);
}

/* ---- POST /v1/payments/{id}/refunds ---- */

/* One refund on its way through the writer; on the handler's stack. */
struct refunds_exec {
    struct writer_command cmd;
    struct ledger_event events[2]; /* the cap leg, then the money */
    struct ledger_event_result results[2];
    const struct http_request *req;
    struct http_response *resp;
    struct idempotency_request *idem;
    struct store_payment payment;
    struct store_refund row;
    struct movement_answer answer; /* the 201 body and the hook's per-run state */
    int64_t requested;             /* 0: the rest of the payment, read at each attempt */
    int attempt;
};

static void refunds_head(struct refunds_exec *x)
{
    buf_reset(&x->resp->body);
    render_init(&x->answer.render, &x->resp->body);
    refunds_render_head(&x->answer.render, &x->row);
    movement_answer_head_done(&x->answer, x->resp);
}

/* Writer thread, the money applied, the batch not committed: finish and attach the answer. */
static enum tl_err refunds_on_applied(struct writer_command *cmd, struct writer_batch *batch)
{
    struct refunds_exec *x = cmd->ctx;
    struct id128 missing;
    if (!movement_answer_restart(&x->answer, x->resp, x->idem)) {
        refunds_head(x);
    }
    if (x->results[0].result == LEDGER_EXCEEDS_CREDITS) {
        x->answer.outcome = TL_ERR_REFUND_EXCEEDS_PAYMENT; /* the cap: nothing moved */
        return TL_OK;
    }
    x->answer.outcome = movement_outcome(x->events, x->results, 2, &missing);
    if (x->answer.outcome != TL_OK) {
        return TL_OK; /* a refusal: the finish step stores it for a retry */
    }
    /* The audit entry and both parties' refund.created, with the money. */
    enum tl_err err = money_records_refund(batch, x->req, &x->payment, &x->row, &x->results[1]);
    if (err != TL_OK) {
        x->answer.hook_err = err;
        return err;
    }
    int64_t after = ledger_balance_available(&x->results[1].debit_after);
    movement_render_tail(&x->answer.render, x->results[1].timestamp, after);
    err = render_finish(&x->answer.render);
    if (err == TL_OK && x->idem != NULL) {
        err = idempotency_attach(x->idem, batch, 201, x->resp->body.data, x->resp->body.len);
    }
    x->answer.rendered = err == TL_OK;
    x->answer.hook_err = err;
    return err;
}

static enum tl_err refunds_put_row(struct http_request *req, const struct store_refund *row)
{
    struct store *app_store = NULL;
    enum tl_err err = api_app_store_acquire(req->app, &app_store);
    if (err != TL_OK) {
        return err;
    }
    err = store_refund_put(app_store, row);
    api_app_store_release(req->app, app_store);
    return err;
}

static enum tl_err refunds_resume(struct http_request *req, struct http_response *resp,
                                  void *ctx);

/* One attempt of amount: the row, then the money, handed to the writer; refunds_resume answers
 * (x belongs to it once submitted; freed here when nothing was). The request parks while the
 * batch commits (async.h). */
static enum tl_err refunds_attempt(struct http_request *req, struct http_response *resp,
                                   struct refunds_exec *x, int64_t amount)
{
    const struct store_payment *p = &x->payment;
    x->row.amount = amount;
    x->row.from_wallet = amount;
    enum tl_err err = refunds_put_row(req, &x->row);
    if (err != TL_OK) {
        free(x);
        return err;
    }
    x->events[0] = movement_transfer(id128_new(), refunds_refundable_id(p->id),
                                     refunds_capacity_id(p->currency), amount, p->currency,
                                     LEDGER_CODE_REFUND, p->id, LEDGER_TRANSFER_LINKED);
    x->events[1] = movement_transfer(x->row.id, p->to_wallet, p->from_wallet, amount, p->currency,
                                     LEDGER_CODE_REFUND, p->id, 0);
    refunds_head(x);
    x->cmd = (struct writer_command){.events = x->events,
                                     .event_count = 2,
                                     .results = x->results,
                                     .on_applied = refunds_on_applied,
                                     .ctx = x};
    return async_submit(req, resp, true, &x->cmd, refunds_resume, x);
}

/* The next attempt: "the rest" is read again (another refund may have taken part of it).
 * Takes x. */
static enum tl_err refunds_next(struct http_request *req, struct http_response *resp,
                                struct refunds_exec *x)
{
    struct store *reader = NULL;
    int64_t amount = x->requested;
    enum tl_err err = x->attempt < REFUNDS_ATTEMPTS_MAX ? TL_OK : TL_ERR_BUSY;
    if (err == TL_OK && amount == 0) {
        err = http_request_store(req, &reader);
        err = err == TL_OK ? refunds_rest(reader, &x->payment, &amount) : err;
        if (err == TL_OK && amount == 0) {
            err = http_fail(resp, TL_ERR_REFUND_EXCEEDS_PAYMENT, "amount",
                            "nothing of this payment is left to refund");
        }
    }
    if (err != TL_OK) {
        free(x);
        return err;
    }
    return refunds_attempt(req, resp, x, amount);
}

/* What the writer's answer means for the client; *again when another refund took part of the
 * rest under this one and it should be read again. */
static enum tl_err refunds_outcome(const struct http_request *req, struct http_response *resp,
                                   struct refunds_exec *x, bool *again)
{
    bool decided = false;
    *again = false;
    enum tl_err err =
        movement_answer_decide(req, resp, x->cmd.err, &x->answer, NULL, "refund", &decided);
    if (decided) {
        return err;
    }
    if (x->answer.outcome == TL_ERR_REFUND_EXCEEDS_PAYMENT) {
        *again = x->requested == 0;
        return *again ? TL_OK
                      : http_fail(resp, TL_ERR_REFUND_EXCEEDS_PAYMENT, "amount",
                                  "the amount exceeds what is left of the payment to refund");
    }
    if (movement_refusal(x->answer.outcome)) {
        return http_fail(resp, x->answer.outcome, "amount",
                         x->answer.outcome == TL_ERR_INSUFFICIENT_FUNDS
                             ? "your wallet's available balance does not cover the refund"
                             : "the refund would take a balance past the largest value");
    }
    return TL_ERR_INTERNAL;
}

/* After the refund's batch (a worker thread, or the handler's when it did not park): the 201,
 * a refusal, or the next attempt. Frees x unless it submits again. */
static enum tl_err refunds_resume(struct http_request *req, struct http_response *resp,
                                  void *ctx)
{
    struct refunds_exec *x = ctx;
    bool again = false;
    enum tl_err err = refunds_outcome(req, resp, x, &again);
    if (again) {
        x->attempt++;
        return refunds_next(req, resp, x);
    }
    if (err == TL_OK) {
        resp->status = 201;
        resp->content_type = "application/json";
    }
    free(x);
    return err;
}

static const struct json_field refunds_fields[] = {
    JSON_AMOUNT("amount", false),
    JSON_STRING("reason", false, STORE_REASON_BYTES_MAX - 1),
};

/* Reads {amount?, reason?} into *amount (0: the rest) and x->row.reason. */
static enum tl_err refunds_parse(struct http_request *req, struct http_response *resp,
                                 struct refunds_exec *x, int64_t *amount)
{
    struct json_error error;
    struct auth_fault fault = {NULL, NULL, NULL};
    json_t *body = NULL;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, refunds_fields,
                       sizeof(refunds_fields) / sizeof(refunds_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *reason = json_field_string(body, "reason");
    *amount = json_field_int(body, "amount", 0);
    if (reason != NULL && validate_note(reason, strlen(reason), &fault) != TL_OK) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "reason", fault.detail);
    } else if (reason != NULL) {
        TL_ASSERT(strlen(reason) < sizeof(x->row.reason));
        memcpy(x->row.reason, reason, strlen(reason) + 1);
    }
    json_decref(body);
    return err;
}

/* After the refundable account's batch: the first attempt, or the error. Takes x. */
static enum tl_err refunds_ensured(struct http_request *req, struct http_response *resp,
                                   void *ctx)
{
    struct refunds_exec *x = ctx;
    enum tl_err err = x->cmd.err;
    err = err == TL_OK ? refunds_ensure_check(x->results) : err;
    if (err != TL_OK) {
        free(x);
        return err;
    }
    return refunds_next(req, resp, x);
}

enum tl_err refunds_create(struct http_request *req, struct http_response *resp)
{
    struct refunds_exec *x = NULL;
    int64_t requested = 0;
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return TL_ERR_NOMEM;
    }
    x->req = req;
    x->resp = resp;
    x->idem = idempotency_current();
    enum tl_err err = refunds_parse(req, resp, x, &requested);
    if (err == TL_OK) {
        err = refunds_payment_of(req, resp, &x->payment);
    }
    if (err == TL_OK && !id128_eq(x->payment.to_user, req->principal.user_id)) {
        err = http_fail(resp, TL_ERR_FORBIDDEN, NULL, "only the payee can refund a payment");
    }
    if (err == TL_OK && requested > x->payment.amount) {
        err = http_fail(resp, TL_ERR_REFUND_EXCEEDS_PAYMENT, "amount",
                        "the amount exceeds what is left of the payment to refund");
    }
    if (err == TL_OK) {
        err = debts_gate(req, resp, x->payment.to_wallet, x->payment.currency);
    }
    if (err == TL_OK) {
        err = refunds_capacity_ensure(req->app->writer, x->payment.currency);
    }
    if (err != TL_OK) {
        free(x);
        return err;
    }
    x->row.id = id128_new();
    x->row.payment_id = x->payment.id;
    x->row.kind = STORE_REFUND_KIND_REFUND;
    x->row.actor_id = req->principal.user_id;
    x->row.currency = x->payment.currency;
    x->row.created_ns = clock_wall_ns();
    x->requested = requested;
    /* The refundable account first (refunds_ensure, parked like the refund itself). */
    refunds_ensure_events(&x->payment, x->events);
    x->cmd = (struct writer_command){.events = x->events, .event_count = 2, .results = x->results};
    return async_submit(req, resp, true, &x->cmd, refunds_ensured, x);
}

/* ---- GET /v1/payments/{id}/refunds ---- */

static enum tl_err refunds_page_of(struct http_request *req, struct http_response *resp,
                                   struct store_request_page *page)
{
    struct page_query query;
    enum tl_err err = page_from_request(req, TYPEID_PREFIX_REFUND, &query, resp);
    if (err != TL_OK) {
        return err;
    }
    memset(page, 0, sizeof(*page));
    page->limit = query.limit;
    if (query.has_cursor && query.ending_before) {
        page->ending_before = query.cursor;
    } else if (query.has_cursor) {
        page->starting_after = query.cursor;
    }
    return TL_OK;
}

enum tl_err refunds_list(struct http_request *req, struct http_response *resp)
{
    struct store_payment payment;
    struct store_request_page page;
    struct store *reader = NULL;
    uint32_t count = 0;
    bool has_more = false;
    enum tl_err err = refunds_page_of(req, resp, &page);
    if (err == TL_OK) {
        err = refunds_payment_of(req, resp, &payment);
    }
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err != TL_OK) {
        return err;
    }
    struct store_refund *rows = malloc(page.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_refunds_list(reader, payment.id, &page, rows, &count, &has_more);
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        refunds_render_row(&r, &rows[i]);
    }
    render_array_end(&r);
    render_key(&r, "has_more");
    render_bool(&r, has_more);
    render_object_end(&r);
    free(rows);
    if (err == TL_OK) {
        err = render_finish(&r);
    }
    return err;
}
