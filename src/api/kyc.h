/*
 * kyc.h - verification tiers and their limits, enforced inside the ledger's write path.
 *
 * Every user has a tier (unverified unless an operator set another one, table user_tiers).
 * [limits] in the configuration gives each tier its send, receive and hold limits
 * (core/limits.h: per currency, a rolling window of limits.window_s for send and receive).
 *
 * Where the check runs. Money moves only through the single writer, and a money command's
 * on_applied hook runs on the writer thread after the command's events were applied and
 * before the batch commits. kyc_check runs there and reads, through the writer's own store
 * handle inside the batch transaction (writer_batch_store), the user's tier and the sum of the
 * payments rows of the window. Payments rows commit in the same batch as their money, and:
 *   - on SQLite one process writes the file (flock) and one writer thread applies every batch,
 *     so the batches are serial and a read inside one sees every earlier batch;
 *   - on PostgreSQL every node's batch holds the batch advisory lock (PG_BATCH_LOCK_KEY) from
 *     its begin to its commit, so while a hook runs no other node's batch is open, and a
 *     READ COMMITTED read sees every batch that committed before.
 * What the earlier commands of the same batch counted is not in the database yet: kyc keeps it
 * in a table of its own on the writer thread, valid for one apply pass (writer_batch_pass).
 * So the commands of every node are checked one after the other against everything before
 * them: concurrent sends cannot together pass a limit. The hold limit is checked against the
 * ledger's own balance after the transfer (the result's credit_after).
 *
 * A refusal makes the hook fail with TL_ERR_TIER_LIMIT: the writer drops the whole command
 * (nothing of it moves or is recorded) and applies the rest of the batch again. The handler
 * then answers 422 tier_limit_exceeded (kyc_refusal_fail), which the idempotency finish step
 * stores like any 422.
 *
 * What counts: every payments row (POST /v1/payments, paying a payment request, a split
 * share, and whatever else records a payment row) counts its amount (not its fee) toward the
 * payer's send window and the payee's receive window; the payee's balance after it is held
 * to the hold limit. A deposit is held to the depositor's hold limit and counts toward no
 * window. Other money hooks (escrow releases, scheduled payments, conversions, refunds) call
 * kyc_check with the parties and flags that fit them.
 *
 * Never: read or write anything of this module off the writer thread except through the
 * handlers; move money when a check fails; trust a tier that was not read inside the batch.
 */
#ifndef TL_API_KYC_H
#define TL_API_KYC_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "core/ledger.h"
#include "core/limits.h"
#include "util/config.h"
#include "util/id128.h"

struct kyc;
struct writer_batch;
struct store_payment;

/* Checks the [limits] section: each tier's text parses. TL_ERR_INVALID_REQUEST with one line
 * in error naming the option. */
enum tl_err kyc_config_check(const struct config *config, char error[CONFIG_ERROR_BYTES]);

/* The policy of config (NULL: no limits) and the writer-side state. TL_ERR_NOMEM, or
 * TL_ERR_INVALID_REQUEST for a config kyc_config_check refuses. *out is set only on TL_OK. */
enum tl_err kyc_new(const struct config *config, struct kyc **out);
/* Takes NULL. */
void kyc_free(struct kyc *kyc);

/* A movement of money to check, from a writer hook. */
struct kyc_movement {
    struct id128 payer;     /* the user whose send window counts it; zero: none (a deposit) */
    struct id128 payee;     /* the user who receives it (never zero) */
    uint16_t currency;      /* ISO 4217 number */
    int64_t amount;         /* > 0, minor units */
    uint64_t timestamp_ns;  /* the ledger timestamp of the movement's transfer */
    int64_t payee_balance;  /* payee's credits_posted - debits_posted right after it */
    bool counts_receive;    /* toward the payee's receive window (payments yes, deposits no) */
    bool payee_is_caller;   /* the payee asked for it (a deposit): only wording */
};

/* Which limit refused a movement. */
struct kyc_refusal {
    enum limits_kind kind;
    bool payee;          /* the payee's limit (receive, hold), else the payer's (send) */
    bool payee_is_caller;
};

/*
 * From an on_applied hook, after the movement's events were applied: TL_OK (and the movement
 * now counts for the rest of this pass), TL_ERR_TIER_LIMIT with *refusal set (the hook returns
 * it, which drops the command), TL_ERR_STORAGE (a read failed; also to be returned), or
 * TL_ERR_BUSY when one batch checks more parties than kyc tracks. kyc NULL or without limits:
 * TL_OK at once, nothing is read.
 */
enum tl_err kyc_check(struct kyc *kyc, struct writer_batch *batch, const struct kyc_movement *m,
                      struct kyc_refusal *refusal);

/* The payment of row whose main transfer's result is main (payments.c's hook). */
enum tl_err kyc_check_payment(struct kyc *kyc, struct writer_batch *batch,
                              const struct store_payment *row,
                              const struct ledger_event_result *main,
                              struct kyc_refusal *refusal);

/* A deposit of transfer (applied, with result) into a wallet of user_id: the hold limit. */
enum tl_err kyc_check_deposit(struct kyc *kyc, struct writer_batch *batch, struct id128 user_id,
                              const struct ledger_transfer *transfer,
                              const struct ledger_event_result *result,
                              struct kyc_refusal *refusal);

/* The handler's answer to a refusal: 422 tier_limit_exceeded, param the limit's kind ("send",
 * "receive", "hold") and a sentence saying whose limit. */
enum tl_err kyc_refusal_fail(struct http_response *resp, const struct kyc_refusal *refusal);

/* GET /v1/me/limits: the caller's tier and, per wallet, each limit with used and remaining. */
enum tl_err kyc_me_limits(struct http_request *req, struct http_response *resp);
/* POST /v1/admin/users/{id}/kyc {"tier": "verified"}: operator only; audited. */
enum tl_err kyc_admin_set(struct http_request *req, struct http_response *resp);

#endif
