/*
 * records.c - the rows of records.h: argument checks, the conversion record's layout, then
 * the backend's records ops (app_backend.h: store_app_ops.records).
 *
 * Like plans.c: anything wrong with the arguments is our bug and asserts; rows read back are
 * checked against what we could have written.
 */
#include "store/records.h"

#include <string.h>

#include "store/app_backend.h"
#include "store/backend.h"
#include "store/records_backend.h"
#include "util/assert.h"
#include "util/limits.h"

static_assert(STORE_RECORD_CONVERSION_BYTES <= TL_RECORD_BYTES_MAX,
              "a conversion row fits in a batch record");

static const struct store_records_ops *records_ops(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops->app != NULL);
    TL_ASSERT(store->ops->app->records != NULL);
    return store->ops->app->records;
}

static void records_check_conversion(const struct store_conversion *c)
{
    TL_ASSERT(c != NULL);
    TL_ASSERT(!id128_is_zero(c->id));
    TL_ASSERT(!id128_is_zero(c->user_id));
    TL_ASSERT(!id128_is_zero(c->from_wallet));
    TL_ASSERT(!id128_is_zero(c->to_wallet));
    TL_ASSERT(c->from_currency >= 1 && c->from_currency <= 999);
    TL_ASSERT(c->to_currency >= 1 && c->to_currency <= 999);
    TL_ASSERT(c->from_currency != c->to_currency);
    TL_ASSERT(c->principal > 0);
    TL_ASSERT(c->fee >= 0);
    TL_ASSERT(c->fee <= INT64_MAX - c->principal);
    TL_ASSERT(c->received > 0);
    TL_ASSERT(c->rate_num > 0);
    TL_ASSERT(c->rate_den > 0);
    TL_ASSERT(c->created_ns != 0);
    TL_ASSERT(c->created_ns <= (uint64_t)INT64_MAX);
}

void store_record_conversion(const struct store_conversion *row, void *buf,
                             struct store_record *out)
{
    records_check_conversion(row);
    TL_ASSERT(buf != NULL);
    TL_ASSERT(out != NULL);
    memcpy(buf, row, sizeof(*row));
    memset(out, 0, sizeof(*out));
    out->kind = STORE_RECORD_CONVERSION;
    out->key = row->id;
    memcpy(out->topic, "conversion", sizeof("conversion"));
    out->data = buf;
    out->data_bytes = (uint32_t)sizeof(*row);
}

void store_record_conversion_decode(const struct store_record *record,
                                    struct store_conversion *out)
{
    TL_ASSERT(record != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_CONVERSION);
    TL_ASSERT(record->data_bytes == sizeof(*out));
    memcpy(out, record->data, sizeof(*out));
    records_check_conversion(out);
    TL_ASSERT(id128_eq(out->id, record->key));
}

enum tl_err store_conversion_get(struct store *store, struct id128 id,
                                 struct store_conversion *out, bool *found)
{
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = records_ops(store)->conversion_get(store, id, out, found);
    if (err == TL_OK && *found) {
        records_check_conversion(out);
        TL_ASSERT(id128_eq(out->id, id));
    }
    return err;
}

enum tl_err store_conversions_list(struct store *store, struct id128 user_id,
                                   const struct store_page *page, struct store_conversion *out,
                                   uint32_t *out_count, bool *has_more)
{
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(page != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    if (page->limit == 0 || page->limit > TL_PAGE_LIMIT_MAX ||
        (page->starting_after_ts != 0 && page->ending_before_ts != 0)) {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err =
        records_ops(store)->conversions_list(store, user_id, page, out, out_count, has_more);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= page->limit);
        for (uint32_t i = 0; i < *out_count; i++) {
            records_check_conversion(&out[i]);
            TL_ASSERT(id128_eq(out[i].user_id, user_id));
            TL_ASSERT(i == 0 || out[i].created_ns < out[i - 1].created_ns);
        }
    }
    return err;
}
