#include "auth/validate.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "auth/codepoint.h"
#include "util/assert.h"

static_assert(VALIDATE_HANDLE_LEN_MIN <= VALIDATE_HANDLE_LEN_MAX, "handle bounds");
static_assert(VALIDATE_PHONE_DIGITS_MIN <= VALIDATE_PHONE_DIGITS_MAX, "phone bounds");
static_assert(VALIDATE_HANDLE_BYTES <= VALIDATE_RECIPIENT_BYTES, "a handle fits a recipient");
static_assert(VALIDATE_PHONE_BYTES <= VALIDATE_RECIPIENT_BYTES, "a phone fits a recipient");
static_assert(VALIDATE_EMAIL_BYTES <= VALIDATE_RECIPIENT_BYTES, "an email fits a recipient");
/* The details below spell the bounds out; change them together. */
static_assert(VALIDATE_HANDLE_LEN_MIN == 3 && VALIDATE_HANDLE_LEN_MAX == 30, "handle details");
static_assert(VALIDATE_EMAIL_LEN_MAX == 254 && VALIDATE_EMAIL_LOCAL_LEN_MAX == 64, "email");
static_assert(VALIDATE_DISPLAY_NAME_CODEPOINTS_MAX == 64, "display name details");
static_assert(VALIDATE_NOTE_CODEPOINTS_MAX == 280, "note details");

static enum tl_err validate_reject(struct auth_fault *fault, const char *param, const char *reason,
                                   const char *detail)
{
    auth_fault_set(fault, param, reason, detail);
    return TL_ERR_INVALID_REQUEST;
}

static bool validate_ascii_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool validate_ascii_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool validate_ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char validate_to_lower(char c)
{
    return validate_ascii_upper(c) ? (char)(c - 'A' + 'a') : c;
}

/* ---- handle ---- */

static enum tl_err validate_handle_as(const char *param, const char *in, size_t in_len,
                                      char out[VALIDATE_HANDLE_BYTES], struct auth_fault *fault)
{
    for (size_t i = 0; i < in_len; i++) {
        char c = in[i];
        if (!validate_ascii_lower(c) && !validate_ascii_upper(c) && !validate_ascii_digit(c) &&
            c != '_') {
            return validate_reject(fault, param, "invalid_characters",
                                   "A handle may contain only letters a-z, digits and '_'.");
        }
    }
    if (in_len < VALIDATE_HANDLE_LEN_MIN) {
        return validate_reject(fault, param, "too_short",
                               "A handle must be at least 3 characters long.");
    }
    if (in_len > VALIDATE_HANDLE_LEN_MAX) {
        return validate_reject(fault, param, "too_long",
                               "A handle must be at most 30 characters long.");
    }
    for (size_t i = 0; i < in_len; i++) {
        out[i] = validate_to_lower(in[i]);
    }
    out[in_len] = '\0';
    return TL_OK;
}

enum tl_err validate_handle(const char *in, size_t in_len, char out[VALIDATE_HANDLE_BYTES],
                            struct auth_fault *fault)
{
    return validate_handle_as("handle", in, in_len, out, fault);
}

/* ---- email ---- */

/* RFC 5322 atext: the characters of an unquoted local part, besides '.'. */
static bool validate_email_atext(char c)
{
    if (validate_ascii_lower(c) || validate_ascii_upper(c) || validate_ascii_digit(c)) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool validate_email_local(const char *s, size_t len)
{
    if (len == 0 || len > VALIDATE_EMAIL_LOCAL_LEN_MAX) {
        return false;
    }
    if (s[0] == '.' || s[len - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return false;
            }
        } else if (!validate_email_atext(s[i])) {
            return false;
        }
    }
    return true;
}

static bool validate_email_label(const char *s, size_t len)
{
    if (len == 0 || len > VALIDATE_EMAIL_LABEL_LEN_MAX) {
        return false;
    }
    if (s[0] == '-' || s[len - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!validate_ascii_lower(c) && !validate_ascii_upper(c) && !validate_ascii_digit(c) &&
            c != '-') {
            return false;
        }
    }
    return true;
}

static bool validate_email_domain(const char *s, size_t len)
{
    size_t label_count = 0;
    size_t start = 0;
    bool last_all_digits = false;

    for (;;) {
        const char *dot = memchr(s + start, '.', len - start);
        size_t end = dot == NULL ? len : (size_t)(dot - s);
        if (!validate_email_label(s + start, end - start)) {
            return false;
        }
        label_count++;
        last_all_digits = true;
        for (size_t i = start; i < end; i++) {
            last_all_digits = last_all_digits && validate_ascii_digit(s[i]);
        }
        if (dot == NULL) {
            break;
        }
        start = end + 1;
    }
    /* A top-level domain is never numeric; "1.2.3.4" is an address literal we do not take. */
    return label_count >= 2 && !last_all_digits;
}

static enum tl_err validate_email_as(const char *param, const char *in, size_t in_len,
                                     char out[VALIDATE_EMAIL_BYTES], struct auth_fault *fault)
{
    static const char *const bad_format = "Enter an email address like name@example.com.";

    if (in_len > VALIDATE_EMAIL_LEN_MAX) {
        return validate_reject(fault, param, "too_long",
                               "An email address must be at most 254 characters long.");
    }
    const char *at = memchr(in, '@', in_len);
    if (at == NULL || memchr(at + 1, '@', in_len - (size_t)(at - in) - 1) != NULL) {
        return validate_reject(fault, param, "invalid_format", bad_format);
    }
    size_t local_len = (size_t)(at - in);
    if (local_len > VALIDATE_EMAIL_LOCAL_LEN_MAX) {
        return validate_reject(fault, param, "too_long",
                               "The part before '@' must be at most 64 characters long.");
    }
    if (!validate_email_local(in, local_len) ||
        !validate_email_domain(at + 1, in_len - local_len - 1)) {
        return validate_reject(fault, param, "invalid_format", bad_format);
    }
    memcpy(out, in, local_len + 1);
    for (size_t i = local_len + 1; i < in_len; i++) {
        out[i] = validate_to_lower(in[i]);
    }
    out[in_len] = '\0';
    return TL_OK;
}

enum tl_err validate_email(const char *in, size_t in_len, char out[VALIDATE_EMAIL_BYTES],
                           struct auth_fault *fault)
{
    return validate_email_as("email", in, in_len, out, fault);
}

/* ---- phone ---- */

static enum tl_err validate_phone_as(const char *param, const char *in, size_t in_len,
                                     char out[VALIDATE_PHONE_BYTES], struct auth_fault *fault)
{
    static const char *const detail =
        "Enter the number in E.164 form: '+', country code and number, 8-15 digits, no spaces.";
    if (in_len == 0 || in[0] != '+') {
        return validate_reject(fault, param, "invalid_format", detail);
    }
    size_t digits = in_len - 1;
    if (digits < VALIDATE_PHONE_DIGITS_MIN || digits > VALIDATE_PHONE_DIGITS_MAX) {
        return validate_reject(fault, param, "invalid_format", detail);
    }
    /* Country codes never start with 0. */
    if (in[1] == '0') {
        return validate_reject(fault, param, "invalid_format", detail);
    }
    for (size_t i = 1; i < in_len; i++) {
        if (!validate_ascii_digit(in[i])) {
            return validate_reject(fault, param, "invalid_format", detail);
        }
    }
    memcpy(out, in, in_len);
    out[in_len] = '\0';
    return TL_OK;
}

enum tl_err validate_phone(const char *in, size_t in_len, char out[VALIDATE_PHONE_BYTES],
                           struct auth_fault *fault)
{
    return validate_phone_as("phone", in, in_len, out, fault);
}

/* ---- free text ---- */

/* Unicode space separators (category Zs). */
static bool validate_space(uint32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Facts about a piece of text, gathered in one pass. */
struct validate_text {
    size_t codepoints;
    bool utf8_valid;
    bool has_control; /* a control other than '\n' */
    bool has_newline;
    bool space_at_ends;
};

/* Scans in; stops early (utf8_valid false) on invalid UTF-8. Text over max_codepoints is only
 * counted up to max_codepoints + 1, so long input costs no more than slightly-too-long input. */
static void validate_scan(const char *in, size_t in_len, size_t max_codepoints,
                          struct validate_text *out)
{
    size_t pos = 0;
    uint32_t cp = 0;
    memset(out, 0, sizeof *out);
    out->utf8_valid = true;
    while (pos < in_len && out->codepoints <= max_codepoints) {
        if (!codepoint_next(in, in_len, &pos, &cp)) {
            out->utf8_valid = false;
            return;
        }
        if (out->codepoints == 0 && validate_space(cp)) {
            out->space_at_ends = true;
        }
        out->codepoints++;
        if (cp == '\n') {
            out->has_newline = true;
        } else if (codepoint_is_control(cp)) {
            out->has_control = true;
        }
    }
    /* cp is now the last code point scanned; it is the last of the text unless we stopped. */
    if (out->codepoints > 0 && pos == in_len && validate_space(cp)) {
        out->space_at_ends = true;
    }
}

enum tl_err validate_display_name(const char *in, size_t in_len, struct auth_fault *fault)
{
    const char *param = "display_name";
    struct validate_text text;

    validate_scan(in, in_len, VALIDATE_DISPLAY_NAME_CODEPOINTS_MAX, &text);
    if (!text.utf8_valid) {
        return validate_reject(fault, param, "invalid_utf8", "The name must be valid UTF-8.");
    }
    if (text.codepoints == 0) {
        return validate_reject(fault, param, "empty", "Enter a name.");
    }
    if (text.codepoints > VALIDATE_DISPLAY_NAME_CODEPOINTS_MAX) {
        return validate_reject(fault, param, "too_long",
                               "A name must be at most 64 characters long.");
    }
    if (text.has_control || text.has_newline) {
        return validate_reject(fault, param, "invalid_characters",
                               "A name must not contain control characters or line breaks.");
    }
    if (text.space_at_ends) {
        return validate_reject(fault, param, "surrounding_space",
                               "A name must not start or end with a space.");
    }
    return TL_OK;
}

enum tl_err validate_note(const char *in, size_t in_len, struct auth_fault *fault)
{
    const char *param = "note";
    struct validate_text text;

    validate_scan(in, in_len, VALIDATE_NOTE_CODEPOINTS_MAX, &text);
    if (!text.utf8_valid) {
        return validate_reject(fault, param, "invalid_utf8", "The note must be valid UTF-8.");
    }
    if (text.codepoints > VALIDATE_NOTE_CODEPOINTS_MAX) {
        return validate_reject(fault, param, "too_long",
                               "A note must be at most 280 characters long.");
    }
    if (text.has_control) {
        return validate_reject(fault, param, "invalid_characters",
                               "A note must not contain control characters other than newlines.");
    }
    return TL_OK;
}

/* ---- recipient ---- */

enum tl_err validate_recipient(const char *in, size_t in_len, struct recipient *out,
                               struct auth_fault *fault)
{
    const char *param = "recipient";
    struct recipient r;
    enum tl_err err;

    memset(&r, 0, sizeof r);
    if (in_len == 0) {
        return validate_reject(fault, param, "empty", "Enter who to pay.");
    }
    if (in[0] == '@') {
        r.kind = RECIPIENT_HANDLE;
        err = validate_handle_as(param, in + 1, in_len - 1, r.value, fault);
    } else if (in[0] == '+') {
        r.kind = RECIPIENT_PHONE;
        err = validate_phone_as(param, in, in_len, r.value, fault);
    } else if (memchr(in, '@', in_len) != NULL) {
        r.kind = RECIPIENT_EMAIL;
        err = validate_email_as(param, in, in_len, r.value, fault);
    } else {
        return validate_reject(fault, param, "invalid_format",
                               "Send to an @handle, a +phone number in E.164 form or an email "
                               "address.");
    }
    if (err != TL_OK) {
        return err;
    }
    r.value_len = strlen(r.value);
    TL_ASSERT(r.value_len > 0);
    TL_ASSERT(r.value_len < sizeof r.value);
    *out = r;
    return TL_OK;
}
