/*
 * quotes.h - /v1/quotes: the exact terms of a movement before it happens, and the fee
 * schedules of configuration.
 *
 *   POST /v1/quotes {operation, amount, currency, recipient?, send_currency?}
 *        -> 201 {id: "quo_...", operation, amount, currency, send_currency, fee, sent,
 *                received, rate, recipient, expires_at, created_at}
 *
 * amount is what the recipient receives; the fee (core/fees.h: the operation's schedule from
 * [fees], half-up) is paid on top, so sent = amount + fee, and rate is "1". An fx quote
 * (send_currency required) has the exact terms of api/fx.h's fx_terms: amount received in
 * currency, sent and fee in send_currency, the customer rate; conversions.h uses it for a
 * conversion or a cross-currency payment. A quote lives quotes.ttl_s seconds (60 by
 * default) and reserves the id of the payment that will use it: POST /v1/payments {..., quote_id} then executes exactly at the
 * quoted terms (quotes_apply) or fails, and the ledger refuses that id a second time, so a
 * quote is used once (an fx quote too, whichever of the two uses it).
 *
 * A quote is stored through the single writer (store/writer.h) as a record-only command: its
 * row (store_record_quote) and, with an Idempotency-Key, its answer commit in the writer's next
 * group-committed batch, beside other commands' money, and the 201 goes out once that batch is
 * durable. So quotes share the batch's one fsync instead of paying one each.
 *
 * Never: compute a fee with a float, or let anyone but the quote's owner see or use it.
 */
#ifndef TL_API_QUOTES_H
#define TL_API_QUOTES_H

#include "api/http.h"
#include "core/fees.h"
#include "core/money.h"
#include "store/app.h"

struct config;

#define QUOTES_TYPEID_PREFIX "quo"

enum tl_err quotes_create(struct http_request *req, struct http_response *resp);

/* The fee for amount of currency under operation's schedule in config (NULL: free). TL_OK, or
 * TL_ERR_OVERFLOW when the fee or amount + fee passes INT64_MAX. */
enum tl_err quotes_fee(const struct config *config, enum fees_operation operation,
                       const struct money_currency *currency, int64_t amount,
                       struct fees_quote *out);

/*
 * For POST /v1/payments with quote_id: checks the caller's quote against the payment in row
 * (from_user, to_user, amount, currency set): operation p2p, same amount and currency, same
 * recipient when the quote names one, unexpired, unused. TL_OK with the quote's reserved
 * payment id and fee; else the error is recorded with http_fail: 404 not_found (param
 * quote_id; also someone else's quote), 422 quote_mismatch, 409 quote_expired, 409 quote_used.
 */
enum tl_err quotes_apply(struct http_request *req, struct http_response *resp,
                         const char *quote_text, const struct store_payment *row,
                         struct id128 *payment_id, int64_t *fee);

#endif
