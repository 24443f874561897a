#include "api/page.h"

#include <string.h>

#include "util/assert.h"
#include "util/typeid.h"

static enum tl_err page_fault_set(struct page_fault *fault, const char *param, const char *detail)
{
    fault->param = param;
    fault->detail = detail;
    return TL_ERR_INVALID_REQUEST;
}

/* Decimal digits without sign, spaces or leading zeros, value 1..PAGE_LIMIT_MAX. */
static bool page_limit_parse(const char *text, uint32_t *out)
{
    size_t len = strlen(text);
    if (len == 0 || len > 3 || text[0] == '0') {
        return false;
    }
    uint32_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10u + (uint32_t)(text[i] - '0');
    }
    if (value < 1 || value > PAGE_LIMIT_MAX) {
        return false;
    }
    *out = value;
    return true;
}

enum tl_err page_parse(const char *limit, const char *starting_after, const char *ending_before,
                       const char *cursor_prefix, struct page_query *out, struct page_fault *fault)
{
    struct page_query query = {.limit = PAGE_LIMIT_DEFAULT};
    TL_ASSERT(cursor_prefix != NULL);
    if (limit != NULL && !page_limit_parse(limit, &query.limit)) {
        return page_fault_set(fault, "limit", "limit must be an integer from 1 to 100");
    }
    if (starting_after != NULL && ending_before != NULL) {
        return page_fault_set(fault, "starting_after",
                              "use at most one of starting_after and ending_before");
    }
    const char *cursor = starting_after != NULL ? starting_after : ending_before;
    if (cursor != NULL) {
        query.has_cursor = true;
        query.ending_before = ending_before != NULL;
        query.cursor_param = query.ending_before ? "ending_before" : "starting_after";
        if (typeid_decode(cursor, strlen(cursor), cursor_prefix, &query.cursor, NULL) != TL_OK ||
            id128_is_zero(query.cursor)) {
            return page_fault_set(fault, query.cursor_param,
                                  "must be an id from a previous page of this list");
        }
    }
    *out = query;
    return TL_OK;
}

enum tl_err page_from_request(const struct http_request *req, const char *cursor_prefix,
                              struct page_query *out, struct http_response *resp)
{
    struct page_fault fault = {NULL, NULL};
    enum tl_err err =
        page_parse(http_request_query(req, "limit"), http_request_query(req, "starting_after"),
                   http_request_query(req, "ending_before"), cursor_prefix, out, &fault);
    if (err != TL_OK) {
        return http_fail(resp, err, fault.param, fault.detail);
    }
    return TL_OK;
}

enum tl_err page_fail_cursor(const struct page_query *query, struct http_response *resp)
{
    TL_ASSERT(query->has_cursor);
    return http_fail(resp, TL_ERR_INVALID_REQUEST, query->cursor_param,
                     "must be an id from a previous page of this list");
}
