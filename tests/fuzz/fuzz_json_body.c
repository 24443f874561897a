// fuzz-sources: src/api/json.c src/util/buf.c
// fuzz-libs: -ljansson
// fuzz-args: -max_len=4096
/*
 * fuzz_json_body.c - libFuzzer target for the strict JSON body parser and field validator.
 *
 * Every input goes through json_body_parse and json_body_read (with a payment-like spec), and
 * the target checks properties of the answers, not only that nothing crashed:
 *   - the only errors are invalid_request, invalid_amount (read only) and out_of_memory; an
 *     error leaves *out NULL and fills a NUL-terminated param and a non-empty detail;
 *   - an accepted body is an object within TL_JSON_DEPTH_MAX levels and TL_JSON_FIELDS_MAX
 *     members, with no NUL in any string, that renders (json_render) to text the parser
 *     accepts again as an equal value;
 *   - differential: whatever plain jansson accepts (with duplicate keys refused) as an object
 *     within the limits, the strict parser accepts too;
 *   - json_body_read accepts only bodies whose amount is an integer 1..INT64_MAX and whose
 *     fields all match the spec; invalid_amount always names "amount".
 * Build and run with tests/fuzz/run.sh.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "api/json.h"
#include "util/assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct json_field spec[] = {
    JSON_AMOUNT("amount", true),    JSON_STRING("currency", true, 3),
    JSON_STRING("note", false, 64), JSON_INT("limit", false, 1, 100),
    JSON_BOOL("instant", false),    JSON_OBJECT("metadata", false),
};
#define SPEC_COUNT (sizeof(spec) / sizeof(spec[0]))

/* Nesting of value: 1 for an empty or flat container, 0 for a scalar. */
static unsigned depth_of(const json_t *value)
{
    unsigned deepest = 0;
    if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)value, key, member)
        {
            unsigned d = depth_of(member);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++) {
            unsigned d = depth_of(json_array_get(value, i));
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

static bool has_nul(const json_t *value)
{
    if (json_is_string(value)) {
        return strlen(json_string_value(value)) != json_string_length(value);
    }
    if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)value, key, member)
        {
            if (has_nul(member)) {
                return true;
            }
        }
    }
    if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (has_nul(json_array_get(value, i))) {
                return true;
            }
        }
    }
    return false;
}

static void check_error(enum tl_err err, const json_t *out, const struct json_error *error)
{
    TL_ASSERT(out == NULL);
    TL_ASSERT(error->err == err);
    TL_ASSERT(memchr(error->param, '\0', sizeof(error->param)) != NULL);
    TL_ASSERT(error->detail[0] != '\0');
}

static void check_accepted(const json_t *body)
{
    TL_ASSERT(json_is_object(body));
    TL_ASSERT(depth_of(body) <= TL_JSON_DEPTH_MAX);
    TL_ASSERT(json_object_size(body) <= TL_JSON_FIELDS_MAX);
    TL_ASSERT(!has_nul(body));
    struct buf text;
    buf_init(&text, 1u << 20);
    TL_ASSERT(json_render(body, &text) == TL_OK);
    json_t *again = NULL;
    struct json_error error;
    TL_ASSERT(json_body_parse((const uint8_t *)text.data, text.len, &again, &error) == TL_OK);
    TL_ASSERT(json_equal(body, again));
    json_decref(again);
    buf_free(&text);
}

/* Plain jansson's verdict, for the differential check. */
static bool jansson_accepts_within_limits(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *value = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    bool ok = value != NULL && json_is_object(value) && depth_of(value) <= TL_JSON_DEPTH_MAX &&
              json_object_size(value) <= TL_JSON_FIELDS_MAX;
    json_decref(value);
    return ok;
}

static void check_read(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    struct json_error error;
    enum tl_err err = json_body_read(data, size, spec, SPEC_COUNT, &body, &error);
    if (err != TL_OK) {
        TL_ASSERT(err == TL_ERR_INVALID_REQUEST || err == TL_ERR_INVALID_AMOUNT ||
                  err == TL_ERR_NOMEM);
        check_error(err, body, &error);
        TL_ASSERT(err != TL_ERR_INVALID_AMOUNT || strcmp(error.param, "amount") == 0);
        return;
    }
    const json_t *amount = json_object_get(body, "amount");
    TL_ASSERT(json_is_integer(amount));
    TL_ASSERT(json_integer_value(amount) >= 1);
    const char *currency = json_field_string(body, "currency");
    TL_ASSERT(currency != NULL && strlen(currency) <= 3);
    const char *key;
    json_t *member;
    json_object_foreach(body, key, member)
    {
        bool known = false;
        for (size_t i = 0; i < SPEC_COUNT; i++) {
            known = known || strcmp(spec[i].name, key) == 0;
        }
        TL_ASSERT(known);
    }
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    struct json_error error;
    enum tl_err err = json_body_parse(size > 0 ? data : NULL, size, &body, &error);
    if (err == TL_OK) {
        check_accepted(body);
        json_decref(body);
    } else {
        TL_ASSERT(err == TL_ERR_INVALID_REQUEST || err == TL_ERR_NOMEM);
        check_error(err, body, &error);
        TL_ASSERT(err == TL_ERR_NOMEM || !jansson_accepts_within_limits(data, size));
    }
    check_read(data, size);
    return 0;
}
