/*
 * page.h - the list query every list endpoint shares: limit, starting_after, ending_before.
 *
 * docs/api.md: limit is 1..PAGE_LIMIT_MAX (default PAGE_LIMIT_DEFAULT), at most one of
 * starting_after / ending_before, each an id from a previous page. Anything else is
 * 400 invalid_request naming the parameter. The list module then turns the cursor id into the
 * store's timestamp cursor (an id the caller cannot see, or of the wrong kind, is 400 too).
 *
 * Pure parsing: no I/O, no allocation. Never: accept a cursor it did not decode completely.
 */
#ifndef TL_API_PAGE_H
#define TL_API_PAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "util/err.h"
#include "util/id128.h"
#include "util/limits.h"

#define PAGE_LIMIT_DEFAULT 20u
#define PAGE_LIMIT_MAX TL_PAGE_LIMIT_MAX

static_assert(PAGE_LIMIT_DEFAULT <= PAGE_LIMIT_MAX, "default within max");

struct page_query {
    uint32_t limit;           /* 1..PAGE_LIMIT_MAX */
    bool has_cursor;          /* one of the two cursors was given */
    bool ending_before;       /* the cursor is ending_before (else starting_after) */
    const char *cursor_param; /* "starting_after" or "ending_before": for the problem param */
    struct id128 cursor;      /* decoded cursor id when has_cursor */
};

/* What a bad query was: the parameter at fault and a sentence. */
struct page_fault {
    const char *param;
    const char *detail;
};

/*
 * Parses the raw query values (NULL = absent). cursor_prefix is the TypeID prefix of the list's
 * ids (TYPEID_PREFIX_PAYMENT, TYPEID_PREFIX_TRANSFER). TL_OK with *out filled, or
 * TL_ERR_INVALID_REQUEST with *fault set (out untouched).
 */
enum tl_err page_parse(const char *limit, const char *starting_after, const char *ending_before,
                       const char *cursor_prefix, struct page_query *out, struct page_fault *fault);

/* page_parse on req's query string; on error records the problem with http_fail. */
enum tl_err page_from_request(const struct http_request *req, const char *cursor_prefix,
                              struct page_query *out, struct http_response *resp);

/* The 400 for a cursor that names nothing the caller may page from. Returns the error. */
enum tl_err page_fail_cursor(const struct page_query *query, struct http_response *resp);

#endif
