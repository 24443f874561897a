#include "api/reversals.h"

#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/debts.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/money_records.h"
#include "api/movement.h"
#include "api/refunds.h"
#include "auth/validate.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"

/* Attempts while concurrent movements keep changing the payee's wallet or the rest. */
#define REVERSALS_ATTEMPTS_MAX 6

struct reversals_exec {
    struct writer_command cmd;
    struct ledger_event events[3];
    struct ledger_event_result results[3];
    uint32_t event_count;
    struct http_response *resp;
    struct idempotency_request *idem;
    struct store_refund row;
    bool done; /* the chain moved the money and the answer is rendered */
    const struct http_request *req;     /* for the audit entry's request id */
    const struct store_payment *payment; /* what is reversed */
};

static enum tl_err reversals_on_applied(struct writer_command *cmd, struct writer_batch *batch)
{
    struct reversals_exec *x = cmd->ctx;
    x->done = false;
    if (x->idem != NULL) {
        x->idem->recorded = false;
    }
    for (uint32_t i = 0; i < x->event_count; i++) {
        if (x->results[i].result != LEDGER_OK) {
            return TL_OK; /* refused: nothing moved; the caller looks at why */
        }
    }
    struct render r;
    x->row.created_ns = x->results[0].timestamp;
    x->row.succeeded = true;
    /* The audit entry and both parties' payment.reversed, with the money. */
    enum tl_err err =
        money_records_reversal(batch, x->req, x->payment, &x->row, x->row.created_ns);
    if (err != TL_OK) {
        return err;
    }
    buf_reset(&x->resp->body);
    render_init(&r, &x->resp->body);
    refunds_render_row(&r, &x->row);
    err = render_finish(&r);
    if (err == TL_OK && x->idem != NULL) {
        err = idempotency_attach(x->idem, batch, 201, x->resp->body.data, x->resp->body.len);
    }
    x->done = err == TL_OK;
    return err;
}

enum tl_err reversals_find(struct store *reader, struct id128 payment_id, struct store_refund *out,
                           bool *found)
{
    struct store_request_page page = {TL_PAGE_LIMIT_MAX, {0, 0}, {0, 0}};
    struct store_refund *rows = malloc(TL_PAGE_LIMIT_MAX * sizeof(*rows));
    enum tl_err err = rows == NULL ? TL_ERR_NOMEM : TL_OK;
    bool has_more = true;
    *found = false;
    while (err == TL_OK && has_more && !*found) {
        uint32_t count = 0;
        err = store_refunds_list(reader, payment_id, &page, rows, &count, &has_more);
        for (uint32_t i = 0; err == TL_OK && i < count; i++) {
            if (rows[i].kind == STORE_REFUND_KIND_REVERSAL) {
                *out = rows[i];
                *found = true;
                break;
            }
        }
        if (count > 0) {
            page.starting_after = rows[count - 1].id;
        }
    }
    free(rows);
    return err;
}

/* The chain for the split rest = from_wallet + shortfall. */
static void reversals_prepare(struct reversals_exec *x, const struct store_payment *p)
{
    int64_t from_wallet = x->row.from_wallet;
    int64_t shortfall = x->row.shortfall;
    x->event_count = 0;
    x->events[x->event_count++] = movement_transfer(
        x->row.id, refunds_refundable_id(p->id), refunds_capacity_id(p->currency), x->row.amount,
        p->currency, LEDGER_CODE_REVERSAL, p->id, LEDGER_TRANSFER_LINKED);
    if (from_wallet > 0) {
        x->events[x->event_count++] = movement_transfer(
            id128_new(), p->to_wallet, p->from_wallet, from_wallet, p->currency,
            LEDGER_CODE_REVERSAL, p->id, LEDGER_TRANSFER_LINKED);
    }
    if (shortfall > 0) {
        x->events[x->event_count++] = movement_transfer(
            id128_new(), debts_receivable_id(p->to_wallet), p->from_wallet, shortfall,
            p->currency, LEDGER_CODE_REVERSAL, p->id, LEDGER_TRANSFER_LINKED);
    }
    /* The last event closes the chain. */
    x->events[x->event_count - 1].as.transfer.flags = 0;
    x->cmd = (struct writer_command){.events = x->events,
                                     .event_count = x->event_count,
                                     .results = x->results,
                                     .on_applied = reversals_on_applied,
                                     .ctx = x};
}

/* Was the chain refused because balances moved under it (so: compute the split again)? */
static bool reversals_raced(const struct reversals_exec *x)
{
    for (uint32_t i = 0; i < x->event_count; i++) {
        uint32_t result = x->results[i].result;
        if (result == LEDGER_EXCEEDS_CREDITS || result == LEDGER_EXCEEDS_DEBITS) {
            return true;
        }
    }
    return false;
}

/* Nothing is left of the payment: 409 when a reversal took it, else 422. */
static enum tl_err reversals_nothing_left(struct http_response *resp, struct store *reader,
                                          const struct store_payment *p, struct store_refund *out)
{
    bool found = false;
    enum tl_err err = reversals_find(reader, p->id, out, &found);
    if (err != TL_OK) {
        return err;
    }
    if (found) {
        return http_fail(resp, TL_ERR_PAYMENT_REVERSED, NULL, "this payment was reversed already");
    }
    return http_fail(resp, TL_ERR_REFUND_EXCEEDS_PAYMENT, NULL,
                     "refunds gave back the whole payment; nothing is left to reverse");
}

static enum tl_err reversals_attempts(struct http_request *req, struct http_response *resp,
                                      const struct store_payment *p, struct reversals_exec *x,
                                      struct store_refund *out)
{
    struct store *reader = NULL;
    struct store *app_store = NULL;
    enum tl_err err = http_request_store(req, &reader);
    for (int attempt = 0; err == TL_OK && attempt < REVERSALS_ATTEMPTS_MAX; attempt++) {
        int64_t rest = 0;
        struct accounts_balance wallet;
        err = refunds_rest(reader, p, &rest);
        if (err == TL_OK && rest == 0) {
            return reversals_nothing_left(resp, reader, p, out);
        }
        if (err == TL_OK) {
            err = accounts_wallet_balance(reader, p->to_wallet, &wallet);
        }
        if (err != TL_OK) {
            return err;
        }
        int64_t held = wallet.available > 0 ? wallet.available : 0;
        x->row.amount = rest;
        x->row.from_wallet = held < rest ? held : rest;
        x->row.shortfall = rest - x->row.from_wallet;
        err = api_app_store_acquire(req->app, &app_store);
        if (err == TL_OK) {
            err = store_refund_put(app_store, &x->row);
            api_app_store_release(req->app, app_store);
        }
        if (err != TL_OK) {
            return err;
        }
        reversals_prepare(x, p);
        err = writer_submit(req->app->writer, &x->cmd);
        if (err != TL_OK) {
            return err;
        }
        if (x->done) {
            *out = x->row;
            return TL_OK;
        }
        if (x->results[0].result == LEDGER_EXISTS) {
            return http_fail(resp, TL_ERR_PAYMENT_REVERSED, NULL,
                             "this payment was reversed already");
        }
        if (!reversals_raced(x)) {
            LOG(LOG_ERROR, "reversal_refused",
                LOG_STR("result", ledger_result_name((enum ledger_result)x->results[0].result)));
            return TL_ERR_INTERNAL;
        }
    }
    return err == TL_OK ? TL_ERR_BUSY : err;
}

enum tl_err reversals_run(struct http_request *req, struct http_response *resp,
                          const struct store_payment *payment, struct id128 id,
                          const char *reason, struct id128 dispute_id, bool answer,
                          struct store_refund *out)
{
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    struct reversals_exec *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return TL_ERR_NOMEM;
    }
    x->resp = resp;
    x->idem = answer ? idempotency_current() : NULL;
    x->req = req;
    x->payment = payment;
    x->row.id = id;
    x->row.payment_id = payment->id;
    x->row.kind = STORE_REFUND_KIND_REVERSAL;
    x->row.dispute_id = dispute_id;
    x->row.currency = payment->currency;
    x->row.created_ns = clock_wall_ns();
    TL_ASSERT(strlen(reason) < sizeof(x->row.reason));
    memcpy(x->row.reason, reason, strlen(reason) + 1);
    enum tl_err err = refunds_ensure(req->app->writer, payment);
    if (err == TL_OK) {
        err = debts_open(req->app->writer, payment->to_wallet, payment->to_user,
                         payment->currency);
    }
    if (err == TL_OK) {
        err = reversals_attempts(req, resp, payment, x, out);
    }
    free(x);
    if (err == TL_OK) {
        /* The wallet may have grown since the split was read: repay the debt from it now. */
        int64_t owed = 0;
        enum tl_err settle = debts_settle(req, payment->to_wallet, payment->currency, &owed);
        if (settle != TL_OK) {
            LOG(LOG_WARN, "debt_settle_failed", LOG_STR("request_id", req->request_id),
                LOG_STR("error", tl_err_code(settle)));
        }
    }
    return err;
}

/* ---- POST /v1/admin/payments/{id}/reverse ---- */

static const struct json_field reversals_fields[] = {
    JSON_STRING("reason", true, STORE_REASON_BYTES_MAX - 1),
};

enum tl_err reversals_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    struct auth_fault fault = {NULL, NULL, NULL};
    json_t *body = NULL;
    struct store_payment payment;
    struct store_refund row;
    struct store *reader = NULL;
    struct id128 id;
    bool found = false;
    char reason[STORE_REASON_BYTES_MAX];
    TL_ASSERT(req->operator);
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, reversals_fields,
                       sizeof(reversals_fields) / sizeof(reversals_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *text = json_field_string(body, "reason");
    if (validate_note(text, strlen(text), &fault) != TL_OK || text[0] == '\0') {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "reason",
                        fault.detail != NULL ? fault.detail : "must not be empty");
    } else {
        memcpy(reason, text, strlen(text) + 1);
    }
    json_decref(body);
    if (err != TL_OK) {
        return err;
    }
    const char *param = http_request_param(req, "id");
    TL_ASSERT(param != NULL);
    if (typeid_decode(param, strlen(param), TYPEID_PREFIX_PAYMENT, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment");
    }
    err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_payment_get(reader, id, &payment, &found);
    }
    if (err == TL_OK && !found) {
        err = http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment");
    }
    if (err == TL_OK) {
        err = reversals_run(req, resp, &payment, id128_new(), reason, id128_make(0, 0), true,
                            &row);
    }
    if (err == TL_OK) {
        resp->status = 201;
        resp->content_type = "application/json";
    }
    return err;
}
