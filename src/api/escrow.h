/*
 * escrow.h - /v1/escrows: money held from a payer for a payee until a condition releases it.
 *
 *   POST /v1/escrows {to, amount, currency, note?, expires_at | expires_in_s,
 *                     release: "payer" | "both" | {"at": time}}     -> 201 escrow (held)
 *   GET  /v1/escrows?role=payer|payee, GET /v1/escrows/{id}          both parties only, else 404
 *   POST /v1/escrows/{id}/release {amount?}  the payer; in full or in part, the rest refunded
 *   POST /v1/escrows/{id}/approve            each party ("both"); released once both approved
 *   POST /v1/escrows/{id}/cancel             refund to the payer, when the condition allows
 *
 * An escrow is a ledger hold (LEDGER_TRANSFER_PENDING, code HOLD) payer wallet -> payee wallet
 * whose transfer id is the escrow id and whose timeout is the escrow's expiry: the payer's
 * available balance drops at once and the payee's pending balance shows it. A release is ONE
 * post of the hold (the ledger posts the amount and returns the rest to the payer atomically),
 * a cancel one void; both use the escrow's reserved settle_id as transfer id, so the ledger
 * resolves a race of release and cancel (or two nodes' releases) once and refuses the loser.
 * Expiry is the ledger's: the writer's sweep voids the hold when its timeout passes, also after
 * a restart (the hold and its timeout are in the store). The state is never stored apart from
 * the money (store/plans.h). A release also writes a payment row (id settle_id, the released
 * amount), so it shows in GET /v1/payments and in both wallets' transactions. escrow.held,
 * escrow.released and escrow.canceled events go to both parties with the money.
 *
 * Who may do what (docs/api.md): the payer releases ("payer" and "at" escrows; "at" early);
 * "both" escrows only by both approvals. The payee may always cancel (give the money back);
 * the payer may cancel a "payer" escrow, a "both" escrow until the payee approved, and never an
 * "at" escrow. The other party's forbidden action is 403; an action the condition does not
 * allow is 409 escrow_condition; an escrow no longer held is 409 escrow_released,
 * escrow_canceled or escrow_expired.
 */
#ifndef TL_API_ESCROW_H
#define TL_API_ESCROW_H

#include <stdint.h>

#include "api/http.h"

struct api_app;
struct store;

#define ESCROW_TYPEID_PREFIX "esc"
/* An escrow without expires_at or expires_in_s is held this long. */
#define ESCROW_TTL_S_DEFAULT (30u * 86400u)

enum tl_err escrow_create(struct http_request *req, struct http_response *resp);
enum tl_err escrow_list(struct http_request *req, struct http_response *resp);
enum tl_err escrow_get(struct http_request *req, struct http_response *resp);
enum tl_err escrow_release(struct http_request *req, struct http_response *resp);
enum tl_err escrow_approve(struct http_request *req, struct http_response *resp);
enum tl_err escrow_cancel(struct http_request *req, struct http_response *resp);

/*
 * The scheduler's part (api/scheduler.h): releases in full the escrows store_escrows_due names
 * at now_ns ("at" escrows whose time came, "both" escrows both parties approved whose release
 * did not happen, e.g. a crash after the second approval). store is a writable handle of the
 * caller's (reads, user lookups). *released counts the releases this call made; one that another
 * node made first is not an error. TL_ERR_STORAGE and the writer's errors.
 */
enum tl_err escrow_release_due(struct api_app *app, struct store *store, uint64_t now_ns,
                               uint32_t *released);

/*
 * The writer's on_expired hook (store/writer.h), wired by tallyd: when the hold the sweep
 * expired is an escrow's, attaches escrow.expired for both parties and the audit entry, so
 * they commit with the expiry (also one swept after a restart). Holds that are not escrows
 * are left alone. Reads the escrow and the parties through the batch's store handle.
 * TL_ERR_STORAGE, TL_ERR_LIMIT, TL_ERR_NOMEM: the sweep waits for a later one.
 */
struct writer_batch;
struct ledger_event;
struct ledger_event_result;
enum tl_err escrow_on_expired(void *ctx, struct writer_batch *batch,
                              const struct ledger_event *event,
                              const struct ledger_event_result *result);

#endif
