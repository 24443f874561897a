#include "api/deposits.h"

#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/async.h"
#include "api/debts.h"
#include "api/audit.h"
#include "api/events.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/kyc.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/config.h"
#include "util/log.h"
#include "util/typeid.h"

#define DEPOSITS_SOURCE_SANDBOX "sandbox"

/* One deposit's writer command and what its hook needs; on the heap, because the request
 * parks while its batch commits (async.h): deposits_resume frees it. */
struct deposits_exec {
    struct writer_command cmd;
    struct ledger_event event;
    struct ledger_event_result result;
    const struct http_request *req;
    struct http_response *resp;
    struct idempotency_request *idem;
    const struct money_currency *currency;
    struct store_wallet wallet;    /* the wallet credited, for a repair of its account */
    int attempt;                   /* 1 after a repair: no second one */
    struct movement_answer answer; /* the 201 body and the hook's per-run state */
    struct id128 missing;          /* the account that was missing (TL_ERR_NOT_FOUND) */
    struct kyc_refusal limit;      /* which tier limit refused it (TL_ERR_TIER_LIMIT) */
};

static void deposits_render_head(struct deposits_exec *x)
{
    const struct ledger_transfer *t = &x->event.as.transfer;
    const struct money_currency *currency = x->currency;
    struct id128 wallet_id = x->wallet.id;
    buf_reset(&x->resp->body);
    render_init(&x->answer.render, &x->resp->body);
    render_object_begin(&x->answer.render);
    render_key(&x->answer.render, "id");
    render_typeid(&x->answer.render, TYPEID_PREFIX_DEPOSIT, t->id);
    render_key(&x->answer.render, "status");
    render_str(&x->answer.render, "succeeded");
    render_key(&x->answer.render, "amount");
    render_i64(&x->answer.render, t->amount);
    render_key(&x->answer.render, "currency");
    render_str(&x->answer.render, currency->code);
    render_key(&x->answer.render, "source");
    render_str(&x->answer.render, DEPOSITS_SOURCE_SANDBOX);
    render_key(&x->answer.render, "wallet_id");
    render_typeid(&x->answer.render, TYPEID_PREFIX_WALLET, wallet_id);
    movement_answer_head_done(&x->answer, x->resp);
}

/* Writer thread, before commit: finish the answer and attach it with the money. An error
 * drops the deposit: money never moves without the answer a retry replays. */
static enum tl_err deposits_applied(struct deposits_exec *x, struct writer_batch *batch)
{
    struct accounts_balance after = accounts_balance_of(&x->result.credit_after);
    struct events_deposit event = {
        .deposit_id = x->event.as.transfer.id,
        .user_id = x->req->principal.user_id,
        .wallet_id = x->wallet.id,
        .amount = x->event.as.transfer.amount,
        .currency = x->currency->code,
        .created_ns = x->result.timestamp,
        .available_after = after.available,
    };
    enum tl_err err = events_attach_deposit(batch, &event); /* deposit.created, with the money */
    if (err == TL_OK) {
        err = audit_attach_deposit(batch, x->req, event.deposit_id, event.user_id, event.amount,
                                   x->currency->numeric, event.created_ns);
    }
    if (err != TL_OK) {
        return err;
    }
    movement_render_tail(&x->answer.render, x->result.timestamp, after.available);
    err = render_finish(&x->answer.render);
    if (err == TL_OK && x->idem != NULL) {
        err = idempotency_attach(x->idem, batch, 201, x->resp->body.data, x->resp->body.len);
    }
    x->answer.rendered = err == TL_OK;
    return err;
}

static enum tl_err deposits_on_applied(struct writer_command *cmd, struct writer_batch *batch)
{
    struct deposits_exec *x = cmd->ctx;
    if (!movement_answer_restart(&x->answer, x->resp, x->idem)) {
        deposits_render_head(x);
    }
    x->answer.outcome = movement_outcome(&x->event, &x->result, 1, &x->missing);
    if (x->answer.outcome == TL_OK) {
        x->answer.hook_err = kyc_check_deposit(x->req->app->kyc, batch, x->req->principal.user_id,
                                               &x->event.as.transfer, &x->result, &x->limit);
        if (x->answer.hook_err != TL_OK) {
            return x->answer.hook_err;
        }
        x->answer.hook_err = deposits_applied(x, batch);
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

static enum tl_err deposits_resume(struct http_request *req, struct http_response *resp,
                                   void *ctx);

/* Hands the deposit to the writer; deposits_resume answers (x belongs to it now). */
static enum tl_err deposits_submit(struct http_request *req, struct http_response *resp,
                                   struct deposits_exec *x)
{
    deposits_render_head(x);
    x->cmd = (struct writer_command){.events = &x->event,
                                     .event_count = 1,
                                     .results = &x->result,
                                     .on_applied = deposits_on_applied,
                                     .ctx = x};
    return async_submit(req, resp, true, &x->cmd, deposits_resume, x);
}

/* What the writer's answer means for the client; *repaired when the wallet's missing ledger
 * account was opened and the deposit must be submitted again. */
static enum tl_err deposits_outcome(struct http_request *req, struct http_response *resp,
                                    struct deposits_exec *x, bool *repaired)
{
    bool decided = false;
    *repaired = false;
    enum tl_err err =
        movement_answer_decide(req, resp, x->cmd.err, &x->answer, &x->limit, "deposit", &decided);
    if (decided) {
        return err;
    }
    if (movement_refusal(x->answer.outcome)) {
        return movement_refusal_fail(resp, x->answer.outcome);
    }
    if (x->answer.outcome != TL_ERR_NOT_FOUND || x->attempt > 0 ||
        !id128_eq(x->missing, x->wallet.id)) {
        return TL_ERR_INTERNAL;
    }
    err = accounts_wallet_open(req->app->writer, x->wallet.id, x->wallet.user_id,
                               x->wallet.currency);
    *repaired = err == TL_OK;
    return err;
}

/* After the deposit's batch (a worker thread, or the handler's when it did not park): the 201,
 * a refusal, or one more try after a repair. Frees x unless it submits again. */
static enum tl_err deposits_resume(struct http_request *req, struct http_response *resp,
                                   void *ctx)
{
    struct deposits_exec *x = ctx;
    bool repaired = false;
    enum tl_err err = deposits_outcome(req, resp, x, &repaired);
    if (repaired) {
        x->attempt++;
        return deposits_submit(req, resp, x);
    }
    if (err == TL_OK) {
        /* Incoming money covers a debt first (debts.h); the answer stays the deposit's. */
        int64_t owed = 0;
        enum tl_err settle = debts_settle(req, x->wallet.id, x->currency->numeric, &owed);
        if (settle != TL_OK) {
            LOG(LOG_WARN, "debt_settle_failed", LOG_STR("request_id", req->request_id),
                LOG_STR("error", tl_err_code(settle)));
        }
        resp->status = 201;
        resp->content_type = "application/json";
    }
    free(x);
    return err;
}

static const struct json_field deposits_fields[] = {
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("source", true, 64),
};

enum tl_err deposits_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    json_t *body = NULL;
    const struct money_currency *currency = NULL;
    const struct config *config = req->app->config;
    if (config == NULL || !config->sandbox) {
        return http_fail(resp, TL_ERR_FORBIDDEN, NULL,
                         "deposits are only available on a sandbox server");
    }
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, deposits_fields,
                       sizeof(deposits_fields) / sizeof(deposits_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    int64_t amount = json_field_int(body, "amount", 0);
    bool sandbox = strcmp(json_field_string(body, "source"), DEPOSITS_SOURCE_SANDBOX) == 0;
    err = movement_currency(body, resp, &currency);
    json_decref(body);
    if (err != TL_OK) {
        return err;
    }
    if (!sandbox) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "source", "must be \"sandbox\"");
    }
    struct store *reader = NULL;
    struct store_wallet wallet;
    bool found = false;
    err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = money_cache_wallet_find(reader, req->principal.user_id, currency->numeric, &wallet,
                                      &found);
    }
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_WALLET_NOT_FOUND, "currency",
                         "you have no wallet in this currency");
    }
    if (err == TL_OK) {
        err = accounts_system_ensure(req->app->writer, currency->numeric);
    }
    if (err != TL_OK) {
        return err;
    }
    struct deposits_exec *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return TL_ERR_NOMEM;
    }
    x->req = req;
    x->resp = resp;
    x->idem = idempotency_current();
    x->currency = currency;
    x->wallet = wallet;
    x->event = movement_transfer(
        id128_new(), accounts_system_id(LEDGER_KIND_SANDBOX_FUNDING, currency->numeric), wallet.id,
        amount, currency->numeric, LEDGER_CODE_DEPOSIT, id128_make(0, 0), 0);
    return deposits_submit(req, resp, x);
}
