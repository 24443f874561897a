#include "api/movement.h"

#include <stdio.h>
#include <string.h>

#include "api/json.h"
#include "api/kyc.h"
#include "api/problem.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/log.h"

enum tl_err movement_outcome(const struct ledger_event *events,
                             const struct ledger_event_result *results, uint32_t count,
                             struct id128 *missing_id)
{
    TL_ASSERT(count >= 1);
    for (uint32_t i = 0; i < count; i++) {
        const struct ledger_transfer *t = &events[i].as.transfer;
        TL_ASSERT(events[i].kind == LEDGER_EVENT_TRANSFER);
        switch ((enum ledger_result)results[i].result) {
        case LEDGER_OK:
        case LEDGER_LINKED_EVENT_FAILED: /* another event of the chain says why */
            continue;
        case LEDGER_EXCEEDS_CREDITS:
            return TL_ERR_INSUFFICIENT_FUNDS;
        case LEDGER_OVERFLOW:
            return TL_ERR_OVERFLOW;
        case LEDGER_DEBIT_ACCOUNT_NOT_FOUND:
            *missing_id = t->debit_account_id;
            return TL_ERR_NOT_FOUND;
        case LEDGER_CREDIT_ACCOUNT_NOT_FOUND:
            *missing_id = t->credit_account_id;
            return TL_ERR_NOT_FOUND;
        default:
            LOG(LOG_ERROR, "transfer_refused",
                LOG_STR("result", ledger_result_name((enum ledger_result)results[i].result)));
            return TL_ERR_INTERNAL;
        }
    }
    /* A chain where every event says another one failed cannot happen. */
    for (uint32_t i = 0; i < count; i++) {
        TL_ASSERT(results[i].result == LEDGER_OK);
    }
    return TL_OK;
}

bool movement_refusal(enum tl_err outcome)
{
    return outcome == TL_ERR_INSUFFICIENT_FUNDS || outcome == TL_ERR_OVERFLOW;
}

static void movement_refusal_text(enum tl_err outcome, const char **param, const char **detail)
{
    TL_ASSERT(movement_refusal(outcome));
    *param = "amount";
    *detail = outcome == TL_ERR_INSUFFICIENT_FUNDS
                  ? "the wallet's available balance does not cover the amount and fee"
                  : "the amount would take a balance past the largest representable value";
}

enum tl_err movement_refusal_fail(struct http_response *resp, enum tl_err outcome)
{
    const char *param = NULL;
    const char *detail = NULL;
    movement_refusal_text(outcome, &param, &detail);
    return http_fail(resp, outcome, param, detail);
}

enum tl_err movement_refusal_attach(const struct http_request *req, struct http_response *resp,
                                    struct idempotency_request *idem, struct writer_batch *batch,
                                    enum tl_err outcome)
{
    const char *param = NULL;
    const char *detail = NULL;
    int status = 0;
    movement_refusal_text(outcome, &param, &detail);
    buf_reset(&resp->body);
    enum tl_err err = problem_render(&resp->body, outcome, param, detail, req->request_id, &status);
    if (err == TL_OK) {
        err = idempotency_attach(idem, batch, status, resp->body.data, resp->body.len);
    }
    return err;
}

void movement_render_tail(struct render *r, uint64_t created_ns, int64_t balance_after)
{
    render_key(r, "created_at");
    render_time(r, created_ns);
    render_key(r, "balance_after");
    render_i64(r, balance_after);
    render_object_end(r);
}

enum tl_err movement_currency(const struct json_t *body, struct http_response *resp,
                              const struct money_currency **out)
{
    const char *code = json_field_string(body, "currency");
    const struct money_currency *currency =
        code != NULL ? money_currency_find(code, strlen(code)) : NULL;
    if (currency == NULL) {
        return http_fail(resp, TL_ERR_UNKNOWN_CURRENCY, "currency",
                         "must be an ISO 4217 currency code in upper case, e.g. USD");
    }
    *out = currency;
    return TL_OK;
}

struct ledger_event movement_transfer(struct id128 id, struct id128 debit, struct id128 credit,
                                      int64_t amount, uint16_t currency, uint16_t code,
                                      struct id128 user_ref, uint16_t flags)
{
    struct ledger_event event;
    memset(&event, 0, sizeof(event));
    TL_ASSERT(amount > 0);
    TL_ASSERT(!id128_eq(debit, credit));
    event.kind = LEDGER_EVENT_TRANSFER;
    event.as.transfer.id = id;
    event.as.transfer.debit_account_id = debit;
    event.as.transfer.credit_account_id = credit;
    event.as.transfer.user_ref = user_ref;
    event.as.transfer.amount = amount;
    event.as.transfer.currency = currency;
    event.as.transfer.code = code;
    event.as.transfer.flags = flags;
    return event;
}

void movement_answer_head_done(struct movement_answer *answer, const struct http_response *resp)
{
    answer->render_head = answer->render;
    answer->head_bytes = resp->body.len;
    answer->head_lost = false;
    answer->outcome = TL_ERR_INTERNAL;
    answer->hook_err = TL_OK;
    answer->rendered = false;
}

bool movement_answer_restart(struct movement_answer *answer, struct http_response *resp,
                             struct idempotency_request *idem)
{
    if (idem != NULL) {
        idem->recorded = false;
    }
    if (answer->head_lost) {
        return false;
    }
    buf_truncate(&resp->body, answer->head_bytes);
    answer->render = answer->render_head;
    answer->outcome = TL_ERR_INTERNAL;
    answer->hook_err = TL_OK;
    answer->rendered = false;
    return true;
}

enum tl_err movement_answer_decide(const struct http_request *req, struct http_response *resp,
                                   enum tl_err cmd_err, const struct movement_answer *answer,
                                   const struct kyc_refusal *limit, const char *what,
                                   bool *decided)
{
    TL_ASSERT(what != NULL);
    *decided = true;
    if (limit != NULL && cmd_err == TL_ERR_TIER_LIMIT && answer->hook_err == TL_ERR_TIER_LIMIT) {
        return kyc_refusal_fail(resp, limit); /* dropped by its hook: nothing moved */
    }
    if (cmd_err != TL_OK && answer->hook_err != TL_OK && cmd_err == answer->hook_err) {
        char event[48];
        char detail[96];
        snprintf(event, sizeof(event), "%s_dropped", what);
        snprintf(detail, sizeof(detail), "the %s was not made; retry with the same Idempotency-Key",
                 what);
        LOG(LOG_WARN, event, LOG_STR("request_id", req->request_id),
            LOG_STR("error", tl_err_code(cmd_err)));
        return http_fail(resp, TL_ERR_BUSY, NULL, detail);
    }
    if (cmd_err != TL_OK) {
        return cmd_err;
    }
    if (answer->outcome == TL_OK) {
        return answer->rendered ? TL_OK : TL_ERR_INTERNAL;
    }
    *decided = false;
    return TL_OK;
}
