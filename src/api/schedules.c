#include "api/schedules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/json.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "api/page.h"
#include "api/render.h"
#include "auth/validate.h"
#include "core/recur.h"
#include "store/plans.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/typeid.h"

#define SCHEDULES_TIME_BYTES_MAX 64

static_assert((int)RECUR_ONCE == (int)STORE_SCHEDULE_ONCE, "one numbering of repeats");
static_assert((int)RECUR_WEEKLY == (int)STORE_SCHEDULE_WEEKLY, "one numbering of repeats");
static_assert((int)RECUR_MONTHLY == (int)STORE_SCHEDULE_MONTHLY, "one numbering of repeats");
static_assert((int)RECUR_EVERY_SECONDS == (int)STORE_SCHEDULE_EVERY_SECONDS,
              "one numbering of repeats");
static_assert(SCHEDULES_OCCURRENCES_SHOWN <= TL_PAGE_LIMIT_MAX, "one store read");

static const char *const schedules_repeat_names[] = {"", "none", "weekly", "monthly",
                                                     "every_seconds"};

/* ---- Rendering ---- */

static void schedules_render_time_or_null(struct render *r, const char *key, uint64_t ns)
{
    render_key(r, key);
    if (ns == 0) {
        render_null(r);
    } else {
        render_time(r, ns);
    }
}

static void schedules_render_occurrences(struct render *r, const struct store_occurrence *occ,
                                         uint32_t count)
{
    static const char *const names[] = {"", "running", "succeeded", "skipped"};
    render_key(r, "occurrences");
    render_array_begin(r);
    for (uint32_t i = 0; i < count; i++) {
        render_object_begin(r);
        render_key(r, "index");
        render_i64(r, occ[i].index);
        render_key(r, "due_at");
        render_time(r, occ[i].due_ns);
        render_key(r, "status");
        render_str(r, names[occ[i].status]);
        render_key(r, "payment_id");
        if (occ[i].status == STORE_OCCURRENCE_SUCCEEDED) {
            render_typeid(r, TYPEID_PREFIX_PAYMENT, occ[i].payment_id);
        } else {
            render_null(r);
        }
        render_key(r, "reason");
        render_str_or_null(r, occ[i].reason[0] != '\0' ? occ[i].reason : NULL);
        schedules_render_time_or_null(r, "executed_at", occ[i].done_ns);
        render_object_end(r);
    }
    render_array_end(r);
}

/* occ: the occurrences to show (GET of one), or NULL (lists). */
static void schedules_render(struct render *r, const struct store_schedule *s,
                             const struct money_user *to, const struct store_occurrence *occ,
                             uint32_t occ_count)
{
    const struct money_currency *currency = money_currency_by_numeric(s->currency);
    TL_ASSERT(currency != NULL);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, SCHEDULES_TYPEID_PREFIX, s->id);
    render_key(r, "status");
    render_str(r, s->canceled_ns != 0 ? "canceled" : s->next_due_ns == 0 ? "completed" : "active");
    render_key(r, "amount");
    render_i64(r, s->amount);
    render_key(r, "currency");
    render_str(r, currency->code);
    render_key(r, "note");
    render_str_or_null(r, s->note[0] != '\0' ? s->note : NULL);
    render_key(r, "to");
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_USER, s->to_user);
    render_key(r, "handle");
    render_str_or_null(r, to != NULL ? to->handle : NULL);
    render_key(r, "display_name");
    render_str_or_null(r, to != NULL ? to->display_name : NULL);
    render_object_end(r);
    render_key(r, "repeat");
    render_str(r, schedules_repeat_names[s->repeat]);
    render_key(r, "interval_s");
    if (s->interval_s != 0) {
        render_i64(r, s->interval_s);
    } else {
        render_null(r);
    }
    render_key(r, "start_at");
    render_time(r, s->start_ns);
    schedules_render_time_or_null(r, "end_at", s->end_ns);
    render_key(r, "end_after_count");
    if (s->end_count != 0) {
        render_i64(r, s->end_count);
    } else {
        render_null(r);
    }
    schedules_render_time_or_null(r, "next_run_at", s->canceled_ns != 0 ? 0 : s->next_due_ns);
    render_key(r, "runs_claimed");
    render_i64(r, s->next_index);
    render_key(r, "created_at");
    render_time(r, s->created_ns);
    schedules_render_time_or_null(r, "canceled_at", s->canceled_ns);
    if (occ != NULL) {
        schedules_render_occurrences(r, occ, occ_count);
    }
    render_object_end(r);
}

/* One schedule as its payer sees it (with occurrences when with_occurrences). */
static enum tl_err schedules_send(struct http_response *resp, struct store *reader,
                                  const struct store_schedule *s, bool with_occurrences,
                                  int status)
{
    struct store_occurrence *occ = NULL;
    struct money_user to;
    uint32_t count = 0;
    bool found = false;
    enum tl_err err = money_cache_user_get(reader, s->to_user, &to, &found);
    if (err == TL_OK && with_occurrences) {
        occ = malloc(SCHEDULES_OCCURRENCES_SHOWN * sizeof(*occ));
        err = occ == NULL ? TL_ERR_NOMEM
                          : store_occurrences_list(reader, s->id, occ,
                                                   SCHEDULES_OCCURRENCES_SHOWN, &count);
    }
    if (err == TL_OK) {
        struct render r;
        buf_reset(&resp->body);
        render_init(&r, &resp->body);
        schedules_render(&r, s, found ? &to : NULL, with_occurrences ? occ : NULL, count);
        err = render_finish(&r);
    }
    free(occ);
    if (err == TL_OK) {
        resp->status = status;
        resp->content_type = "application/json";
    }
    return err;
}

/* ---- POST /v1/scheduled_payments ---- */

static const struct json_field schedules_fields[] = {
    JSON_STRING("to", true, STORE_TO_BYTES_MAX - 1),
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 64),
    JSON_STRING("note", false, STORE_NOTE_BYTES_MAX - 1),
    JSON_STRING("start_at", true, SCHEDULES_TIME_BYTES_MAX),
    JSON_STRING("repeat", true, 16),
    JSON_INT("interval_s", false, 1, SCHEDULES_INTERVAL_S_MAX),
    JSON_INT("end_after_count", false, 1, SCHEDULES_COUNT_MAX),
    JSON_STRING("end_at", false, SCHEDULES_TIME_BYTES_MAX),
};

static enum tl_err schedules_time(struct http_response *resp, const char *text,
                                  const char *param, uint64_t *out)
{
    if (recur_time_parse(text, strlen(text), out) != TL_OK) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, param,
                         "must be an RFC 3339 UTC time such as 2026-11-23T05:00:00Z");
    }
    return TL_OK;
}

/* repeat, interval_s, start_at, end_at, end_after_count into s. */
static enum tl_err schedules_rule(const struct http_request *req, struct http_response *resp,
                                  const json_t *body, struct store_schedule *s)
{
    const struct config *config = req->app->config;
    const char *repeat = json_field_string(body, "repeat");
    const char *end_at = json_field_string(body, "end_at");
    bool tests = config != NULL && config->schedules_test_intervals;
    s->repeat = 0;
    for (uint8_t i = STORE_SCHEDULE_ONCE; i <= STORE_SCHEDULE_EVERY_SECONDS; i++) {
        if (strcmp(repeat, schedules_repeat_names[i]) == 0) {
            s->repeat = i;
        }
    }
    if (s->repeat == 0 || (s->repeat == STORE_SCHEDULE_EVERY_SECONDS && !tests)) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "repeat",
                         "must be \"none\", \"weekly\" or \"monthly\"");
    }
    s->interval_s = (uint32_t)json_field_int(body, "interval_s", 0);
    if ((s->repeat == STORE_SCHEDULE_EVERY_SECONDS) != (s->interval_s != 0)) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "interval_s",
                         "interval_s goes with repeat \"every_seconds\" only, and it needs one");
    }
    s->end_count = (uint32_t)json_field_int(body, "end_after_count", 0);
    enum tl_err err = schedules_time(resp, json_field_string(body, "start_at"), "start_at",
                                     &s->start_ns);
    if (err == TL_OK && end_at != NULL) {
        err = schedules_time(resp, end_at, "end_at", &s->end_ns);
        if (err == TL_OK && s->end_ns < s->start_ns) {
            err = http_fail(resp, TL_ERR_INVALID_REQUEST, "end_at", "must not be before start_at");
        }
    }
    s->next_due_ns = s->start_ns;
    return err;
}

/* The payee (not the caller) and the payer's wallet in the currency. */
static enum tl_err schedules_parties(struct http_request *req, struct http_response *resp,
                                     struct store *reader, const char *to,
                                     struct store_schedule *s)
{
    struct auth_fault fault = {NULL, NULL, NULL};
    struct recipient recipient;
    struct money_user payee;
    struct store_wallet wallet;
    bool found = false;
    if (validate_recipient(to, strlen(to), &recipient, &fault) != TL_OK) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "to", fault.detail);
    }
    enum tl_err err = money_cache_recipient_find(reader, &recipient, &payee, &found);
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_RECIPIENT_NOT_FOUND, "to", "nobody matches this recipient");
    }
    if (err == TL_OK && id128_eq(payee.id, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_CANNOT_PAY_SELF, "to", "you cannot pay yourself");
    }
    err = err == TL_OK ? money_cache_wallet_find(reader, req->principal.user_id, s->currency,
                                                 &wallet, &found)
                       : err;
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_WALLET_NOT_FOUND, "currency",
                         "you have no wallet in this currency");
    }
    s->to_user = payee.id;
    return err;
}

static enum tl_err schedules_parse(struct http_request *req, struct http_response *resp,
                                   struct store *reader, struct store_schedule *s)
{
    struct json_error error;
    struct auth_fault fault = {NULL, NULL, NULL};
    const struct money_currency *currency = NULL;
    json_t *body = NULL;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, schedules_fields,
                       sizeof(schedules_fields) / sizeof(schedules_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *note = json_field_string(body, "note");
    err = movement_currency(body, resp, &currency);
    if (err == TL_OK && note != NULL && validate_note(note, strlen(note), &fault) != TL_OK) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "note", fault.detail);
    }
    if (err == TL_OK) {
        s->currency = currency->numeric;
        s->amount = json_field_int(body, "amount", 0);
        snprintf(s->note, sizeof(s->note), "%s", note != NULL ? note : "");
        snprintf(s->to_text, sizeof(s->to_text), "%s", json_field_string(body, "to"));
        err = schedules_rule(req, resp, body, s);
    }
    err = err == TL_OK ? schedules_parties(req, resp, reader, json_field_string(body, "to"), s)
                       : err;
    json_decref(body);
    return err;
}

enum tl_err schedules_create(struct http_request *req, struct http_response *resp)
{
    struct store_schedule s;
    struct store *reader = NULL;
    struct store *app = NULL;
    memset(&s, 0, sizeof(s));
    enum tl_err err = http_request_store(req, &reader);
    err = err == TL_OK ? schedules_parse(req, resp, reader, &s) : err;
    if (err != TL_OK) {
        return err;
    }
    s.id = id128_new();
    s.user_id = req->principal.user_id;
    s.created_ns = clock_wall_ns();
    if ((err = api_app_store_acquire(req->app, &app)) != TL_OK) {
        return err;
    }
    err = store_schedule_create(app, &s);
    api_app_store_release(req->app, app);
    return err == TL_OK ? schedules_send(resp, reader, &s, false, 201) : err;
}

/* ---- GET one, GET list, DELETE ---- */

static enum tl_err schedules_load(struct http_request *req, struct http_response *resp,
                                  struct store *store, struct store_schedule *s)
{
    const char *text = http_request_param(req, "id");
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), SCHEDULES_TYPEID_PREFIX, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such scheduled payment");
    }
    enum tl_err err = store_schedule_get(store, id, s, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(s->user_id, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such scheduled payment");
    }
    return TL_OK;
}

enum tl_err schedules_get(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_schedule s;
    enum tl_err err = http_request_store(req, &reader);
    err = err == TL_OK ? schedules_load(req, resp, reader, &s) : err;
    return err == TL_OK ? schedules_send(resp, reader, &s, true, 200) : err;
}

enum tl_err schedules_cancel(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store *app = NULL;
    struct store_schedule s;
    bool canceled = false;
    enum tl_err err = http_request_store(req, &reader);
    if (err != TL_OK || (err = api_app_store_acquire(req->app, &app)) != TL_OK) {
        return err;
    }
    /* Read and change on the writable handle, so the answer shows this cancel. */
    err = schedules_load(req, resp, app, &s);
    err = err == TL_OK ? store_schedule_cancel(app, s.id, s.user_id, clock_wall_ns(), &canceled)
                       : err;
    bool found = false;
    err = err == TL_OK ? store_schedule_get(app, s.id, &s, &found) : err;
    api_app_store_release(req->app, app);
    if (err != TL_OK) {
        return err;
    }
    if (!canceled) {
        return http_fail(resp, TL_ERR_SCHEDULE_CANCELED, NULL,
                         "the scheduled payment was canceled already");
    }
    return schedules_send(resp, reader, &s, false, 200);
}

static enum tl_err schedules_cursor(struct http_request *req, struct http_response *resp,
                                    struct store *reader, const struct page_query *query,
                                    struct store_request_page *page)
{
    struct store_schedule s;
    bool found = false;
    memset(page, 0, sizeof(*page));
    page->limit = query->limit;
    if (!query->has_cursor) {
        return TL_OK;
    }
    enum tl_err err = store_schedule_get(reader, query->cursor, &s, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(s.user_id, req->principal.user_id)) {
        return page_fail_cursor(query, resp);
    }
    if (query->ending_before) {
        page->ending_before = s.id;
    } else {
        page->starting_after = s.id;
    }
    return TL_OK;
}

enum tl_err schedules_list(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct page_query query;
    struct store_request_page page;
    uint32_t count = 0;
    bool has_more = false;
    enum tl_err err = page_from_request(req, SCHEDULES_TYPEID_PREFIX, &query, resp);
    err = err == TL_OK ? http_request_store(req, &reader) : err;
    err = err == TL_OK ? schedules_cursor(req, resp, reader, &query, &page) : err;
    if (err != TL_OK) {
        return err;
    }
    struct store_schedule *rows = malloc(query.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_schedules_list(reader, req->principal.user_id, &page, rows, &count, &has_more);
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        struct money_user to;
        bool found = false;
        err = money_cache_user_get(reader, rows[i].to_user, &to, &found);
        if (err == TL_OK) {
            schedules_render(&r, &rows[i], found ? &to : NULL, NULL, 0);
        }
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
