/*
 * debts.h - what a user owes the operator after a reversal, and the restriction it puts on
 * their wallet.
 *
 * A wallet's ledger account never goes below zero (DEBITS_MUST_NOT_EXCEED_CREDITS). When an
 * operator reverses a payment whose payee no longer holds the money (reversals.h), the part
 * the wallet cannot cover comes out of the payee's RECEIVABLE account instead: one per wallet,
 * kind LEDGER_KIND_RECEIVABLE, CREDITS_MUST_NOT_EXCEED_DEBITS, id debts_receivable_id(wallet).
 * Its debit balance (debits - credits) is the debt; per currency, debits still equal credits.
 * Repaying moves money wallet -> receivable (LEDGER_CODE_ADJUSTMENT), which the flag caps at
 * the debt. The API shows the wallet's available balance net of the debt (negative while the
 * debt exceeds the wallet), "amount_owed" and "restricted".
 *
 * A wallet that owes is restricted: every send from it (payments, refunds) first repays what
 * the wallet holds (debts_settle) and is refused with 422 wallet_restricted while a debt
 * remains; nothing moves then. Incoming money covers the debt first: a deposit repays at once
 * after it commits, a received payment at the owner's next send, and until then the wallet's
 * net balance already counts it against the debt.
 *
 * Never: let a wallet spend while it owes, or repay more than the debt (the ledger refuses).
 */
#ifndef TL_API_DEBTS_H
#define TL_API_DEBTS_H

#include <stdint.h>

#include "api/accounts.h"
#include "api/http.h"
#include "util/id128.h"

struct store;
struct writer;

/* The receivable account of a wallet: the wallet's id with the UUID variant bits 0b11, which
 * no UUIDv7 (variant 0b10) and no system id (hi zero) has. Cannot fail. */
struct id128 debts_receivable_id(struct id128 wallet_id);

/* What the wallet owes (0 when its receivable account does not exist), from a reader.
 * TL_ERR_STORAGE. */
enum tl_err debts_owed(struct store *reader, struct id128 wallet_id, int64_t *out);

/* Opens the receivable account of a wallet through the writer (open already is success).
 * Errors of accounts_wallet_open. */
enum tl_err debts_open(struct writer *writer, struct id128 wallet_id, struct id128 user_id,
                       uint16_t currency);

/*
 * Repays the wallet's debt from what the wallet holds, as far as it goes, and answers in
 * *out_owed what is still owed. Races with other movements of the wallet are retried (a few
 * times; then TL_ERR_BUSY). Errors: the writer's and the store's.
 */
enum tl_err debts_settle(struct http_request *req, struct id128 wallet_id, uint16_t currency,
                         int64_t *out_owed);

/* The send gate: debts_settle, then 422 wallet_restricted (param "currency") while the wallet
 * still owes. TL_OK when the wallet may send. */
enum tl_err debts_gate(struct http_request *req, struct http_response *resp,
                       struct id128 wallet_id, uint16_t currency);

/* A wallet's balance as the API shows it: available net of the debt, and the debt.
 * TL_ERR_STORAGE. */
enum tl_err debts_balance_apply(struct store *reader, struct id128 wallet_id,
                                struct accounts_balance *balance, int64_t *out_owed);

#endif
