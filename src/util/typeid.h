/*
 * typeid.h - type-prefixed, human-readable ids ("user_01h455vb4pex5vsknk084sn02q").
 *
 * A TypeID (TypeID spec v0.3) is a prefix naming the kind of object, '_', and a 26-character
 * suffix: the 128-bit id in lowercase Crockford base32 ("0123456789abcdefghjkmnpqrstvwxyz",
 * no i, l, o, u), most significant bits first, padded with two zero bits at the top so the first
 * character is 0-7. The API shows ids in this form; the store keeps the raw id128.
 *
 * Prefix rules: 1-63 characters of [a-z_], starting and ending with [a-z]. The spec also allows
 * an empty prefix, written as the bare suffix without '_'; this module accepts that too.
 * Decoding is strict: exactly one spelling is accepted for each (prefix, id), so a decoded id
 * re-encodes to the same string (uppercase, i/l/o/u aliases and a first character above 7 are
 * rejected). Decoding never looks at id versions: the nil id decodes to zero and callers that
 * reserve zero (id128.h) must reject it themselves.
 *
 * Pure: no allocation, no I/O, no global state. Never asserts on decode input.
 */
#ifndef TL_UTIL_TYPEID_H
#define TL_UTIL_TYPEID_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/id128.h"

#define TYPEID_PREFIX_LEN_MAX 63
#define TYPEID_SUFFIX_LEN 26
/* Longest TypeID string: prefix, '_', suffix. */
#define TYPEID_LEN_MAX (TYPEID_PREFIX_LEN_MAX + 1 + TYPEID_SUFFIX_LEN)
/* Buffer size for an encoded TypeID plus its NUL. */
#define TYPEID_STR_BYTES (TYPEID_LEN_MAX + 1)

/* Prefixes Tally uses; each passes typeid_prefix_valid. */
#define TYPEID_PREFIX_USER "user"
#define TYPEID_PREFIX_WALLET "wal"
#define TYPEID_PREFIX_PAYMENT "pay"
#define TYPEID_PREFIX_SESSION "sess"
#define TYPEID_PREFIX_DEPOSIT "dep"
#define TYPEID_PREFIX_TRANSFER "txn"
#define TYPEID_PREFIX_REFUND "ref"
#define TYPEID_PREFIX_REVERSAL "rev"
#define TYPEID_PREFIX_DISPUTE "dsp"

/* Why a string was rejected; TYPEID_FAULT_NONE on success. */
enum typeid_fault {
    TYPEID_FAULT_NONE,
    TYPEID_FAULT_LENGTH,          /* too long, or the suffix is not 26 characters */
    TYPEID_FAULT_PREFIX,          /* prefix breaks the prefix rules */
    TYPEID_FAULT_WRONG_PREFIX,    /* a valid TypeID of another kind */
    TYPEID_FAULT_SUFFIX_CHAR,     /* a character outside the lowercase alphabet */
    TYPEID_FAULT_SUFFIX_OVERFLOW, /* first suffix character above '7' (more than 128 bits) */
};

/* True if prefix (length prefix_len, no NUL needed) follows the prefix rules; the empty prefix
 * is valid. Cannot fail. */
bool typeid_prefix_valid(const char *prefix, size_t prefix_len);

/*
 * Writes "<prefix>_<suffix>" and a NUL into out; returns the length without the NUL. prefix is
 * a NUL-terminated string chosen by our code (one of TYPEID_PREFIX_*), so an invalid prefix is
 * our bug and asserts. Cannot fail otherwise.
 */
size_t typeid_encode(const char *prefix, struct id128 id, char out[TYPEID_STR_BYTES]);

/*
 * Decodes str (length str_len, no NUL needed) that must carry exactly the prefix
 * expected_prefix (NUL-terminated, valid; asserts otherwise). On success fills *out and returns
 * TL_OK. Otherwise returns TL_ERR_INVALID_REQUEST, leaves *out untouched and, if fault is not
 * NULL, says why in *fault.
 */
enum tl_err typeid_decode(const char *str, size_t str_len, const char *expected_prefix,
                          struct id128 *out, enum typeid_fault *fault);

/*
 * Decodes a TypeID with any valid prefix. On success fills *out, and *prefix_len with the
 * prefix length (the prefix is str[0 .. *prefix_len)); returns TL_OK. Otherwise returns
 * TL_ERR_INVALID_REQUEST with outputs untouched and the reason in *fault (if not NULL).
 */
enum tl_err typeid_parse(const char *str, size_t str_len, size_t *prefix_len, struct id128 *out,
                         enum typeid_fault *fault);

/* A short English sentence for an API problem detail. Cannot fail. */
const char *typeid_fault_detail(enum typeid_fault fault);

#endif
