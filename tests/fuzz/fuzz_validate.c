// fuzz-sources: src/auth/validate.c src/auth/codepoint.c
// fuzz-args: -max_len=1400
/*
 * fuzz_validate.c - libFuzzer target for the identity validators (auth/validate.h): handle,
 * email, phone, display name, note and the payment recipient parser.
 *
 * Every input goes through every validator, and the target checks properties of the answers,
 * not only that nothing crashed:
 *   - the only answers are TL_OK and TL_ERR_INVALID_REQUEST; a rejection fills a fault whose
 *     param names the field and whose reason and detail are non-empty, and leaves the output
 *     untouched;
 *   - each verdict agrees with a slow reference written here from the rules in validate.h
 *     (handle, email, phone; display name and note over a naive RFC 3629 decoder);
 *   - accepted handles are 3-30 of [a-z0-9_], the input lowercased; accepted emails keep the
 *     local part byte for byte and lowercase the domain; accepted phones match
 *     ^\+[1-9][0-9]{7,14}$ and are the input;
 *   - normalisation is idempotent: each validator accepts its own output and returns it
 *     unchanged;
 *   - the recipient's kind follows its first byte, its value is what the matching validator
 *     makes of the input, value_len is strlen(value), and re-parsing the normalised
 *     recipient gives the same recipient.
 * Build and run with tests/fuzz/run.sh.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "auth/validate.h"
#include "util/assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK 0x5a

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return is_upper(c) ? (char)(c + ('a' - 'A')) : c;
}

static void check_fault(enum tl_err err, const struct auth_fault *fault, const char *param)
{
    TL_ASSERT(err == TL_ERR_INVALID_REQUEST);
    TL_ASSERT(fault->param != NULL && strcmp(fault->param, param) == 0);
    TL_ASSERT(fault->reason != NULL && fault->reason[0] != '\0');
    TL_ASSERT(fault->detail != NULL && fault->detail[0] != '\0');
}

static void check_untouched(const char *out, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        TL_ASSERT((unsigned char)out[i] == MARK);
    }
}

/* ---- references ---- */

static bool ref_handle(const char *s, size_t len)
{
    if (len < 3 || len > 30) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_lower(s[i]) && !is_upper(s[i]) && !is_digit(s[i]) && s[i] != '_') {
            return false;
        }
    }
    return true;
}

static bool ref_phone(const char *s, size_t len)
{
    if (len < 9 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') {
        return false;
    }
    for (size_t i = 2; i < len; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

static bool ref_atext(char c)
{
    static const char specials[] = "!#$%&'*+-/=?^_`{|}~";
    if (is_lower(c) || is_upper(c) || is_digit(c)) {
        return true;
    }
    for (size_t i = 0; specials[i] != '\0'; i++) {
        if (c == specials[i]) {
            return true;
        }
    }
    return false;
}

static bool ref_email(const char *s, size_t len)
{
    size_t ats = 0, at = 0;
    if (len > 254) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
            return false; /* printable ASCII only (no space) */
        }
        if (s[i] == '@') {
            ats++;
            at = i;
        }
    }
    if (ats != 1 || at == 0 || at > 64) {
        return false;
    }
    /* Local part: atext and dots, no dot at the ends or doubled. */
    if (s[0] == '.' || s[at - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < at; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !ref_atext(s[i])) {
            return false;
        }
    }
    /* Domain: two or more labels of 1-63 [A-Za-z0-9-], no '-' at a label's ends, last label
     * not all digits. */
    size_t labels = 0, start = at + 1;
    bool all_digits = true;
    for (size_t i = at + 1; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!is_lower(s[i]) && !is_upper(s[i]) && !is_digit(s[i]) && s[i] != '-') {
                return false;
            }
            continue;
        }
        size_t label_len = i - start;
        if (label_len == 0 || label_len > 63 || s[start] == '-' || s[i - 1] == '-') {
            return false;
        }
        all_digits = true;
        for (size_t j = start; j < i; j++) {
            all_digits = all_digits && is_digit(s[j]);
        }
        labels++;
        start = i + 1;
    }
    return labels >= 2 && !all_digits;
}

/* Naive strict UTF-8 (RFC 3629 table 4); cps gets the code points (up to max_cps + 1). Returns
 * false for invalid UTF-8; *count is the number of code points. */
static bool ref_utf8(const unsigned char *s, size_t len, uint32_t *cps, size_t cap, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char b = s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        uint32_t cp;
        if (b <= 0x7f) {
            need = 0, cp = b;
        } else if (b >= 0xc2 && b <= 0xdf) {
            need = 1, cp = b & 0x1f;
        } else if (b == 0xe0) {
            need = 2, cp = 0, lo = 0xa0;
        } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
            need = 2, cp = b & 0x0f;
        } else if (b == 0xed) {
            need = 2, cp = 0x0d, hi = 0x9f;
        } else if (b == 0xf0) {
            need = 3, cp = 0, lo = 0x90;
        } else if (b >= 0xf1 && b <= 0xf3) {
            need = 3, cp = b & 0x07;
        } else if (b == 0xf4) {
            need = 3, cp = 4, hi = 0x8f;
        } else {
            return false;
        }
        if (len - i - 1 < need) {
            return false;
        }
        for (size_t k = 1; k <= need; k++) {
            unsigned char c = s[i + k];
            unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
            if (c < l || c > h) {
                return false;
            }
            cp = cp << 6 | (c & 0x3f);
        }
        if (n < cap) {
            cps[n] = cp;
        }
        n++;
        i += need + 1;
    }
    *count = n;
    return true;
}

static bool ref_control(uint32_t cp)
{
    return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

static bool ref_space(uint32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static uint32_t cps[1400];

static bool ref_display_name(const char *s, size_t len)
{
    size_t n = 0;
    if (!ref_utf8((const unsigned char *)s, len, cps, sizeof cps / sizeof cps[0], &n)) {
        return false;
    }
    if (n == 0 || n > 64 || ref_space(cps[0]) || ref_space(cps[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (ref_control(cps[i])) {
            return false;
        }
    }
    return true;
}

static bool ref_note(const char *s, size_t len)
{
    size_t n = 0;
    if (!ref_utf8((const unsigned char *)s, len, cps, sizeof cps / sizeof cps[0], &n)) {
        return false;
    }
    if (n > 280) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (cps[i] != '\n' && ref_control(cps[i])) {
            return false;
        }
    }
    return true;
}

/* ---- checks ---- */

static void check_handle(const char *s, size_t len)
{
    char out[VALIDATE_HANDLE_BYTES];
    char again[VALIDATE_HANDLE_BYTES];
    struct auth_fault fault = {NULL, NULL, NULL};
    memset(out, MARK, sizeof out);
    enum tl_err err = validate_handle(s, len, out, &fault);
    TL_ASSERT((err == TL_OK) == ref_handle(s, len));
    if (err != TL_OK) {
        check_fault(err, &fault, "handle");
        check_untouched(out, sizeof out);
        TL_ASSERT(validate_handle(s, len, out, NULL) == err);
        return;
    }
    TL_ASSERT(strlen(out) == len);
    for (size_t i = 0; i < len; i++) {
        TL_ASSERT(is_lower(out[i]) || is_digit(out[i]) || out[i] == '_');
        TL_ASSERT(out[i] == lower(s[i]));
    }
    TL_ASSERT(validate_handle(out, len, again, NULL) == TL_OK);
    TL_ASSERT(strcmp(again, out) == 0);
}

static void check_email(const char *s, size_t len)
{
    char out[VALIDATE_EMAIL_BYTES];
    char again[VALIDATE_EMAIL_BYTES];
    struct auth_fault fault = {NULL, NULL, NULL};
    memset(out, MARK, sizeof out);
    enum tl_err err = validate_email(s, len, out, &fault);
    TL_ASSERT((err == TL_OK) == ref_email(s, len));
    if (err != TL_OK) {
        check_fault(err, &fault, "email");
        check_untouched(out, sizeof out);
        return;
    }
    TL_ASSERT(strlen(out) == len);
    const char *at = memchr(s, '@', len);
    size_t local = (size_t)(at - s);
    TL_ASSERT(memcmp(out, s, local + 1) == 0);
    for (size_t i = local + 1; i < len; i++) {
        TL_ASSERT(out[i] == lower(s[i]));
        TL_ASSERT(!is_upper(out[i]));
    }
    TL_ASSERT(validate_email(out, len, again, NULL) == TL_OK);
    TL_ASSERT(strcmp(again, out) == 0);
}

static void check_phone(const char *s, size_t len)
{
    char out[VALIDATE_PHONE_BYTES];
    char again[VALIDATE_PHONE_BYTES];
    struct auth_fault fault = {NULL, NULL, NULL};
    memset(out, MARK, sizeof out);
    enum tl_err err = validate_phone(s, len, out, &fault);
    TL_ASSERT((err == TL_OK) == ref_phone(s, len));
    if (err != TL_OK) {
        check_fault(err, &fault, "phone");
        check_untouched(out, sizeof out);
        return;
    }
    TL_ASSERT(strlen(out) == len);
    TL_ASSERT(memcmp(out, s, len) == 0);
    TL_ASSERT(ref_phone(out, len));
    TL_ASSERT(validate_phone(out, len, again, NULL) == TL_OK);
    TL_ASSERT(strcmp(again, out) == 0);
}

static void check_text(const char *s, size_t len)
{
    struct auth_fault fault = {NULL, NULL, NULL};
    enum tl_err err = validate_display_name(s, len, &fault);
    TL_ASSERT((err == TL_OK) == ref_display_name(s, len));
    if (err != TL_OK) {
        check_fault(err, &fault, "display_name");
    }
    TL_ASSERT(validate_display_name(s, len, NULL) == err);

    fault = (struct auth_fault){NULL, NULL, NULL};
    err = validate_note(s, len, &fault);
    TL_ASSERT((err == TL_OK) == ref_note(s, len));
    if (err != TL_OK) {
        check_fault(err, &fault, "note");
    }
    TL_ASSERT(validate_note(s, len, NULL) == err);
}

static void check_recipient(const char *s, size_t len)
{
    struct recipient r, again;
    struct auth_fault fault = {NULL, NULL, NULL};
    memset(&r, MARK, sizeof r);
    enum tl_err err = validate_recipient(s, len, &r, &fault);
    bool expect;
    enum recipient_kind kind;
    char want[VALIDATE_RECIPIENT_BYTES];
    if (len > 0 && s[0] == '@') {
        kind = RECIPIENT_HANDLE;
        expect = validate_handle(s + 1, len - 1, want, NULL) == TL_OK;
    } else if (len > 0 && s[0] == '+') {
        kind = RECIPIENT_PHONE;
        expect = validate_phone(s, len, want, NULL) == TL_OK;
    } else if (len > 0 && memchr(s, '@', len) != NULL) {
        kind = RECIPIENT_EMAIL;
        expect = validate_email(s, len, want, NULL) == TL_OK;
    } else {
        kind = (enum recipient_kind)0;
        expect = false;
    }
    TL_ASSERT((err == TL_OK) == expect);
    if (err != TL_OK) {
        check_fault(err, &fault, "recipient");
        check_untouched((const char *)&r, sizeof r);
        return;
    }
    TL_ASSERT(r.kind == kind);
    TL_ASSERT(r.value_len > 0 && r.value_len < sizeof r.value);
    TL_ASSERT(strlen(r.value) == r.value_len);
    TL_ASSERT(strcmp(r.value, want) == 0);
    /* The normalised recipient, spelt back, parses to itself. */
    char spelt[VALIDATE_RECIPIENT_BYTES + 1];
    size_t spelt_len = 0;
    if (kind == RECIPIENT_HANDLE) {
        spelt[0] = '@';
        memcpy(spelt + 1, r.value, r.value_len + 1);
        spelt_len = r.value_len + 1;
    } else {
        memcpy(spelt, r.value, r.value_len + 1);
        spelt_len = r.value_len;
    }
    TL_ASSERT(validate_recipient(spelt, spelt_len, &again, NULL) == TL_OK);
    TL_ASSERT(again.kind == r.kind);
    TL_ASSERT(again.value_len == r.value_len);
    TL_ASSERT(strcmp(again.value, r.value) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_handle(s, size);
    check_email(s, size);
    check_phone(s, size);
    check_text(s, size);
    check_recipient(s, size);
    return 0;
}
