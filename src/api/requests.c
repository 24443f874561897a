#include "api/requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/events.h"
#include "api/json.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "api/page.h"
#include "api/payments.h"
#include "api/render.h"
#include "auth/validate.h"
#include "core/money.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/typeid.h"

#define NS_PER_S 1000000000ull
#define REQUESTS_TTL_S_DEFAULT (7u * 86400u)

/* ---- State and rendering ---- */

/* The state a client sees at now_ns: TL_OK for open, else the 409 a state change answers. */
static enum tl_err requests_state(const struct store_request *r, uint64_t now_ns,
                                  const char **name)
{
    if (r->paid) {
        *name = "paid";
        return TL_ERR_REQUEST_PAID;
    }
    if (r->status == STORE_REQUEST_DECLINED) {
        *name = "declined";
        return TL_ERR_REQUEST_DECLINED;
    }
    if (r->status == STORE_REQUEST_CANCELED) {
        *name = "canceled";
        return TL_ERR_REQUEST_CANCELED;
    }
    TL_ASSERT(r->status == STORE_REQUEST_OPEN);
    if (now_ns >= r->expires_ns) {
        *name = "expired";
        return TL_ERR_REQUEST_EXPIRED;
    }
    *name = "open";
    return TL_OK;
}

static void requests_render_party(struct render *r, struct id128 id, const struct money_user *u)
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

static void requests_render_time_or_null(struct render *r, const char *key, uint64_t ns)
{
    render_key(r, key);
    if (ns == 0) {
        render_null(r);
    } else {
        render_time(r, ns);
    }
}

static enum tl_err requests_render(struct render *r, struct store *reader,
                                   const struct store_request *row, uint64_t now_ns)
{
    struct money_user requester;
    struct money_user payer;
    bool requester_found = false;
    bool payer_found = false;
    const char *state = NULL;
    const struct money_currency *currency = money_currency_by_numeric(row->currency);
    enum tl_err err = money_cache_user_get(reader, row->requester_id, &requester,
                                           &requester_found);
    if (err == TL_OK) {
        err = money_cache_user_get(reader, row->payer_id, &payer, &payer_found);
    }
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(currency != NULL);
    (void)requests_state(row, now_ns, &state);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, REQUESTS_TYPEID_PREFIX, row->id);
    render_key(r, "status");
    render_str(r, state);
    render_key(r, "amount");
    render_i64(r, row->amount);
    render_key(r, "currency");
    render_str(r, currency->code);
    render_key(r, "note");
    render_str_or_null(r, row->note[0] != '\0' ? row->note : NULL);
    render_key(r, "requester");
    requests_render_party(r, row->requester_id, requester_found ? &requester : NULL);
    render_key(r, "payer");
    requests_render_party(r, row->payer_id, payer_found ? &payer : NULL);
    render_key(r, "split_id");
    if (id128_is_zero(row->split_id)) {
        render_null(r);
    } else {
        render_typeid(r, SPLITS_TYPEID_PREFIX, row->split_id);
    }
    render_key(r, "payment_id");
    if (row->paid) {
        render_typeid(r, TYPEID_PREFIX_PAYMENT, row->payment_id);
    } else {
        render_null(r);
    }
    render_key(r, "created_at");
    render_time(r, row->created_ns);
    render_key(r, "expires_at");
    render_time(r, row->expires_ns);
    requests_render_time_or_null(r, "paid_at", row->paid ? row->paid_ns : 0);
    requests_render_time_or_null(r, "closed_at", row->paid ? 0 : row->closed_ns);
    render_object_end(r);
    return TL_OK;
}

static enum tl_err requests_send(struct http_response *resp, struct render *r, int status)
{
    enum tl_err err = render_finish(r);
    if (err == TL_OK) {
        resp->status = status;
        resp->content_type = "application/json";
    }
    return err;
}

/* ---- Shared parsing: who is asked, the note, the TTL ---- */

/* The user a text names ("@handle", "+E164", email), who must not be the caller. */
static enum tl_err requests_user(struct http_request *req, struct http_response *resp,
                                 struct store *reader, const char *text, const char *param,
                                 struct money_user *out)
{
    struct auth_fault fault = {NULL, NULL, NULL};
    struct recipient recipient;
    bool found = false;
    if (validate_recipient(text, strlen(text), &recipient, &fault) != TL_OK) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, param, fault.detail);
    }
    enum tl_err err = money_cache_recipient_find(reader, &recipient, out, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_RECIPIENT_NOT_FOUND, param, "nobody matches this user");
    }
    if (id128_eq(out->id, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_CANNOT_REQUEST_SELF, param,
                         "you cannot ask yourself for money");
    }
    return TL_OK;
}

static enum tl_err requests_note(struct http_response *resp, const char *note, char *out,
                                 size_t out_bytes)
{
    struct auth_fault fault = {NULL, NULL, NULL};
    size_t len = note != NULL ? strlen(note) : 0;
    if (note != NULL && validate_note(note, len, &fault) != TL_OK) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "note", fault.detail);
    }
    TL_ASSERT(len < out_bytes);
    memcpy(out, note != NULL ? note : "", len + 1);
    return TL_OK;
}

/* A new open request from the caller to payer; the caller fills amount and currency. */
static void requests_row_init(const struct http_request *req, struct store_request *row,
                              const struct money_user *payer, const char *from_text,
                              uint64_t now_ns)
{
    const struct config *config = req->app->config;
    uint64_t ttl_s = config != NULL ? config->requests_ttl_s : REQUESTS_TTL_S_DEFAULT;
    memset(row, 0, sizeof(*row));
    row->id = id128_new();
    row->requester_id = req->principal.user_id;
    row->payer_id = payer->id;
    row->payment_id = id128_new();
    row->status = STORE_REQUEST_OPEN;
    row->created_ns = now_ns;
    row->expires_ns = now_ns + ttl_s * NS_PER_S;
    snprintf(row->from_text, sizeof(row->from_text), "%s", from_text);
}

/* ---- Notifications: outbox rows that commit with the request rows they announce ---- */

/* The events of one change to a split's requests at most: one for each party of each. */
struct requests_events {
    struct buf payloads[STORE_REQUEST_EVENTS_MAX];
    struct store_outbox_new rows[STORE_REQUEST_EVENTS_MAX];
    uint32_t count;
};

static void requests_events_init(struct requests_events *e)
{
    for (uint32_t i = 0; i < STORE_REQUEST_EVENTS_MAX; i++) {
        buf_init(&e->payloads[i], EVENTS_PAYLOAD_BYTES_MAX);
    }
    e->count = 0;
}

static void requests_events_free(struct requests_events *e)
{
    for (uint32_t i = 0; i < STORE_REQUEST_EVENTS_MAX; i++) {
        buf_free(&e->payloads[i]);
    }
}

static void requests_event_party(struct render *r, const char *key, const struct money_user *u)
{
    render_key(r, key);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_USER, u->id);
    render_key(r, "handle");
    render_str(r, u->handle);
    render_object_end(r);
}

/*
 * Adds topic for both parties of row (the payer first): {request_id, split_id, role, amount,
 * currency, requester, payer, expires_at}; ids, amounts and handles only, never the note.
 */
static enum tl_err requests_events_add(struct requests_events *e, const char *topic,
                                       const struct store_request *row,
                                       const struct money_user *requester,
                                       const struct money_user *payer, uint64_t now_ns)
{
    const struct money_currency *currency = money_currency_by_numeric(row->currency);
    TL_ASSERT(currency != NULL);
    TL_ASSERT(e->count + 2 <= STORE_REQUEST_EVENTS_MAX);
    for (uint32_t side = 0; side < 2; side++) {
        const struct money_user *user = side == 0 ? payer : requester;
        struct buf *out = &e->payloads[e->count];
        struct render r;
        buf_reset(out);
        render_init(&r, out);
        events_render_open(&r, topic, user->id, now_ns);
        render_key(&r, "request_id");
        render_typeid(&r, REQUESTS_TYPEID_PREFIX, row->id);
        render_key(&r, "split_id");
        if (id128_is_zero(row->split_id)) {
            render_null(&r);
        } else {
            render_typeid(&r, SPLITS_TYPEID_PREFIX, row->split_id);
        }
        render_key(&r, "role");
        render_str(&r, side == 0 ? "payer" : "requester");
        render_key(&r, "amount");
        render_i64(&r, row->amount);
        render_key(&r, "currency");
        render_str(&r, currency->code);
        requests_event_party(&r, "requester", requester);
        requests_event_party(&r, "payer", payer);
        render_key(&r, "expires_at");
        render_time(&r, row->expires_ns);
        enum tl_err err = events_render_close(&r);
        if (err != TL_OK) {
            return err;
        }
        e->rows[e->count] = (struct store_outbox_new){
            .key = user->id, .topic = topic, .data = out->data, .data_bytes = (uint32_t)out->len};
        e->count++;
    }
    return TL_OK;
}

/* The payment_request.created events of rows (every row is the caller's, to its payer). */
static enum tl_err requests_events_created(struct http_request *req, struct store *reader,
                                           const struct store_request *rows, uint32_t count,
                                           struct requests_events *e)
{
    struct money_user requester;
    struct money_user payer;
    bool found = false;
    enum tl_err err = money_cache_user_get(reader, req->principal.user_id, &requester, &found);
    if (err == TL_OK && !found) {
        err = TL_ERR_NOT_FOUND;
    }
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        err = money_cache_user_get(reader, rows[i].payer_id, &payer, &found);
        if (err == TL_OK && !found) {
            err = TL_ERR_NOT_FOUND; /* resolved a moment ago: only a deleted user */
        }
        if (err == TL_OK) {
            err = requests_events_add(e, REQUESTS_EVENT_CREATED, &rows[i], &requester, &payer,
                                      rows[i].created_ns);
        }
    }
    return err;
}

/* The payment_request.declined or .canceled events of closing row at now_ns. */
static enum tl_err requests_events_closed(struct store *reader, const struct store_request *row,
                                          uint8_t status, uint64_t now_ns,
                                          struct requests_events *e)
{
    struct money_user requester;
    struct money_user payer;
    bool found_requester = false;
    bool found_payer = false;
    enum tl_err err = money_cache_user_get(reader, row->requester_id, &requester, &found_requester);
    if (err == TL_OK) {
        err = money_cache_user_get(reader, row->payer_id, &payer, &found_payer);
    }
    if (err == TL_OK && (!found_requester || !found_payer)) {
        err = TL_ERR_NOT_FOUND;
    }
    if (err == TL_OK) {
        err = requests_events_add(e,
                                  status == STORE_REQUEST_DECLINED ? REQUESTS_EVENT_DECLINED
                                                                   : REQUESTS_EVENT_CANCELED,
                                  row, &requester, &payer, now_ns);
    }
    return err;
}

static enum tl_err requests_store(struct http_request *req, const struct store_request *rows,
                                  uint32_t count)
{
    struct store *app = NULL;
    struct store *reader = NULL;
    struct requests_events *events = malloc(sizeof(*events));
    if (events == NULL) {
        return TL_ERR_NOMEM;
    }
    requests_events_init(events);
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = requests_events_created(req, reader, rows, count, events);
    }
    if (err == TL_OK) {
        err = api_app_store_acquire(req->app, &app);
    }
    if (err != TL_OK) {
        requests_events_free(events);
        free(events);
        return err;
    }
    err = store_requests_create(app, rows, count, events->rows, events->count);
    requests_events_free(events);
    free(events);
    api_app_store_release(req->app, app);
    if (err == TL_OK) {
        audit_record_requests(req, rows, count); /* best effort, after the rows exist */
    }
    return err;
}

/* ---- POST /v1/payment_requests ---- */

static const struct json_field requests_fields[] = {
    JSON_STRING("from", true, STORE_TO_BYTES_MAX - 1),
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("note", false, STORE_NOTE_BYTES_MAX - 1),
};

enum tl_err requests_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    struct store_request row;
    struct money_user payer;
    const struct money_currency *currency = NULL;
    struct store *reader = NULL;
    char note[STORE_NOTE_BYTES_MAX];
    json_t *body = NULL;
    enum tl_err err = json_body_read(req->body, req->body_bytes, requests_fields,
                                     sizeof(requests_fields) / sizeof(requests_fields[0]), &body,
                                     &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *from = json_field_string(body, "from");
    err = movement_currency(body, resp, &currency);
    if (err == TL_OK) {
        err = requests_note(resp, json_field_string(body, "note"), note, sizeof(note));
    }
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err == TL_OK) {
        err = requests_user(req, resp, reader, from, "from", &payer);
    }
    if (err == TL_OK) {
        requests_row_init(req, &row, &payer, from, clock_wall_ns());
        row.amount = json_field_int(body, "amount", 0);
        row.currency = currency->numeric;
        memcpy(row.note, note, sizeof(note));
        err = requests_store(req, &row, 1);
    }
    json_decref(body);
    if (err != TL_OK) {
        return err;
    }
    struct render r;
    render_init(&r, &resp->body);
    err = requests_render(&r, reader, &row, row.created_ns);
    return err == TL_OK ? requests_send(resp, &r, 201) : err;
}

/* ---- GET /v1/payment_requests/{id} and the lookup every action starts with ---- */

/* The request in the path, if the caller is a party to it; else 404 like a missing one. */
static enum tl_err requests_load(struct http_request *req, struct http_response *resp,
                                 struct store **reader, struct store_request *row)
{
    const char *text = http_request_param(req, "id");
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), REQUESTS_TYPEID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment request");
    }
    enum tl_err err = http_request_store(req, reader);
    if (err == TL_OK) {
        err = store_request_get(*reader, id, row, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found || (!id128_eq(row->payer_id, req->principal.user_id) &&
                   !id128_eq(row->requester_id, req->principal.user_id))) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such payment request");
    }
    return TL_OK;
}

enum tl_err requests_get(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_request row;
    enum tl_err err = requests_load(req, resp, &reader, &row);
    if (err != TL_OK) {
        return err;
    }
    struct render r;
    render_init(&r, &resp->body);
    err = requests_render(&r, reader, &row, clock_wall_ns());
    return err == TL_OK ? requests_send(resp, &r, 200) : err;
}

/* ---- GET /v1/payment_requests ---- */

static enum tl_err requests_role(const struct http_request *req, struct http_response *resp,
                                 enum store_request_role *out)
{
    const char *text = http_request_query(req, "role");
    if (text == NULL) {
        *out = STORE_REQUEST_ROLE_ANY;
    } else if (strcmp(text, "payer") == 0) {
        *out = STORE_REQUEST_ROLE_PAYER;
    } else if (strcmp(text, "requester") == 0) {
        *out = STORE_REQUEST_ROLE_REQUESTER;
    } else {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "role", "role must be payer or requester");
    }
    return TL_OK;
}

static enum tl_err requests_cursor(struct http_request *req, struct http_response *resp,
                                   struct store *reader, const struct page_query *query,
                                   struct store_request_page *page)
{
    struct store_request row;
    bool found = false;
    memset(page, 0, sizeof(*page));
    page->limit = query->limit;
    if (!query->has_cursor) {
        return TL_OK;
    }
    enum tl_err err = store_request_get(reader, query->cursor, &row, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || (!id128_eq(row.payer_id, req->principal.user_id) &&
                   !id128_eq(row.requester_id, req->principal.user_id))) {
        return page_fail_cursor(query, resp);
    }
    if (query->ending_before) {
        page->ending_before = row.id;
    } else {
        page->starting_after = row.id;
    }
    return TL_OK;
}

enum tl_err requests_list(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    enum store_request_role role = STORE_REQUEST_ROLE_ANY;
    struct page_query query;
    struct store_request_page page;
    uint32_t count = 0;
    bool has_more = false;
    enum tl_err err = requests_role(req, resp, &role);
    if (err == TL_OK) {
        err = page_from_request(req, REQUESTS_TYPEID_PREFIX, &query, resp);
    }
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err == TL_OK) {
        err = requests_cursor(req, resp, reader, &query, &page);
    }
    if (err != TL_OK) {
        return err;
    }
    struct store_request *rows = malloc(query.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_requests_list(reader, req->principal.user_id, role, &page, rows, &count,
                              &has_more);
    uint64_t now_ns = clock_wall_ns();
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        err = requests_render(&r, reader, &rows[i], now_ns);
    }
    render_array_end(&r);
    render_key(&r, "has_more");
    render_bool(&r, has_more);
    render_object_end(&r);
    free(rows);
    return err == TL_OK ? requests_send(resp, &r, 200) : err;
}

/* ---- POST /v1/payment_requests/{id}/pay ---- */

/* The 409 for a request that is not open (re-read after a claim or close found it changed). */
static enum tl_err requests_fail_state(struct http_response *resp, enum tl_err state)
{
    static const char *const detail = "the payment request is no longer open";
    return http_fail(resp, state, NULL, detail);
}

static enum tl_err requests_claim(struct http_request *req, struct http_response *resp,
                                  struct store *reader, struct store_request *row,
                                  uint64_t now_ns)
{
    struct store *app = NULL;
    bool claimed = false;
    bool found = false;
    const char *state = NULL;
    enum tl_err err = api_app_store_acquire(req->app, &app);
    if (err != TL_OK) {
        return err;
    }
    err = store_request_claim(app, row->id, req->principal.user_id, now_ns, &claimed);
    api_app_store_release(req->app, app);
    if (err != TL_OK || claimed) {
        return err;
    }
    /* Something changed since the row was read: say what. */
    err = store_request_get(reader, row->id, row, &found);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(found);
    enum tl_err state_err = requests_state(row, now_ns, &state);
    return requests_fail_state(resp, state_err != TL_OK ? state_err : TL_ERR_REQUEST_PAID);
}

static void requests_unclaim(struct http_request *req, const struct store_request *row,
                             uint64_t claim_ns)
{
    struct store *app = NULL;
    if (api_app_store_acquire(req->app, &app) != TL_OK) {
        return; /* the claim goes stale on its own */
    }
    (void)store_request_unclaim(app, row->id, claim_ns);
    api_app_store_release(req->app, app);
}

/* The claim of a request being paid, for requests_paid. */
struct requests_paid {
    struct store_request row;
    uint64_t claim_ns;
};

/* The payment's after hook (payments_order): a refusal moved nothing, so the request stays open
 * for another try; a 5xx may have moved money (the commit's answer was lost), so its claim is
 * left to go stale. Frees ctx. */
static void requests_paid(struct http_request *req, enum tl_err err, void *ctx)
{
    struct requests_paid *paid = ctx;
    int status = tl_err_http_status(err);
    if (err != TL_OK && err != TL_ERR_REQUEST_PAID && status >= 400 && status < 500) {
        requests_unclaim(req, &paid->row, paid->claim_ns);
    }
    free(paid);
}

enum tl_err requests_pay(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_request row;
    struct money_user requester;
    bool found = false;
    const char *state = NULL;
    char to_text[STORE_HANDLE_BYTES_MAX + 1];
    enum tl_err err = requests_load(req, resp, &reader, &row);
    if (err != TL_OK) {
        return err;
    }
    if (!id128_eq(row.payer_id, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_FORBIDDEN, NULL, "only the payer can pay a request");
    }
    uint64_t now_ns = clock_wall_ns();
    enum tl_err state_err = requests_state(&row, now_ns, &state);
    if (state_err != TL_OK) {
        return requests_fail_state(resp, state_err);
    }
    err = money_cache_user_get(reader, row.requester_id, &requester, &found);
    if (err == TL_OK && !found) {
        err = http_fail(resp, TL_ERR_RECIPIENT_NOT_FOUND, NULL, "the requester no longer exists");
    }
    if (err == TL_OK) {
        err = requests_claim(req, resp, reader, &row, now_ns);
    }
    if (err != TL_OK) {
        return err;
    }
    struct requests_paid *paid = malloc(sizeof(*paid));
    if (paid == NULL) {
        requests_unclaim(req, &row, now_ns);
        return TL_ERR_NOMEM;
    }
    paid->row = row;
    paid->claim_ns = now_ns;
    snprintf(to_text, sizeof(to_text), "@%s", requester.handle);
    struct payments_order order = {row.payment_id, row.requester_id, row.amount, row.currency,
                                   to_text,        row.note,         TL_ERR_REQUEST_PAID,
                                   requests_paid,  paid};
    return payments_create_order(req, resp, &order); /* may park; requests_paid runs at its end */
}

/* ---- POST /v1/payment_requests/{id}/decline and /cancel ---- */

static enum tl_err requests_close(struct http_request *req, struct http_response *resp,
                                  uint8_t status)
{
    struct store *reader = NULL;
    struct store *app = NULL;
    struct store_request row;
    const char *state = NULL;
    bool closed = false;
    bool found = false;
    enum tl_err err = requests_load(req, resp, &reader, &row);
    if (err != TL_OK) {
        return err;
    }
    struct id128 actor = status == STORE_REQUEST_DECLINED ? row.payer_id : row.requester_id;
    if (!id128_eq(actor, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_FORBIDDEN, NULL,
                         status == STORE_REQUEST_DECLINED
                             ? "only the payer can decline a request"
                             : "only the requester can cancel a request");
    }
    uint64_t now_ns = clock_wall_ns();
    enum tl_err state_err = requests_state(&row, now_ns, &state);
    if (state_err != TL_OK) {
        return requests_fail_state(resp, state_err);
    }
    struct requests_events *events = malloc(sizeof(*events));
    if (events == NULL) {
        return TL_ERR_NOMEM;
    }
    requests_events_init(events);
    err = requests_events_closed(reader, &row, status, now_ns, events);
    if (err == TL_OK) {
        err = api_app_store_acquire(req->app, &app);
    }
    if (err == TL_OK) {
        err = store_request_close(app, row.id, actor, status, now_ns,
                                  now_ns - (uint64_t)REQUESTS_CLAIM_STALE_S * NS_PER_S,
                                  events->rows, events->count, &closed);
        api_app_store_release(req->app, app);
    }
    requests_events_free(events);
    free(events);
    if (err == TL_OK) {
        err = store_request_get(reader, row.id, &row, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(found);
    if (!closed) {
        state_err = requests_state(&row, now_ns, &state);
        return state_err != TL_OK
                   ? requests_fail_state(resp, state_err)
                   : http_fail(resp, TL_ERR_REQUEST_PROCESSING, NULL,
                               "the request is being paid right now; try again shortly");
    }
    struct render r;
    render_init(&r, &resp->body);
    err = requests_render(&r, reader, &row, now_ns);
    return err == TL_OK ? requests_send(resp, &r, 200) : err;
}

enum tl_err requests_decline(struct http_request *req, struct http_response *resp)
{
    return requests_close(req, resp, STORE_REQUEST_DECLINED);
}

enum tl_err requests_cancel(struct http_request *req, struct http_response *resp)
{
    return requests_close(req, resp, STORE_REQUEST_CANCELED);
}

/* ---- POST /v1/splits ---- */

static const struct json_field splits_fields[] = {
    JSON_AMOUNT("total", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("note", false, STORE_NOTE_BYTES_MAX - 1),
    JSON_STRING("mode", true, 16),
    JSON_ARRAY("participants", true, STORE_REQUESTS_CREATE_MAX),
};

static const struct json_field splits_participant_fields[] = {
    JSON_STRING("user", true, STORE_TO_BYTES_MAX - 1),
    JSON_AMOUNT("share", false),
};

/* The shares of total among count participants, equal mode: total / count each, the remainder
 * one minor unit each to the first participants in the order given. */
static enum tl_err splits_equal(struct http_response *resp, int64_t total, uint32_t count,
                                int64_t *shares)
{
    int64_t base = total / count;
    int64_t remainder = total % count;
    if (base == 0) {
        return http_fail(resp, TL_ERR_INVALID_AMOUNT, "total",
                         "the total is too small to give every participant a share");
    }
    for (uint32_t i = 0; i < count; i++) {
        shares[i] = base + ((int64_t)i < remainder ? 1 : 0);
    }
    return TL_OK;
}

/* One participant: a user other than the caller and the others, with a share in custom mode. */
static enum tl_err splits_participant(struct http_request *req, struct http_response *resp,
                                      struct store *reader, const json_t *item, bool custom,
                                      struct money_user *user, int64_t *share)
{
    struct json_error error;
    if (!json_is_object(item)) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "participants",
                         "each participant must be an object {user, share?}");
    }
    enum tl_err err = json_body_validate(
        item, splits_participant_fields,
        sizeof(splits_participant_fields) / sizeof(splits_participant_fields[0]), &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, "participants", error.detail);
    }
    bool has_share = json_object_get(item, "share") != NULL;
    if (has_share != custom) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "participants",
                         custom ? "custom mode needs a share for every participant"
                                : "equal mode takes no shares");
    }
    *share = has_share ? json_field_int(item, "share", 0) : 0;
    return requests_user(req, resp, reader, json_field_string(item, "user"), "participants",
                         user);
}

struct splits_input {
    int64_t total;
    const struct money_currency *currency;
    char note[STORE_NOTE_BYTES_MAX];
    bool custom;
    uint32_t count;
    struct money_user users[STORE_REQUESTS_CREATE_MAX];
    int64_t shares[STORE_REQUESTS_CREATE_MAX];
    const char *texts[STORE_REQUESTS_CREATE_MAX]; /* borrowed from the body */
};

static enum tl_err splits_participants(struct http_request *req, struct http_response *resp,
                                       struct store *reader, const json_t *list,
                                       struct splits_input *in)
{
    int64_t sum = 0;
    in->count = (uint32_t)json_array_size(list);
    TL_ASSERT(in->count >= 1);
    TL_ASSERT(in->count <= STORE_REQUESTS_CREATE_MAX);
    for (uint32_t i = 0; i < in->count; i++) {
        const json_t *item = json_array_get(list, i);
        enum tl_err err = splits_participant(req, resp, reader, item, in->custom, &in->users[i],
                                             &in->shares[i]);
        if (err != TL_OK) {
            return err;
        }
        in->texts[i] = json_field_string(item, "user");
        for (uint32_t j = 0; j < i; j++) {
            if (id128_eq(in->users[j].id, in->users[i].id)) {
                return http_fail(resp, TL_ERR_INVALID_REQUEST, "participants",
                                 "a participant is listed twice");
            }
        }
        if (in->custom && !money_add(sum, in->shares[i], &sum)) {
            return http_fail(resp, TL_ERR_SHARES_MISMATCH, "participants",
                             "the shares must sum exactly to the total");
        }
    }
    if (!in->custom) {
        return splits_equal(resp, in->total, in->count, in->shares);
    }
    if (sum != in->total) {
        return http_fail(resp, TL_ERR_SHARES_MISMATCH, "participants",
                         "the shares must sum exactly to the total");
    }
    return TL_OK;
}

static enum tl_err splits_parse(struct http_request *req, struct http_response *resp,
                                struct store *reader, const json_t *body, struct splits_input *in)
{
    const char *mode = json_field_string(body, "mode");
    in->total = json_field_int(body, "total", 0);
    enum tl_err err = movement_currency(body, resp, &in->currency);
    if (err == TL_OK && strcmp(mode, "equal") != 0 && strcmp(mode, "custom") != 0) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "mode", "mode must be equal or custom");
    }
    in->custom = strcmp(mode, "custom") == 0;
    if (err == TL_OK) {
        err = requests_note(resp, json_field_string(body, "note"), in->note, sizeof(in->note));
    }
    if (err == TL_OK) {
        err = splits_participants(req, resp, reader, json_object_get(body, "participants"), in);
    }
    return err;
}

static enum tl_err splits_render(struct render *r, struct store *reader,
                                 const struct splits_input *in, const struct store_request *rows,
                                 struct id128 split_id)
{
    enum tl_err err = TL_OK;
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, SPLITS_TYPEID_PREFIX, split_id);
    render_key(r, "total");
    render_i64(r, in->total);
    render_key(r, "currency");
    render_str(r, in->currency->code);
    render_key(r, "mode");
    render_str(r, in->custom ? "custom" : "equal");
    render_key(r, "note");
    render_str_or_null(r, in->note[0] != '\0' ? in->note : NULL);
    render_key(r, "requests");
    render_array_begin(r);
    for (uint32_t i = 0; err == TL_OK && i < in->count; i++) {
        err = requests_render(r, reader, &rows[i], rows[i].created_ns);
    }
    render_array_end(r);
    render_object_end(r);
    return err;
}

enum tl_err splits_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    struct store *reader = NULL;
    json_t *body = NULL;
    struct splits_input *in = calloc(1, sizeof(*in));
    struct store_request *rows = calloc(STORE_REQUESTS_CREATE_MAX, sizeof(*rows));
    enum tl_err err = in != NULL && rows != NULL ? TL_OK : TL_ERR_NOMEM;
    if (err == TL_OK) {
        err = json_body_read(req->body, req->body_bytes, splits_fields,
                             sizeof(splits_fields) / sizeof(splits_fields[0]), &body, &error);
        if (err != TL_OK) {
            err = http_fail(resp, error.err, error.param, error.detail);
        }
    }
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err == TL_OK) {
        err = splits_parse(req, resp, reader, body, in);
    }
    struct id128 split_id = id128_new();
    uint64_t now_ns = clock_wall_ns();
    for (uint32_t i = 0; err == TL_OK && i < in->count; i++) {
        requests_row_init(req, &rows[i], &in->users[i], in->texts[i], now_ns);
        rows[i].amount = in->shares[i];
        rows[i].currency = in->currency->numeric;
        rows[i].split_id = split_id;
        memcpy(rows[i].note, in->note, sizeof(in->note));
    }
    if (err == TL_OK) {
        err = requests_store(req, rows, in->count);
    }
    struct render r;
    render_init(&r, &resp->body);
    if (err == TL_OK) {
        err = splits_render(&r, reader, in, rows, split_id);
    }
    if (err == TL_OK) {
        err = requests_send(resp, &r, 201);
    }
    json_decref(body);
    free(rows);
    free(in);
    return err;
}
