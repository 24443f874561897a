/*
 * wallets.h - /v1/wallets: a user's wallets, their balances and their transaction history.
 *
 *   GET  /v1/wallets                     every wallet of the caller, oldest first
 *   POST /v1/wallets {currency}          opens one (409 wallet_exists when there is one)
 *   GET  /v1/wallets/{id}                one wallet
 *   GET  /v1/wallets/{id}/transactions   its ledger postings, newest first, paginated
 *
 * A wallet is a store row (owner, currency) plus a ledger account with the same id; balances
 * come from the ledger account as committed (a reader handle). A wallet of another user
 * answers 404 not_found exactly like an id that does not exist.
 *
 * Never: show a wallet or a posting to anyone but its owner.
 */
#ifndef TL_API_WALLETS_H
#define TL_API_WALLETS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "store/app.h"
#include "util/limits.h"

/* Wallets one user may hold (util/limits.h). */
#define WALLETS_PER_USER_MAX TL_WALLETS_PER_USER_MAX

enum tl_err wallets_list(struct http_request *req, struct http_response *resp);
enum tl_err wallets_create(struct http_request *req, struct http_response *resp);
enum tl_err wallets_get(struct http_request *req, struct http_response *resp);
enum tl_err wallets_transactions(struct http_request *req, struct http_response *resp);

/*
 * Opens user_id's wallet in currency if there is none: the row through the app store handle,
 * then its ledger account through the writer (also when the row existed, which repairs a row
 * whose account a crash left unopened). *out is the wallet, *created whether the row is new.
 * Remembered in the wallet cache. TL_ERR_STORAGE, TL_ERR_BUSY, TL_ERR_NOT_READY, writer errors.
 */
enum tl_err wallets_open(struct api_app *app, struct id128 user_id, uint16_t currency,
                         struct store_wallet *out, bool *created);

/* The transaction type the API shows for a ledger code ("deposit", "payment", "fee", ...);
 * "other" for codes it does not know. Cannot fail. */
const char *wallets_txn_type(uint16_t code);

#endif
