#include "util/typeid.h"

#include <assert.h>
#include <string.h>

#include "util/assert.h"

static const char typeid_alphabet[32] = "0123456789abcdefghjkmnpqrstvwxyz";

/* The 128-bit id occupies the low 128 bits of a 130-bit number: 26 groups of 5 bits. */
static_assert(TYPEID_SUFFIX_LEN * 5 == 128 + 2, "26 base32 characters carry 130 bits");

static bool typeid_prefix_char(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

bool typeid_prefix_valid(const char *prefix, size_t prefix_len)
{
    if (prefix_len == 0) {
        return true;
    }
    if (prefix_len > TYPEID_PREFIX_LEN_MAX) {
        return false;
    }
    if (prefix[0] == '_' || prefix[prefix_len - 1] == '_') {
        return false;
    }
    for (size_t i = 0; i < prefix_len; i++) {
        if (!typeid_prefix_char(prefix[i])) {
            return false;
        }
    }
    return true;
}

/* The 5-bit group whose lowest bit is bit `low` of the 128-bit id (bit 0 = least significant).
 * The top group (low = 125) has only 3 bits; the shifts bring in zeros above bit 127. */
static unsigned typeid_group(struct id128 id, unsigned low)
{
    uint64_t bits;
    if (low >= 64) {
        bits = id.hi >> (low - 64);
    } else if (low == 0) {
        bits = id.lo;
    } else {
        bits = (id.lo >> low) | (id.hi << (64 - low));
    }
    return (unsigned)(bits & 31u);
}

static void typeid_encode_suffix(struct id128 id, char out[TYPEID_SUFFIX_LEN])
{
    for (unsigned i = 0; i < TYPEID_SUFFIX_LEN; i++) {
        out[i] = typeid_alphabet[typeid_group(id, 125u - 5u * i)];
    }
}

size_t typeid_encode(const char *prefix, struct id128 id, char out[TYPEID_STR_BYTES])
{
    size_t prefix_len = strlen(prefix);
    size_t len = 0;

    TL_ASSERT(typeid_prefix_valid(prefix, prefix_len));
    if (prefix_len > 0) {
        memcpy(out, prefix, prefix_len);
        out[prefix_len] = '_';
        len = prefix_len + 1;
    }
    typeid_encode_suffix(id, out + len);
    len += TYPEID_SUFFIX_LEN;
    out[len] = '\0';
    TL_ASSERT(len <= TYPEID_LEN_MAX);
    TL_ASSERT(out[len - TYPEID_SUFFIX_LEN] <= '7');
    return len;
}

/* The value of one suffix character, or -1 outside the lowercase alphabet. */
static int typeid_char_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c < 'a' || c > 'z') {
        return -1;
    }
    const char *hit = memchr(typeid_alphabet + 10, c, 22);
    return hit == NULL ? -1 : (int)(hit - typeid_alphabet);
}

static enum typeid_fault typeid_decode_suffix(const char *s, struct id128 *out)
{
    struct id128 id = {0, 0};
    for (size_t i = 0; i < TYPEID_SUFFIX_LEN; i++) {
        int v = typeid_char_value(s[i]);
        if (v < 0) {
            return TYPEID_FAULT_SUFFIX_CHAR;
        }
        if (i == 0 && v > 7) {
            return TYPEID_FAULT_SUFFIX_OVERFLOW;
        }
        id.hi = (id.hi << 5) | (id.lo >> 59);
        id.lo = (id.lo << 5) | (uint64_t)v;
    }
    *out = id;
    return TYPEID_FAULT_NONE;
}

/* Splits str at the separator and checks everything but the suffix characters. */
static enum typeid_fault typeid_split(const char *str, size_t str_len, size_t *prefix_len)
{
    if (str_len > TYPEID_LEN_MAX || str_len < TYPEID_SUFFIX_LEN) {
        return TYPEID_FAULT_LENGTH;
    }
    /* The separator is the last '_'; the suffix alphabet has none. */
    const char *sep = NULL;
    for (size_t i = str_len; i > 0; i--) {
        if (str[i - 1] == '_') {
            sep = str + i - 1;
            break;
        }
    }
    if (sep == NULL) {
        *prefix_len = 0;
        return str_len == TYPEID_SUFFIX_LEN ? TYPEID_FAULT_NONE : TYPEID_FAULT_LENGTH;
    }
    size_t len = (size_t)(sep - str);
    if (str_len - len - 1 != TYPEID_SUFFIX_LEN) {
        return TYPEID_FAULT_LENGTH;
    }
    /* An empty prefix is written without a separator, so "_<suffix>" is malformed. */
    if (len == 0 || !typeid_prefix_valid(str, len)) {
        return TYPEID_FAULT_PREFIX;
    }
    *prefix_len = len;
    return TYPEID_FAULT_NONE;
}

static enum tl_err typeid_fail(enum typeid_fault reason, enum typeid_fault *fault)
{
    TL_ASSERT(reason != TYPEID_FAULT_NONE);
    if (fault != NULL) {
        *fault = reason;
    }
    return TL_ERR_INVALID_REQUEST;
}

enum tl_err typeid_parse(const char *str, size_t str_len, size_t *prefix_len, struct id128 *out,
                         enum typeid_fault *fault)
{
    size_t len = 0;
    struct id128 id;
    enum typeid_fault reason = typeid_split(str, str_len, &len);
    if (reason != TYPEID_FAULT_NONE) {
        return typeid_fail(reason, fault);
    }
    reason = typeid_decode_suffix(str + str_len - TYPEID_SUFFIX_LEN, &id);
    if (reason != TYPEID_FAULT_NONE) {
        return typeid_fail(reason, fault);
    }
    *prefix_len = len;
    *out = id;
    if (fault != NULL) {
        *fault = TYPEID_FAULT_NONE;
    }
    return TL_OK;
}

enum tl_err typeid_decode(const char *str, size_t str_len, const char *expected_prefix,
                          struct id128 *out, enum typeid_fault *fault)
{
    size_t expected_len = strlen(expected_prefix);
    size_t prefix_len = 0;
    struct id128 id;

    TL_ASSERT(typeid_prefix_valid(expected_prefix, expected_len));
    enum tl_err err = typeid_parse(str, str_len, &prefix_len, &id, fault);
    if (err != TL_OK) {
        return err;
    }
    if (prefix_len != expected_len || memcmp(str, expected_prefix, expected_len) != 0) {
        return typeid_fail(TYPEID_FAULT_WRONG_PREFIX, fault);
    }
    *out = id;
    return TL_OK;
}

const char *typeid_fault_detail(enum typeid_fault fault)
{
    switch (fault) {
    case TYPEID_FAULT_NONE:
        return "The id is valid.";
    case TYPEID_FAULT_LENGTH:
        return "The id has the wrong length.";
    case TYPEID_FAULT_PREFIX:
        return "The id prefix must be lowercase letters and underscores.";
    case TYPEID_FAULT_WRONG_PREFIX:
        return "The id names a different kind of object.";
    case TYPEID_FAULT_SUFFIX_CHAR:
        return "The id contains a character outside lowercase Crockford base32.";
    case TYPEID_FAULT_SUFFIX_OVERFLOW:
        return "The id is larger than 128 bits.";
    }
    TL_UNREACHABLE();
    return "";
}
