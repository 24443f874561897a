#include "api/router.h"

#include <stdbool.h>
#include <string.h>

#include "util/assert.h"

static bool router_unreserved(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Length of the segment starting at s (up to the next '/' or the end). */
static size_t router_segment_length(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && s[n] != '/') {
        n++;
    }
    return n;
}

static bool router_is_param(const char *segment, size_t length)
{
    return length >= 3 && segment[0] == '{' && segment[length - 1] == '}';
}

/* Captures a path segment into a {param}; false when it is not an acceptable value. */
static bool router_capture(const char *pattern_segment, size_t pattern_length, const char *segment,
                           size_t length, struct http_param *out)
{
    if (length == 0 || length > TL_ROUTE_PARAM_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (!router_unreserved(segment[i])) {
            return false;
        }
    }
    out->name = pattern_segment + 1;
    out->name_len = pattern_length - 2;
    memcpy(out->value, segment, length);
    out->value[length] = '\0';
    return true;
}

/* Does path match pattern? Fills params (may be partly written on failure). */
static bool router_pattern_match(const char *pattern, const char *path, struct http_param *params,
                                 uint32_t *param_count)
{
    *param_count = 0;
    if (pattern[0] != '/' || path[0] != '/') {
        return false;
    }
    if (strcmp(pattern, "/") == 0 || strcmp(path, "/") == 0) {
        return strcmp(pattern, path) == 0;
    }
    while (*pattern == '/' && *path == '/') {
        pattern++;
        path++;
        size_t pattern_length = router_segment_length(pattern);
        size_t length = router_segment_length(path);
        if (router_is_param(pattern, pattern_length)) {
            if (*param_count >= TL_ROUTE_PARAMS_MAX ||
                !router_capture(pattern, pattern_length, path, length, &params[*param_count])) {
                return false;
            }
            (*param_count)++;
        } else if (length != pattern_length || memcmp(pattern, path, length) != 0) {
            return false;
        }
        pattern += pattern_length;
        path += length;
    }
    return *pattern == '\0' && *path == '\0';
}

/* Methods listed in Allow, in this order. */
static const enum http_method router_allow_order[] = {
    HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS};

static void router_allow_text(unsigned methods, char *out, size_t out_bytes)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(router_allow_order) / sizeof(router_allow_order[0]); i++) {
        enum http_method m = router_allow_order[i];
        if ((methods & (1u << m)) == 0) {
            continue;
        }
        int n = snprintf(out + used, out_bytes - used, "%s%s", used > 0 ? ", " : "",
                         http_method_name(m));
        TL_ASSERT(n > 0 && (size_t)n < out_bytes - used);
        used += (size_t)n;
    }
}

enum router_outcome router_match(const struct route *table, size_t route_count,
                                 enum http_method method, const char *path,
                                 struct router_match *out)
{
    unsigned allowed = 0;
    TL_ASSERT(table != NULL);
    TL_ASSERT(path != NULL);
    memset(out, 0, sizeof(*out));
    if (strlen(path) > TL_ROUTE_PATH_BYTES_MAX) {
        return ROUTER_NOT_FOUND;
    }
    enum http_method wanted = method == HTTP_HEAD ? HTTP_GET : method;
    for (size_t i = 0; i < route_count; i++) {
        struct http_param params[TL_ROUTE_PARAMS_MAX];
        uint32_t param_count = 0;
        if (!router_pattern_match(table[i].pattern, path, params, &param_count)) {
            continue;
        }
        if (table[i].method == wanted && method != HTTP_METHOD_OTHER) {
            out->route_index = i;
            memcpy(out->params, params, sizeof(params));
            out->param_count = param_count;
            return ROUTER_FOUND;
        }
        allowed |= 1u << table[i].method;
        if (table[i].method == HTTP_GET) {
            allowed |= 1u << HTTP_HEAD;
        }
    }
    if (allowed == 0) {
        return ROUTER_NOT_FOUND;
    }
    router_allow_text(allowed, out->allow, sizeof(out->allow));
    return ROUTER_METHOD_NOT_ALLOWED;
}

static void router_pattern_check(const char *pattern)
{
    uint32_t segments = 0;
    uint32_t params = 0;
    TL_ASSERT(pattern != NULL);
    TL_ASSERT(pattern[0] == '/');
    TL_ASSERT(strlen(pattern) <= TL_ROUTE_PATH_BYTES_MAX);
    if (strcmp(pattern, "/") == 0) {
        return;
    }
    for (const char *p = pattern; *p == '/';) {
        p++;
        size_t length = router_segment_length(p);
        TL_ASSERT(length > 0); /* no "//" and no trailing slash */
        if (router_is_param(p, length)) {
            for (size_t i = 1; i + 1 < length; i++) {
                TL_ASSERT((p[i] >= 'a' && p[i] <= 'z') || p[i] == '_');
            }
            params++;
        } else {
            for (size_t i = 0; i < length; i++) {
                TL_ASSERT(router_unreserved(p[i]));
            }
        }
        segments++;
        p += length;
        TL_ASSERT(*p == '/' || *p == '\0');
    }
    TL_ASSERT(segments <= TL_ROUTE_SEGMENTS_MAX);
    TL_ASSERT(params <= TL_ROUTE_PARAMS_MAX);
}

static void router_name_check(const char *name)
{
    TL_ASSERT(name != NULL);
    TL_ASSERT(name[0] != '\0');
    for (const char *p = name; *p != '\0'; p++) {
        TL_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.');
    }
}

/*
 * Would a row with pattern earlier, listed first, take every path that later matches? Then
 * later is dead: "/v1/users/{id}" before "/v1/users/me", or "/a/{x}" before "/a/{y}". Both
 * patterns are already checked well formed.
 */
static bool router_pattern_shadows(const char *earlier, const char *later)
{
    if (strcmp(earlier, "/") == 0 || strcmp(later, "/") == 0) {
        return strcmp(earlier, later) == 0;
    }
    while (*earlier == '/' && *later == '/') {
        earlier++;
        later++;
        size_t earlier_length = router_segment_length(earlier);
        size_t later_length = router_segment_length(later);
        bool covered = router_is_param(earlier, earlier_length) ||
                       (!router_is_param(later, later_length) && earlier_length == later_length &&
                        memcmp(earlier, later, later_length) == 0);
        if (!covered) {
            return false;
        }
        earlier += earlier_length;
        later += later_length;
    }
    return *earlier == '\0' && *later == '\0';
}

void router_table_check(const struct route *table, size_t route_count)
{
    TL_ASSERT(table != NULL);
    TL_ASSERT(route_count <= TL_ROUTES_MAX);
    for (size_t j = 0; j < route_count; j++) {
        const struct route *r = &table[j];
        TL_ASSERT(r->method != HTTP_METHOD_OTHER);
        TL_ASSERT(r->method != HTTP_HEAD); /* GET rows answer HEAD */
        TL_ASSERT(r->handler != NULL);
        TL_ASSERT((unsigned)r->limit < ROUTE_LIMIT_COUNT);
        TL_ASSERT((r->flags & ~(ROUTE_AUTH | ROUTE_IDEMPOTENT | ROUTE_OPERATOR)) == 0);
        /* An operator route is authenticated by the operator token, never by a session, and
         * only under /v1/admin/. */
        TL_ASSERT((r->flags & ROUTE_OPERATOR) == 0 || (r->flags & ROUTE_AUTH) == 0);
        TL_ASSERT(((r->flags & ROUTE_OPERATOR) != 0) == (strncmp(r->pattern, "/v1/admin/", 10) == 0));
        TL_ASSERT((r->flags & ROUTE_IDEMPOTENT) == 0 || r->method == HTTP_POST);
        router_pattern_check(r->pattern);
        router_name_check(r->name);
        for (size_t i = 0; i < j; i++) {
            TL_ASSERT(strcmp(table[i].name, r->name) != 0);
            bool shadowed = table[i].method == r->method &&
                            router_pattern_shadows(table[i].pattern, r->pattern);
            TL_ASSERT(!shadowed);
        }
    }
}
