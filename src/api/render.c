#include "api/render.h"

#include <stdio.h>
#include <string.h>

#include "util/assert.h"
#include "util/typeid.h"

void render_init(struct render *r, struct buf *out)
{
    memset(r, 0, sizeof(*r));
    r->out = out;
    r->err = TL_OK;
}

enum tl_err render_finish(struct render *r)
{
    if (r->err == TL_OK) {
        TL_ASSERT(r->depth == 0);
        TL_ASSERT(!r->after_key);
    }
    return r->err;
}

static void render_bytes(struct render *r, const char *data, size_t bytes)
{
    if (r->err == TL_OK && bytes > 0) {
        r->err = buf_append(r->out, data, bytes);
    }
}

/* Before any value or key: the comma that separates it from the previous sibling. */
static void render_separate(struct render *r)
{
    if (r->after_key) {
        r->after_key = false;
        return;
    }
    if (r->comma[r->depth]) {
        render_bytes(r, ",", 1);
    }
    r->comma[r->depth] = true;
}

static void render_open(struct render *r, char bracket)
{
    render_separate(r);
    TL_ASSERT(r->depth < RENDER_DEPTH_MAX);
    render_bytes(r, &bracket, 1);
    r->depth++;
    r->comma[r->depth] = false;
}

static void render_close(struct render *r, char bracket)
{
    TL_ASSERT(r->depth > 0);
    TL_ASSERT(!r->after_key);
    render_bytes(r, &bracket, 1);
    r->depth--;
}

void render_object_begin(struct render *r)
{
    render_open(r, '{');
}

void render_object_end(struct render *r)
{
    render_close(r, '}');
}

void render_array_begin(struct render *r)
{
    render_open(r, '[');
}

void render_array_end(struct render *r)
{
    render_close(r, ']');
}

void render_key(struct render *r, const char *name)
{
    TL_ASSERT(r->depth > 0);
    TL_ASSERT(!r->after_key);
    render_separate(r);
    render_bytes(r, "\"", 1);
    render_bytes(r, name, strlen(name));
    render_bytes(r, "\":", 2);
    r->after_key = true;
}

/* The escape for byte c, or NULL when it is copied as is. */
static const char *render_escape(unsigned char c, char spare[8])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        break;
    }
    if (c >= 0x20) {
        return NULL;
    }
    snprintf(spare, 8, "\\u%04x", c);
    return spare;
}

void render_str(struct render *r, const char *s)
{
    TL_ASSERT(s != NULL);
    render_separate(r);
    render_bytes(r, "\"", 1);
    const char *run = s; /* bytes not yet written that need no escape */
    for (const char *p = s; *p != '\0'; p++) {
        char spare[8];
        const char *escaped = render_escape((unsigned char)*p, spare);
        if (escaped != NULL) {
            render_bytes(r, run, (size_t)(p - run));
            render_bytes(r, escaped, strlen(escaped));
            run = p + 1;
        }
    }
    render_bytes(r, run, strlen(run));
    render_bytes(r, "\"", 1);
}

void render_str_or_null(struct render *r, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        render_null(r);
    } else {
        render_str(r, s);
    }
}

/* Writes value's decimal digits ending at end; returns where they start. No libc formatting:
 * the writer thread renders here. */
static char *render_digits(uint64_t value, char *end)
{
    do {
        *--end = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0);
    return end;
}

void render_i64(struct render *r, int64_t value)
{
    char text[24];
    char *end = text + sizeof(text);
    /* The magnitude as unsigned, so INT64_MIN does not overflow. */
    uint64_t magnitude = value < 0 ? 0u - (uint64_t)value : (uint64_t)value;
    char *start = render_digits(magnitude, end);
    if (value < 0) {
        *--start = '-';
    }
    TL_ASSERT(start >= text);
    render_separate(r);
    render_bytes(r, start, (size_t)(end - start));
}

void render_bool(struct render *r, bool value)
{
    render_separate(r);
    render_bytes(r, value ? "true" : "false", value ? 4 : 5);
}

void render_null(struct render *r)
{
    render_separate(r);
    render_bytes(r, "null", 4);
}

void render_typeid(struct render *r, const char *prefix, struct id128 id)
{
    char text[TYPEID_STR_BYTES];
    size_t len = typeid_encode(prefix, id, text);
    render_separate(r);
    render_bytes(r, "\"", 1);
    render_bytes(r, text, len);
    render_bytes(r, "\"", 1);
}

void render_time(struct render *r, uint64_t wall_ns)
{
    char text[RENDER_TIME_BYTES];
    render_time_text(wall_ns, text);
    render_separate(r);
    render_bytes(r, "\"", 1);
    render_bytes(r, text, RENDER_TIME_BYTES - 1);
    render_bytes(r, "\"", 1);
}

/* Days since 1970-01-01 -> proleptic Gregorian date (Howard Hinnant's civil_from_days). Pure
 * arithmetic: no libc time zone machinery on the writer thread. */
static void render_civil(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

void render_time_text(uint64_t wall_ns, char out[RENDER_TIME_BYTES])
{
    uint64_t seconds = wall_ns / 1000000000ull;
    unsigned millis = (unsigned)((wall_ns % 1000000000ull) / 1000000ull);
    int64_t days = (int64_t)(seconds / 86400u);
    unsigned rest = (unsigned)(seconds % 86400u);
    int64_t year = 0;
    unsigned month = 0;
    unsigned day = 0;
    render_civil(days, &year, &month, &day);
    /* 2^64 ns is in the year 2554, so the year always has four digits. */
    TL_ASSERT(year >= 1970 && year <= 9999);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ", written field by field right to left. */
    static const char pattern[RENDER_TIME_BYTES] = "0000-00-00T00:00:00.000Z";
    const unsigned fields[][2] = {
        {(unsigned)year, 4},    {month, 7},       {day, 10},    {rest / 3600u, 13},
        {rest / 60u % 60u, 16}, {rest % 60u, 19}, {millis, 23},
    };
    memcpy(out, pattern, RENDER_TIME_BYTES);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        /* fields[i][1] is the index just past the field; zeros of the pattern pad it. */
        char *end = out + fields[i][1];
        char *start = render_digits(fields[i][0], end);
        TL_ASSERT(start >= end - (i == 0 ? 4 : i == 6 ? 3 : 2));
    }
    TL_ASSERT(out[RENDER_TIME_BYTES - 1] == '\0');
}
