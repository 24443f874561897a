/*
 * refunds.h - refunds of a payment by its payee, and the ledger construct that caps every way
 * money of a payment goes back (refunds here, operator reversals in reversals.h).
 *
 *   POST /v1/payments/{id}/refunds   {amount?, reason?} -> 201 refund (the payee only)
 *   GET  /v1/payments/{id}/refunds   the payment's refunds and reversal (payer or payee)
 *
 * The cap lives in the ledger. Each refunded payment gets a REFUNDABLE account (kind
 * LEDGER_KIND_REFUNDABLE, DEBITS_MUST_NOT_EXCEED_CREDITS, id refunds_refundable_id(payment)),
 * opened in one linked chain with a transfer of the payment's amount into it from the
 * currency's REFUND_CAPACITY account (a system account without limits): the account exists
 * exactly when it holds the payment's amount, whoever opened it first. A refund is one linked
 * chain: refundable -> capacity (the amount) and payee wallet -> payer wallet (the amount,
 * LEDGER_CODE_REFUND, user_ref the payment, id the refund's id). The first leg cannot take the
 * refundable account below zero, so the refunds of a payment never exceed it in total. The
 * writer applies chains one after another, and on PostgreSQL reloads (FOR UPDATE, under the
 * batch lock) every account a batch touches, so this holds for concurrent refunds on any number
 * of nodes, exactly as a wallet can never be overdrawn. Per currency, debits equal credits.
 *
 * Fees are not refunded: a refund returns at most the payment's amount, never the fee the
 * payer paid on top (which stays with the operator), partial or full.
 *
 * Never: move a refund's money without the cap leg in the same chain, or show a refund whose
 * transfer does not exist.
 */
#ifndef TL_API_REFUNDS_H
#define TL_API_REFUNDS_H

#include <stdint.h>

#include "api/http.h"
#include "api/render.h"
#include "store/app.h"

struct writer;

/* The refundable account of a payment: the payment's id with the UUID variant bits 0b00 (no
 * UUIDv7, wallet, system or receivable id has them). Cannot fail. */
struct id128 refunds_refundable_id(struct id128 payment_id);
/* The REFUND_CAPACITY system account of a currency: hi 0, lo kind << 16 | currency. */
struct id128 refunds_capacity_id(uint16_t currency);

/* Opens the capacity account of the payment's currency and the payment's refundable account
 * (with its amount) through the writer; existing ones are success. Writer errors, or
 * TL_ERR_INTERNAL (logged). */
enum tl_err refunds_ensure(struct writer *writer, const struct store_payment *payment);

/* What is left to give back of the payment (its amount before any refund), from a reader. */
enum tl_err refunds_rest(struct store *reader, const struct store_payment *payment,
                         int64_t *out);

/*
 * The stored payment {id} when the caller is its payer or payee; 404 (recorded on resp)
 * otherwise, also for malformed ids.
 */
enum tl_err refunds_payment_of(struct http_request *req, struct http_response *resp,
                               struct store_payment *out);

/* Renders "amount_refunded" and "amount_reversed" of a stored payment (payments.c). */
enum tl_err refunds_render_totals(struct render *r, struct store *reader,
                                  const struct store_payment *payment);
/* The same for a payment just made: both 0. Cannot fail. */
void refunds_render_totals_zero(struct render *r);

/* A refund or reversal as the API shows it (reversals.c shares it); the object is closed. */
void refunds_render_row(struct render *r, const struct store_refund *row);

enum tl_err refunds_create(struct http_request *req, struct http_response *resp);
enum tl_err refunds_list(struct http_request *req, struct http_response *resp);

#endif
