/*
 * limits_store.c - the batch record of the limit windows' running totals (app.h,
 * store_record_limit_usage): one movement's addition to the bucket of one user, currency and
 * direction. PostgreSQL adds it to table limit_totals in the batch's transaction
 * (postgres_app.c); SQLite appends it to limit_usage_log there and keeps the totals in memory,
 * rewriting limit_totals lazily (sqlite_limits.c, schema v8). Never: encode a record a backend
 * could not write back.
 */
#include <string.h>

#include "store/app.h"
#include "util/assert.h"

#define RECORD_TOPIC_LIMIT_USAGE "limit_usage"

static_assert(STORE_RECORD_LIMIT_USAGE_BYTES <= TL_RECORD_BYTES_MAX,
              "a limit usage record fits a batch record");

static void check_usage(const struct store_limit_usage *usage)
{
    TL_ASSERT(!id128_is_zero(usage->user_id));
    TL_ASSERT(usage->currency != 0);
    TL_ASSERT(usage->direction == STORE_DIRECTION_SENT ||
              usage->direction == STORE_DIRECTION_RECEIVED);
    TL_ASSERT(usage->end_ns != 0);
    TL_ASSERT(usage->end_ns <= (uint64_t)INT64_MAX);
    TL_ASSERT(usage->amount > 0);
}

void store_record_limit_usage(const struct store_limit_usage *usage, void *buf,
                              struct store_record *out)
{
    struct store_limit_usage copy;
    TL_ASSERT(usage != NULL);
    TL_ASSERT(buf != NULL);
    TL_ASSERT(out != NULL);
    check_usage(usage);
    memset(&copy, 0, sizeof(copy)); /* no uninitialised padding travels in the record */
    copy.user_id = usage->user_id;
    copy.end_ns = usage->end_ns;
    copy.amount = usage->amount;
    copy.currency = usage->currency;
    copy.direction = usage->direction;
    memcpy(buf, &copy, sizeof(copy));
    memset(out, 0, sizeof(*out));
    out->kind = STORE_RECORD_LIMIT_USAGE;
    out->key = usage->user_id;
    memcpy(out->topic, RECORD_TOPIC_LIMIT_USAGE, sizeof(RECORD_TOPIC_LIMIT_USAGE));
    out->data = buf;
    out->data_bytes = (uint32_t)sizeof(copy);
}

void store_record_limit_usage_decode(const struct store_record *record,
                                     struct store_limit_usage *out)
{
    TL_ASSERT(record != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_LIMIT_USAGE);
    TL_ASSERT(record->data_bytes == sizeof(*out));
    memcpy(out, record->data, sizeof(*out));
    check_usage(out);
}
