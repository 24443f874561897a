/*
 * json.h - strict JSON request bodies and compact JSON rendering (jansson underneath).
 *
 * A body is accepted only if it is one JSON object, valid UTF-8, with no duplicate keys, no
 * NUL in strings, no trailing bytes, at most TL_JSON_DEPTH_MAX levels and TL_JSON_FIELDS_MAX
 * top-level members. Depth is checked on the raw bytes before jansson sees them, so nesting
 * cannot exhaust the stack. A handler then checks the object against a field spec: a short
 * static list of {name, type, required, bounds}. Unknown fields, wrong types and missing
 * fields are 400 invalid_request with `param` naming the field; amount fields accept only
 * JSON integers 1..INT64_MAX (not 10.5, 1e3, 1.0, "10", 0, negatives or beyond int64) and fail
 * as 400 invalid_amount.
 *
 * Never: accept a body that breaks a rule above, or report jansson's text (which quotes client
 * bytes) to clients.
 */
#ifndef TL_API_JSON_H
#define TL_API_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/limits.h"

/* What was wrong with a body: the error, the field at fault ("" if none), a sentence. */
struct json_error {
    enum tl_err err;
    char param[TL_JSON_PARAM_BYTES_MAX + 1];
    char detail[160];
    bool out_of_range; /* a number beyond what JSON parsing can hold sat in param */
};

enum json_field_type {
    JSON_FIELD_STRING = 1, /* UTF-8 text of at most max_bytes bytes */
    JSON_FIELD_AMOUNT = 2, /* integer minor units 1..INT64_MAX */
    JSON_FIELD_INT = 3,    /* integer in min..max */
    JSON_FIELD_BOOL = 4,
    JSON_FIELD_OBJECT = 5, /* any object (its own depth bounded by TL_JSON_DEPTH_MAX) */
    JSON_FIELD_ARRAY = 6,  /* an array of 1..max_bytes elements (the handler checks them) */
};

struct json_field {
    const char *name;
    enum json_field_type type;
    bool required;
    uint32_t max_bytes; /* strings: 1..TL_HTTP_BODY_BYTES_MAX */
    int64_t min;        /* ints */
    int64_t max;
};

#define JSON_STRING(name, required, max_bytes)                                                     \
    {                                                                                              \
        name, JSON_FIELD_STRING, required, max_bytes, 0, 0                                         \
    }
#define JSON_AMOUNT(name, required)                                                                \
    {                                                                                              \
        name, JSON_FIELD_AMOUNT, required, 0, 1, INT64_MAX                                         \
    }
#define JSON_INT(name, required, min, max)                                                         \
    {                                                                                              \
        name, JSON_FIELD_INT, required, 0, min, max                                                \
    }
#define JSON_BOOL(name, required)                                                                  \
    {                                                                                              \
        name, JSON_FIELD_BOOL, required, 0, 0, 0                                                   \
    }
#define JSON_ARRAY(name, required, items_max)                                                      \
    {                                                                                              \
        name, JSON_FIELD_ARRAY, required, items_max, 0, 0                                          \
    }
#define JSON_OBJECT(name, required)                                                                \
    {                                                                                              \
        name, JSON_FIELD_OBJECT, required, 0, 0, 0                                                 \
    }

/*
 * Parses body strictly (rules above). On TL_OK *out is a new object reference the caller
 * json_decref's. On error (TL_ERR_INVALID_REQUEST, TL_ERR_NOMEM) fills *error, *out is NULL.
 * A number too large for its type is TL_ERR_INVALID_REQUEST with param naming the top-level
 * field it sits in (json_body_read turns that into invalid_amount for amount fields).
 */
enum tl_err json_body_parse(const uint8_t *body, size_t body_bytes, json_t **out,
                            struct json_error *error);

/* Checks object against fields (field_count <= TL_JSON_FIELDS_MAX). TL_ERR_INVALID_REQUEST or
 * TL_ERR_INVALID_AMOUNT with *error filled; never changes object. */
enum tl_err json_body_validate(const json_t *object, const struct json_field *fields,
                               size_t field_count, struct json_error *error);

/* json_body_parse then json_body_validate: what a handler calls. Same contract. */
enum tl_err json_body_read(const uint8_t *body, size_t body_bytes, const struct json_field *fields,
                           size_t field_count, json_t **out, struct json_error *error);

/* Typed reads of a validated body; absent fields give NULL or the fallback. Cannot fail
 * (a type other than the spec's asserts: it means the spec and the read disagree). */
const char *json_field_string(const json_t *object, const char *name);
int64_t json_field_int(const json_t *object, const char *name, int64_t fallback);
bool json_field_bool(const json_t *object, const char *name, bool fallback);

/* Appends value as compact JSON (integers exact) to out. TL_ERR_LIMIT when it does not fit in
 * out's maximum, TL_ERR_NOMEM; out is unchanged on error. */
enum tl_err json_render(const json_t *value, struct buf *out);

#endif
