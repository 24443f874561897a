/*
 * conversions.h - moving a user's money from one currency into another: conversions between
 * their own wallets, and the conversion legs of a cross-currency payment.
 *
 *   POST /v1/conversions {from_currency, to_currency, amount, quote_id?}
 *        -> 201 {id: "conv_...", status, from_currency, to_currency, amount, sent, fee,
 *                received, rate, quote_id, from_wallet: {id, balance_after},
 *                to_wallet: {id, balance_after}, created_at}
 *
 * amount is what the user RECEIVES in to_currency (as in quotes and payments); sent, fee and
 * the rate come from api/fx.h's fx_terms at the current rate, or exactly from the quote named
 * by quote_id (an fx quote of the caller without a recipient, for the same currencies and
 * amount, unexpired and unused). The to-wallet is opened when missing; the from-wallet must
 * exist (422 wallet_not_found).
 *
 * The money is ONE writer command, a LINKED chain, so both legs happen or neither does:
 *
 *   1. from-wallet -> FX pool (from)      principal          code fx   (id: the conversion)
 *   2. FX pool (to) -> to-wallet          received           code fx
 *   3. from-wallet -> fee revenue (from)  fee (when not 0)   code fee
 *
 * Pools are the platform's position per currency (accounts.h). A conversion from a quote
 * reuses the quote's reserved id for leg 1, so the ledger refuses it a second time
 * (409 quote_used), on one node or many.
 *
 * A cross-currency payment (POST /v1/payments with the quote_id of an fx quote, payments.c)
 * prepends legs 1-3 to the payment, with the sender's own wallet in the payment's currency
 * (opened when missing) as the to-wallet: the payer's money is converted into the payee's
 * currency and paid on, in one chain.
 *
 * Every conversion of POST /v1/conversions is stored (store/records.h: one row with the terms,
 * both wallets and their balances after), with a conversion.created event and an audit entry,
 * all attached to the batch of the legs: they exist exactly when the money moved. GET
 * /v1/conversions[/{id}] read the rows (the caller's own only).
 *
 * Never: move one leg without the other, or convert at terms other than those answered.
 */
#ifndef TL_API_CONVERSIONS_H
#define TL_API_CONVERSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "core/ledger.h"
#include "store/app.h"

#define CONVERSIONS_TYPEID_PREFIX "conv"
/* Events of the conversion legs: principal, received, fee. */
#define CONVERSIONS_LEGS_MAX 3u

enum tl_err conversions_create(struct http_request *req, struct http_response *resp);
/* GET /v1/conversions/{id}: the caller's own (404 for another user's, like a missing one). */
enum tl_err conversions_get(struct http_request *req, struct http_response *resp);
/* GET /v1/conversions: the caller's conversions, newest first (limit, starting_after,
 * ending_before with conv_ ids). */
enum tl_err conversions_list(struct http_request *req, struct http_response *resp);

/* The conversion legs of a cross-currency payment. */
struct conversions_legs {
    bool active; /* the payment's quote is an fx quote: these legs come first */
    uint32_t count;
    struct ledger_event events[CONVERSIONS_LEGS_MAX];
};

/*
 * For POST /v1/payments with quote_id: when quote_text names an fx quote of the caller, checks
 * it against the payment in row (from_user, to_user, amount and currency set): the quote's
 * receive currency and amount are the payment's, its recipient (when it names one) is the
 * payee, unexpired and unused. Then: row->id is the quote's reserved payment id, row->fee 0
 * (the fx fee is in the legs), the sender's wallet in the payment's currency exists (opened),
 * and legs holds the LINKED legs from the sender's wallet in the quote's send currency. When
 * the quote is another operation, legs->active is false and nothing else changes (the p2p path
 * checks it). Errors are recorded with http_fail: 404 not_found (param quote_id; someone
 * else's too), 422 quote_mismatch, 409 quote_expired, 409 quote_used, 422 wallet_not_found
 * (no wallet in the send currency); or the store's and writer's errors.
 */
enum tl_err conversions_payment_quote(struct http_request *req, struct http_response *resp,
                                      const char *quote_text, struct store_payment *row,
                                      struct conversions_legs *legs);

#endif
