#include "api/escrow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/idempotency.h"
#include "api/json.h"
#include "api/audit.h"
#include "api/events.h"
#include "api/kyc.h"
#include "api/money_records.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "api/page.h"
#include "api/render.h"
#include "api/stepup.h"
#include "api/wallets.h"
#include "auth/validate.h"
#include "core/recur.h"
#include "store/plans.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"

#define NS_PER_S 1000000000ull
#define ESCROW_TIME_BYTES_MAX 64
#define ESCROW_EVENT_BYTES_MAX 1024u

static_assert(ESCROW_TTL_S_DEFAULT <= TL_PENDING_TIMEOUT_S_MAX, "the default is a valid hold");

enum escrow_action {
    ESCROW_ACTION_HOLD = 1,
    ESCROW_ACTION_RELEASE = 2,
    ESCROW_ACTION_CANCEL = 3,
};

/* One escrow command on its way through the writer; on the caller's stack. */
struct escrow_exec {
    struct writer_command cmd;
    struct ledger_event event;
    struct ledger_event_result result;
    struct store_escrow row; /* as it reads after success (the hook completes it) */
    struct money_user payer;
    struct money_user payee;
    enum escrow_action action;
    int64_t amount; /* release: what goes to the payee */
    struct store_payment payment;
    struct store_payment payment_buf;
    struct http_response *resp; /* NULL: nothing to render (the scheduler) */
    struct idempotency_request *idem;
    const struct http_request *req; /* NULL: tallyd itself (the scheduler, an expiry) */
    int status;
    enum tl_err hook_err;
    struct kyc *kyc;          /* tier limits (kyc.h), checked in the hook */
    struct kyc_refusal limit; /* which tier limit refused it (TL_ERR_TIER_LIMIT) */
};

/* ---- Rendering ---- */

static const char *escrow_state_name(const struct store_escrow *e, uint64_t now_ns)
{
    switch (e->state) {
    case STORE_ESCROW_RELEASED:
        return "released";
    case STORE_ESCROW_CANCELED:
        return "canceled";
    case STORE_ESCROW_EXPIRED:
        return "expired";
    default:
        /* The sweep voids the hold within a second of its time; it is expired already. */
        return now_ns >= e->expires_ns ? "expired" : "held";
    }
}

static const char *escrow_release_name(uint8_t mode)
{
    return mode == STORE_ESCROW_RELEASE_PAYER  ? "payer"
           : mode == STORE_ESCROW_RELEASE_BOTH ? "both"
                                               : "at";
}

static void escrow_render_time_or_null(struct render *r, const char *key, uint64_t ns)
{
    render_key(r, key);
    if (ns == 0) {
        render_null(r);
    } else {
        render_time(r, ns);
    }
}

static void escrow_render_party(struct render *r, struct id128 id, const struct money_user *u)
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

static void escrow_render(struct render *r, const struct store_escrow *e,
                          const struct money_user *payer, const struct money_user *payee,
                          uint64_t now_ns)
{
    const struct money_currency *currency = money_currency_by_numeric(e->currency);
    const char *state = escrow_state_name(e, now_ns);
    bool open = strcmp(state, "held") == 0;
    TL_ASSERT(currency != NULL);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, ESCROW_TYPEID_PREFIX, e->id);
    render_key(r, "status");
    render_str(r, state);
    render_key(r, "amount");
    render_i64(r, e->amount);
    render_key(r, "currency");
    render_str(r, currency->code);
    render_key(r, "released_amount");
    render_i64(r, e->released_amount);
    render_key(r, "refunded_amount");
    render_i64(r, open ? 0 : e->amount - e->released_amount);
    render_key(r, "note");
    render_str_or_null(r, e->note[0] != '\0' ? e->note : NULL);
    render_key(r, "payer");
    escrow_render_party(r, e->payer_id, payer);
    render_key(r, "payee");
    escrow_render_party(r, e->payee_id, payee);
    render_key(r, "release");
    render_object_begin(r);
    render_key(r, "type");
    render_str(r, escrow_release_name(e->release_mode));
    escrow_render_time_or_null(r, "at", e->release_at_ns);
    escrow_render_time_or_null(r, "payer_approved_at", e->payer_approved_ns);
    escrow_render_time_or_null(r, "payee_approved_at", e->payee_approved_ns);
    render_object_end(r);
    render_key(r, "payment_id");
    if (e->state == STORE_ESCROW_RELEASED) {
        render_typeid(r, TYPEID_PREFIX_PAYMENT, e->settle_id);
    } else {
        render_null(r);
    }
    render_key(r, "created_at");
    render_time(r, e->created_ns);
    render_key(r, "expires_at");
    render_time(r, e->expires_ns);
    escrow_render_time_or_null(r, "released_at",
                               e->state == STORE_ESCROW_RELEASED ? e->settled_ns : 0);
    escrow_render_time_or_null(r, "canceled_at",
                               e->state == STORE_ESCROW_CANCELED ? e->settled_ns : 0);
    render_object_end(r);
}

/* The escrow with its parties looked up through reader; status 200 or 201. */
static enum tl_err escrow_send(struct http_response *resp, struct store *reader,
                               const struct store_escrow *e, int status)
{
    struct money_user payer, payee;
    bool payer_found = false, payee_found = false;
    enum tl_err err = money_cache_user_get(reader, e->payer_id, &payer, &payer_found);
    if (err == TL_OK) {
        err = money_cache_user_get(reader, e->payee_id, &payee, &payee_found);
    }
    if (err != TL_OK) {
        return err;
    }
    struct render r;
    buf_reset(&resp->body);
    render_init(&r, &resp->body);
    escrow_render(&r, e, payer_found ? &payer : NULL, payee_found ? &payee : NULL,
                  clock_wall_ns());
    err = render_finish(&r);
    if (err == TL_OK) {
        resp->status = status;
        resp->content_type = "application/json";
    }
    return err;
}

/* ---- The writer command: hold, post or void, with its records ---- */

static enum tl_err escrow_attach_event(struct writer_batch *batch, const struct escrow_exec *x,
                                       const char *topic, bool for_payer)
{
    struct store_record record;
    struct buf out;
    struct render r;
    const struct store_escrow *e = &x->row;
    const struct money_currency *currency = money_currency_by_numeric(e->currency);
    struct id128 user = for_payer ? e->payer_id : e->payee_id;
    buf_init(&out, ESCROW_EVENT_BYTES_MAX);
    render_init(&r, &out);
    render_object_begin(&r);
    render_key(&r, "type");
    render_str(&r, topic);
    render_key(&r, "user_id");
    render_typeid(&r, TYPEID_PREFIX_USER, user);
    render_key(&r, "created_at");
    render_time(&r, x->result.timestamp);
    render_key(&r, "data");
    render_object_begin(&r);
    render_key(&r, "escrow_id");
    render_typeid(&r, ESCROW_TYPEID_PREFIX, e->id);
    render_key(&r, "role");
    render_str(&r, for_payer ? "payer" : "payee");
    render_key(&r, "amount");
    render_i64(&r, e->amount);
    render_key(&r, "released_amount");
    render_i64(&r, e->released_amount);
    render_key(&r, "currency");
    render_str(&r, currency->code);
    render_key(&r, "counterparty");
    render_object_begin(&r);
    render_key(&r, "id");
    render_typeid(&r, TYPEID_PREFIX_USER, for_payer ? e->payee_id : e->payer_id);
    render_key(&r, "handle");
    render_str(&r, for_payer ? x->payee.handle : x->payer.handle);
    render_object_end(&r);
    render_object_end(&r);
    render_object_end(&r);
    enum tl_err err = render_finish(&r);
    if (err == TL_OK) {
        memset(&record, 0, sizeof(record));
        record.kind = STORE_RECORD_OUTBOX;
        record.key = user;
        snprintf(record.topic, sizeof(record.topic), "%s", topic);
        record.data = out.data;
        record.data_bytes = (uint32_t)out.len;
        err = writer_batch_attach(batch, &record);
    }
    buf_free(&out);
    return err;
}

/* The released money as a payment row (id settle_id), so lists and transactions show it. */
static enum tl_err escrow_attach_payment(struct escrow_exec *x, struct writer_batch *batch)
{
    struct store_record record;
    struct store_payment *p = &x->payment;
    memset(p, 0, sizeof(*p));
    p->id = x->row.settle_id;
    p->from_user = x->row.payer_id;
    p->to_user = x->row.payee_id;
    p->from_wallet = x->row.payer_wallet;
    p->to_wallet = x->row.payee_wallet;
    p->amount = x->row.released_amount;
    p->currency = x->row.currency;
    p->status = STORE_PAYMENT_SUCCEEDED;
    p->created_ns = x->result.timestamp;
    p->sender_available_after = ledger_balance_available(&x->result.debit_after);
    p->recipient_available_after = ledger_balance_available(&x->result.credit_after);
    snprintf(p->to_text, sizeof(p->to_text), "%s", x->row.to_text);
    snprintf(p->note, sizeof(p->note), "%s", x->row.note);
    store_record_payment(p, &x->payment_buf, &record);
    return writer_batch_attach(batch, &record);
}

/* The answer, rendered on the writer thread (the state is known only now). */
static enum tl_err escrow_answer(struct escrow_exec *x, struct writer_batch *batch)
{
    struct render r;
    if (x->resp == NULL) {
        return TL_OK;
    }
    buf_reset(&x->resp->body);
    render_init(&r, &x->resp->body);
    escrow_render(&r, &x->row, &x->payer, &x->payee, x->result.timestamp);
    enum tl_err err = render_finish(&r);
    x->resp->status = x->status;
    x->resp->content_type = "application/json";
    if (err == TL_OK && x->idem != NULL) {
        err = idempotency_attach(x->idem, batch, x->status, x->resp->body.data,
                                 x->resp->body.len);
    }
    return err;
}

/* Tier limits (kyc.h), in the batch of the money: the hold counts toward the payer's send
 * window; a release toward the payee's receive window and hold limit; a cancel is free. */
static enum tl_err escrow_limits(struct escrow_exec *x, struct writer_batch *batch)
{
    if (x->action == ESCROW_ACTION_HOLD) {
        return kyc_check_escrow_hold(x->kyc, batch, x->row.payer_id, x->row.payee_id,
                                     &x->event.as.transfer, &x->result, &x->limit);
    }
    if (x->action == ESCROW_ACTION_RELEASE) {
        return kyc_check_escrow_release(x->kyc, batch, x->row.payee_id, x->row.currency,
                                        x->amount, &x->result, &x->limit);
    }
    return TL_OK;
}

static enum tl_err escrow_on_applied(struct writer_command *cmd, struct writer_batch *batch)
{
    struct escrow_exec *x = cmd->ctx;
    static const char *const topics[] = {"", "escrow.held", "escrow.released", "escrow.canceled"};
    static const char *const kinds[] = {"", AUDIT_ESCROW_HELD, AUDIT_ESCROW_RELEASED,
                                        AUDIT_ESCROW_CANCELED};
    enum tl_err err = TL_OK;
    if (x->idem != NULL) {
        x->idem->recorded = false; /* an earlier run's records were discarded */
    }
    x->hook_err = TL_OK;
    if (x->result.result != LEDGER_OK) {
        return TL_OK; /* nothing moved; the caller answers */
    }
    if ((err = escrow_limits(x, batch)) != TL_OK) {
        x->hook_err = err; /* dropped: nothing moves */
        return err;
    }
    if (x->action == ESCROW_ACTION_RELEASE) {
        x->row.state = STORE_ESCROW_RELEASED;
        x->row.released_amount = x->amount;
        x->row.settled_ns = x->result.timestamp;
        err = escrow_attach_payment(x, batch);
    } else if (x->action == ESCROW_ACTION_CANCEL) {
        x->row.state = STORE_ESCROW_CANCELED;
        x->row.released_amount = 0;
        x->row.settled_ns = x->result.timestamp;
    } else {
        x->row.state = STORE_ESCROW_HELD;
    }
    err = err == TL_OK ? escrow_attach_event(batch, x, topics[x->action], true) : err;
    err = err == TL_OK ? escrow_attach_event(batch, x, topics[x->action], false) : err;
    /* The audit entry: what was held, released to the payee, or given back. */
    err = err == TL_OK ? money_records_escrow(batch, x->req, &x->row, kinds[x->action],
                                              x->action == ESCROW_ACTION_RELEASE ? x->amount
                                                                                 : x->row.amount,
                                              x->result.timestamp)
                       : err;
    err = err == TL_OK ? escrow_answer(x, batch) : err;
    x->hook_err = err;
    return err;
}

/* The event of an action on x->row: a hold, or a post or void of it. */
static void escrow_prepare(struct escrow_exec *x, uint32_t timeout_s)
{
    const struct store_escrow *e = &x->row;
    if (x->action == ESCROW_ACTION_HOLD) {
        x->event = movement_transfer(e->id, e->payer_wallet, e->payee_wallet, e->amount,
                                     e->currency, LEDGER_CODE_HOLD, e->id,
                                     LEDGER_TRANSFER_PENDING);
        x->event.as.transfer.timeout_s = timeout_s;
    } else {
        memset(&x->event, 0, sizeof(x->event));
        x->event.kind = LEDGER_EVENT_TRANSFER;
        x->event.as.transfer.id = e->settle_id;
        x->event.as.transfer.pending_id = e->id;
        x->event.as.transfer.user_ref = e->settle_id;
        x->event.as.transfer.currency = e->currency;
        if (x->action == ESCROW_ACTION_RELEASE) {
            x->event.as.transfer.amount = x->amount;
            x->event.as.transfer.code = LEDGER_CODE_PAYMENT;
            x->event.as.transfer.flags = LEDGER_TRANSFER_POST_PENDING;
        } else {
            x->event.as.transfer.code = LEDGER_CODE_HOLD;
            x->event.as.transfer.flags = LEDGER_TRANSFER_VOID_PENDING;
        }
    }
    memset(&x->result, 0, sizeof(x->result));
    x->cmd = (struct writer_command){.events = &x->event,
                                     .event_count = 1,
                                     .results = &x->result,
                                     .on_applied = escrow_on_applied,
                                     .ctx = x};
}

/* The 409 for an escrow that is no longer held (TL_OK: it is). */
static enum tl_err escrow_state_err(const struct store_escrow *e, uint64_t now_ns)
{
    switch (e->state) {
    case STORE_ESCROW_RELEASED:
        return TL_ERR_ESCROW_RELEASED;
    case STORE_ESCROW_CANCELED:
        return TL_ERR_ESCROW_CANCELED;
    case STORE_ESCROW_EXPIRED:
        return TL_ERR_ESCROW_EXPIRED;
    default:
        return now_ns >= e->expires_ns ? TL_ERR_ESCROW_EXPIRED : TL_OK;
    }
}

/*
 * Submits x and maps what the ledger said: TL_OK (moved), TL_ERR_INSUFFICIENT_FUNDS,
 * TL_ERR_NOT_FOUND (a wallet account is missing), or, for a post or void the ledger refused
 * because the hold was resolved (by another request, node or the expiry), the state's 409
 * read back through store. Other refusals are our bug (TL_ERR_INTERNAL, logged).
 */
static enum tl_err escrow_run(struct api_app *app, struct store *store, struct escrow_exec *x,
                              uint32_t timeout_s)
{
    escrow_prepare(x, timeout_s);
    x->kyc = app->kyc;
    enum tl_err err = writer_submit(app->writer, &x->cmd);
    if (err == TL_ERR_TIER_LIMIT && x->hook_err == TL_ERR_TIER_LIMIT) {
        return TL_ERR_TIER_LIMIT; /* x->limit says which; nothing moved */
    }
    if (err != TL_OK) {
        return x->hook_err != TL_OK && err == x->hook_err ? TL_ERR_BUSY : err;
    }
    switch ((enum ledger_result)x->result.result) {
    case LEDGER_OK:
        return TL_OK;
    case LEDGER_EXCEEDS_CREDITS:
        return TL_ERR_INSUFFICIENT_FUNDS;
    case LEDGER_DEBIT_ACCOUNT_NOT_FOUND:
    case LEDGER_CREDIT_ACCOUNT_NOT_FOUND:
        return TL_ERR_NOT_FOUND;
    case LEDGER_PENDING_HAS_EXPIRED:
    case LEDGER_PENDING_ALREADY_EXPIRED:
        return TL_ERR_ESCROW_EXPIRED;
    case LEDGER_EXISTS:
    case LEDGER_EXISTS_WITH_DIFFERENT_FIELDS:
    case LEDGER_PENDING_ALREADY_POSTED:
    case LEDGER_PENDING_ALREADY_VOIDED: {
        struct store_escrow now;
        bool found = false;
        err = store_escrow_get(store, x->row.id, &now, &found);
        if (err != TL_OK) {
            return err;
        }
        err = found ? escrow_state_err(&now, clock_wall_ns()) : TL_ERR_INTERNAL;
        return err == TL_OK ? TL_ERR_INTERNAL : err;
    }
    default:
        LOG(LOG_ERROR, "escrow_refused",
            LOG_STR("result", ledger_result_name((enum ledger_result)x->result.result)));
        return TL_ERR_INTERNAL;
    }
}

static void escrow_exec_init(struct escrow_exec *x, const struct store_escrow *row,
                             enum escrow_action action, struct http_response *resp, int status)
{
    memset(x, 0, sizeof(*x));
    x->row = *row;
    x->action = action;
    x->resp = resp;
    x->idem = resp != NULL ? idempotency_current() : NULL;
    x->status = status;
}

static enum tl_err escrow_users(struct store *reader, struct escrow_exec *x)
{
    bool found = false;
    enum tl_err err = money_cache_user_get(reader, x->row.payer_id, &x->payer, &found);
    if (err == TL_OK && !found) {
        snprintf(x->payer.handle, sizeof(x->payer.handle), "%s", "");
    }
    if (err == TL_OK) {
        err = money_cache_user_get(reader, x->row.payee_id, &x->payee, &found);
    }
    if (err == TL_OK && !found) {
        snprintf(x->payee.handle, sizeof(x->payee.handle), "%s", "");
    }
    return err;
}

/* ---- POST /v1/escrows ---- */

static const struct json_field escrow_fields_text[] = {
    JSON_STRING("to", true, STORE_TO_BYTES_MAX - 1),
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("note", false, STORE_NOTE_BYTES_MAX - 1),
    JSON_STRING("expires_at", false, ESCROW_TIME_BYTES_MAX),
    JSON_INT("expires_in_s", false, 1, TL_PENDING_TIMEOUT_S_MAX),
    JSON_STRING("release", false, 16),
};
static const struct json_field escrow_fields_object[] = {
    JSON_STRING("to", true, STORE_TO_BYTES_MAX - 1),
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("note", false, STORE_NOTE_BYTES_MAX - 1),
    JSON_STRING("expires_at", false, ESCROW_TIME_BYTES_MAX),
    JSON_INT("expires_in_s", false, 1, TL_PENDING_TIMEOUT_S_MAX),
    JSON_OBJECT("release", false),
};
static const struct json_field escrow_fields_release_at[] = {
    JSON_STRING("at", true, ESCROW_TIME_BYTES_MAX),
};

/* A time member of the body ("expires_at", release "at"). */
static enum tl_err escrow_time(struct http_response *resp, const char *text, const char *param,
                               uint64_t *out)
{
    if (recur_time_parse(text, strlen(text), out) != TL_OK) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, param,
                         "must be an RFC 3339 UTC time such as 2026-11-23T05:00:00Z");
    }
    return TL_OK;
}

/* The body, with "release" a string or an object: each has its own field spec. */
static enum tl_err escrow_body(const struct http_request *req, struct http_response *resp,
                               json_t **out)
{
    struct json_error error;
    json_t *body = NULL;
    enum tl_err err = json_body_parse(req->body, req->body_bytes, &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    bool object = json_is_object(json_object_get(body, "release"));
    err = object ? json_body_validate(body, escrow_fields_object,
                                      sizeof(escrow_fields_object) / sizeof(escrow_fields_object[0]),
                                      &error)
                 : json_body_validate(body, escrow_fields_text,
                                      sizeof(escrow_fields_text) / sizeof(escrow_fields_text[0]),
                                      &error);
    if (err == TL_OK && object) {
        err = json_body_validate(json_object_get(body, "release"), escrow_fields_release_at, 1,
                                 &error);
        if (err != TL_OK) {
            snprintf(error.param, sizeof(error.param), "%s", "release");
        }
    }
    if (err != TL_OK) {
        json_decref(body);
        return http_fail(resp, error.err, error.param, error.detail);
    }
    *out = body;
    return TL_OK;
}

/* release and the expiry into row; *timeout_s for the hold. */
static enum tl_err escrow_terms(struct http_response *resp, const json_t *body, uint64_t now_ns,
                                struct store_escrow *row, uint32_t *timeout_s)
{
    const json_t *release = json_object_get(body, "release");
    const char *expires_at = json_field_string(body, "expires_at");
    int64_t expires_in_s = json_field_int(body, "expires_in_s", 0);
    enum tl_err err = TL_OK;
    uint64_t timeout = ESCROW_TTL_S_DEFAULT;
    row->expires_ns = now_ns + timeout * NS_PER_S;
    if (expires_at != NULL && expires_in_s != 0) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "expires_at",
                         "give expires_at or expires_in_s, not both");
    }
    if (expires_in_s != 0) {
        timeout = (uint64_t)expires_in_s;
        row->expires_ns = now_ns + timeout * NS_PER_S;
    } else if (expires_at != NULL) {
        if ((err = escrow_time(resp, expires_at, "expires_at", &row->expires_ns)) != TL_OK) {
            return err;
        }
        if (row->expires_ns <= now_ns ||
            row->expires_ns - now_ns > (uint64_t)TL_PENDING_TIMEOUT_S_MAX * NS_PER_S) {
            return http_fail(resp, TL_ERR_INVALID_REQUEST, "expires_at",
                             "must be in the future and at most 366 days away");
        }
        timeout = (row->expires_ns - now_ns + NS_PER_S - 1) / NS_PER_S;
    }
    *timeout_s = (uint32_t)timeout;
    row->release_mode = STORE_ESCROW_RELEASE_PAYER;
    if (json_is_object(release)) {
        row->release_mode = STORE_ESCROW_RELEASE_AT;
        err = escrow_time(resp, json_string_value(json_object_get(release, "at")), "release",
                          &row->release_at_ns);
        if (err == TL_OK && row->release_at_ns >= row->expires_ns) {
            err = http_fail(resp, TL_ERR_INVALID_REQUEST, "release",
                            "the release time must come before the escrow expires");
        }
    } else if (release != NULL && strcmp(json_string_value(release), "both") == 0) {
        row->release_mode = STORE_ESCROW_RELEASE_BOTH;
    } else if (release != NULL && strcmp(json_string_value(release), "payer") != 0) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "release",
                        "must be \"payer\", \"both\" or {\"at\": time}");
    }
    return err;
}

/* Who is paid, from which wallets; the payee's wallet is opened when missing. */
static enum tl_err escrow_parties(struct http_request *req, struct http_response *resp,
                                  struct store *reader, const char *to, struct escrow_exec *x)
{
    struct auth_fault fault = {NULL, NULL, NULL};
    struct recipient recipient;
    struct store_wallet wallet;
    bool found = false;
    memset(&wallet, 0, sizeof(wallet));
    if (validate_recipient(to, strlen(to), &recipient, &fault) != TL_OK) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "to", fault.detail);
    }
    enum tl_err err = money_cache_user_get(reader, req->principal.user_id, &x->payer, &found);
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_UNAUTHORIZED, NULL, "valid credentials are required");
    }
    err = err == TL_OK ? money_cache_recipient_find(reader, &recipient, &x->payee, &found) : err;
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_RECIPIENT_NOT_FOUND, "to", "nobody matches this recipient");
    }
    if (err == TL_OK && id128_eq(x->payer.id, x->payee.id)) {
        return http_fail(resp, TL_ERR_CANNOT_PAY_SELF, "to", "you cannot pay yourself");
    }
    err = err == TL_OK ? money_cache_wallet_find(reader, x->payer.id, x->row.currency, &wallet,
                                                 &found)
                       : err;
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_WALLET_NOT_FOUND, "currency",
                         "you have no wallet in this currency");
    }
    x->row.payer_wallet = wallet.id;
    err = err == TL_OK ? money_cache_wallet_find(reader, x->payee.id, x->row.currency, &wallet,
                                                 &found)
                       : err;
    if (err == TL_OK && !found) {
        bool created = false;
        err = wallets_open(req->app, x->payee.id, x->row.currency, &wallet, &created);
    }
    x->row.payee_wallet = wallet.id;
    x->row.payer_id = x->payer.id;
    x->row.payee_id = x->payee.id;
    return err;
}

static enum tl_err escrow_row_write(struct api_app *app, const struct store_escrow *row,
                                   bool remove)
{
    struct store *store = NULL;
    enum tl_err err = api_app_store_acquire(app, &store);
    if (err == TL_OK) {
        err = remove ? store_escrow_delete(store, row->id) : store_escrow_create(store, row);
        api_app_store_release(app, store);
    }
    return err;
}

/* Holds the money; a refused hold deletes its row (nothing was held). */
static enum tl_err escrow_hold(struct http_request *req, struct http_response *resp,
                               struct store *reader, struct escrow_exec *x, uint32_t timeout_s)
{
    enum tl_err err = escrow_row_write(req->app, &x->row, false);
    for (int attempt = 0; err == TL_OK && attempt < 2; attempt++) {
        err = escrow_run(req->app, reader, x, timeout_s);
        if (err != TL_ERR_NOT_FOUND || attempt > 0) {
            break;
        }
        /* A wallet row without its ledger account (a crash between them): open it, once. */
        err = accounts_wallet_open(req->app->writer, x->row.payer_wallet, x->row.payer_id,
                                   x->row.currency);
        err = err == TL_OK ? accounts_wallet_open(req->app->writer, x->row.payee_wallet,
                                                  x->row.payee_id, x->row.currency)
                           : err;
    }
    if (err == TL_OK) {
        return TL_OK;
    }
    if (escrow_row_write(req->app, &x->row, true) != TL_OK) {
        LOG(LOG_WARN, "escrow_row_left", LOG_STR("request_id", req->request_id));
    }
    if (err == TL_ERR_INSUFFICIENT_FUNDS || err == TL_ERR_OVERFLOW) {
        return movement_refusal_fail(resp, err);
    }
    if (err == TL_ERR_TIER_LIMIT) {
        return kyc_refusal_fail(resp, &x->limit); /* the payer's send limit */
    }
    return err == TL_ERR_NOT_FOUND ? TL_ERR_INTERNAL : err;
}

/* The gate POST /v1/payments runs (stepup.h): device signature and step-up rules for sending
 * amount to the payee, before anything is written. A device signature is checked and spent;
 * no payment row exists yet to keep it with. */
static enum tl_err escrow_gate(struct http_request *req, struct http_response *resp,
                               const struct escrow_exec *x)
{
    struct stepup_payment gate = {x->row.payee_id, x->row.amount, x->row.currency};
    struct stepup_signed device;
    return stepup_money_gate(req, resp, &gate, &device);
}

enum tl_err escrow_create(struct http_request *req, struct http_response *resp)
{
    static struct escrow_exec x_zero;
    struct escrow_exec x = x_zero;
    const struct money_currency *currency = NULL;
    struct auth_fault fault = {NULL, NULL, NULL};
    struct store *reader = NULL;
    uint32_t timeout_s = 0;
    json_t *body = NULL;
    uint64_t now_ns = clock_wall_ns();
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    enum tl_err err = escrow_body(req, resp, &body);
    if (err != TL_OK) {
        return err;
    }
    const char *note = json_field_string(body, "note");
    err = movement_currency(body, resp, &currency);
    if (err == TL_OK && note != NULL && validate_note(note, strlen(note), &fault) != TL_OK) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "note", fault.detail);
    }
    if (err == TL_OK) {
        x.row.currency = currency->numeric;
        x.row.amount = json_field_int(body, "amount", 0);
        snprintf(x.row.note, sizeof(x.row.note), "%s", note != NULL ? note : "");
        snprintf(x.row.to_text, sizeof(x.row.to_text), "%s", json_field_string(body, "to"));
        err = escrow_terms(resp, body, now_ns, &x.row, &timeout_s);
    }
    err = err == TL_OK ? http_request_store(req, &reader) : err;
    err = err == TL_OK ? escrow_parties(req, resp, reader, json_field_string(body, "to"), &x) : err;
    json_decref(body);
    if (err != TL_OK) {
        return err;
    }
    x.row.id = id128_new();
    x.row.settle_id = id128_new();
    x.row.created_ns = now_ns;
    struct store_escrow row = x.row;
    escrow_exec_init(&x, &row, ESCROW_ACTION_HOLD, resp, 201);
    x.req = req;
    err = escrow_users(reader, &x);
    err = err == TL_OK ? escrow_gate(req, resp, &x) : err;
    return err == TL_OK ? escrow_hold(req, resp, reader, &x, timeout_s) : err;
}

/* ---- GET /v1/escrows/{id}, GET /v1/escrows, and the lookup every action starts with ---- */

static bool escrow_party(const struct store_escrow *e, struct id128 user)
{
    return id128_eq(e->payer_id, user) || id128_eq(e->payee_id, user);
}

static enum tl_err escrow_load(struct http_request *req, struct http_response *resp,
                               struct store **reader, struct store_escrow *row)
{
    const char *text = http_request_param(req, "id");
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), ESCROW_TYPEID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such escrow");
    }
    enum tl_err err = http_request_store(req, reader);
    err = err == TL_OK ? store_escrow_get(*reader, id, row, &found) : err;
    if (err != TL_OK) {
        return err;
    }
    if (!found || !escrow_party(row, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such escrow");
    }
    return TL_OK;
}

enum tl_err escrow_get(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_escrow row;
    enum tl_err err = escrow_load(req, resp, &reader, &row);
    return err == TL_OK ? escrow_send(resp, reader, &row, 200) : err;
}

static enum tl_err escrow_role(const struct http_request *req, struct http_response *resp,
                               enum store_escrow_role *out)
{
    const char *text = http_request_query(req, "role");
    *out = STORE_ESCROW_ROLE_ANY;
    if (text != NULL && strcmp(text, "payer") == 0) {
        *out = STORE_ESCROW_ROLE_PAYER;
    } else if (text != NULL && strcmp(text, "payee") == 0) {
        *out = STORE_ESCROW_ROLE_PAYEE;
    } else if (text != NULL) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "role", "role must be payer or payee");
    }
    return TL_OK;
}

static enum tl_err escrow_cursor(struct http_request *req, struct http_response *resp,
                                 struct store *reader, const struct page_query *query,
                                 struct store_request_page *page)
{
    struct store_escrow row;
    bool found = false;
    memset(page, 0, sizeof(*page));
    page->limit = query->limit;
    if (!query->has_cursor) {
        return TL_OK;
    }
    enum tl_err err = store_escrow_get(reader, query->cursor, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || !escrow_party(&row, req->principal.user_id)) {
        return page_fail_cursor(query, resp);
    }
    if (query->ending_before) {
        page->ending_before = row.id;
    } else {
        page->starting_after = row.id;
    }
    return TL_OK;
}

static enum tl_err escrow_render_list(struct render *r, struct store *reader,
                                      const struct store_escrow *rows, uint32_t count,
                                      bool has_more)
{
    enum tl_err err = TL_OK;
    uint64_t now_ns = clock_wall_ns();
    render_object_begin(r);
    render_key(r, "data");
    render_array_begin(r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        struct money_user payer, payee;
        bool payer_found = false, payee_found = false;
        err = money_cache_user_get(reader, rows[i].payer_id, &payer, &payer_found);
        err = err == TL_OK ? money_cache_user_get(reader, rows[i].payee_id, &payee, &payee_found)
                           : err;
        if (err == TL_OK) {
            escrow_render(r, &rows[i], payer_found ? &payer : NULL, payee_found ? &payee : NULL,
                          now_ns);
        }
    }
    render_array_end(r);
    render_key(r, "has_more");
    render_bool(r, has_more);
    render_object_end(r);
    return err;
}

enum tl_err escrow_list(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    enum store_escrow_role role = STORE_ESCROW_ROLE_ANY;
    struct page_query query;
    struct store_request_page page;
    uint32_t count = 0;
    bool has_more = false;
    enum tl_err err = escrow_role(req, resp, &role);
    err = err == TL_OK ? page_from_request(req, ESCROW_TYPEID_PREFIX, &query, resp) : err;
    err = err == TL_OK ? http_request_store(req, &reader) : err;
    err = err == TL_OK ? escrow_cursor(req, resp, reader, &query, &page) : err;
    if (err != TL_OK) {
        return err;
    }
    struct store_escrow *rows = malloc(query.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_escrows_list(reader, req->principal.user_id, role, &page, rows, &count,
                             &has_more);
    struct render r;
    render_init(&r, &resp->body);
    if (err == TL_OK) {
        err = escrow_render_list(&r, reader, rows, count, has_more);
    }
    free(rows);
    err = err == TL_OK ? render_finish(&r) : err;
    if (err == TL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    return err;
}

/* ---- Release, cancel, approve ---- */

static enum tl_err escrow_fail_state(struct http_response *resp, enum tl_err state)
{
    return http_fail(resp, state, NULL, "the escrow is no longer held");
}

/* Posts (amount > 0) or voids (action CANCEL) the hold of row and answers 200 from the hook. */
static enum tl_err escrow_settle(struct http_request *req, struct http_response *resp,
                                 struct store *reader, const struct store_escrow *row,
                                 enum escrow_action action, int64_t amount)
{
    struct escrow_exec x;
    if (req->app->writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    escrow_exec_init(&x, row, action, resp, 200);
    x.req = req;
    x.amount = amount;
    enum tl_err err = escrow_users(reader, &x);
    err = err == TL_OK ? escrow_run(req->app, reader, &x, 0) : err;
    if (err == TL_ERR_ESCROW_RELEASED || err == TL_ERR_ESCROW_CANCELED ||
        err == TL_ERR_ESCROW_EXPIRED) {
        return escrow_fail_state(resp, err);
    }
    if (err == TL_ERR_BUSY) {
        return http_fail(resp, TL_ERR_BUSY, NULL,
                         "nothing was done; retry with the same Idempotency-Key");
    }
    if (err == TL_ERR_TIER_LIMIT) {
        return kyc_refusal_fail(resp, &x.limit); /* the payee's receive or hold limit */
    }
    return err == TL_ERR_NOT_FOUND ? TL_ERR_INTERNAL : err;
}

static const struct json_field escrow_release_fields[] = {
    JSON_AMOUNT("amount", false),
};

enum tl_err escrow_release(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_escrow row;
    struct json_error error;
    json_t *body = NULL;
    int64_t amount = 0;
    if (req->body_bytes > 0) {
        enum tl_err err = json_body_read(req->body, req->body_bytes, escrow_release_fields, 1,
                                         &body, &error);
        if (err != TL_OK) {
            return http_fail(resp, error.err, error.param, error.detail);
        }
        amount = json_field_int(body, "amount", 0);
        json_decref(body);
    }
    enum tl_err err = escrow_load(req, resp, &reader, &row);
    if (err != TL_OK) {
        return err;
    }
    if (!id128_eq(row.payer_id, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_FORBIDDEN, NULL, "only the payer releases an escrow");
    }
    if ((err = escrow_state_err(&row, clock_wall_ns())) != TL_OK) {
        return escrow_fail_state(resp, err);
    }
    if (row.release_mode == STORE_ESCROW_RELEASE_BOTH) {
        return http_fail(resp, TL_ERR_ESCROW_CONDITION, NULL,
                         "this escrow is released when both parties approve");
    }
    if (amount > row.amount) {
        return http_fail(resp, TL_ERR_INVALID_AMOUNT, "amount",
                         "must not exceed the amount held");
    }
    return escrow_settle(req, resp, reader, &row, ESCROW_ACTION_RELEASE,
                         amount == 0 ? row.amount : amount);
}

/* Who may cancel (escrow.h): the payee always; the payer as the condition allows. */
static enum tl_err escrow_may_cancel(struct http_request *req, struct http_response *resp,
                                     const struct store_escrow *row)
{
    if (id128_eq(row->payee_id, req->principal.user_id)) {
        return TL_OK;
    }
    if (row->release_mode == STORE_ESCROW_RELEASE_AT) {
        return http_fail(resp, TL_ERR_ESCROW_CONDITION, NULL,
                         "the payer cannot cancel an escrow released at a time");
    }
    if (row->release_mode == STORE_ESCROW_RELEASE_BOTH && row->payee_approved_ns != 0) {
        return http_fail(resp, TL_ERR_ESCROW_CONDITION, NULL,
                         "the payee approved the release; only the payee can cancel now");
    }
    return TL_OK;
}

static enum tl_err escrow_empty_body(const struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    json_t *body = NULL;
    if (req->body_bytes == 0) {
        return TL_OK;
    }
    enum tl_err err = json_body_read(req->body, req->body_bytes, NULL, 0, &body, &error);
    json_decref(body);
    return err == TL_OK ? TL_OK : http_fail(resp, error.err, error.param, error.detail);
}

enum tl_err escrow_cancel(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_escrow row;
    enum tl_err err = escrow_empty_body(req, resp);
    err = err == TL_OK ? escrow_load(req, resp, &reader, &row) : err;
    if (err != TL_OK) {
        return err;
    }
    if ((err = escrow_state_err(&row, clock_wall_ns())) != TL_OK) {
        return escrow_fail_state(resp, err);
    }
    err = escrow_may_cancel(req, resp, &row);
    return err == TL_OK ? escrow_settle(req, resp, reader, &row, ESCROW_ACTION_CANCEL, 0) : err;
}

enum tl_err escrow_approve(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store *app = NULL;
    struct store_escrow row;
    bool changed = false, found = false;
    uint64_t now_ns = clock_wall_ns();
    enum tl_err err = escrow_empty_body(req, resp);
    err = err == TL_OK ? escrow_load(req, resp, &reader, &row) : err;
    if (err != TL_OK) {
        return err;
    }
    if ((err = escrow_state_err(&row, now_ns)) != TL_OK) {
        return escrow_fail_state(resp, err);
    }
    if (row.release_mode != STORE_ESCROW_RELEASE_BOTH) {
        return http_fail(resp, TL_ERR_ESCROW_CONDITION, NULL,
                         "only an escrow released by both parties takes approvals");
    }
    if ((err = api_app_store_acquire(req->app, &app)) != TL_OK) {
        return err;
    }
    err = store_escrow_approve(app, row.id, req->principal.user_id, now_ns, &changed);
    /* Read back on the writable handle: a reader may not see this node's write yet. */
    err = err == TL_OK ? store_escrow_get(app, row.id, &row, &found) : err;
    api_app_store_release(req->app, app);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(found);
    if (row.payer_approved_ns != 0 && row.payee_approved_ns != 0 &&
        row.state == STORE_ESCROW_HELD) {
        return escrow_settle(req, resp, reader, &row, ESCROW_ACTION_RELEASE, row.amount);
    }
    return escrow_send(resp, reader, &row, 200);
}

/* ---- Expiry: the writer's sweep voids the hold; its records ride with it ---- */

enum tl_err escrow_on_expired(void *ctx, struct writer_batch *batch,
                              const struct ledger_event *event,
                              const struct ledger_event_result *result)
{
    const struct ledger_transfer *t = &event->as.transfer;
    struct store *store = writer_batch_store(batch);
    struct store_escrow row;
    bool found = false;
    (void)ctx;
    TL_ASSERT(event->kind == LEDGER_EVENT_TRANSFER);
    TL_ASSERT(result->result == LEDGER_OK);
    if (t->code != LEDGER_CODE_HOLD_EXPIRY) {
        return TL_OK;
    }
    enum tl_err err = store_escrow_get(store, t->pending_id, &row, &found);
    if (err != TL_OK || !found) {
        return err; /* found false: a hold that is not an escrow's */
    }
    struct escrow_exec *x = malloc(sizeof(*x));
    if (x == NULL) {
        return TL_ERR_NOMEM;
    }
    escrow_exec_init(x, &row, ESCROW_ACTION_HOLD, NULL, 0);
    x->result = *result;
    x->row.state = STORE_ESCROW_EXPIRED;
    x->row.released_amount = 0;
    err = escrow_users(store, x);
    err = err == TL_OK ? escrow_attach_event(batch, x, EVENTS_TOPIC_ESCROW_EXPIRED, true) : err;
    err = err == TL_OK ? escrow_attach_event(batch, x, EVENTS_TOPIC_ESCROW_EXPIRED, false) : err;
    err = err == TL_OK ? money_records_escrow(batch, NULL, &x->row, AUDIT_ESCROW_EXPIRED,
                                              x->row.amount, result->timestamp)
                       : err;
    free(x);
    if (err != TL_OK) {
        LOG(LOG_WARN, "escrow_expiry_records_failed", LOG_STR("error", tl_err_code(err)));
    }
    return err;
}

/* ---- The scheduler's releases ---- */

enum tl_err escrow_release_due(struct api_app *app, struct store *store, uint64_t now_ns,
                               uint32_t *released)
{
    struct store_escrow *rows = malloc(STORE_PLANS_DUE_MAX * sizeof(*rows));
    uint32_t count = 0;
    *released = 0;
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    enum tl_err err = store_escrows_due(store, now_ns, STORE_PLANS_DUE_MAX, rows, &count);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        struct escrow_exec *x = malloc(sizeof(*x));
        if (x == NULL) {
            err = TL_ERR_NOMEM;
            break;
        }
        escrow_exec_init(x, &rows[i], ESCROW_ACTION_RELEASE, NULL, 200);
        x->amount = rows[i].amount;
        err = escrow_users(store, x);
        err = err == TL_OK ? escrow_run(app, store, x, 0) : err;
        if (err == TL_OK) {
            (*released)++;
        } else if (err == TL_ERR_ESCROW_RELEASED || err == TL_ERR_ESCROW_CANCELED ||
                   err == TL_ERR_ESCROW_EXPIRED) {
            err = TL_OK; /* settled by someone else first (another node, a cancel, expiry) */
        } else if (err == TL_ERR_TIER_LIMIT) {
            /* The payee's limits refuse it now: stays held, tried again on the next pass
             * (a window frees up) until it expires and goes back to the payer. */
            LOG(LOG_INFO, "escrow_release_deferred",
                LOG_STR("limit", limits_kind_name(x->limit.kind)));
            err = TL_OK;
        }
        free(x);
    }
    free(rows);
    return err;
}
