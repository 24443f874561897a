#include "api/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assert.h"

/* Where each top-level member lies in the raw bytes, so jansson's error positions (a byte
 * offset) can be turned into the name of the field at fault. */
struct json_member_span {
    char key[TL_JSON_PARAM_BYTES_MAX + 1]; /* raw bytes between the quotes, cut to fit */
    size_t key_start;                      /* offset of the opening quote */
    size_t value_end;                      /* offset of the ',' or '}' after the value */
};

struct json_scan {
    struct json_member_span members[TL_JSON_FIELDS_MAX];
    uint32_t member_count;
};

static void json_error_set(struct json_error *error, enum tl_err err, const char *param,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void json_error_set(struct json_error *error, enum tl_err err, const char *param,
                           const char *fmt, ...)
{
    error->err = err;
    error->out_of_range = false;
    snprintf(error->param, sizeof(error->param), "%s", param != NULL ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error->detail, sizeof(error->detail), fmt, ap);
    va_end(ap);
}

/* At depth 1 (inside the top-level object) a member is: key, ':', value, then ',' or '}'. */
enum json_scan_expect {
    JSON_SCAN_KEY = 0,
    JSON_SCAN_VALUE = 1,
};

static void json_scan_key(struct json_scan *scan, const uint8_t *body, size_t start, size_t end)
{
    /* One past TL_JSON_FIELDS_MAX is still counted so the caller can reject it. */
    if (scan->member_count < TL_JSON_FIELDS_MAX) {
        struct json_member_span *m = &scan->members[scan->member_count];
        size_t len = end - start - 1;
        if (len > TL_JSON_PARAM_BYTES_MAX) {
            len = TL_JSON_PARAM_BYTES_MAX;
        }
        memcpy(m->key, body + start + 1, len);
        m->key[len] = '\0';
        m->key_start = start;
        m->value_end = SIZE_MAX;
    }
    scan->member_count++;
}

static void json_scan_value_end(struct json_scan *scan, size_t at)
{
    if (scan->member_count > 0 && scan->member_count <= TL_JSON_FIELDS_MAX) {
        scan->members[scan->member_count - 1].value_end = at;
    }
}

/*
 * Walks the raw bytes once: tracks nesting outside strings and records top-level members.
 * It does not validate syntax (jansson does); on malformed input its spans are only hints.
 * TL_ERR_INVALID_REQUEST when nesting exceeds TL_JSON_DEPTH_MAX or there are too many members.
 */
static enum tl_err json_scan_body(const uint8_t *body, size_t bytes, struct json_scan *scan,
                                  struct json_error *error)
{
    uint32_t depth = 0;
    bool top_closed = false; /* members are recorded only inside the first top-level value */
    enum json_scan_expect expect = JSON_SCAN_KEY;
    memset(scan, 0, sizeof(*scan));
    for (size_t i = 0; i < bytes; i++) {
        uint8_t c = body[i];
        bool members = depth == 1 && !top_closed;
        if (c == '"') {
            size_t start = i;
            for (i++; i < bytes && body[i] != '"'; i++) {
                i += body[i] == '\\' ? 1 : 0; /* skip the escaped byte */
            }
            if (members && expect == JSON_SCAN_KEY && i < bytes) {
                json_scan_key(scan, body, start, i);
                expect = JSON_SCAN_VALUE;
            }
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth > TL_JSON_DEPTH_MAX) {
                json_error_set(error, TL_ERR_INVALID_REQUEST, NULL,
                               "body nests deeper than %u levels", TL_JSON_DEPTH_MAX);
                return TL_ERR_INVALID_REQUEST;
            }
        } else if (c == '}' || c == ']') {
            if (members) {
                json_scan_value_end(scan, i);
                top_closed = true;
            }
            depth -= depth > 0 ? 1 : 0;
        } else if (c == ',' && members) {
            json_scan_value_end(scan, i);
            expect = JSON_SCAN_KEY;
        }
    }
    if (scan->member_count > TL_JSON_FIELDS_MAX) {
        json_error_set(error, TL_ERR_INVALID_REQUEST, NULL, "body has more than %u fields",
                       TL_JSON_FIELDS_MAX);
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

/* The top-level field whose key or value covers byte offset position, or NULL. */
static const char *json_scan_field_at(const struct json_scan *scan, size_t position)
{
    for (uint32_t i = 0; i < scan->member_count && i < TL_JSON_FIELDS_MAX; i++) {
        const struct json_member_span *m = &scan->members[i];
        if (position > m->key_start && position <= m->value_end) {
            return m->key;
        }
    }
    return NULL;
}

/* A fixed sentence per jansson error: its own text quotes client bytes. */
static const char *json_error_sentence(enum json_error_code code)
{
    switch (code) {
    case json_error_invalid_utf8:
        return "body is not valid UTF-8";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "strings must not contain NUL (\\u0000)";
    case json_error_duplicate_key:
        return "field appears more than once";
    case json_error_numeric_overflow:
        return "number is out of range";
    case json_error_end_of_input_expected:
        return "unexpected data after the JSON object";
    case json_error_premature_end_of_input:
        return "body ends before the JSON object does";
    default:
        return "body is not valid JSON";
    }
}

enum tl_err json_body_parse(const uint8_t *body, size_t body_bytes, json_t **out,
                            struct json_error *error)
{
    struct json_scan scan;
    json_error_t jerr;
    *out = NULL;
    if (body_bytes == 0) {
        json_error_set(error, TL_ERR_INVALID_REQUEST, NULL, "body must be a JSON object");
        return TL_ERR_INVALID_REQUEST;
    }
    TL_ASSERT(body != NULL);
    enum tl_err err = json_scan_body(body, body_bytes, &scan, error);
    if (err != TL_OK) {
        return err;
    }
    json_t *value = json_loadb((const char *)body, body_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (value == NULL) {
        enum json_error_code code = json_error_code(&jerr);
        if (code == json_error_out_of_memory) {
            json_error_set(error, TL_ERR_NOMEM, NULL, "out of memory");
            return TL_ERR_NOMEM;
        }
        const char *param = NULL;
        if (jerr.position >= 0) {
            param = json_scan_field_at(&scan, (size_t)jerr.position);
        }
        json_error_set(error, TL_ERR_INVALID_REQUEST, param, "%s", json_error_sentence(code));
        error->out_of_range = code == json_error_numeric_overflow;
        return TL_ERR_INVALID_REQUEST;
    }
    if (!json_is_object(value)) {
        json_decref(value);
        json_error_set(error, TL_ERR_INVALID_REQUEST, NULL, "body must be a JSON object");
        return TL_ERR_INVALID_REQUEST;
    }
    *out = value;
    return TL_OK;
}

static const struct json_field *json_spec_find(const struct json_field *fields, size_t field_count,
                                               const char *name)
{
    for (size_t i = 0; i < field_count; i++) {
        if (strcmp(fields[i].name, name) == 0) {
            return &fields[i];
        }
    }
    return NULL;
}

/* A spec is static data written by us: a bad row is our bug. */
static void json_spec_check(const struct json_field *fields, size_t field_count)
{
    for (size_t i = 0; i < field_count; i++) {
        TL_ASSERT(fields[i].name != NULL);
        TL_ASSERT(fields[i].type >= JSON_FIELD_STRING && fields[i].type <= JSON_FIELD_ARRAY);
        if (fields[i].type == JSON_FIELD_STRING) {
            TL_ASSERT(fields[i].max_bytes >= 1);
            TL_ASSERT(fields[i].max_bytes <= TL_HTTP_BODY_BYTES_MAX);
        }
        if (fields[i].type == JSON_FIELD_INT) {
            TL_ASSERT(fields[i].min <= fields[i].max);
        }
    }
}

static enum tl_err json_amount_error(const char *name, struct json_error *error)
{
    json_error_set(error, TL_ERR_INVALID_AMOUNT, name,
                   "must be a whole number of minor units from 1 to %lld", (long long)INT64_MAX);
    return TL_ERR_INVALID_AMOUNT;
}

static enum tl_err json_check_amount(const json_t *value, const char *name,
                                     struct json_error *error)
{
    /* Reals (10.5, 1e3, 1.0) and strings ("10") are refused: amounts are exact integers. */
    if (json_is_integer(value) && json_integer_value(value) >= 1) {
        return TL_OK;
    }
    return json_amount_error(name, error);
}

/* One present member against its spec row. */
static enum tl_err json_check_field(const json_t *value, const struct json_field *field,
                                    struct json_error *error)
{
    switch (field->type) {
    case JSON_FIELD_AMOUNT:
        return json_check_amount(value, field->name, error);
    case JSON_FIELD_STRING:
        if (!json_is_string(value)) {
            break;
        }
        if (json_string_length(value) > field->max_bytes) {
            json_error_set(error, TL_ERR_INVALID_REQUEST, field->name, "must be at most %u bytes",
                           field->max_bytes);
            return TL_ERR_INVALID_REQUEST;
        }
        return TL_OK;
    case JSON_FIELD_INT:
        if (!json_is_integer(value)) {
            break;
        }
        if (json_integer_value(value) < field->min || json_integer_value(value) > field->max) {
            json_error_set(error, TL_ERR_INVALID_REQUEST, field->name,
                           "must be an integer from %lld to %lld", (long long)field->min,
                           (long long)field->max);
            return TL_ERR_INVALID_REQUEST;
        }
        return TL_OK;
    case JSON_FIELD_BOOL:
        if (json_is_boolean(value)) {
            return TL_OK;
        }
        break;
    case JSON_FIELD_OBJECT:
        if (json_is_object(value)) {
            return TL_OK;
        }
        break;
    case JSON_FIELD_ARRAY:
        if (!json_is_array(value)) {
            break;
        }
        if (json_array_size(value) < 1 || json_array_size(value) > field->max_bytes) {
            json_error_set(error, TL_ERR_INVALID_REQUEST, field->name,
                           "must hold 1 to %u elements", field->max_bytes);
            return TL_ERR_INVALID_REQUEST;
        }
        return TL_OK;
    }
    static const char *const type_names[] = {"",           "a string",  "an amount", "an integer",
                                             "a boolean", "an object", "an array"};
    json_error_set(error, TL_ERR_INVALID_REQUEST, field->name, "must be %s",
                   type_names[field->type]);
    return TL_ERR_INVALID_REQUEST;
}

enum tl_err json_body_validate(const json_t *object, const struct json_field *fields,
                               size_t field_count, struct json_error *error)
{
    const char *name;
    json_t *value;
    TL_ASSERT(json_is_object(object));
    TL_ASSERT(field_count <= TL_JSON_FIELDS_MAX);
    json_spec_check(fields, field_count);
    /* jansson keeps insertion order, so the first bad field in the body is reported. */
    json_object_foreach((json_t *)object, name, value)
    {
        const struct json_field *field = json_spec_find(fields, field_count, name);
        if (field == NULL) {
            json_error_set(error, TL_ERR_INVALID_REQUEST, name, "unknown field");
            return TL_ERR_INVALID_REQUEST;
        }
        enum tl_err err = json_check_field(value, field, error);
        if (err != TL_OK) {
            return err;
        }
    }
    for (size_t i = 0; i < field_count; i++) {
        if (fields[i].required && json_object_get(object, fields[i].name) == NULL) {
            json_error_set(error, TL_ERR_INVALID_REQUEST, fields[i].name, "is required");
            return TL_ERR_INVALID_REQUEST;
        }
    }
    return TL_OK;
}

enum tl_err json_body_read(const uint8_t *body, size_t body_bytes, const struct json_field *fields,
                           size_t field_count, json_t **out, struct json_error *error)
{
    json_t *object = NULL;
    *out = NULL;
    enum tl_err err = json_body_parse(body, body_bytes, &object, error);
    if (err != TL_OK) {
        /* A number beyond int64 in an amount field is a bad amount, not bad JSON. */
        const struct json_field *field = json_spec_find(fields, field_count, error->param);
        if (error->out_of_range && field != NULL && field->type == JSON_FIELD_AMOUNT) {
            err = json_amount_error(field->name, error);
        }
        return err;
    }
    err = json_body_validate(object, fields, field_count, error);
    if (err != TL_OK) {
        json_decref(object);
        return err;
    }
    *out = object;
    return TL_OK;
}

const char *json_field_string(const json_t *object, const char *name)
{
    const json_t *value = json_object_get(object, name);
    if (value == NULL) {
        return NULL;
    }
    TL_ASSERT(json_is_string(value));
    return json_string_value(value);
}

int64_t json_field_int(const json_t *object, const char *name, int64_t fallback)
{
    const json_t *value = json_object_get(object, name);
    if (value == NULL) {
        return fallback;
    }
    TL_ASSERT(json_is_integer(value));
    return (int64_t)json_integer_value(value);
}

bool json_field_bool(const json_t *object, const char *name, bool fallback)
{
    const json_t *value = json_object_get(object, name);
    if (value == NULL) {
        return fallback;
    }
    TL_ASSERT(json_is_boolean(value));
    return json_is_true(value);
}

enum tl_err json_render(const json_t *value, struct buf *out)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t needed = json_dumpb(value, NULL, 0, flags);
    if (needed == 0) {
        return TL_ERR_NOMEM;
    }
    enum tl_err err = buf_reserve(out, needed);
    if (err != TL_OK) {
        return err;
    }
    size_t written = json_dumpb(value, out->data + out->len, needed, flags);
    TL_ASSERT(written == needed);
    out->len += written;
    out->data[out->len] = '\0';
    return TL_OK;
}
