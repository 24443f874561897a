/*
 * deposits.h - POST /v1/deposits: sandbox money in.
 *
 * {amount, currency, source: "sandbox"} moves amount from the currency's sandbox funding
 * account (accounts.h) to the caller's wallet in that currency, as one ledger transfer with
 * code LEDGER_CODE_DEPOSIT whose id is the deposit's id ("dep_..."; the same transfer shows as
 * "txn_..." in the wallet's history). Answers 201 {id, status, amount, currency, source,
 * wallet_id, created_at, balance_after}. Only a server started with --sandbox takes deposits
 * (403 forbidden otherwise); no wallet in that currency is 422 wallet_not_found.
 *
 * Never: create money outside sandbox mode.
 */
#ifndef TL_API_DEPOSITS_H
#define TL_API_DEPOSITS_H

#include "api/http.h"

enum tl_err deposits_create(struct http_request *req, struct http_response *resp);

#endif
