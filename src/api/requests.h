/*
 * requests.h - /v1/payment_requests and /v1/splits: asking people for money.
 *
 *   POST /v1/payment_requests {from, amount, currency, note?}   ask from ("@handle", "+E164",
 *                                                               email) for amount -> 201
 *   GET  /v1/payment_requests?role=payer|requester              the caller's, newest first
 *   GET  /v1/payment_requests/{id}                              payer or requester, else 404
 *   POST /v1/payment_requests/{id}/pay                          payer: pays it -> 201 payment
 *   POST /v1/payment_requests/{id}/decline                      payer -> 200 request
 *   POST /v1/payment_requests/{id}/cancel                       requester -> 200 request
 *   POST /v1/splits {total, currency, note?, mode, participants} one request per participant
 *
 * A request is open until it is paid, declined, canceled or expires (requests.ttl_s after its
 * creation; 7 days by default). Paying is a payment (payments_create_order: the same writer
 * command, fee and answer as POST /v1/payments) under the id the request reserved when it was
 * made, so "paid" is the payment row that commits with the money, and the ledger refuses a
 * second payment of the same request (409 request_paid), on any node. A pay first claims the
 * request (store_request_claim), so a decline or cancel racing it answers 409
 * request_processing instead of succeeding while the money moves; a claim older than
 * REQUESTS_CLAIM_STALE_S (a pay that crashed) no longer holds them off.
 *
 * Splits: shares sum exactly to the total. mode equal: total / n each, and the remainder
 * (total mod n minor units) goes one unit each to the first participants in the order given;
 * mode custom: every participant names a share, and the shares must sum to the total (else
 * 400 shares_mismatch). All of a split's requests are written in one transaction.
 *
 * Errors: another user's request is 404 like a missing one; an action that is not the caller's
 * (a payer cancelling, a requester paying or declining) is 403; a request that is no longer
 * open is 409 request_paid, request_declined, request_canceled or request_expired.
 */
#ifndef TL_API_REQUESTS_H
#define TL_API_REQUESTS_H

#include "api/http.h"

#define REQUESTS_TYPEID_PREFIX "preq"
#define SPLITS_TYPEID_PREFIX "split"

/* Events (GET /v1/events) to both parties of a request, committed with the change. */
#define REQUESTS_EVENT_CREATED "payment_request.created"
#define REQUESTS_EVENT_DECLINED "payment_request.declined"
#define REQUESTS_EVENT_CANCELED "payment_request.canceled"
/* A pay claim older than this no longer holds off a decline or cancel. */
#define REQUESTS_CLAIM_STALE_S 30u

enum tl_err requests_create(struct http_request *req, struct http_response *resp);
enum tl_err requests_list(struct http_request *req, struct http_response *resp);
enum tl_err requests_get(struct http_request *req, struct http_response *resp);
enum tl_err requests_pay(struct http_request *req, struct http_response *resp);
enum tl_err requests_decline(struct http_request *req, struct http_response *resp);
enum tl_err requests_cancel(struct http_request *req, struct http_response *resp);
enum tl_err splits_create(struct http_request *req, struct http_response *resp);

#endif
