/*
 * reversals.h - operator reversals of payments (fraud, a dispute decided for the payer).
 *
 *   POST /v1/admin/payments/{id}/reverse   {reason} -> 201 reversal (operator token)
 *
 * A reversal gives the payer back what is left of the payment after refunds, whether or not
 * the payee still holds it. One linked chain (reversals_run):
 *   refundable -> refund capacity   rest        the cap of refunds.h: nothing is given back twice
 *   payee wallet -> payer wallet    from_wallet what the payee's wallet holds, up to rest
 *   payee receivable -> payer wallet shortfall  the rest of it, which the payee now owes
 * (LEDGER_CODE_REVERSAL, user_ref the payment). The receivable (debts.h) restricts the payee's
 * wallet until incoming money has covered the debt. The split is computed from committed
 * balances; if the wallet shrank before the chain ran, its leg fails, nothing moves and the
 * split is computed again; if the wallet grew, the debt is repaid from it right after.
 * After a reversal nothing is left to refund (the cap is used up), so a payment is reversed
 * at most once: a second one answers 409 payment_reversed.
 *
 * Never: reverse without the cap leg, or let a reversal overdraw a wallet.
 */
#ifndef TL_API_REVERSALS_H
#define TL_API_REVERSALS_H

#include "api/http.h"
#include "store/app.h"

/*
 * Reverses what is left of payment under the reversal id id (fixed by the caller, so a rerun
 * after a failure reuses its row), for dispute_id (zero: none), and renders the reversal into
 * resp's body; with answer set, that body is also the request's Idempotency-Key answer,
 * committed with the money. TL_OK with *out the succeeded row; 409 payment_reversed when the payment was
 * reversed already (*out that reversal, when found); 422 refund_exceeds_payment when refunds
 * left nothing; writer and store errors.
 */
enum tl_err reversals_run(struct http_request *req, struct http_response *resp,
                          const struct store_payment *payment, struct id128 id,
                          const char *reason, struct id128 dispute_id, bool answer,
                          struct store_refund *out);

/* The payment's succeeded reversal, if any. */
enum tl_err reversals_find(struct store *reader, struct id128 payment_id, struct store_refund *out,
                           bool *found);

enum tl_err reversals_create(struct http_request *req, struct http_response *resp);

#endif
