/*
 * money_records.h - what records a money movement other than a payment or a deposit: its
 * audit entry (api/audit.h) and its events to each user concerned (api/events.h).
 *
 * The money hooks of refunds, reversals and escrows call these on the writer thread, after
 * their ledger events applied and before the batch commits, so the entries and events commit
 * in the same transaction as the money: they exist exactly when it moved, and a hook run
 * again (the writer re-applies a batch) starts from scratch like every hook. Counterparties'
 * handles come from the money cache, read through the batch's own store handle on a miss
 * (writer_batch_store: reads only). Disputes and skipped scheduled payments move no money:
 * their entries and events are appended after the row changed, best effort (logged), like
 * request.created and session.revoked.
 *
 * Payloads carry ids, amounts, currencies and handles; never an email, phone, display name,
 * note or reason text (a reversal's reason is read from its row by GET /v1/me/audit).
 */
#ifndef TL_API_MONEY_RECORDS_H
#define TL_API_MONEY_RECORDS_H

#include "api/http.h"
#include "core/ledger.h"
#include "store/app.h"
#include "store/plans.h"

struct writer_batch;
struct store;

/* refund.sent (payee) and refund.created to both: refund->id and ->amount, money the result of
 * the payee -> payer transfer. Errors of writer_batch_attach or the user reads: the hook drops
 * the refund. */
enum tl_err money_records_refund(struct writer_batch *batch, const struct http_request *req,
                                 const struct store_payment *payment,
                                 const struct store_refund *refund,
                                 const struct ledger_event_result *money);

/* payment.reversed (payee as user, payer as counterparty) and payment.reversed to both, at
 * created_ns; req NULL is fine. Errors as money_records_refund. */
enum tl_err money_records_reversal(struct writer_batch *batch, const struct http_request *req,
                                   const struct store_payment *payment,
                                   const struct store_refund *reversal, uint64_t created_ns);

/* The audit entry of an escrow action (kind one of AUDIT_ESCROW_*), payer as user: amount is
 * what the action moved (held, released to the payee, or returned). req NULL for tallyd's own
 * (a timed release, an expiry). Errors as money_records_refund. */
enum tl_err money_records_escrow(struct writer_batch *batch, const struct http_request *req,
                                 const struct store_escrow *escrow, const char *kind,
                                 int64_t amount, uint64_t created_ns);

/* dispute.opened, or dispute.resolved (d->status says the outcome): audit entry and events to
 * both parties, outside any batch. Best effort. Cannot fail. */
void money_records_dispute(struct http_request *req, const struct store_dispute *d,
                           const struct store_payment *payment);

/* scheduled_payment.skipped to the payer (audit and event) through store (the scheduler's
 * writable handle), after the occurrence was finished as skipped. Best effort. Cannot fail. */
void money_records_schedule_skipped(struct store *store, const struct store_schedule *schedule,
                                    const struct store_occurrence *occurrence, const char *reason,
                                    uint64_t now_ns);

#endif
