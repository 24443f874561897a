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
 * Running totals. A window is not summed over payments: each counted movement adds its amount
 * to a bucket of its user, currency and direction (core/limits.h: width window/64, at least
 * 1 s) with a record in the batch of its money (table limit_totals, schema v6); a check reads
 * the buckets whose end is inside the window, whole (conservative: a movement frees up to one
 * bucket late, never early). One indexed read of at most 65 rows, whatever the user sent.
 *
 * What counts (docs/api.md, "Limits"): a payment (POST /v1/payments, a paid payment request
 * or split share, a scheduled occurrence, a cross-currency payment in the payee's currency)
 * counts its amount (not its fee) toward the payer's send and the payee's receive window, and
 * the payee's balance after it is held to the hold limit. An escrow counts toward the payer's
 * send window when it is created; its release toward the payee's receive window and hold
 * limit. A deposit and a conversion are held to the hold limit of the wallet they credit and
 * count toward no window. Refunds and operator reversals are never checked and count nowhere:
 * money going back must not be trapped by the limits of either party.
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
    bool checks_hold;       /* payee_balance is held to the payee's hold limit */
    bool payee_is_caller;   /* the payee asked for it (a deposit): only wording */
    const char *what;       /* "payment", "deposit", ...: the refusal's wording */
};

/* Which limit refused a movement. */
struct kyc_refusal {
    enum limits_kind kind;
    bool payee;          /* the payee's limit (receive, hold), else the payer's (send) */
    bool payee_is_caller;
    const char *what;    /* the movement's what */
};

/*
 * From an on_applied hook, after the movement's events were applied: TL_OK (the movement now
 * counts for the rest of this pass, and its running totals ride with the batch),
 * TL_ERR_TIER_LIMIT with *refusal set (the hook returns it, which drops the command),
 * TL_ERR_STORAGE (a read failed; also to be returned), TL_ERR_BUSY when one batch checks more
 * parties than kyc tracks, or writer_batch_attach's errors. The send and receive amounts are
 * added to the running totals (store_record_limit_usage) whether or not limits are configured,
 * so that limits turned on later see every movement; without limits nothing is read.
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

/* An escrow's hold (escrow.c): counts toward the payer's send window when created (a hold
 * cannot be used to send past the limit); the payee's limits apply at the release. */
enum tl_err kyc_check_escrow_hold(struct kyc *kyc, struct writer_batch *batch, struct id128 payer,
                                  struct id128 payee, const struct ledger_transfer *hold,
                                  const struct ledger_event_result *result,
                                  struct kyc_refusal *refusal);

/* An escrow's release of amount to payee (escrow.c): the payee's receive window and hold
 * limit; not the payer's send window again (counted at the hold). */
enum tl_err kyc_check_escrow_release(struct kyc *kyc, struct writer_batch *batch,
                                     struct id128 payee, uint16_t currency, int64_t amount,
                                     const struct ledger_event_result *result,
                                     struct kyc_refusal *refusal);

/* A conversion into user's wallet of currency (conversions.c): the hold limit of that wallet,
 * whose credit is result (the leg from the FX pool). No window counts it. */
enum tl_err kyc_check_conversion(struct kyc *kyc, struct writer_batch *batch, struct id128 user,
                                 uint16_t currency, int64_t amount,
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
