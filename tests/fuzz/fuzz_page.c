// fuzz-sources: src/api/page.c src/util/typeid.c
// fuzz-args: -max_len=256
/*
 * fuzz_page.c - libFuzzer target for page_parse, the list query (limit, starting_after,
 * ending_before) every list endpoint shares.
 *
 * The input is a flags byte then up to three values separated by NUL bytes (query values are C
 * strings): bit 0 says limit is present, bit 1 starting_after, bit 2 ending_before, bit 3 picks
 * the payment or the transfer prefix. Properties checked, beyond "no crash":
 *   - the only answers are TL_OK and TL_ERR_INVALID_REQUEST; a rejection names one of the three
 *     parameters with a non-empty detail and leaves *out untouched;
 *   - the verdict agrees with a reference written here from docs/api.md: limit absent (20) or
 *     ^[1-9][0-9]*$ with value 1..100; never both cursors; a cursor is accepted exactly when
 *     typeid_parse takes it with the list's prefix and a non-zero id;
 *   - an accepted query has limit in 1..100, has_cursor iff one cursor was given, the right
 *     cursor_param, and a cursor that re-encodes to exactly the value sent;
 *   - the first 16 bytes read as an id make a cursor that is accepted with either name.
 * page_from_request and page_fail_cursor are not exercised (they only forward to the HTTP
 * layer), so the two HTTP functions page.c links against are stubs that abort.
 * Build and run with tests/fuzz/run.sh.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/page.h"
#include "util/assert.h"
#include "util/typeid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* page.c's HTTP wrappers are never called here. */
const char *http_request_query(const struct http_request *req, const char *name)
{
    (void)req;
    (void)name;
    abort();
}

enum tl_err http_fail(struct http_response *resp, enum tl_err err, const char *param,
                      const char *detail)
{
    (void)resp;
    (void)err;
    (void)param;
    (void)detail;
    abort();
}

static bool ref_limit(const char *s, uint32_t *out)
{
    uint64_t value = 0;
    if (s[0] < '1' || s[0] > '9') {
        return false;
    }
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        value = value * 10 + (uint64_t)(s[i] - '0');
        if (value > 100) {
            return false;
        }
    }
    *out = (uint32_t)value;
    return true;
}

static bool ref_cursor(const char *s, const char *prefix, struct id128 *id)
{
    size_t prefix_len = 0;
    size_t len = strlen(s);
    if (typeid_parse(s, len, &prefix_len, id, NULL) != TL_OK) {
        return false;
    }
    return prefix_len == strlen(prefix) && memcmp(s, prefix, prefix_len) == 0 &&
           !id128_is_zero(*id);
}

static void check_query(const char *limit, const char *after, const char *before,
                        const char *prefix)
{
    struct page_query q;
    struct page_fault fault = {NULL, NULL};
    memset(&q, 0x5a, sizeof q);
    struct page_query marker = q;

    enum tl_err err = page_parse(limit, after, before, prefix, &q, &fault);

    uint32_t want_limit = PAGE_LIMIT_DEFAULT;
    struct id128 want_id = {0, 0};
    const char *cursor = after != NULL ? after : before;
    bool ok = (limit == NULL || ref_limit(limit, &want_limit)) &&
              !(after != NULL && before != NULL) &&
              (cursor == NULL || ref_cursor(cursor, prefix, &want_id));
    TL_ASSERT((err == TL_OK) == ok);
    if (err != TL_OK) {
        TL_ASSERT(err == TL_ERR_INVALID_REQUEST);
        TL_ASSERT(memcmp(&q, &marker, sizeof q) == 0);
        TL_ASSERT(fault.param != NULL && fault.detail != NULL && fault.detail[0] != '\0');
        TL_ASSERT(strcmp(fault.param, "limit") == 0 || strcmp(fault.param, "starting_after") == 0 ||
                  strcmp(fault.param, "ending_before") == 0);
        return;
    }
    TL_ASSERT(q.limit >= 1 && q.limit <= PAGE_LIMIT_MAX);
    TL_ASSERT(q.limit == want_limit);
    TL_ASSERT(!(after != NULL && before != NULL));
    TL_ASSERT(q.has_cursor == (cursor != NULL));
    if (!q.has_cursor) {
        return;
    }
    TL_ASSERT(q.ending_before == (before != NULL));
    TL_ASSERT(strcmp(q.cursor_param, q.ending_before ? "ending_before" : "starting_after") == 0);
    TL_ASSERT(id128_eq(q.cursor, want_id));
    TL_ASSERT(!id128_is_zero(q.cursor));
    char again[TYPEID_STR_BYTES];
    size_t len = typeid_encode(prefix, q.cursor, again);
    TL_ASSERT(len == strlen(cursor));
    TL_ASSERT(memcmp(again, cursor, len) == 0);
}

/* Up to three NUL-separated values out of data, copied into one NUL-terminated buffer. */
static char buf[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > sizeof buf - 4) {
        return 0;
    }
    uint8_t flags = data[0];
    memcpy(buf, data + 1, size - 1);
    memset(buf + size - 1, 0, 4);
    const char *values[3] = {NULL, NULL, NULL};
    const char *p = buf;
    const char *end = buf + size - 1;
    for (int i = 0; i < 3; i++) {
        values[i] = p;
        p += strlen(p);
        if (p < end) {
            p++;
        }
    }
    const char *prefix = flags & 8 ? TYPEID_PREFIX_TRANSFER : TYPEID_PREFIX_PAYMENT;
    const char *limit = flags & 1 ? values[0] : NULL;
    const char *after = flags & 2 ? values[1] : NULL;
    const char *before = flags & 4 ? values[2] : NULL;
    check_query(limit, after, before, prefix);
    /* The same values with each cursor alone, so both-cursor inputs still reach decoding. */
    if (after != NULL && before != NULL) {
        check_query(limit, after, NULL, prefix);
        check_query(limit, NULL, before, prefix);
    }

    if (size - 1 >= 16) {
        struct id128 id = {0, 0};
        for (size_t i = 0; i < 8; i++) {
            id.hi = id.hi << 8 | data[1 + i];
            id.lo = id.lo << 8 | data[9 + i];
        }
        if (!id128_is_zero(id)) {
            char cursor[TYPEID_STR_BYTES];
            typeid_encode(prefix, id, cursor);
            check_query(NULL, cursor, NULL, prefix);
            check_query(NULL, NULL, cursor, prefix);
            check_query("100", cursor, cursor, prefix);
        }
    }
    return 0;
}
