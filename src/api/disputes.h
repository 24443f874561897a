/*
 * disputes.h - a payer's dispute of a payment and the operator's decision.
 *
 *   POST /v1/payments/{id}/disputes        {reason} -> 201 dispute (the payer only)
 *   GET  /v1/payments/{id}/disputes        the payment's disputes (payer or payee)
 *   GET  /v1/disputes/{id}                 one dispute (payer or payee)
 *   GET  /v1/admin/disputes?status=open|resolved   every dispute (operator token)
 *   POST /v1/admin/disputes/{id}/resolve   {outcome: "payer" | "payee", note?} (operator)
 *
 * At most one dispute per payment is open (a unique index over open disputes, so also across
 * nodes). Resolving is one conditional UPDATE of an open dispute, so two resolutions cannot
 * both win. Outcome "payer" fixes the id of the reversal first (in that UPDATE) and then
 * reverses the payment under it (reversals.h): a resolution whose reversal failed half way
 * (storage, shutdown) is completed by resolving again with the same outcome, and the same
 * reversal id can move the money only once. Outcome "payee" moves nothing.
 *
 * Never: let a payee or a stranger open a dispute, or resolve one twice.
 */
#ifndef TL_API_DISPUTES_H
#define TL_API_DISPUTES_H

#include "api/http.h"

enum tl_err disputes_create(struct http_request *req, struct http_response *resp);
enum tl_err disputes_list_payment(struct http_request *req, struct http_response *resp);
enum tl_err disputes_get(struct http_request *req, struct http_response *resp);
enum tl_err disputes_admin_list(struct http_request *req, struct http_response *resp);
enum tl_err disputes_resolve(struct http_request *req, struct http_response *resp);

#endif
