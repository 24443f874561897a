#include "api/payments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/async.h"
#include "api/device_keys.h"
#include "api/app.h"
#include "api/audit.h"
#include "api/conversions.h"
#include "api/events.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/kyc.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "api/notes.h"
#include "api/page.h"
#include "api/quotes.h"
#include "api/debts.h"
#include "api/refunds.h"
#include "api/stepup.h"
#include "api/wallets.h"
#include "auth/validate.h"
#include "core/fees.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/config.h"
#include "util/log.h"
#include "util/typeid.h"

/* Transfers one payment command holds: the payment and its fee, after the conversion legs
 * of a cross-currency payment (conversions.h). */
#define PAYMENTS_EVENTS_MAX (2u + CONVERSIONS_LEGS_MAX)

static_assert(PAYMENTS_EVENTS_MAX <= TL_COMMAND_EVENTS_MAX, "a payment fits in one command");
/* A quote id as sent ("quo_" and 26 characters) with room to spare, and its NUL. */
#define PAYMENTS_QUOTE_ID_BYTES 64u
/* Room reserved up front for a 201 body (typically ~350 bytes; long names and notes more). */
#define PAYMENTS_BODY_BYTES_RESERVE 1024u

/* One payment on its way through the writer; on the heap, since the request may park while
 * its command waits for its batch (async.h). */
struct payments_exec {
    struct writer_command cmd;
    struct ledger_event events[PAYMENTS_EVENTS_MAX];
    struct ledger_event_result results[PAYMENTS_EVENTS_MAX];
    uint32_t event_count;
    struct store_payment row;        /* everything but what the ledger decides */
    struct store_payment record_buf; /* store_record_payment's serialization */
    struct money_user from;
    struct money_user to;
    const struct money_currency *currency;
    const struct http_request *req;
    struct http_response *resp;
    struct idempotency_request *idem;
    struct movement_answer answer; /* the 201 body and the hook's per-run state */
    struct id128 missing;          /* the account that was missing (TL_ERR_NOT_FOUND) */
    /* A payment on reserved terms (a quote, a payment request) reuses a reserved id, so the
     * ledger refuses it a second time: then the answer is this error (TL_OK: a fresh id). */
    enum tl_err exists_err;
    char quote_id[PAYMENTS_QUOTE_ID_BYTES]; /* "" when the body named no quote */
    struct notes_sealed sealed;             /* an end-to-end encrypted note (notes.h) */
    struct conversions_legs fx; /* an fx quote's conversion legs, before the payment */
    uint32_t main_index;        /* the payment transfer's index in events */
    struct stepup_signed device;            /* the device signature, when signed (stepup.h) */
    struct kyc_refusal limit;               /* which tier limit refused it (TL_ERR_TIER_LIMIT) */
    bool may_park;  /* POST /v1/payments parks; callers that need the answer at once do not */
    void (*after)(struct http_request *req, enum tl_err err, void *after_ctx); /* or NULL */
    void *after_ctx;
    int attempt;    /* 1 after a missing wallet account was repaired */
};

/* ---- Rendering (POST answer, GET and list share it) ---- */

static void payments_render_party(struct render *r, struct id128 id, const struct money_user *u)
{
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_USER, id);
    render_key(r, "handle");
    render_str_or_null(r, u != NULL ? u->handle : NULL);
    render_key(r, "display_name");
    render_str_or_null(r, u != NULL ? u->display_name : NULL);
    render_object_end(r);
}

/* Everything up to "created_at"; the object stays open. sealed_note is the viewer's copy of
 * the sealed note (notes.h) or NULL. */
static void payments_render_head(struct render *r, const struct store_payment *row,
                                 const struct money_user *from, const struct money_user *to,
                                 const char *sealed_note)
{
    const struct money_currency *currency = money_currency_by_numeric(row->currency);
    TL_ASSERT(currency != NULL);
    TL_ASSERT(row->status == STORE_PAYMENT_SUCCEEDED);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_PAYMENT, row->id);
    render_key(r, "status");
    render_str(r, "succeeded");
    render_key(r, "amount");
    render_i64(r, row->amount);
    render_key(r, "currency");
    render_str(r, currency->code);
    render_key(r, "fee");
    render_i64(r, row->fee);
    render_key(r, "from");
    payments_render_party(r, row->from_user, from);
    render_key(r, "to");
    payments_render_party(r, row->to_user, to);
    render_key(r, "note");
    render_str_or_null(r, row->note);
    render_key(r, "sealed_note");
    render_str_or_null(r, sealed_note);
}

/* ---- POST /v1/payments: parse ---- */

static const struct json_field payments_fields[] = {
    JSON_STRING("to", true, STORE_TO_BYTES_MAX - 1),
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("note", false, STORE_NOTE_BYTES_MAX - 1),
    JSON_STRING("quote_id", false, PAYMENTS_QUOTE_ID_BYTES - 1),
    JSON_OBJECT("sealed_note", false),
};

/* Reads the body into x->row (amount, currency, to_text, note) and *recipient. */
static enum tl_err payments_parse(const struct http_request *req, struct http_response *resp,
                                  struct payments_exec *x, struct recipient *recipient)
{
    struct json_error error;
    struct auth_fault fault = {NULL, NULL, NULL};
    json_t *body = NULL;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, payments_fields,
                       sizeof(payments_fields) / sizeof(payments_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *to = json_field_string(body, "to");
    const char *note = json_field_string(body, "note");
    const char *quote_id = json_field_string(body, "quote_id");
    size_t to_len = strlen(to);
    size_t note_len = note != NULL ? strlen(note) : 0;
    err = movement_currency(body, resp, &x->currency);
    if (err == TL_OK && validate_recipient(to, to_len, recipient, &fault) != TL_OK) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "to", fault.detail);
    }
    if (err == TL_OK && note != NULL && validate_note(note, note_len, &fault) != TL_OK) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "note", fault.detail);
    }
    if (err == TL_OK) {
        err = notes_sealed_parse(body, note != NULL, resp, &x->sealed);
    }
    if (err == TL_OK) {
        TL_ASSERT(to_len < sizeof(x->row.to_text));
        TL_ASSERT(note_len < sizeof(x->row.note));
        memcpy(x->row.to_text, to, to_len + 1);
        memcpy(x->row.note, note != NULL ? note : "", note_len + 1);
        snprintf(x->quote_id, sizeof(x->quote_id), "%s", quote_id != NULL ? quote_id : "");
        x->row.amount = json_field_int(body, "amount", 0);
        x->row.currency = x->currency->numeric;
        TL_ASSERT(x->row.amount > 0);
    }
    json_decref(body);
    return err;
}

/* ---- POST /v1/payments: resolve who pays whom, from which wallets, at what fee ---- */

static enum tl_err payments_resolve_users(struct http_request *req, struct http_response *resp,
                                          struct store *reader, struct payments_exec *x,
                                          const struct recipient *recipient)
{
    bool found = false;
    enum tl_err err = money_cache_user_get(reader, req->principal.user_id, &x->from, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_UNAUTHORIZED, NULL, "valid credentials are required");
    }
    err = money_cache_recipient_find(reader, recipient, &x->to, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_RECIPIENT_NOT_FOUND, "to", "nobody matches this recipient");
    }
    if (id128_eq(x->to.id, x->from.id)) {
        return http_fail(resp, TL_ERR_CANNOT_PAY_SELF, "to", "you cannot pay yourself");
    }
    x->row.from_user = x->from.id;
    x->row.to_user = x->to.id;
    return TL_OK;
}

static enum tl_err payments_resolve_wallets(struct http_request *req, struct http_response *resp,
                                            struct store *reader, struct payments_exec *x)
{
    struct store_wallet wallet;
    bool found = false;
    uint16_t currency = x->currency->numeric;
    enum tl_err err = money_cache_wallet_find(reader, x->from.id, currency, &wallet, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_WALLET_NOT_FOUND, "currency",
                         "you have no wallet in this currency");
    }
    x->row.from_wallet = wallet.id;
    err = money_cache_wallet_find(reader, x->to.id, currency, &wallet, &found);
    if (err == TL_OK && !found) {
        bool created = false;
        err = wallets_open(req->app, x->to.id, currency, &wallet, &created);
    }
    if (err != TL_OK) {
        return err;
    }
    x->row.to_wallet = wallet.id;
    return TL_OK;
}

static enum tl_err payments_resolve_fee(struct http_request *req, struct http_response *resp,
                                        struct payments_exec *x)
{
    struct fees_quote fee;
    if (x->fx.active) {
        /* The quote's terms: the fx fee is in the conversion legs (conversions.h). */
        x->exists_err = TL_ERR_QUOTE_USED;
        return TL_OK;
    }
    if (x->quote_id[0] != '\0') {
        /* The quoted fee and the quote's reserved payment id (quotes.h). */
        enum tl_err err = quotes_apply(req, resp, x->quote_id, &x->row, &x->row.id, &x->row.fee);
        if (err != TL_OK) {
            return err;
        }
        x->exists_err = TL_ERR_QUOTE_USED;
    } else if (quotes_fee(req->app->config, FEES_P2P, x->currency, x->row.amount, &fee) ==
               TL_OK) {
        x->row.fee = fee.fee; /* the fees.p2p schedule (quotes.h) */
    } else {
        /* Amount and fee together exceed what any wallet can hold. */
        return movement_refusal_fail(resp, TL_ERR_INSUFFICIENT_FUNDS);
    }
    if (x->row.fee == 0) {
        return TL_OK;
    }
    return accounts_system_ensure(req->app->writer, x->currency->numeric);
}

/* ---- POST /v1/payments: execute ---- */

/* The head of the 201 answer in resp->body, and where a run of the hook starts from. */
static void payments_head(struct payments_exec *x)
{
    buf_reset(&x->resp->body);
    /* One allocation for the whole answer; if it fails, the render reports it. */
    (void)buf_reserve(&x->resp->body, PAYMENTS_BODY_BYTES_RESERVE);
    render_init(&x->answer.render, &x->resp->body);
    payments_render_head(&x->answer.render, &x->row, &x->from, &x->to,
                         notes_sealed_text(&x->sealed, true));
    movement_answer_head_done(&x->answer, x->resp);
}

/* payment.created for both parties, committed with the money (events.h). */
static enum tl_err payments_attach_events(struct payments_exec *x, struct writer_batch *batch)
{
    struct events_payment event = {
        .payment_id = x->row.id,
        .from_user = x->row.from_user,
        .to_user = x->row.to_user,
        .from_handle = x->from.handle,
        .to_handle = x->to.handle,
        .amount = x->row.amount,
        .fee = x->row.fee,
        .currency = x->currency->code,
        .created_ns = x->row.created_ns,
        .sender_available_after = x->row.sender_available_after,
        .recipient_available_after = x->row.recipient_available_after,
        .sealed_note_sender = notes_sealed_text(&x->sealed, true),
        .sealed_note_recipient = notes_sealed_text(&x->sealed, false),
    };
    return events_attach_payment(batch, &event);
}

/* Writer thread, the money applied and the batch not yet committed. An error drops the
 * payment: money never moves without its row, its events, nor the answer a retry replays. */
static enum tl_err payments_applied(struct payments_exec *x, struct writer_batch *batch)
{
    const struct ledger_event_result *main = &x->results[x->main_index];
    const struct ledger_event_result *last = &x->results[x->event_count - 1];
    struct store_record record;
    x->row.created_ns = main->timestamp;
    /* The fee (when there is one) is the sender's last debit, so its result holds the
     * sender's balance after both. */
    x->row.sender_available_after = ledger_balance_available(&last->debit_after);
    x->row.recipient_available_after = ledger_balance_available(&main->credit_after);
    store_record_payment(&x->row, &x->record_buf, &record);
    enum tl_err err = writer_batch_attach(batch, &record);
    if (err == TL_OK) {
        err = notes_sealed_attach(&x->sealed, x->row.id, batch);
    }
    if (err == TL_OK) {
        err = stepup_money_attach(&x->device, x->row.id, batch);
    }
    if (err == TL_OK) {
        err = payments_attach_events(x, batch);
    }
    if (err == TL_OK) {
        err = audit_attach_payment(batch, x->req, &x->row, x->exists_err); /* with the money */
    }
    if (err != TL_OK) {
        return err;
    }
    refunds_render_totals_zero(&x->answer.render);
    movement_render_tail(&x->answer.render, x->row.created_ns, x->row.sender_available_after);
    err = render_finish(&x->answer.render);
    if (err != TL_OK) {
        return err;
    }
    if (x->idem != NULL) {
        err = idempotency_attach(x->idem, batch, 201, x->resp->body.data, x->resp->body.len);
    }
    x->answer.rendered = err == TL_OK;
    return err;
}

static enum tl_err payments_on_applied(struct writer_command *cmd, struct writer_batch *batch)
{
    struct payments_exec *x = cmd->ctx;
    if (!movement_answer_restart(&x->answer, x->resp, x->idem)) {
        payments_head(x);
    }
    const struct ledger_event_result *main = &x->results[x->main_index];
    if (x->exists_err != TL_OK &&
        (main->result == LEDGER_EXISTS || main->result == LEDGER_EXISTS_WITH_DIFFERENT_FIELDS)) {
        /* The reserved id was paid already: the chain failed, nothing moved. */
        x->answer.outcome = x->exists_err;
        return TL_OK;
    }
    x->answer.outcome = movement_outcome(x->events, x->results, x->event_count, &x->missing);
    if (x->answer.outcome == TL_OK) {
        x->answer.hook_err = kyc_check_payment(x->req->app->kyc, batch, &x->row,
                                               &x->results[x->main_index], &x->limit);
        if (x->answer.hook_err == TL_OK) {
            x->answer.hook_err = payments_applied(x, batch);
        }
        return x->answer.hook_err;
    }
    if (movement_refusal(x->answer.outcome) && x->idem != NULL) {
        x->answer.head_lost = true;
        enum tl_err err =
            movement_refusal_attach(x->req, x->resp, x->idem, batch, x->answer.outcome);
        if (err != TL_OK) {
            /* Nothing moved; the finish step stores the refusal instead. */
            LOG(LOG_ERROR, "idempotency_attach_failed", LOG_STR("request_id", x->req->request_id),
                LOG_STR("error", tl_err_code(err)));
        }
    }
    return TL_OK;
}

/* The events and the head of the answer, on the worker thread. */
static void payments_prepare(struct payments_exec *x)
{
    uint16_t currency = x->currency->numeric;
    struct id128 pay = x->row.id;
    /* A cross-currency payment's conversion legs come first, linked to the payment. */
    x->main_index = x->fx.active ? x->fx.count : 0;
    for (uint32_t i = 0; i < x->main_index; i++) {
        x->events[i] = x->fx.events[i];
    }
    x->event_count = x->main_index + 1;
    x->events[x->main_index] =
        movement_transfer(pay, x->row.from_wallet, x->row.to_wallet, x->row.amount, currency,
                          LEDGER_CODE_PAYMENT, pay, x->row.fee > 0 ? LEDGER_TRANSFER_LINKED : 0);
    if (x->row.fee > 0) {
        x->events[x->event_count++] =
            movement_transfer(id128_new(), x->row.from_wallet,
                              accounts_system_id(LEDGER_KIND_FEE_REVENUE, currency), x->row.fee,
                              currency, LEDGER_CODE_FEE, pay, 0);
    }
    payments_head(x);
    x->cmd = (struct writer_command){.events = x->events,
                                     .event_count = x->event_count,
                                     .results = x->results,
                                     .on_applied = payments_on_applied,
                                     .ctx = x};
}

/* Repairs a wallet of this payment whose ledger account is missing (a crash between its row
 * and its account). Other missing accounts are our bug. */
static enum tl_err payments_repair(struct http_request *req, struct payments_exec *x)
{
    uint16_t currency = x->currency->numeric;
    if (id128_eq(x->missing, x->row.from_wallet)) {
        return accounts_wallet_open(req->app->writer, x->row.from_wallet, x->from.id, currency);
    }
    if (id128_eq(x->missing, x->row.to_wallet)) {
        return accounts_wallet_open(req->app->writer, x->row.to_wallet, x->to.id, currency);
    }
    return TL_ERR_INTERNAL;
}

/* The end of a payment's life, on every path: the order's after hook, then x is freed. */
static enum tl_err payments_end(struct http_request *req, struct payments_exec *x, enum tl_err err)
{
    if (x->after != NULL) {
        x->after(req, err, x->after_ctx);
    }
    free(x);
    return err;
}

static enum tl_err payments_resume(struct http_request *req, struct http_response *resp,
                                   void *ctx);

/* Hands the payment to the writer; payments_resume answers (x belongs to it now). */
static enum tl_err payments_submit(struct http_request *req, struct http_response *resp,
                                   struct payments_exec *x)
{
    payments_prepare(x);
    return async_submit(req, resp, x->may_park, &x->cmd, payments_resume, x);
}

/* What the writer's answer means for the client; *repaired when a missing wallet account was
 * opened and the payment must be submitted again. */
static enum tl_err payments_outcome(struct http_request *req, struct http_response *resp,
                                    struct payments_exec *x, bool *repaired)
{
    bool decided = false;
    *repaired = false;
    enum tl_err err =
        movement_answer_decide(req, resp, x->cmd.err, &x->answer, &x->limit, "payment", &decided);
    if (decided) {
        return err;
    }
    if (x->exists_err != TL_OK && x->answer.outcome == x->exists_err) {
        return http_fail(resp, x->exists_err, NULL, "these terms were paid already");
    }
    if (movement_refusal(x->answer.outcome)) {
        return movement_refusal_fail(resp, x->answer.outcome);
    }
    if (x->answer.outcome != TL_ERR_NOT_FOUND || x->attempt > 0) {
        return TL_ERR_INTERNAL;
    }
    err = payments_repair(req, x);
    *repaired = err == TL_OK;
    return err;
}

/* After the payment's batch (a worker thread, or the submitter's when it did not park): the
 * 201, a refusal, or one more try after a repair. Frees x unless it submits again. */
static enum tl_err payments_resume(struct http_request *req, struct http_response *resp,
                                   void *ctx)
{
    struct payments_exec *x = ctx;
    bool repaired = false;
    enum tl_err err = payments_outcome(req, resp, x, &repaired);
    if (repaired) {
        x->attempt++;
        return payments_submit(req, resp, x);
    }
    if (err == TL_OK) {
        resp->status = 201;
        resp->content_type = "application/json";
    }
    return payments_end(req, x, err);
}

/* Wallets, fee, id, then the money; the 201 on success. Takes x (frees it or hands it on). */
static enum tl_err payments_finish(struct http_request *req, struct http_response *resp,
                                   struct store *reader, struct payments_exec *x)
{
    enum tl_err err = TL_OK;
    if (x->quote_id[0] != '\0') {
        /* An fx quote opens the sender's wallet in the currency and sets the legs. */
        err = conversions_payment_quote(req, resp, x->quote_id, &x->row, &x->fx);
    }
    if (err == TL_OK) {
        err = payments_resolve_wallets(req, resp, reader, x);
    }
    if (err == TL_OK) { /* a wallet that owes after a reversal cannot send (debts.h) */
        err = debts_gate(req, resp, x->row.from_wallet, x->currency->numeric);
    }
    if (err == TL_OK) {
        err = payments_resolve_fee(req, resp, x);
    }
    if (err == TL_OK) {
        /* Step-up rules and device signature (stepup.h): nothing moves before they pass. */
        struct stepup_payment gate = {x->to.id, x->row.amount, x->row.currency};
        err = stepup_money_gate(req, resp, &gate, &x->device);
    }
    if (err != TL_OK) {
        return payments_end(req, x, err);
    }
    if (id128_is_zero(x->row.id)) {
        x->row.id = id128_new();
    }
    x->row.status = STORE_PAYMENT_SUCCEEDED;
    x->attempt = 0;
    return payments_submit(req, resp, x);
}

/* A payment's state with nothing decided yet. NULL when out of memory. */
static struct payments_exec *payments_exec_new(struct http_request *req,
                                               struct http_response *resp, bool may_park)
{
    struct payments_exec *x = malloc(sizeof(*x));
    if (x == NULL) {
        return NULL;
    }
    memset(&x->row, 0, sizeof(x->row));
    x->req = req;
    x->resp = resp;
    x->idem = idempotency_current();
    x->exists_err = TL_OK;
    x->quote_id[0] = '\0';
    x->sealed.present = false;
    x->fx.active = false;
    x->may_park = may_park;
    x->attempt = 0;
    x->after = NULL;
    x->after_ctx = NULL;
    return x;
}

enum tl_err payments_create(struct http_request *req, struct http_response *resp)
{
    struct recipient recipient;
    struct store *reader = NULL;
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    struct payments_exec *x = payments_exec_new(req, resp, true);
    if (x == NULL) {
        return TL_ERR_NOMEM;
    }
    enum tl_err err = payments_parse(req, resp, x, &recipient);
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err == TL_OK) {
        err = payments_resolve_users(req, resp, reader, x, &recipient);
    }
    if (err == TL_OK) {
        err = notes_sealed_check(reader, resp, &x->sealed, x->from.id, x->to.id);
    }
    if (err != TL_OK) {
        free(x);
        return err;
    }
    return payments_finish(req, resp, reader, x);
}

/* Payment requests (parked, with an after hook) and schedules (the answer at once). */
enum tl_err payments_create_order(struct http_request *req, struct http_response *resp,
                                  const struct payments_order *order)
{
    struct store *reader = NULL;
    bool found = false;
    TL_ASSERT(order->amount > 0);
    TL_ASSERT(!id128_is_zero(order->payment_id));
    struct payments_exec *x =
        req->app->writer != NULL ? payments_exec_new(req, resp, order->after != NULL) : NULL;
    if (x == NULL) {
        enum tl_err err = req->app->writer == NULL ? TL_ERR_NOT_READY : TL_ERR_NOMEM;
        if (order->after != NULL) {
            order->after(req, err, order->after_ctx);
        }
        return err;
    }
    x->after = order->after;
    x->after_ctx = order->after_ctx;
    TL_ASSERT(strlen(order->to_text) < sizeof(x->row.to_text));
    TL_ASSERT(strlen(order->note) < sizeof(x->row.note));
    x->exists_err = order->exists_err;
    x->currency = money_currency_by_numeric(order->currency);
    TL_ASSERT(x->currency != NULL);
    x->row.id = order->payment_id;
    x->row.amount = order->amount;
    x->row.currency = order->currency;
    snprintf(x->row.to_text, sizeof(x->row.to_text), "%s", order->to_text);
    snprintf(x->row.note, sizeof(x->row.note), "%s", order->note);
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = money_cache_user_get(reader, req->principal.user_id, &x->from, &found);
    }
    if (err == TL_OK && !found) {
        err = http_fail(resp, TL_ERR_UNAUTHORIZED, NULL, "valid credentials are required");
    }
    if (err == TL_OK) {
        err = money_cache_user_get(reader, order->to_user, &x->to, &found);
    }
    if (err == TL_OK && !found) {
        err = http_fail(resp, TL_ERR_RECIPIENT_NOT_FOUND, NULL, "the recipient no longer exists");
    }
    if (err != TL_OK) {
        return payments_end(req, x, err);
    }
    TL_ASSERT(!id128_eq(x->from.id, x->to.id));
    x->row.from_user = x->from.id;
    x->row.to_user = x->to.id;
    return payments_finish(req, resp, reader, x);
}

/* ---- GET /v1/payments/{id} and GET /v1/payments ---- */

static bool payments_party(const struct store_payment *row, struct id128 user_id)
{
    return id128_eq(row->from_user, user_id) || id128_eq(row->to_user, user_id);
}

/* One stored payment as viewer sees it: balance_after is the viewer's own balance after it
 * (the sender's is private to the sender). */
static enum tl_err payments_render(struct render *r, struct store *reader,
                                   const struct store_payment *row, struct id128 viewer,
                                   const char *sealed_note, bool with_signature)
{
    struct money_user from;
    struct money_user to;
    bool from_found = false;
    bool to_found = false;
    enum tl_err err = money_cache_user_get(reader, row->from_user, &from, &from_found);
    if (err == TL_OK) {
        err = money_cache_user_get(reader, row->to_user, &to, &to_found);
    }
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(payments_party(row, viewer));
    bool sender = id128_eq(row->from_user, viewer);
    payments_render_head(r, row, from_found ? &from : NULL, to_found ? &to : NULL, sealed_note);
    if (with_signature) {
        err = device_keys_render_payment(r, reader, row->id);
        if (err != TL_OK) {
            return err;
        }
    }
    err = refunds_render_totals(r, reader, row); /* amount_refunded, amount_reversed */
    if (err != TL_OK) {
        return err;
    }
    movement_render_tail(r, row->created_ns,
                         sender ? row->sender_available_after : row->recipient_available_after);
    return TL_OK;
}

static enum tl_err payments_send(struct http_response *resp, struct render *r)
{
    enum tl_err err = render_finish(r);
    if (err == TL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    return err;
}

enum tl_err payments_get(struct http_request *req, struct http_response *resp)
{
    const char *text = http_request_param(req, "id");
    struct store *reader = NULL;
    struct store_payment row;
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), TYPEID_PREFIX_PAYMENT, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment");
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_payment_get(reader, id, &row, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found || !payments_party(&row, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment");
    }
    struct notes_page *notes = NULL;
    err = notes_page_load(reader, &row, 1, req->principal.user_id, &notes);
    if (err != TL_OK) {
        return err;
    }
    struct render r;
    render_init(&r, &resp->body);
    err = payments_render(&r, reader, &row, req->principal.user_id, notes_page_text(notes, 0),
                          true);
    notes_page_free(notes);
    if (err != TL_OK) {
        return err;
    }
    return payments_send(resp, &r);
}

static enum tl_err payments_direction(const struct http_request *req, struct http_response *resp,
                                      enum store_direction *out)
{
    const char *text = http_request_query(req, "direction");
    if (text == NULL) {
        *out = STORE_DIRECTION_ANY;
    } else if (strcmp(text, "sent") == 0) {
        *out = STORE_DIRECTION_SENT;
    } else if (strcmp(text, "received") == 0) {
        *out = STORE_DIRECTION_RECEIVED;
    } else {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "direction",
                         "direction must be sent or received");
    }
    return TL_OK;
}

/* The page's cursor as a timestamp: a payment the caller sent or received. */
static enum tl_err payments_cursor(struct http_request *req, struct http_response *resp,
                                   struct store *reader, const struct page_query *query,
                                   struct store_page *page)
{
    struct store_payment row;
    bool found = false;
    page->limit = query->limit;
    if (!query->has_cursor) {
        return TL_OK;
    }
    enum tl_err err = store_payment_get(reader, query->cursor, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || !payments_party(&row, req->principal.user_id)) {
        return page_fail_cursor(query, resp);
    }
    TL_ASSERT(row.created_ns != 0);
    if (query->ending_before) {
        page->ending_before_ts = row.created_ns;
    } else {
        page->starting_after_ts = row.created_ns;
    }
    return TL_OK;
}

static enum tl_err payments_render_list(struct render *r, struct store *reader,
                                        const struct store_payment *rows, uint32_t count,
                                        bool has_more, struct id128 viewer)
{
    struct notes_page *notes = NULL;
    enum tl_err err = notes_page_load(reader, rows, count, viewer, &notes);
    render_object_begin(r);
    render_key(r, "data");
    render_array_begin(r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        err = payments_render(r, reader, &rows[i], viewer, notes_page_text(notes, i), false);
    }
    notes_page_free(notes);
    render_array_end(r);
    render_key(r, "has_more");
    render_bool(r, has_more);
    render_object_end(r);
    return err;
}

enum tl_err payments_list(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    enum store_direction direction = STORE_DIRECTION_ANY;
    struct page_query query;
    struct store_page page = {0, 0, 0};
    uint32_t count = 0;
    bool has_more = false;
    enum tl_err err = payments_direction(req, resp, &direction);
    if (err == TL_OK) {
        err = page_from_request(req, TYPEID_PREFIX_PAYMENT, &query, resp);
    }
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err == TL_OK) {
        err = payments_cursor(req, resp, reader, &query, &page);
    }
    if (err != TL_OK) {
        return err;
    }
    struct store_payment *rows = malloc(query.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_payments_list(reader, req->principal.user_id, direction, &page, rows, &count,
                              &has_more);
    struct render r;
    render_init(&r, &resp->body);
    if (err == TL_OK) {
        TL_ASSERT(count <= query.limit);
        err = payments_render_list(&r, reader, rows, count, has_more, req->principal.user_id);
    }
    free(rows);
    if (err != TL_OK) {
        return err;
    }
    return payments_send(resp, &r);
}
