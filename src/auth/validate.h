/*
 * validate.h - validation and normalisation of the identity fields clients send.
 *
 * Each validator takes the raw field (pointer and length; NUL not needed, embedded NULs are
 * rejected like any control character), returns TL_OK or TL_ERR_INVALID_REQUEST, and on
 * rejection fills *fault (when not NULL) with the field name, a stable reason word and an
 * English detail. Normalised output is written only on success. Rules:
 *
 * handle        3-30 characters of [a-z0-9_]. Uppercase ASCII is accepted and lowercased (the
 *               normalised form is what is unique and stored), so "Alice" and "alice" are one
 *               handle. No '@' (the recipient parser strips it); anything else is rejected.
 * email         Pragmatic, not RFC 5322: printable ASCII only (an internationalised domain is
 *               sent in its xn-- form; non-ASCII local parts are refused, which also rules out
 *               look-alike letters in payment recipients), exactly one '@', local part 1-64
 *               characters of letters, digits and !#$%&'*+-/=?^_`{|}~ and '.' (no leading,
 *               trailing or doubled dot; no quoted forms), domain of at least two dot-separated
 *               labels of 1-63 [A-Za-z0-9-] not starting or ending with '-', last label not all
 *               digits, 254 characters in all. The domain is lowercased; the local part is kept
 *               as sent (mail servers may treat its case as significant).
 * phone         E.164 exactly: '+' and 8-15 digits, the first not 0. No spaces or punctuation;
 *               clients format for display and strip before sending.
 * display name  1-64 code points of valid UTF-8, none of them a control (codepoint.h: C0/C1,
 *               DEL, bidi overrides, line separators), not starting or ending with a space.
 * note          0-280 code points of valid UTF-8, no controls except '\n'.
 * recipient     "@handle" | "+E164" | "email" (anything else containing '@'), normalised as
 *               above; the fault names the field "recipient".
 *
 * Pure: no allocation, no I/O, no state; never asserts on input.
 */
#ifndef TL_AUTH_VALIDATE_H
#define TL_AUTH_VALIDATE_H

#include <stddef.h>

#include "auth/fault.h"
#include "util/err.h"

#define VALIDATE_HANDLE_LEN_MIN 3
#define VALIDATE_HANDLE_LEN_MAX 30
#define VALIDATE_HANDLE_BYTES (VALIDATE_HANDLE_LEN_MAX + 1)
#define VALIDATE_EMAIL_LEN_MAX 254
#define VALIDATE_EMAIL_LOCAL_LEN_MAX 64
#define VALIDATE_EMAIL_LABEL_LEN_MAX 63
#define VALIDATE_EMAIL_BYTES (VALIDATE_EMAIL_LEN_MAX + 1)
#define VALIDATE_PHONE_DIGITS_MIN 8
#define VALIDATE_PHONE_DIGITS_MAX 15
#define VALIDATE_PHONE_BYTES (1 + VALIDATE_PHONE_DIGITS_MAX + 1)
#define VALIDATE_DISPLAY_NAME_CODEPOINTS_MAX 64
#define VALIDATE_NOTE_CODEPOINTS_MAX 280
/* Longest recipient value after normalisation, with its NUL. */
#define VALIDATE_RECIPIENT_BYTES VALIDATE_EMAIL_BYTES

/* Normalised handle (lowercase, NUL-terminated) into out. */
enum tl_err validate_handle(const char *in, size_t in_len, char out[VALIDATE_HANDLE_BYTES],
                            struct auth_fault *fault);

/* Email with its domain lowercased, NUL-terminated, into out. */
enum tl_err validate_email(const char *in, size_t in_len, char out[VALIDATE_EMAIL_BYTES],
                           struct auth_fault *fault);

/* E.164 number, NUL-terminated, into out (it is already in normal form). */
enum tl_err validate_phone(const char *in, size_t in_len, char out[VALIDATE_PHONE_BYTES],
                           struct auth_fault *fault);

/* Checks a display name; it is stored as sent. */
enum tl_err validate_display_name(const char *in, size_t in_len, struct auth_fault *fault);

/* Checks a payment note; it is stored as sent. */
enum tl_err validate_note(const char *in, size_t in_len, struct auth_fault *fault);

enum recipient_kind {
    RECIPIENT_HANDLE = 1,
    RECIPIENT_PHONE,
    RECIPIENT_EMAIL,
};

struct recipient {
    enum recipient_kind kind;
    size_t value_len;                     /* bytes of value before its NUL */
    char value[VALIDATE_RECIPIENT_BYTES]; /* normalised: handle without '@', E.164, email */
};

/* Parses who a payment goes to. *out is written only on success. */
enum tl_err validate_recipient(const char *in, size_t in_len, struct recipient *out,
                               struct auth_fault *fault);

#endif
