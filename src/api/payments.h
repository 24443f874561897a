/*
 * payments.h - /v1/payments: money from one user to another.
 *
 *   POST /v1/payments {to, amount, currency, note?}   pay someone ("@handle", "+E164", email)
 *   GET  /v1/payments/{id}                            sender or recipient only, else 404
 *   GET  /v1/payments?direction=sent|received         the caller's payments, newest first
 *
 * A payment is ONE writer command: the transfer sender wallet -> recipient wallet (code
 * LEDGER_CODE_PAYMENT, id = the payment id, user_ref = the payment id) and, when the configured
 * fee (fees.p2p_bps, fees.p2p_fixed_minor; core/fees.h) is not zero, a LINKED fee transfer
 * sender wallet -> the currency's fee revenue account (LEDGER_CODE_FEE, user_ref = the payment
 * id). Both move or neither does. The payment row (store_record_payment) and, with an
 * Idempotency-Key, the answer ride with the same batch, so a payment, its row and its replay
 * commit together.
 *
 * Payment ids are fresh UUIDv7s (id128_new), not derived from the Idempotency-Key: an id must
 * carry the time of its first execution to sort and to page, which a derivation from the key
 * cannot know. Retries are deduplicated by the idempotency table (durable, atomic with the
 * money) and, for concurrent retries in this process, by its in-flight table.
 *
 * The hot path reads nothing from the store when its users and wallets are cached
 * (money_cache.h), allocates nothing beyond the JSON body parse and the response buffer, and
 * renders the answer by hand (render.h): the head on the worker thread, only the tail
 * (timestamp, balance after) on the writer thread.
 *
 * Refusals move nothing: 422 cannot_pay_self, recipient_not_found, wallet_not_found (the
 * sender has none in that currency), insufficient_funds. A recipient without a wallet in the
 * currency gets one opened first.
 */
#ifndef TL_API_PAYMENTS_H
#define TL_API_PAYMENTS_H

#include "api/http.h"

enum tl_err payments_create(struct http_request *req, struct http_response *resp);

/*
 * A payment on terms fixed earlier (paying a payment request): the caller pays to_user amount
 * of currency (the fees.p2p fee on top), under the reserved payment_id. The ledger refuses a
 * second transfer with that id, so the same terms are paid at most once; a second attempt
 * answers exists_err (409). Otherwise exactly POST /v1/payments: the same 201 answer, refusals
 * and idempotency. to_user is not the caller.
 */
struct payments_order {
    struct id128 payment_id;
    struct id128 to_user;
    int64_t amount;
    uint16_t currency; /* ISO 4217 number */
    const char *to_text; /* stored as what the sender named, e.g. "@alice" */
    const char *note;    /* "" when none */
    enum tl_err exists_err;
    /* Optional. Set, the request may park while the payment's batch commits (async.h), and
     * after(req, err, after_ctx) runs exactly once with the answer's error, on every path (also
     * when nothing was submitted), before the answer goes out: the caller acts on the outcome
     * there, since the call may return before it. NULL (the scheduler): never parks, and the
     * call returns the outcome. */
    void (*after)(struct http_request *req, enum tl_err err, void *after_ctx);
    void *after_ctx;
};
enum tl_err payments_create_order(struct http_request *req, struct http_response *resp,
                                  const struct payments_order *order);
enum tl_err payments_get(struct http_request *req, struct http_response *resp);
enum tl_err payments_list(struct http_request *req, struct http_response *resp);

#endif
