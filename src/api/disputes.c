#include "api/disputes.h"

#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/json.h"
#include "api/money_records.h"
#include "api/page.h"
#include "api/refunds.h"
#include "api/render.h"
#include "api/reversals.h"
#include "auth/validate.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"

static const char *disputes_outcome(uint8_t status)
{
    switch ((enum store_dispute_status)status) {
    case STORE_DISPUTE_PAYER:
        return "payer";
    case STORE_DISPUTE_PAYEE:
        return "payee";
    case STORE_DISPUTE_OPEN:
        break;
    }
    return NULL;
}

/* One dispute; its reversal (outcome payer) when that has moved the money. */
static enum tl_err disputes_render(struct render *r, struct store *reader,
                                   const struct store_dispute *d)
{
    struct store_refund reversal;
    bool found = false;
    if (!id128_is_zero(d->reversal_id)) {
        enum tl_err err = store_refund_get(reader, d->reversal_id, &reversal, &found);
        if (err != TL_OK) {
            return err;
        }
    }
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_DISPUTE, d->id);
    render_key(r, "payment_id");
    render_typeid(r, TYPEID_PREFIX_PAYMENT, d->payment_id);
    render_key(r, "status");
    render_str(r, d->status == STORE_DISPUTE_OPEN ? "open" : "resolved");
    render_key(r, "outcome");
    render_str_or_null(r, disputes_outcome(d->status));
    render_key(r, "payer_id");
    render_typeid(r, TYPEID_PREFIX_USER, d->payer_id);
    render_key(r, "payee_id");
    render_typeid(r, TYPEID_PREFIX_USER, d->payee_id);
    render_key(r, "reason");
    render_str(r, d->reason);
    render_key(r, "note");
    render_str_or_null(r, d->note[0] != '\0' ? d->note : NULL);
    render_key(r, "reversal");
    if (found && reversal.succeeded) {
        refunds_render_row(r, &reversal);
    } else {
        render_null(r);
    }
    render_key(r, "created_at");
    render_time(r, d->created_ns);
    render_key(r, "resolved_at");
    if (d->resolved_ns != 0) {
        render_time(r, d->resolved_ns);
    } else {
        render_null(r);
    }
    render_object_end(r);
    return TL_OK;
}

static enum tl_err disputes_send_one(struct http_request *req, struct http_response *resp,
                                     const struct store_dispute *d, int status)
{
    struct store *reader = NULL;
    struct render r;
    enum tl_err err = http_request_store(req, &reader);
    if (err != TL_OK) {
        return err;
    }
    buf_reset(&resp->body);
    render_init(&r, &resp->body);
    err = disputes_render(&r, reader, d);
    if (err == TL_OK) {
        err = render_finish(&r);
    }
    if (err == TL_OK) {
        resp->status = status;
        resp->content_type = "application/json";
    }
    return err;
}

/* A required, non-empty text field of at most 280 characters into out. */
static enum tl_err disputes_text(struct http_response *resp, const char *text, const char *name,
                                 char *out, size_t out_bytes)
{
    struct auth_fault fault = {NULL, NULL, NULL};
    if (validate_note(text, strlen(text), &fault) != TL_OK) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, name, fault.detail);
    }
    TL_ASSERT(strlen(text) < out_bytes);
    memcpy(out, text, strlen(text) + 1);
    return TL_OK;
}

/* ---- POST /v1/payments/{id}/disputes ---- */

static const struct json_field disputes_create_fields[] = {
    JSON_STRING("reason", true, STORE_REASON_BYTES_MAX - 1),
};

static enum tl_err disputes_insert(struct http_request *req, struct http_response *resp,
                                   const struct store_dispute *d)
{
    struct store *app_store = NULL;
    enum tl_err err = api_app_store_acquire(req->app, &app_store);
    if (err != TL_OK) {
        return err;
    }
    err = store_dispute_create(app_store, d);
    api_app_store_release(req->app, app_store);
    if (err == TL_ERR_CONFLICT) {
        return http_fail(resp, TL_ERR_DISPUTE_OPEN, NULL,
                         "this payment already has an open dispute");
    }
    return err;
}

enum tl_err disputes_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    json_t *body = NULL;
    struct store_payment payment;
    struct store_dispute d;
    memset(&d, 0, sizeof(d));
    enum tl_err err = json_body_read(
        req->body, req->body_bytes, disputes_create_fields,
        sizeof(disputes_create_fields) / sizeof(disputes_create_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    err = disputes_text(resp, json_field_string(body, "reason"), "reason", d.reason,
                        sizeof(d.reason));
    json_decref(body);
    if (err == TL_OK) {
        err = refunds_payment_of(req, resp, &payment);
    }
    if (err == TL_OK && !id128_eq(payment.from_user, req->principal.user_id)) {
        err = http_fail(resp, TL_ERR_FORBIDDEN, NULL, "only the payer can dispute a payment");
    }
    if (err != TL_OK) {
        return err;
    }
    d.id = id128_new();
    d.payment_id = payment.id;
    d.payer_id = payment.from_user;
    d.payee_id = payment.to_user;
    d.status = STORE_DISPUTE_OPEN;
    d.created_ns = clock_wall_ns();
    err = disputes_insert(req, resp, &d);
    if (err != TL_OK) {
        return err;
    }
    money_records_dispute(req, &d, &payment); /* dispute.opened: audit and events */
    return disputes_send_one(req, resp, &d, 201);
}

/* ---- Lists ---- */

static enum tl_err disputes_page_of(struct http_request *req, struct http_response *resp,
                                    struct store_request_page *page)
{
    struct page_query query;
    enum tl_err err = page_from_request(req, TYPEID_PREFIX_DISPUTE, &query, resp);
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

static enum tl_err disputes_send_list(struct http_request *req, struct http_response *resp,
                                      struct id128 payment_id, uint8_t status,
                                      const struct store_request_page *page)
{
    struct store *reader = NULL;
    uint32_t count = 0;
    bool has_more = false;
    enum tl_err err = http_request_store(req, &reader);
    if (err != TL_OK) {
        return err;
    }
    struct store_dispute *rows = malloc(page->limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_disputes_list(reader, payment_id, status, page, rows, &count, &has_more);
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        err = disputes_render(&r, reader, &rows[i]);
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

enum tl_err disputes_list_payment(struct http_request *req, struct http_response *resp)
{
    struct store_payment payment;
    struct store_request_page page;
    enum tl_err err = disputes_page_of(req, resp, &page);
    if (err == TL_OK) {
        err = refunds_payment_of(req, resp, &payment);
    }
    if (err != TL_OK) {
        return err;
    }
    return disputes_send_list(req, resp, payment.id, 0, &page);
}

enum tl_err disputes_admin_list(struct http_request *req, struct http_response *resp)
{
    struct store_request_page page;
    const char *text = http_request_query(req, "status");
    uint8_t status = 0;
    TL_ASSERT(req->operator);
    if (text != NULL && strcmp(text, "open") == 0) {
        status = STORE_DISPUTE_OPEN;
    } else if (text != NULL && strcmp(text, "resolved") == 0) {
        status = STORE_DISPUTE_RESOLVED_ANY;
    } else if (text != NULL) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "status",
                         "status must be open or resolved");
    }
    enum tl_err err = disputes_page_of(req, resp, &page);
    if (err != TL_OK) {
        return err;
    }
    return disputes_send_list(req, resp, id128_make(0, 0), status, &page);
}

/* ---- GET /v1/disputes/{id} and the resolve's lookup ---- */

/* The {id} dispute; for a user only their own (payer or payee), else 404. */
static enum tl_err disputes_find(struct http_request *req, struct http_response *resp,
                                 struct store_dispute *out)
{
    const char *text = http_request_param(req, "id");
    struct store *reader = NULL;
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), TYPEID_PREFIX_DISPUTE, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such dispute");
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_dispute_get(reader, id, out, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    bool party = req->operator || id128_eq(out->payer_id, req->principal.user_id) ||
                 id128_eq(out->payee_id, req->principal.user_id);
    if (!found || !party) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such dispute");
    }
    return TL_OK;
}

enum tl_err disputes_get(struct http_request *req, struct http_response *resp)
{
    struct store_dispute d;
    enum tl_err err = disputes_find(req, resp, &d);
    if (err != TL_OK) {
        return err;
    }
    return disputes_send_one(req, resp, &d, 200);
}

/* ---- POST /v1/admin/disputes/{id}/resolve ---- */

static const struct json_field disputes_resolve_fields[] = {
    JSON_STRING("outcome", true, 16),
    JSON_STRING("note", false, STORE_REASON_BYTES_MAX - 1),
};

static enum tl_err disputes_resolve_parse(struct http_request *req, struct http_response *resp,
                                          uint8_t *status, char *note, size_t note_bytes)
{
    struct json_error error;
    json_t *body = NULL;
    enum tl_err err = json_body_read(
        req->body, req->body_bytes, disputes_resolve_fields,
        sizeof(disputes_resolve_fields) / sizeof(disputes_resolve_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *outcome = json_field_string(body, "outcome");
    const char *text = json_field_string(body, "note");
    if (strcmp(outcome, "payer") == 0) {
        *status = STORE_DISPUTE_PAYER;
    } else if (strcmp(outcome, "payee") == 0) {
        *status = STORE_DISPUTE_PAYEE;
    } else {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "outcome", "must be payer or payee");
    }
    note[0] = '\0';
    if (err == TL_OK && text != NULL) {
        err = disputes_text(resp, text, "note", note, note_bytes);
    }
    json_decref(body);
    return err;
}

/* Outcome payer: the reversal under the dispute's reversal id, unless it moved already. A
 * payment reversed some other way, or refunded in full, leaves nothing to do. */
static enum tl_err disputes_reverse(struct http_request *req, struct http_response *resp,
                                    const struct store_dispute *d)
{
    struct store *reader = NULL;
    struct store_payment payment;
    struct store_refund row;
    bool found = false;
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_refund_get(reader, d->reversal_id, &row, &found);
    }
    if (err != TL_OK || (found && row.succeeded)) {
        return err;
    }
    err = store_payment_get(reader, d->payment_id, &payment, &found);
    if (err == TL_OK && !found) {
        return TL_ERR_CORRUPT; /* a dispute names a payment that always exists */
    }
    if (err == TL_OK) {
        err = reversals_run(req, resp, &payment, d->reversal_id, d->reason, d->id, false, &row);
    }
    if (err == TL_ERR_PAYMENT_REVERSED || err == TL_ERR_REFUND_EXCEEDS_PAYMENT) {
        /* The payer has everything back already: not an error of the resolution. */
        resp->problem_param[0] = '\0';
        resp->problem_detail[0] = '\0';
        err = TL_OK;
    }
    return err;
}

/* dispute.resolved (audit and events) for the resolution this request made. */
static void disputes_resolved_records(struct http_request *req, const struct store_dispute *d)
{
    struct store *reader = NULL;
    struct store_payment payment;
    bool found = false;
    enum tl_err err = http_request_store(req, &reader);
    err = err == TL_OK ? store_payment_get(reader, d->payment_id, &payment, &found) : err;
    if (err != TL_OK || !found) {
        LOG(LOG_WARN, "dispute_records_failed", LOG_STR("request_id", req->request_id),
            LOG_STR("error", tl_err_code(err != TL_OK ? err : TL_ERR_CORRUPT)));
        return;
    }
    money_records_dispute(req, d, &payment);
}

enum tl_err disputes_resolve(struct http_request *req, struct http_response *resp)
{
    struct store_dispute d;
    struct store *app_store = NULL;
    char note[STORE_REASON_BYTES_MAX];
    uint8_t status = 0;
    bool resolved = false;
    TL_ASSERT(req->operator);
    enum tl_err err = disputes_resolve_parse(req, resp, &status, note, sizeof(note));
    if (err == TL_OK) {
        err = disputes_find(req, resp, &d);
    }
    if (err == TL_OK && d.status == STORE_DISPUTE_OPEN) {
        struct id128 reversal_id = status == STORE_DISPUTE_PAYER ? id128_new() : id128_make(0, 0);
        err = api_app_store_acquire(req->app, &app_store);
        if (err == TL_OK) {
            err = store_dispute_resolve(app_store, d.id, status, note, reversal_id,
                                        clock_wall_ns(), &resolved);
            api_app_store_release(req->app, app_store);
        }
        if (err == TL_OK) {
            err = disputes_find(req, resp, &d); /* ours, or the one that won */
        }
    }
    if (err != TL_OK) {
        return err;
    }
    if (d.status != status) {
        return http_fail(resp, TL_ERR_DISPUTE_RESOLVED, "outcome",
                         "this dispute was resolved with the other outcome");
    }
    if (status == STORE_DISPUTE_PAYER) {
        err = disputes_reverse(req, resp, &d);
    }
    if (err != TL_OK) {
        return err;
    }
    if (resolved) {
        disputes_resolved_records(req, &d); /* this request resolved it: once */
    }
    return disputes_send_one(req, resp, &d, 200);
}
