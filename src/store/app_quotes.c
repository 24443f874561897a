/*
 * app_quotes.c - the quote record of app.h (store_record_quote): a quote row that rides with a
 * writer batch, so quotes are group-committed with the money instead of one durable
 * transaction each. Layout and checks only; the backends insert it (sqlite_app.c,
 * postgres_app.c) in their records phase.
 *
 * Like app.c: the API checked what a client sent, so a quote that breaks a rule below is our
 * bug and asserts, on the way in and again on the way out.
 */
#include <stddef.h>
#include <string.h>

#include "store/app.h"
#include "store/app_backend.h"
#include "util/assert.h"
#include "util/limits.h"

/* The row without the read-only "used" flag. A plain struct copied with memcpy: records live
 * only in this process between serialize and commit (the writer's arena does not align). */
struct record_quote {
    struct id128 id;
    struct id128 user_id;
    struct id128 recipient_id;
    struct id128 payment_id;
    int64_t amount;
    int64_t fee;
    int64_t sent;
    int64_t rate_num;
    int64_t rate_den;
    uint64_t created_ns;
    uint64_t expires_ns;
    uint16_t send_currency;
    uint16_t receive_currency;
    uint8_t operation;
};

#define RECORD_TOPIC_QUOTE "quote"

static_assert(sizeof(struct record_quote) <= STORE_RECORD_QUOTE_BYTES,
              "a quote record fits in the buffer app.h asks for");
static_assert(STORE_RECORD_QUOTE_BYTES <= TL_RECORD_BYTES_MAX, "a quote record fits a record");

static void quote_record_check(const struct record_quote *q)
{
    TL_ASSERT(!id128_is_zero(q->id));
    TL_ASSERT(!id128_is_zero(q->user_id));
    TL_ASSERT(!id128_is_zero(q->payment_id));
    TL_ASSERT(!id128_eq(q->user_id, q->recipient_id));
    TL_ASSERT(q->send_currency != 0);
    TL_ASSERT(q->receive_currency != 0);
    TL_ASSERT(q->amount > 0);
    TL_ASSERT(q->fee >= 0);
    TL_ASSERT(q->sent > 0);
    /* In one currency what leaves the sender is exactly what arrives plus the fee. */
    TL_ASSERT(q->send_currency != q->receive_currency || q->sent - q->fee == q->amount);
    TL_ASSERT(q->rate_num > 0);
    TL_ASSERT(q->rate_den > 0);
    TL_ASSERT(q->created_ns != 0);
    TL_ASSERT(q->created_ns <= q->expires_ns);
    TL_ASSERT(q->expires_ns <= (uint64_t)INT64_MAX);
}

void store_record_quote(const struct store_quote *quote, void *buf, struct store_record *out)
{
    struct record_quote r;

    TL_ASSERT(quote != NULL);
    TL_ASSERT(buf != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(!quote->used); /* a new quote: its payment cannot exist yet */
    memset(&r, 0, sizeof(r)); /* no uninitialised padding travels in the record */
    r.id = quote->id;
    r.user_id = quote->user_id;
    r.recipient_id = quote->recipient_id;
    r.payment_id = quote->payment_id;
    r.amount = quote->amount;
    r.fee = quote->fee;
    r.sent = quote->sent;
    r.rate_num = quote->rate_num;
    r.rate_den = quote->rate_den;
    r.created_ns = quote->created_ns;
    r.expires_ns = quote->expires_ns;
    r.send_currency = quote->send_currency;
    r.receive_currency = quote->receive_currency;
    r.operation = quote->operation;
    quote_record_check(&r);
    memcpy(buf, &r, sizeof(r));
    memset(out, 0, sizeof(*out));
    out->kind = STORE_RECORD_QUOTE;
    out->key = quote->id;
    static_assert(sizeof(RECORD_TOPIC_QUOTE) <= sizeof(out->topic), "topic fits");
    memcpy(out->topic, RECORD_TOPIC_QUOTE, sizeof(RECORD_TOPIC_QUOTE));
    out->data = buf;
    out->data_bytes = (uint32_t)sizeof(r);
}

void store_record_quote_decode(const struct store_record *record, struct store_quote *out)
{
    struct record_quote r;

    TL_ASSERT(record != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_QUOTE);
    TL_ASSERT(record->data_bytes == sizeof(r));
    memcpy(&r, record->data, sizeof(r));
    quote_record_check(&r);
    TL_ASSERT(id128_eq(r.id, record->key));
    memset(out, 0, sizeof(*out));
    out->id = r.id;
    out->user_id = r.user_id;
    out->recipient_id = r.recipient_id;
    out->payment_id = r.payment_id;
    out->amount = r.amount;
    out->fee = r.fee;
    out->sent = r.sent;
    out->rate_num = r.rate_num;
    out->rate_den = r.rate_den;
    out->created_ns = r.created_ns;
    out->expires_ns = r.expires_ns;
    out->send_currency = r.send_currency;
    out->receive_currency = r.receive_currency;
    out->operation = r.operation;
    out->used = false;
}
