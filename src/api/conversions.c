#include "api/conversions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/async.h"
#include "api/audit.h"
#include "api/events.h"
#include "api/fx.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/kyc.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "api/quotes.h"
#include "api/render.h"
#include "api/wallets.h"
#include "api/page.h"
#include "core/fees.h"
#include "store/records.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"

static_assert(CONVERSIONS_LEGS_MAX <= TL_COMMAND_EVENTS_MAX, "a conversion fits in one command");
/* A quote id as sent ("quo_" and 26 characters) with room to spare, and its NUL. */
#define CONVERSIONS_QUOTE_ID_BYTES 64u

/* What is converted: amounts in minor units, the rate the customer gets. */
struct conversions_amounts {
    uint16_t from;
    uint16_t to;
    int64_t principal;
    int64_t received;
    int64_t fee;
};

/* Legs 1-3 of conversions.h into legs: main_id names leg 1, ref is every leg's user_ref, and
 * fee_ref the fee leg's. link_after chains the last leg to whatever the caller appends. */
static void conversions_legs_build(struct conversions_legs *legs, struct id128 main_id,
                                   struct id128 ref, struct id128 fee_ref,
                                   struct id128 from_wallet, struct id128 to_wallet,
                                   const struct conversions_amounts *a, bool link_after)
{
    TL_ASSERT(a->principal > 0);
    TL_ASSERT(a->received > 0);
    TL_ASSERT(a->fee >= 0);
    TL_ASSERT(a->from != a->to);
    bool fee = a->fee > 0;
    legs->count = 0;
    legs->events[legs->count++] = movement_transfer(
        main_id, from_wallet, accounts_system_id(LEDGER_KIND_FX_POOL, a->from), a->principal,
        a->from, LEDGER_CODE_FX, ref, LEDGER_TRANSFER_LINKED);
    legs->events[legs->count++] = movement_transfer(
        id128_new(), accounts_system_id(LEDGER_KIND_FX_POOL, a->to), to_wallet, a->received,
        a->to, LEDGER_CODE_FX, ref, (fee || link_after) ? LEDGER_TRANSFER_LINKED : 0);
    if (fee) {
        legs->events[legs->count++] = movement_transfer(
            id128_new(), from_wallet, accounts_system_id(LEDGER_KIND_FEE_REVENUE, a->from),
            a->fee, a->from, LEDGER_CODE_FEE, fee_ref, link_after ? LEDGER_TRANSFER_LINKED : 0);
    }
    legs->active = true;
}

/* The pools of both currencies and the fee revenue account of the from currency. */
static enum tl_err conversions_accounts_ensure(struct writer *writer, uint16_t from, uint16_t to)
{
    enum tl_err err = accounts_system_ensure(writer, from);
    if (err == TL_OK) {
        err = accounts_fx_pool_ensure(writer, from);
    }
    if (err == TL_OK) {
        err = accounts_fx_pool_ensure(writer, to);
    }
    return err;
}

/* The caller's quote named by text: TL_OK with *out, else 404 not_found (param quote_id). */
static enum tl_err conversions_quote_load(struct http_request *req, struct http_response *resp,
                                          const char *text, struct store_quote *out)
{
    struct store *reader = NULL;
    struct id128 id;
    bool found = false;
    if (typeid_decode(text, strlen(text), QUOTES_TYPEID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, "quote_id", "no such quote");
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_quote_get(reader, id, out, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(out->user_id, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, "quote_id", "no such quote");
    }
    return TL_OK;
}

/* An fx quote that matched: unused and unexpired, else 409. */
static enum tl_err conversions_quote_live(struct http_response *resp, const struct store_quote *q)
{
    if (q->used) {
        return http_fail(resp, TL_ERR_QUOTE_USED, "quote_id", "this quote was used already");
    }
    if (clock_wall_ns() >= q->expires_ns) {
        return http_fail(resp, TL_ERR_QUOTE_EXPIRED, "quote_id", "this quote has expired");
    }
    return TL_OK;
}

/* ---- POST /v1/conversions ---- */

struct conversions_exec {
    struct writer_command cmd;
    struct conversions_legs legs;
    struct ledger_event_result results[CONVERSIONS_LEGS_MAX];
    struct conversions_amounts amounts;
    struct fx_rate rate;
    struct id128 id;
    struct store_wallet from_wallet;
    struct store_wallet to_wallet;
    const struct http_request *req;
    struct http_response *resp;
    struct idempotency_request *idem;
    struct movement_answer answer;
    struct id128 missing;
    enum tl_err exists_err; /* TL_ERR_QUOTE_USED on a quote's reserved id, else TL_OK */
    char quote_id[CONVERSIONS_QUOTE_ID_BYTES]; /* "" without a quote */
    struct kyc_refusal limit; /* the hold limit of the target wallet refused it (kyc.h) */
    struct id128 quote;                        /* the quote's id, zero without one */
    struct store_conversion row;               /* the stored row (store/records.h) */
    struct store_conversion row_buf;
    int attempt; /* 1 after a repair: no second one */
};

static const struct json_field conversions_fields[] = {
    JSON_STRING("from_currency", true, 64),
    JSON_STRING("to_currency", true, 64),
    JSON_AMOUNT("amount", true),
    JSON_STRING("quote_id", false, CONVERSIONS_QUOTE_ID_BYTES - 1),
};

static enum tl_err conversions_currency(const json_t *body, const char *name,
                                        struct http_response *resp,
                                        const struct money_currency **out)
{
    const char *text = json_field_string(body, name);
    *out = money_currency_find(text, strlen(text));
    if (*out == NULL) {
        return http_fail(resp, TL_ERR_UNKNOWN_CURRENCY, name, "not an ISO 4217 currency code");
    }
    return TL_OK;
}

static enum tl_err conversions_parse(const struct http_request *req, struct http_response *resp,
                                     struct conversions_exec *x,
                                     const struct money_currency **from,
                                     const struct money_currency **to)
{
    struct json_error error;
    json_t *body = NULL;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, conversions_fields,
                       sizeof(conversions_fields) / sizeof(conversions_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    err = conversions_currency(body, "from_currency", resp, from);
    if (err == TL_OK) {
        err = conversions_currency(body, "to_currency", resp, to);
    }
    if (err == TL_OK && *from == *to) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "to_currency",
                        "must differ from from_currency");
    }
    const char *quote_id = json_field_string(body, "quote_id");
    snprintf(x->quote_id, sizeof(x->quote_id), "%s", quote_id != NULL ? quote_id : "");
    x->amounts.received = json_field_int(body, "amount", 0);
    json_decref(body);
    return err;
}

/* The terms: the quote's exactly, or fresh ones at the current rate. */
static enum tl_err conversions_terms(struct http_request *req, struct http_response *resp,
                                     struct conversions_exec *x,
                                     const struct money_currency *from,
                                     const struct money_currency *to)
{
    struct conversions_amounts *a = &x->amounts;
    a->from = from->numeric;
    a->to = to->numeric;
    if (x->quote_id[0] == '\0') {
        struct fx_terms t;
        enum tl_err err = fx_terms(req, resp, from, to, a->received, &t);
        if (err != TL_OK) {
            return err;
        }
        a->principal = t.principal;
        a->fee = t.fee;
        x->rate = t.rate;
        x->id = id128_new();
        return TL_OK;
    }
    struct store_quote q;
    enum tl_err err = conversions_quote_load(req, resp, x->quote_id, &q);
    if (err != TL_OK) {
        return err;
    }
    if (q.operation != FEES_FX || !id128_is_zero(q.recipient_id) ||
        q.send_currency != a->from || q.receive_currency != a->to || q.amount != a->received) {
        return http_fail(resp, TL_ERR_QUOTE_MISMATCH, "quote_id",
                         "the conversion's currencies or amount differ from the quote, or the "
                         "quote is not an fx quote without a recipient");
    }
    err = conversions_quote_live(resp, &q);
    if (err != TL_OK) {
        return err;
    }
    a->principal = q.sent - q.fee;
    a->fee = q.fee;
    x->rate = (struct fx_rate){q.rate_num, q.rate_den};
    if (fx_rate_check(&x->rate) != TL_OK || a->principal <= 0) {
        return TL_ERR_CORRUPT;
    }
    x->id = q.payment_id;
    x->quote = q.id;
    x->exists_err = TL_ERR_QUOTE_USED;
    return TL_OK;
}

static enum tl_err conversions_wallets(struct http_request *req, struct http_response *resp,
                                       struct conversions_exec *x)
{
    struct store *reader = NULL;
    bool found = false;
    struct id128 user = req->principal.user_id;
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = money_cache_wallet_find(reader, user, x->amounts.from, &x->from_wallet, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_WALLET_NOT_FOUND, "from_currency",
                         "you have no wallet in this currency");
    }
    err = money_cache_wallet_find(reader, user, x->amounts.to, &x->to_wallet, &found);
    if (err == TL_OK && !found) {
        bool created = false;
        err = wallets_open(req->app, user, x->amounts.to, &x->to_wallet, &created);
    }
    return err;
}

static void conversions_render_head(struct conversions_exec *x)
{
    struct render *r = &x->answer.render;
    char rate[FX_RATE_TEXT_BYTES];
    buf_reset(&x->resp->body);
    render_init(r, &x->resp->body);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, CONVERSIONS_TYPEID_PREFIX, x->id);
    render_key(r, "status");
    render_str(r, "succeeded");
    render_key(r, "from_currency");
    render_str(r, money_currency_by_numeric(x->amounts.from)->code);
    render_key(r, "to_currency");
    render_str(r, money_currency_by_numeric(x->amounts.to)->code);
    render_key(r, "amount");
    render_i64(r, x->amounts.received);
    render_key(r, "sent");
    render_i64(r, x->amounts.principal + x->amounts.fee);
    render_key(r, "fee");
    render_i64(r, x->amounts.fee);
    render_key(r, "received");
    render_i64(r, x->amounts.received);
    render_key(r, "rate");
    fx_rate_format(&x->rate, rate);
    render_str(r, rate);
    render_key(r, "quote_id");
    render_str_or_null(r, x->quote_id[0] != '\0' ? x->quote_id : NULL);
    movement_answer_head_done(&x->answer, x->resp);
}

static void conversions_render_wallet(struct render *r, const char *key, struct id128 id,
                                      int64_t balance_after)
{
    render_key(r, key);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_WALLET, id);
    render_key(r, "balance_after");
    render_i64(r, balance_after);
    render_object_end(r);
}

/* The row as stored and as GET answers it: the terms, then what the ledger said. */
static void conversions_row_fill(struct conversions_exec *x)
{
    /* The fee (when there is one) is the from-wallet's last debit. */
    const struct ledger_event_result *from_last = &x->results[x->legs.count == 3 ? 2 : 0];
    struct store_conversion *c = &x->row;
    memset(c, 0, sizeof(*c));
    c->id = x->id;
    c->user_id = x->req->principal.user_id;
    c->from_wallet = x->from_wallet.id;
    c->to_wallet = x->to_wallet.id;
    c->quote_id = x->quote;
    c->from_currency = x->amounts.from;
    c->to_currency = x->amounts.to;
    c->principal = x->amounts.principal;
    c->fee = x->amounts.fee;
    c->received = x->amounts.received;
    c->rate_num = x->rate.num;
    c->rate_den = x->rate.den;
    c->from_balance_after = ledger_balance_available(&from_last->debit_after);
    c->to_balance_after = ledger_balance_available(&x->results[1].credit_after);
    c->created_ns = x->results[0].timestamp;
}

/* conversion.created for the user: ids, currencies and amounts (events.h). */
static enum tl_err conversions_attach_event(const struct store_conversion *c,
                                            struct writer_batch *batch)
{
    struct events_builder b;
    char rate[FX_RATE_TEXT_BYTES];
    struct fx_rate r = {c->rate_num, c->rate_den};
    fx_rate_format(&r, rate);
    events_begin(&b, EVENTS_TOPIC_CONVERSION_CREATED, c->user_id, c->created_ns);
    render_key(&b.render, "conversion_id");
    render_typeid(&b.render, CONVERSIONS_TYPEID_PREFIX, c->id);
    render_key(&b.render, "from_currency");
    render_str(&b.render, money_currency_by_numeric(c->from_currency)->code);
    render_key(&b.render, "to_currency");
    render_str(&b.render, money_currency_by_numeric(c->to_currency)->code);
    render_key(&b.render, "sent");
    render_i64(&b.render, c->principal + c->fee);
    render_key(&b.render, "fee");
    render_i64(&b.render, c->fee);
    render_key(&b.render, "received");
    render_i64(&b.render, c->received);
    render_key(&b.render, "rate");
    render_str(&b.render, rate);
    render_key(&b.render, "from_balance_after");
    render_i64(&b.render, c->from_balance_after);
    render_key(&b.render, "to_balance_after");
    render_i64(&b.render, c->to_balance_after);
    return events_attach_built(&b, batch);
}

/* Writer thread, the legs applied: the row, its event and audit entry, the tail of the 201 and
 * its idempotency row, all in the batch of the money. */
static enum tl_err conversions_applied(struct conversions_exec *x, struct writer_batch *batch)
{
    struct store_record record;
    struct render *r = &x->answer.render;
    const struct store_conversion *c = &x->row;
    conversions_row_fill(x);
    store_record_conversion(c, &x->row_buf, &record);
    enum tl_err err = writer_batch_attach(batch, &record);
    err = err == TL_OK ? conversions_attach_event(c, batch) : err;
    if (err == TL_OK) {
        struct audit_money m = {
            .kind = AUDIT_CONVERSION_CREATED,
            .user_id = c->user_id,
            .amount = c->principal + c->fee,
            .currency = c->from_currency,
            .subject_prefix = CONVERSIONS_TYPEID_PREFIX,
            .subject_id = c->id,
            .created_ns = c->created_ns,
        };
        err = audit_attach_money(batch, x->req, &m);
    }
    if (err != TL_OK) {
        return err;
    }
    conversions_render_wallet(r, "from_wallet", c->from_wallet, c->from_balance_after);
    conversions_render_wallet(r, "to_wallet", c->to_wallet, c->to_balance_after);
    render_key(r, "created_at");
    render_time(r, c->created_ns);
    render_object_end(r);
    err = render_finish(r);
    if (err == TL_OK && x->idem != NULL) {
        err = idempotency_attach(x->idem, batch, 201, x->resp->body.data, x->resp->body.len);
    }
    x->answer.rendered = err == TL_OK;
    return err;
}

static enum tl_err conversions_on_applied(struct writer_command *cmd, struct writer_batch *batch)
{
    struct conversions_exec *x = cmd->ctx;
    if (!movement_answer_restart(&x->answer, x->resp, x->idem)) {
        conversions_render_head(x);
    }
    if (x->exists_err != TL_OK && (x->results[0].result == LEDGER_EXISTS ||
                                   x->results[0].result == LEDGER_EXISTS_WITH_DIFFERENT_FIELDS)) {
        x->answer.outcome = x->exists_err; /* the quote's id moved money already */
        return TL_OK;
    }
    x->answer.outcome =
        movement_outcome(x->legs.events, x->results, x->legs.count, &x->missing);
    if (x->answer.outcome == TL_OK) {
        /* The hold limit of the wallet it credits (leg 2), in the batch of the money. */
        x->answer.hook_err = kyc_check_conversion(x->req->app->kyc, batch, x->req->principal.user_id,
                                                  x->amounts.to, x->amounts.received,
                                                  &x->results[1], &x->limit);
        if (x->answer.hook_err == TL_OK) {
            x->answer.hook_err = conversions_applied(x, batch);
        }
        return x->answer.hook_err;
    }
    if (movement_refusal(x->answer.outcome) && x->idem != NULL) {
        x->answer.head_lost = true;
        enum tl_err err =
            movement_refusal_attach(x->req, x->resp, x->idem, batch, x->answer.outcome);
        if (err != TL_OK) {
            LOG(LOG_ERROR, "idempotency_attach_failed", LOG_STR("request_id", x->req->request_id),
                LOG_STR("error", tl_err_code(err)));
        }
    }
    return TL_OK;
}

/* A wallet of this conversion whose ledger account is missing (a crash between its row and
 * its account) is opened; anything else missing is our bug. */
static enum tl_err conversions_repair(struct http_request *req, struct conversions_exec *x)
{
    const struct store_wallet *w = id128_eq(x->missing, x->from_wallet.id) ? &x->from_wallet
                                   : id128_eq(x->missing, x->to_wallet.id) ? &x->to_wallet
                                                                           : NULL;
    if (w == NULL) {
        return TL_ERR_INTERNAL;
    }
    return accounts_wallet_open(req->app->writer, w->id, w->user_id, w->currency);
}

static enum tl_err conversions_resume(struct http_request *req, struct http_response *resp,
                                      void *ctx);

/* Hands the conversion to the writer; conversions_resume answers (x belongs to it now). The
 * request parks while the batch commits (async.h). */
static enum tl_err conversions_submit(struct http_request *req, struct http_response *resp,
                                      struct conversions_exec *x)
{
    conversions_legs_build(&x->legs, x->id, x->id, id128_make(0, 0), x->from_wallet.id,
                           x->to_wallet.id, &x->amounts, false);
    conversions_render_head(x);
    x->cmd = (struct writer_command){.events = x->legs.events,
                                     .event_count = x->legs.count,
                                     .results = x->results,
                                     .on_applied = conversions_on_applied,
                                     .ctx = x};
    return async_submit(req, resp, true, &x->cmd, conversions_resume, x);
}

/* What the writer's answer means for the client; *repaired when a wallet's missing ledger
 * account was opened and the conversion must be submitted again. */
static enum tl_err conversions_outcome(struct http_request *req, struct http_response *resp,
                                       struct conversions_exec *x, bool *repaired)
{
    bool decided = false;
    *repaired = false;
    enum tl_err err = movement_answer_decide(req, resp, x->cmd.err, &x->answer, &x->limit,
                                             "conversion", &decided);
    if (decided) {
        return err;
    }
    if (x->exists_err != TL_OK && x->answer.outcome == x->exists_err) {
        return http_fail(resp, x->exists_err, "quote_id", "this quote was used already");
    }
    if (movement_refusal(x->answer.outcome)) {
        return movement_refusal_fail(resp, x->answer.outcome);
    }
    if (x->answer.outcome != TL_ERR_NOT_FOUND || x->attempt > 0) {
        return TL_ERR_INTERNAL;
    }
    err = conversions_repair(req, x);
    *repaired = err == TL_OK;
    return err;
}

/* After the conversion's batch (a worker thread, or the handler's when it did not park): the
 * 201, a refusal, or one more try after a repair. Frees x unless it submits again. */
static enum tl_err conversions_resume(struct http_request *req, struct http_response *resp,
                                      void *ctx)
{
    struct conversions_exec *x = ctx;
    bool repaired = false;
    enum tl_err err = conversions_outcome(req, resp, x, &repaired);
    if (repaired) {
        x->attempt++;
        return conversions_submit(req, resp, x);
    }
    if (err == TL_OK) {
        resp->status = 201;
        resp->content_type = "application/json";
    }
    free(x);
    return err;
}

enum tl_err conversions_create(struct http_request *req, struct http_response *resp)
{
    const struct money_currency *from = NULL;
    const struct money_currency *to = NULL;
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    struct conversions_exec *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return TL_ERR_NOMEM;
    }
    x->req = req;
    x->resp = resp;
    x->idem = idempotency_current();
    x->exists_err = TL_OK;
    enum tl_err err = conversions_parse(req, resp, x, &from, &to);
    if (err == TL_OK) {
        err = conversions_terms(req, resp, x, from, to);
    }
    if (err == TL_OK) {
        err = conversions_wallets(req, resp, x);
    }
    if (err == TL_OK) {
        err = conversions_accounts_ensure(req->app->writer, x->amounts.from, x->amounts.to);
    }
    if (err != TL_OK) {
        free(x);
        return err;
    }
    return conversions_submit(req, resp, x);
}

/* ---- POST /v1/payments {quote_id} with an fx quote ---- */

static enum tl_err conversions_payment_check(struct http_response *resp,
                                             const struct store_quote *q,
                                             const struct store_payment *row)
{
    if (q->receive_currency != row->currency || q->send_currency == row->currency ||
        q->amount != row->amount ||
        (!id128_is_zero(q->recipient_id) && !id128_eq(q->recipient_id, row->to_user))) {
        return http_fail(resp, TL_ERR_QUOTE_MISMATCH, "quote_id",
                         "the payment's amount, currency or recipient differ from the quote");
    }
    return conversions_quote_live(resp, q);
}

enum tl_err conversions_payment_quote(struct http_request *req, struct http_response *resp,
                                      const char *quote_text, struct store_payment *row,
                                      struct conversions_legs *legs)
{
    struct store_quote q;
    struct store_wallet from_wallet;
    struct store_wallet to_wallet;
    struct store *reader = NULL;
    bool found = false;
    legs->active = false;
    legs->count = 0;
    enum tl_err err = conversions_quote_load(req, resp, quote_text, &q);
    if (err != TL_OK || q.operation != FEES_FX) {
        return err;
    }
    err = conversions_payment_check(resp, &q, row);
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err == TL_OK) {
        err = money_cache_wallet_find(reader, row->from_user, q.send_currency, &from_wallet,
                                      &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_WALLET_NOT_FOUND, "quote_id",
                         "you have no wallet in the quote's send currency");
    }
    err = money_cache_wallet_find(reader, row->from_user, q.receive_currency, &to_wallet, &found);
    if (err == TL_OK && !found) {
        bool created = false;
        err = wallets_open(req->app, row->from_user, q.receive_currency, &to_wallet, &created);
    }
    if (err == TL_OK) {
        err = conversions_accounts_ensure(req->app->writer, q.send_currency, q.receive_currency);
    }
    if (err != TL_OK) {
        return err;
    }
    struct conversions_amounts a = {.from = q.send_currency,
                                    .to = q.receive_currency,
                                    .principal = q.sent - q.fee,
                                    .received = q.amount,
                                    .fee = q.fee};
    if (a.principal <= 0) {
        return TL_ERR_CORRUPT;
    }
    row->id = q.payment_id;
    row->fee = 0;
    conversions_legs_build(legs, id128_new(), q.payment_id, q.payment_id, from_wallet.id,
                           to_wallet.id, &a, true);
    return TL_OK;
}

/* ---- GET /v1/conversions, GET /v1/conversions/{id} ---- */

/* A stored conversion, exactly as its 201 answer showed it. */
static void conversions_render_row(struct render *r, const struct store_conversion *c)
{
    char rate[FX_RATE_TEXT_BYTES];
    struct fx_rate fx = {c->rate_num, c->rate_den};
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, CONVERSIONS_TYPEID_PREFIX, c->id);
    render_key(r, "status");
    render_str(r, "succeeded");
    render_key(r, "from_currency");
    render_str(r, money_currency_by_numeric(c->from_currency)->code);
    render_key(r, "to_currency");
    render_str(r, money_currency_by_numeric(c->to_currency)->code);
    render_key(r, "amount");
    render_i64(r, c->received);
    render_key(r, "sent");
    render_i64(r, c->principal + c->fee);
    render_key(r, "fee");
    render_i64(r, c->fee);
    render_key(r, "received");
    render_i64(r, c->received);
    render_key(r, "rate");
    fx_rate_format(&fx, rate);
    render_str(r, rate);
    render_key(r, "quote_id");
    if (id128_is_zero(c->quote_id)) {
        render_null(r);
    } else {
        render_typeid(r, QUOTES_TYPEID_PREFIX, c->quote_id);
    }
    conversions_render_wallet(r, "from_wallet", c->from_wallet, c->from_balance_after);
    conversions_render_wallet(r, "to_wallet", c->to_wallet, c->to_balance_after);
    render_key(r, "created_at");
    render_time(r, c->created_ns);
    render_object_end(r);
}

/* The caller's conversion named by text; found false for a malformed id, a missing one or
 * someone else's (all 404 alike). */
static enum tl_err conversions_find(struct store *reader, const struct http_request *req,
                                    const char *text, struct store_conversion *out, bool *found)
{
    struct id128 id;
    *found = false;
    if (typeid_decode(text, strlen(text), CONVERSIONS_TYPEID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return TL_OK;
    }
    enum tl_err err = store_conversion_get(reader, id, out, found);
    if (err == TL_OK && *found && !id128_eq(out->user_id, req->principal.user_id)) {
        *found = false;
    }
    return err;
}

enum tl_err conversions_get(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_conversion row;
    bool found = false;
    const char *text = http_request_param(req, "id");
    TL_ASSERT(text != NULL);
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = http_request_store(req, &reader);
    err = err == TL_OK ? conversions_find(reader, req, text, &row, &found) : err;
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such conversion");
    }
    struct render r;
    render_init(&r, &resp->body);
    conversions_render_row(&r, &row);
    err = render_finish(&r);
    if (err == TL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    return err;
}

/* The page's cursor (one of the caller's conversions) as its created_ns. */
static enum tl_err conversions_page(struct http_request *req, struct http_response *resp,
                                    struct store *reader, const struct page_query *query,
                                    struct store_page *page)
{
    struct store_conversion row;
    char text[TYPEID_STR_BYTES];
    bool found = false;
    memset(page, 0, sizeof(*page));
    page->limit = query->limit;
    if (!query->has_cursor) {
        return TL_OK;
    }
    typeid_encode(CONVERSIONS_TYPEID_PREFIX, query->cursor, text);
    enum tl_err err = conversions_find(reader, req, text, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return page_fail_cursor(query, resp);
    }
    if (query->ending_before) {
        page->ending_before_ts = row.created_ns;
    } else {
        page->starting_after_ts = row.created_ns;
    }
    return TL_OK;
}

enum tl_err conversions_list(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct page_query query;
    struct store_page page;
    uint32_t count = 0;
    bool has_more = false;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = page_from_request(req, CONVERSIONS_TYPEID_PREFIX, &query, resp);
    err = err == TL_OK ? http_request_store(req, &reader) : err;
    err = err == TL_OK ? conversions_page(req, resp, reader, &query, &page) : err;
    if (err != TL_OK) {
        return err;
    }
    struct store_conversion *rows = malloc(query.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_conversions_list(reader, req->principal.user_id, &page, rows, &count, &has_more);
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        conversions_render_row(&r, &rows[i]);
    }
    render_array_end(&r);
    render_key(&r, "has_more");
    render_bool(&r, has_more);
    render_object_end(&r);
    free(rows);
    err = err == TL_OK ? render_finish(&r) : err;
    if (err == TL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    return err;
}
