/*
 * accounts.h - which ledger accounts the API uses, and how it opens and reads them.
 *
 * Wallet accounts carry the wallet's own id (a UUIDv7, so their high word is never zero: the
 * version nibble is 7). System accounts, one of each kind per currency, have fixed ids with a
 * zero high word: hi = 0, lo = kind << 16 | ISO 4217 number. They therefore can never collide
 * with a wallet and every node computes the same id without asking anyone:
 *
 *   sandbox funding   LEDGER_KIND_SANDBOX_FUNDING, no limit flags (its debits grow with every
 *                     sandbox deposit)
 *   fee revenue       LEDGER_KIND_FEE_REVENUE, no limit flags
 *   FX pool           LEDGER_KIND_FX_POOL, no limit flags: the platform's position in the
 *                     currency. A conversion from A to B credits pool(A) with what the user
 *                     sends and debits pool(B) with what the user receives, so a pool's
 *                     balance (credits - debits) is what the platform holds in that currency
 *                     from conversions, and may go negative: a short position the operator
 *                     covers by buying that currency with the long ones outside the ledger
 *                     (the pools are the record of what to buy and sell). Per currency the
 *                     ledger still balances: every leg is a transfer in one currency.
 *
 * Accounts are opened through the writer like any other ledger event; LEDGER_EXISTS with the
 * same fields means someone opened it first, which is success. Balances are read from a
 * reader store handle, i.e. committed state.
 *
 * Never: open an account outside the writer, or hand out a system account id as a wallet.
 */
#ifndef TL_API_ACCOUNTS_H
#define TL_API_ACCOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ledger.h"
#include "util/err.h"
#include "util/id128.h"

struct store;
struct writer;

/* The id of the system account of kind (LEDGER_KIND_SANDBOX_FUNDING, LEDGER_KIND_FEE_REVENUE
 * or LEDGER_KIND_FX_POOL) in currency (ISO number, 1..999). Cannot fail. */
struct id128 accounts_system_id(enum ledger_account_kind kind, uint16_t currency);

/* True for ids made by accounts_system_id (high word zero). Cannot fail. */
bool accounts_is_system(struct id128 id);

/*
 * Makes sure the sandbox funding and fee revenue accounts of currency exist. The first success
 * per currency is remembered in the process, so later calls cost one atomic load. Errors:
 * TL_ERR_NOT_READY (no writer), the writer's TL_ERR_STORAGE / TL_ERR_BUSY / TL_ERR_SHUTDOWN,
 * TL_ERR_INTERNAL (an account with that id but other fields exists; logged). Thread-safe.
 */
enum tl_err accounts_system_ensure(struct writer *writer, uint16_t currency);

/* Makes sure the FX pool account of currency exists; like accounts_system_ensure (the same
 * errors, remembered per currency once it succeeded). */
enum tl_err accounts_fx_pool_ensure(struct writer *writer, uint16_t currency);

/*
 * Opens the ledger account of a wallet: id = wallet_id, user_data = user_id, kind
 * LEDGER_KIND_WALLET, DEBITS_MUST_NOT_EXCEED_CREDITS (no overdraft). Already open with the same
 * fields is success. Same errors as accounts_system_ensure. Thread-safe; blocks until durable.
 */
enum tl_err accounts_wallet_open(struct writer *writer, struct id128 wallet_id,
                                 struct id128 user_id, uint16_t currency);

/* What the API shows as a wallet's balance. */
struct accounts_balance {
    int64_t available; /* credits_posted - debits_posted - debits_pending: spendable now */
    int64_t pending;   /* credits_pending: on its way in */
};

/* The API balance of a wallet-like account from its ledger balances. Cannot fail. */
struct accounts_balance accounts_balance_of(const struct ledger_balance *balance);

/*
 * Committed balance of the wallet account wallet_id, read from reader (a reader handle).
 * A wallet whose ledger account is not stored yet has a zero balance. TL_ERR_STORAGE.
 */
enum tl_err accounts_wallet_balance(struct store *reader, struct id128 wallet_id,
                                    struct accounts_balance *out);

#endif
