/*
 * movement.h - what the money handlers (deposits, payments) share around one writer command.
 *
 * A money handler renders the head of its 201 body on its own thread, submits ONE writer
 * command, and finishes the body in the command's on_applied hook on the writer thread, where
 * the ledger results (timestamp, balances after) are known and the batch has not committed
 * yet. With an Idempotency-Key the finished answer is attached to the same batch, so the
 * money and the answer a retry replays commit together. This header maps ledger results to
 * API outcomes and renders the parts every money answer shares.
 *
 * Never: report a refusal whose money moved, or attach an answer for an outcome that a retry
 * should not see again (internal errors, a missing account the handler repairs and retries).
 */
#ifndef TL_API_MOVEMENT_H
#define TL_API_MOVEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "api/idempotency.h"
#include "api/render.h"
#include "core/ledger.h"
#include "core/money.h"

struct json_t;
struct writer_batch;

/*
 * The outcome of a command's transfer events (a LINKED chain or one transfer):
 *   TL_OK                       every event LEDGER_OK
 *   TL_ERR_INSUFFICIENT_FUNDS   a debit would exceed the account's credits
 *   TL_ERR_OVERFLOW             a balance would pass INT64_MAX
 *   TL_ERR_NOT_FOUND            an account is missing (*missing_id says which): repairable
 *   TL_ERR_INTERNAL             anything else: our bug (the cause is logged)
 * Cannot fail.
 */
enum tl_err movement_outcome(const struct ledger_event *events,
                             const struct ledger_event_result *results, uint32_t count,
                             struct id128 *missing_id);

/* True for outcomes that are business refusals a retry must see again (stored). */
bool movement_refusal(enum tl_err outcome);

/* The handler side of a refusal: http_fail with the one param and detail for it. */
enum tl_err movement_refusal_fail(struct http_response *resp, enum tl_err outcome);

/*
 * The hook side of a refusal with an Idempotency-Key: renders the problem the dispatcher will
 * send (same param, detail and request id, so the bytes match) into resp and attaches it to
 * batch. Errors are idempotency_attach's (the answer is then not stored; logged by caller).
 */
enum tl_err movement_refusal_attach(const struct http_request *req, struct http_response *resp,
                                    struct idempotency_request *idem, struct writer_batch *batch,
                                    enum tl_err outcome);

/*
 * A money answer across runs of its hook. The writer runs a hook again when another command of
 * the batch is dropped, and nothing of an earlier run may remain then: the hook starts each run
 * with movement_answer_restart.
 */
struct movement_answer {
    struct render render;      /* the head is in resp->body; the hook closes it */
    struct render render_head; /* render as it was right after the head */
    size_t head_bytes;         /* resp->body.len right after the head */
    bool head_lost;            /* a refusal replaced the head in resp->body */
    enum tl_err outcome;       /* movement_outcome, set by the hook */
    enum tl_err hook_err;      /* the hook dropped the command: nothing moved */
    bool rendered;             /* resp->body holds the whole 201 answer */
};

struct kyc_refusal;

/*
 * The common start of a money command's answer once its batch is done (or failed): cmd_err is
 * the writer's answer, answer the hook's state. Decides, and sets *decided, when the hook
 * refused a tier limit (kyc_refusal_fail with limit, NULL when the command has none), the hook
 * dropped the command whole (nothing moved, so a retry with the same key is safe: logged as
 * what_dropped and answered 503 "the WHAT was not made; retry with the same
 * Idempotency-Key"), the writer failed, or the ledger moved the money (the 201 the hook
 * rendered; TL_ERR_INTERNAL when it could not). Otherwise *decided is false and
 * answer->outcome says what the ledger refused, for the caller. what: "deposit", ...
 */
enum tl_err movement_answer_decide(const struct http_request *req, struct http_response *resp,
                                   enum tl_err cmd_err, const struct movement_answer *answer,
                                   const struct kyc_refusal *limit, const char *what,
                                   bool *decided);

/* The head was just rendered into answer->render over resp's body: every run starts here.
 * Also resets the per-run state. Cannot fail. */
void movement_answer_head_done(struct movement_answer *answer, const struct http_response *resp);

/* Start of a hook run: cuts resp's body back to the head and resets the per-run state (and
 * idem's recorded flag, since an earlier run's records were discarded). Returns false when a
 * refusal replaced the head: the caller renders the head again (then head_done). */
bool movement_answer_restart(struct movement_answer *answer, struct http_response *resp,
                             struct idempotency_request *idem);

/* Closes a money answer: "created_at" and "balance_after", then the object. */
void movement_render_tail(struct render *r, uint64_t created_ns, int64_t balance_after);

/*
 * Reads the body's "currency" member (validated as a string) as an ISO 4217 code. TL_OK with
 * *out set, else 400 unknown_currency with param "currency" recorded on resp.
 */
enum tl_err movement_currency(const struct json_t *body, struct http_response *resp,
                              const struct money_currency **out);

/* A transfer event with the given fields (flags: LEDGER_TRANSFER_*). Cannot fail. */
struct ledger_event movement_transfer(struct id128 id, struct id128 debit, struct id128 credit,
                                      int64_t amount, uint16_t currency, uint16_t code,
                                      struct id128 user_ref, uint16_t flags);

#endif
