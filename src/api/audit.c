#include "api/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/json.h"
#include "api/page.h"
#include "api/render.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/typeid.h"

static_assert(TL_REQUEST_ID_BYTES_MAX < STORE_AUDIT_REQUEST_ID_BYTES_MAX, "a request id fits");

void audit_record(struct http_request *req, struct id128 user_id, const char *action,
                  const char *subject)
{
    struct store_audit entry;
    struct store *store = NULL;
    TL_ASSERT(action != NULL);
    TL_ASSERT(strlen(action) < sizeof(entry.action));
    TL_ASSERT(subject != NULL);
    memset(&entry, 0, sizeof(entry));
    entry.id = id128_new();
    entry.user_id = user_id;
    entry.created_ns = clock_wall_ns();
    snprintf(entry.action, sizeof(entry.action), "%s", action);
    snprintf(entry.subject, sizeof(entry.subject), "%s", subject);
    snprintf(entry.request_id, sizeof(entry.request_id), "%s", req->request_id);
    snprintf(entry.ip, sizeof(entry.ip), "%s", req->client_ip);
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err == TL_OK) {
        err = store_audit_append(store, &entry);
        api_app_store_release(req->app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_ERROR, "audit_append_failed", LOG_STR("request_id", req->request_id),
            LOG_STR("action", action), LOG_STR("cause", tl_err_code(err)));
    }
}

static json_t *audit_json(const struct store_audit *entry)
{
    char id[TYPEID_STR_BYTES];
    char created_at[RENDER_TIME_BYTES];
    typeid_encode(AUDIT_TYPEID_PREFIX, entry->id, id);
    render_time_text(entry->created_ns, created_at);
    json_t *subject = entry->subject[0] != '\0' ? json_string(entry->subject) : json_null();
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "id", id, "action", entry->action,
                     "created_at", created_at, "subject", subject, "request_id", entry->request_id,
                     "ip", entry->ip);
}

enum tl_err audit_list(struct http_request *req, struct http_response *resp)
{
    struct page_query query;
    struct store_audit_page page;
    struct store *reader = NULL;
    uint32_t count = 0;
    bool has_more = false;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = page_from_request(req, AUDIT_TYPEID_PREFIX, &query, resp);
    if (err == TL_OK) {
        err = http_request_store(req, &reader);
    }
    if (err != TL_OK) {
        return err;
    }
    memset(&page, 0, sizeof(page));
    page.limit = query.limit;
    if (query.has_cursor && query.ending_before) {
        page.ending_before = query.cursor;
    } else if (query.has_cursor) {
        page.starting_after = query.cursor;
    }
    struct store_audit *rows = malloc(query.limit * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_audit_list(reader, req->principal.user_id, &page, rows, &count, &has_more);
    json_t *data = err == TL_OK ? json_array() : NULL;
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        if (data == NULL || json_array_append_new(data, audit_json(&rows[i])) != 0) {
            err = TL_ERR_NOMEM;
        }
    }
    free(rows);
    if (err != TL_OK) {
        json_decref(data);
        return err;
    }
    return http_response_json(resp, 200,
                              json_pack("{s:o, s:b}", "data", data, "has_more", has_more));
}
