#include "core/limits.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "util/assert.h"

static const char *const limits_tier_names[LIMITS_TIER_COUNT] = {
    "unverified",
    "verified",
    "business",
};

static const char *const limits_kind_names[LIMITS_KIND_COUNT] = {
    "send",
    "receive",
    "hold",
};

const char *limits_tier_name(enum limits_tier tier)
{
    if ((unsigned)tier >= LIMITS_TIER_COUNT) {
        return NULL;
    }
    return limits_tier_names[tier];
}

static bool limits_name_is(const char *name, const char *text, size_t text_len)
{
    return strlen(name) == text_len && memcmp(name, text, text_len) == 0;
}

bool limits_tier_find(const char *name, size_t name_len, enum limits_tier *out)
{
    TL_ASSERT(name != NULL);
    for (unsigned i = 0; i < LIMITS_TIER_COUNT; i++) {
        if (limits_name_is(limits_tier_names[i], name, name_len)) {
            *out = (enum limits_tier)i;
            return true;
        }
    }
    return false;
}

const char *limits_kind_name(enum limits_kind kind)
{
    if ((unsigned)kind >= LIMITS_KIND_COUNT) {
        return NULL;
    }
    return limits_kind_names[kind];
}

/* A decimal of major units in ten-thousandths: [0-9]+ ('.' [0-9]{1,4})?, <= LIMITS_SCALED_MAX. */
static bool limits_decimal(const char *text, size_t len, int64_t *out)
{
    int64_t value = 0;
    size_t i = 0;
    size_t fraction_digits = 0;
    bool point = false;
    if (len == 0) {
        return false;
    }
    for (i = 0; i < len; i++) {
        char c = text[i];
        if (c == '.' && !point && i > 0) {
            point = true;
            continue;
        }
        if (c < '0' || c > '9') {
            return false;
        }
        if (point && ++fraction_digits > LIMITS_SCALE_EXPONENT) {
            return false;
        }
        if (value > (LIMITS_SCALED_MAX - 9) / 10) {
            return false;
        }
        value = value * 10 + (c - '0');
    }
    if (point && fraction_digits == 0) {
        return false;
    }
    for (size_t k = fraction_digits; k < LIMITS_SCALE_EXPONENT; k++) {
        if (value > LIMITS_SCALED_MAX / 10) {
            return false;
        }
        value *= 10;
    }
    *out = value;
    return true;
}

/* One "kind=D" part into spec; false with error written. */
static bool limits_part(const char *part, size_t len, struct limits_spec *spec,
                        char error[LIMITS_ERROR_BYTES])
{
    const char *eq = memchr(part, '=', len);
    if (eq == NULL) {
        snprintf(error, LIMITS_ERROR_BYTES, "expected kind=amount, e.g. send=299.99");
        return false;
    }
    size_t key_len = (size_t)(eq - part);
    for (unsigned k = 0; k < LIMITS_KIND_COUNT; k++) {
        if (!limits_name_is(limits_kind_names[k], part, key_len)) {
            continue;
        }
        if (spec->max_e4[k] != LIMITS_NONE) {
            snprintf(error, LIMITS_ERROR_BYTES, "%s is given twice", limits_kind_names[k]);
            return false;
        }
        if (!limits_decimal(eq + 1, len - key_len - 1, &spec->max_e4[k])) {
            snprintf(error, LIMITS_ERROR_BYTES,
                     "%s: amounts are major units with at most 4 decimals, e.g. 299.99",
                     limits_kind_names[k]);
            return false;
        }
        return true;
    }
    snprintf(error, LIMITS_ERROR_BYTES, "unknown limit (known: send, receive, hold)");
    return false;
}

enum tl_err limits_spec_parse(const char *text, struct limits_spec *out,
                              char error[LIMITS_ERROR_BYTES])
{
    struct limits_spec spec;
    TL_ASSERT(text != NULL);
    TL_ASSERT(out != NULL);
    for (unsigned k = 0; k < LIMITS_KIND_COUNT; k++) {
        spec.max_e4[k] = LIMITS_NONE;
    }
    const char *p = text;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (!limits_part(p, len, &spec, error)) {
            return TL_ERR_INVALID_REQUEST;
        }
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                snprintf(error, LIMITS_ERROR_BYTES, "a trailing comma");
                return TL_ERR_INVALID_REQUEST;
            }
        }
    }
    *out = spec;
    return TL_OK;
}

bool limits_spec_any(const struct limits_spec *spec)
{
    TL_ASSERT(spec != NULL);
    for (unsigned k = 0; k < LIMITS_KIND_COUNT; k++) {
        if (spec->max_e4[k] != LIMITS_NONE) {
            return true;
        }
    }
    return false;
}

int64_t limits_spec_minor(const struct limits_spec *spec, enum limits_kind kind,
                          uint8_t exponent)
{
    TL_ASSERT(spec != NULL);
    TL_ASSERT((unsigned)kind < LIMITS_KIND_COUNT);
    TL_ASSERT(exponent <= LIMITS_SCALE_EXPONENT);
    int64_t e4 = spec->max_e4[kind];
    if (e4 == LIMITS_NONE) {
        return LIMITS_NONE;
    }
    TL_ASSERT(e4 >= 0);
    TL_ASSERT(e4 <= LIMITS_SCALED_MAX);
    int64_t divisor = 1;
    for (unsigned i = exponent; i < LIMITS_SCALE_EXPONENT; i++) {
        divisor *= 10;
    }
    return e4 / divisor;
}

uint64_t limits_window_after(uint64_t now_ns, uint64_t window_ns)
{
    return now_ns > window_ns ? now_ns - window_ns : 0;
}

bool limits_allows(int64_t limit, int64_t used, int64_t amount)
{
    TL_ASSERT(used >= 0);
    TL_ASSERT(amount > 0);
    if (limit == LIMITS_NONE) {
        return true;
    }
    TL_ASSERT(limit >= 0);
    __int128 total = (__int128)used + (__int128)amount;
    return total <= (__int128)limit;
}

int64_t limits_remaining(int64_t limit, int64_t used)
{
    TL_ASSERT(limit >= 0);
    TL_ASSERT(used >= 0);
    return used >= limit ? 0 : limit - used;
}

uint64_t limits_frees_at(uint64_t oldest_ns, uint64_t window_ns)
{
    if (oldest_ns == 0) {
        return 0;
    }
    return oldest_ns > UINT64_MAX - window_ns ? UINT64_MAX : oldest_ns + window_ns;
}

uint64_t limits_bucket_ns(uint32_t window_s)
{
    TL_ASSERT(window_s > 0);
    TL_ASSERT(window_s <= LIMITS_WINDOW_S_MAX);
    uint64_t bucket_s = window_s / LIMITS_BUCKETS_PER_WINDOW;
    return (bucket_s > 0 ? bucket_s : 1u) * LIMITS_NS_PER_S;
}

uint64_t limits_dead_before(uint64_t newest_end_ns)
{
    static_assert(LIMITS_WINDOW_S_MAX / LIMITS_BUCKETS_PER_WINDOW >= 1, "a widest bucket");
    return newest_end_ns > LIMITS_DEAD_AFTER_NS ? newest_end_ns - LIMITS_DEAD_AFTER_NS : 0;
}

uint64_t limits_bucket_end(uint64_t timestamp_ns, uint64_t bucket_ns)
{
    TL_ASSERT(bucket_ns > 0);
    TL_ASSERT(timestamp_ns <= (uint64_t)INT64_MAX - bucket_ns);
    uint64_t end = (timestamp_ns / bucket_ns + 1u) * bucket_ns;
    TL_ASSERT(end > timestamp_ns);
    TL_ASSERT(end - timestamp_ns <= bucket_ns);
    return end;
}

bool limits_bucket_counts(uint64_t end_ns, uint64_t now_ns, uint64_t window_ns)
{
    return end_ns > limits_window_after(now_ns, window_ns);
}
