// fuzz-sources: src/util/typeid.c src/util/err.c
// fuzz-args: -max_len=128
/*
 * fuzz_typeid.c - libFuzzer target for typeid_parse, typeid_decode and typeid_encode.
 *
 * Properties checked for every input, beyond "no crash":
 *   - the only answers are TL_OK and TL_ERR_INVALID_REQUEST with a fault, and a rejection
 *     leaves every output untouched;
 *   - what parse accepts agrees with a slow reference decoder written here from the spec
 *     (bit by bit, no shifting tricks), on both the verdict and the id;
 *   - an accepted string re-encodes to exactly itself (one spelling per id), decodes with its
 *     own prefix to the same id, and fails with WRONG_PREFIX under another prefix;
 *   - the first 16 bytes read as an id encode under each Tally prefix and parse back.
 * Build and run with tests/fuzz/run.sh.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/assert.h"
#include "util/typeid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Reference: the spec's rules, checked naively. Returns true and fills *id if s is valid. */
static bool reference_parse(const char *s, size_t len, size_t *prefix_len, struct id128 *id)
{
    size_t sep = len;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_') {
            sep = i;
        }
    }
    size_t suffix_at = sep == len ? 0 : sep + 1;
    size_t plen = sep == len ? 0 : sep;
    if (len - suffix_at != 26 || (sep != len && plen == 0) || plen > 63) {
        return false;
    }
    for (size_t i = 0; i < plen; i++) {
        bool lower = s[i] >= 'a' && s[i] <= 'z';
        bool edge = i == 0 || i == plen - 1;
        if (!(lower || (s[i] == '_' && !edge))) {
            return false;
        }
    }
    /* 130 bits, most significant first; the top two must be zero. */
    uint8_t bits[130];
    for (size_t i = 0; i < 26; i++) {
        const char *hit = strchr(alphabet, s[suffix_at + i]);
        if (s[suffix_at + i] == '\0' || hit == NULL) {
            return false;
        }
        int v = (int)(hit - alphabet);
        for (int b = 0; b < 5; b++) {
            bits[i * 5 + (size_t)b] = (uint8_t)((v >> (4 - b)) & 1);
        }
    }
    if (bits[0] != 0 || bits[1] != 0) {
        return false;
    }
    struct id128 out = {0, 0};
    for (size_t i = 2; i < 130; i++) {
        if (i < 66) {
            out.hi = out.hi << 1 | bits[i];
        } else {
            out.lo = out.lo << 1 | bits[i];
        }
    }
    *prefix_len = plen;
    *id = out;
    return true;
}

static void check_accepted(const char *s, size_t len, size_t prefix_len, struct id128 id)
{
    char prefix[TYPEID_PREFIX_LEN_MAX + 1];
    char out[TYPEID_STR_BYTES];
    struct id128 again = {0, 0};
    enum typeid_fault fault = TYPEID_FAULT_LENGTH;

    TL_ASSERT(prefix_len <= TYPEID_PREFIX_LEN_MAX);
    memcpy(prefix, s, prefix_len);
    prefix[prefix_len] = '\0';
    TL_ASSERT(typeid_prefix_valid(prefix, prefix_len));
    size_t out_len = typeid_encode(prefix, id, out);
    TL_ASSERT(out_len == len);
    TL_ASSERT(memcmp(out, s, len) == 0);
    TL_ASSERT(typeid_decode(s, len, prefix, &again, &fault) == TL_OK);
    TL_ASSERT(fault == TYPEID_FAULT_NONE);
    TL_ASSERT(id128_eq(again, id));
    const char *other = strcmp(prefix, "user") == 0 ? "wal" : "user";
    TL_ASSERT(typeid_decode(s, len, other, &again, &fault) == TL_ERR_INVALID_REQUEST);
    TL_ASSERT(fault == TYPEID_FAULT_WRONG_PREFIX);
}

static void check_input(const char *s, size_t len)
{
    const struct id128 marker = {0x5a5a5a5a5a5a5a5aull, 0xa5a5a5a5a5a5a5a5ull};
    struct id128 id = marker;
    size_t prefix_len = 999;
    enum typeid_fault fault = TYPEID_FAULT_NONE;
    struct id128 ref_id = {0, 0};
    size_t ref_prefix_len = 0;

    enum tl_err err = typeid_parse(s, len, &prefix_len, &id, &fault);
    bool ref_ok = reference_parse(s, len, &ref_prefix_len, &ref_id);
    TL_ASSERT((err == TL_OK) == ref_ok);
    if (err == TL_OK) {
        TL_ASSERT(fault == TYPEID_FAULT_NONE);
        TL_ASSERT(prefix_len == ref_prefix_len);
        TL_ASSERT(id128_eq(id, ref_id));
        check_accepted(s, len, prefix_len, id);
    } else {
        TL_ASSERT(err == TL_ERR_INVALID_REQUEST);
        TL_ASSERT(fault != TYPEID_FAULT_NONE);
        TL_ASSERT(prefix_len == 999);
        TL_ASSERT(id128_eq(id, marker));
        TL_ASSERT(typeid_fault_detail(fault)[0] != '\0');
    }
}

static void check_encode(const uint8_t *data, size_t size)
{
    static const char *const prefixes[] = {
        "",
        TYPEID_PREFIX_USER,
        TYPEID_PREFIX_WALLET,
        TYPEID_PREFIX_PAYMENT,
        TYPEID_PREFIX_SESSION,
        TYPEID_PREFIX_DEPOSIT,
        TYPEID_PREFIX_TRANSFER,
        "abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz_abcdefghi",
    };
    struct id128 id = {0, 0};
    if (size < 16) {
        return;
    }
    for (size_t i = 0; i < 8; i++) {
        id.hi = id.hi << 8 | data[i];
        id.lo = id.lo << 8 | data[8 + i];
    }
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        char out[TYPEID_STR_BYTES];
        size_t len = typeid_encode(prefixes[p], id, out);
        size_t prefix_len = strlen(prefixes[p]);
        TL_ASSERT(len == (prefix_len == 0 ? 0 : prefix_len + 1) + TYPEID_SUFFIX_LEN);
        TL_ASSERT(out[len] == '\0');
        check_input(out, len);
        struct id128 back = {0, 0};
        TL_ASSERT(typeid_decode(out, len, prefixes[p], &back, NULL) == TL_OK);
        TL_ASSERT(id128_eq(back, id));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_input((const char *)data, size);
    check_encode(data, size);
    return 0;
}
