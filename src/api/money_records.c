#include "api/money_records.h"

#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/escrow.h"
#include "api/events.h"
#include "api/money_cache.h"
#include "api/schedules.h"
#include "core/money.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/log.h"
#include "util/typeid.h"

/* The handle of user id ("" when the user is gone), read through store on a cache miss. */
static enum tl_err money_records_handle(struct store *store, struct id128 id,
                                        struct money_user *out)
{
    bool found = false;
    enum tl_err err = money_cache_user_get(store, id, out, &found);
    if (err == TL_OK && !found) {
        out->handle[0] = '\0';
    }
    return err;
}

static const char *money_records_currency(uint16_t currency)
{
    const struct money_currency *c = money_currency_by_numeric(currency);
    TL_ASSERT(c != NULL);
    return c->code;
}

/* ---- Refunds ---- */

static enum tl_err money_records_refund_event(struct writer_batch *batch,
                                              const struct store_payment *p,
                                              const struct store_refund *refund,
                                              const struct ledger_event_result *money, bool payee,
                                              const struct money_user *other)
{
    struct events_builder b;
    struct id128 user = payee ? p->to_user : p->from_user;
    events_begin(&b, EVENTS_TOPIC_REFUND_CREATED, user, money->timestamp);
    render_key(&b.render, "refund_id");
    render_typeid(&b.render, TYPEID_PREFIX_REFUND, refund->id);
    render_key(&b.render, "payment_id");
    render_typeid(&b.render, TYPEID_PREFIX_PAYMENT, p->id);
    render_key(&b.render, "direction");
    render_str(&b.render, payee ? "sent" : "received");
    render_key(&b.render, "amount");
    render_i64(&b.render, refund->amount);
    render_key(&b.render, "currency");
    render_str(&b.render, money_records_currency(p->currency));
    events_render_counterparty(&b.render, payee ? p->from_user : p->to_user, other->handle);
    render_key(&b.render, "balance_after");
    render_i64(&b.render, ledger_balance_available(payee ? &money->debit_after
                                                         : &money->credit_after));
    return events_attach_built(&b, batch);
}

enum tl_err money_records_refund(struct writer_batch *batch, const struct http_request *req,
                                 const struct store_payment *payment,
                                 const struct store_refund *refund,
                                 const struct ledger_event_result *money)
{
    struct money_user payer, payee;
    struct store *store = writer_batch_store(batch);
    TL_ASSERT(money->timestamp != 0);
    struct audit_money m = {
        .kind = AUDIT_REFUND_SENT,
        .user_id = payment->to_user,
        .counterparty_id = payment->from_user,
        .amount = refund->amount,
        .currency = payment->currency,
        .subject_prefix = TYPEID_PREFIX_REFUND,
        .subject_id = refund->id,
        .created_ns = money->timestamp,
    };
    enum tl_err err = money_records_handle(store, payment->from_user, &payer);
    err = err == TL_OK ? money_records_handle(store, payment->to_user, &payee) : err;
    err = err == TL_OK ? audit_attach_money(batch, req, &m) : err;
    err = err == TL_OK ? money_records_refund_event(batch, payment, refund, money, true, &payer)
                       : err;
    return err == TL_OK
               ? money_records_refund_event(batch, payment, refund, money, false, &payee)
               : err;
}

/* ---- Reversals ---- */

static enum tl_err money_records_reversal_event(struct writer_batch *batch,
                                                const struct store_payment *p,
                                                const struct store_refund *rev,
                                                uint64_t created_ns, bool payee,
                                                const struct money_user *other)
{
    struct events_builder b;
    events_begin(&b, EVENTS_TOPIC_PAYMENT_REVERSED, payee ? p->to_user : p->from_user,
                 created_ns);
    render_key(&b.render, "reversal_id");
    render_typeid(&b.render, TYPEID_PREFIX_REVERSAL, rev->id);
    render_key(&b.render, "payment_id");
    render_typeid(&b.render, TYPEID_PREFIX_PAYMENT, p->id);
    render_key(&b.render, "role");
    render_str(&b.render, payee ? "payee" : "payer");
    render_key(&b.render, "amount");
    render_i64(&b.render, rev->amount);
    render_key(&b.render, "from_wallet");
    render_i64(&b.render, rev->from_wallet);
    render_key(&b.render, "shortfall");
    render_i64(&b.render, rev->shortfall);
    render_key(&b.render, "currency");
    render_str(&b.render, money_records_currency(p->currency));
    render_key(&b.render, "dispute_id");
    if (id128_is_zero(rev->dispute_id)) {
        render_null(&b.render);
    } else {
        render_typeid(&b.render, TYPEID_PREFIX_DISPUTE, rev->dispute_id);
    }
    events_render_counterparty(&b.render, payee ? p->from_user : p->to_user, other->handle);
    return events_attach_built(&b, batch);
}

enum tl_err money_records_reversal(struct writer_batch *batch, const struct http_request *req,
                                   const struct store_payment *payment,
                                   const struct store_refund *reversal, uint64_t created_ns)
{
    struct money_user payer, payee;
    struct store *store = writer_batch_store(batch);
    struct audit_money m = {
        .kind = AUDIT_PAYMENT_REVERSED,
        .user_id = payment->to_user,
        .counterparty_id = payment->from_user,
        .amount = reversal->amount,
        .currency = payment->currency,
        .subject_prefix = TYPEID_PREFIX_REVERSAL,
        .subject_id = reversal->id,
        .created_ns = created_ns,
    };
    enum tl_err err = money_records_handle(store, payment->from_user, &payer);
    err = err == TL_OK ? money_records_handle(store, payment->to_user, &payee) : err;
    err = err == TL_OK ? audit_attach_money(batch, req, &m) : err;
    err = err == TL_OK ? money_records_reversal_event(batch, payment, reversal, created_ns, true,
                                                      &payer)
                       : err;
    return err == TL_OK ? money_records_reversal_event(batch, payment, reversal, created_ns, false,
                                                       &payee)
                        : err;
}

/* ---- Escrows ---- */

enum tl_err money_records_escrow(struct writer_batch *batch, const struct http_request *req,
                                 const struct store_escrow *escrow, const char *kind,
                                 int64_t amount, uint64_t created_ns)
{
    struct audit_money m = {
        .kind = kind,
        .user_id = escrow->payer_id,
        .counterparty_id = escrow->payee_id,
        .amount = amount,
        .currency = amount > 0 ? escrow->currency : 0,
        .subject_prefix = ESCROW_TYPEID_PREFIX,
        .subject_id = escrow->id,
        .created_ns = created_ns,
    };
    return audit_attach_money(batch, req, &m);
}

/* ---- Disputes (no money: best effort after the row) ---- */

static void money_records_append_failed(const char *what, enum tl_err err)
{
    LOG(LOG_WARN, "event_append_failed", LOG_STR("event", what), LOG_STR("error", tl_err_code(err)));
}

static void money_records_dispute_event(struct store *store, const struct store_dispute *d,
                                        const struct store_payment *p, uint64_t at_ns, bool payee,
                                        const char *handle)
{
    struct events_builder b;
    bool open = d->status == STORE_DISPUTE_OPEN;
    const char *topic = open ? EVENTS_TOPIC_DISPUTE_OPENED : EVENTS_TOPIC_DISPUTE_RESOLVED;
    events_begin(&b, topic, payee ? d->payee_id : d->payer_id, at_ns);
    render_key(&b.render, "dispute_id");
    render_typeid(&b.render, TYPEID_PREFIX_DISPUTE, d->id);
    render_key(&b.render, "payment_id");
    render_typeid(&b.render, TYPEID_PREFIX_PAYMENT, d->payment_id);
    render_key(&b.render, "role");
    render_str(&b.render, payee ? "payee" : "payer");
    render_key(&b.render, "status");
    render_str(&b.render, open ? "open" : "resolved");
    render_key(&b.render, "outcome");
    render_str_or_null(&b.render, open                                ? NULL
                                  : d->status == STORE_DISPUTE_PAYER ? "payer"
                                                                     : "payee");
    render_key(&b.render, "amount");
    render_i64(&b.render, p->amount);
    render_key(&b.render, "currency");
    render_str(&b.render, money_records_currency(p->currency));
    events_render_counterparty(&b.render, payee ? d->payer_id : d->payee_id, handle);
    enum tl_err err = events_append_built(&b, store);
    if (err != TL_OK) {
        money_records_append_failed(topic, err);
    }
}

void money_records_dispute(struct http_request *req, const struct store_dispute *d,
                           const struct store_payment *payment)
{
    struct money_user payer, payee;
    struct store *reader = NULL;
    struct store *store = NULL;
    bool open = d->status == STORE_DISPUTE_OPEN;
    uint64_t at_ns = open ? d->created_ns : d->resolved_ns;
    struct audit_money m = {
        .kind = open                                ? AUDIT_DISPUTE_OPENED
                : d->status == STORE_DISPUTE_PAYER ? AUDIT_DISPUTE_RESOLVED_PAYER
                                                   : AUDIT_DISPUTE_RESOLVED_PAYEE,
        .user_id = d->payer_id,
        .counterparty_id = d->payee_id,
        .amount = payment->amount,
        .currency = payment->currency,
        .subject_prefix = TYPEID_PREFIX_DISPUTE,
        .subject_id = d->id,
        .created_ns = at_ns,
    };
    TL_ASSERT(at_ns != 0);
    audit_append_money(req, NULL, &m);
    enum tl_err err = http_request_store(req, &reader);
    err = err == TL_OK ? money_records_handle(reader, d->payer_id, &payer) : err;
    err = err == TL_OK ? money_records_handle(reader, d->payee_id, &payee) : err;
    err = err == TL_OK ? api_app_store_acquire(req->app, &store) : err;
    if (err != TL_OK) {
        money_records_append_failed(open ? EVENTS_TOPIC_DISPUTE_OPENED
                                         : EVENTS_TOPIC_DISPUTE_RESOLVED,
                                    err);
        return;
    }
    money_records_dispute_event(store, d, payment, at_ns, false, payee.handle);
    money_records_dispute_event(store, d, payment, at_ns, true, payer.handle);
    api_app_store_release(req->app, store);
}

/* ---- Skipped scheduled payments (no money: best effort after the occurrence) ---- */

void money_records_schedule_skipped(struct store *store, const struct store_schedule *schedule,
                                    const struct store_occurrence *occurrence, const char *reason,
                                    uint64_t now_ns)
{
    struct money_user payee;
    struct events_builder b;
    struct audit_money m = {
        .kind = AUDIT_SCHEDULE_SKIPPED,
        .user_id = schedule->user_id,
        .counterparty_id = schedule->to_user,
        .amount = schedule->amount,
        .currency = schedule->currency,
        .subject_prefix = SCHEDULES_TYPEID_PREFIX,
        .subject_id = schedule->id,
        .created_ns = now_ns,
    };
    audit_append_money(NULL, store, &m);
    enum tl_err err = money_records_handle(store, schedule->to_user, &payee);
    if (err != TL_OK) {
        money_records_append_failed(EVENTS_TOPIC_SCHEDULE_SKIPPED, err);
        return;
    }
    events_begin(&b, EVENTS_TOPIC_SCHEDULE_SKIPPED, schedule->user_id, now_ns);
    render_key(&b.render, "scheduled_payment_id");
    render_typeid(&b.render, SCHEDULES_TYPEID_PREFIX, schedule->id);
    render_key(&b.render, "index");
    render_i64(&b.render, (int64_t)occurrence->index);
    render_key(&b.render, "due_at");
    render_time(&b.render, occurrence->due_ns);
    render_key(&b.render, "reason");
    render_str(&b.render, reason);
    render_key(&b.render, "amount");
    render_i64(&b.render, schedule->amount);
    render_key(&b.render, "currency");
    render_str(&b.render, money_records_currency(schedule->currency));
    events_render_counterparty(&b.render, schedule->to_user, payee.handle);
    err = events_append_built(&b, store);
    if (err != TL_OK) {
        money_records_append_failed(EVENTS_TOPIC_SCHEDULE_SKIPPED, err);
    }
}
