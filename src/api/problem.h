/*
 * problem.h - RFC 9457 problem details: the one place a tl_err becomes HTTP.
 *
 * Every error response of the API is application/problem+json:
 *
 *   {"type":"https://docs.tally.dev/errors/insufficient_funds","title":"Insufficient funds",
 *    "status":422,"detail":"...","code":"insufficient_funds","param":"amount",
 *    "request_id":"req_..."}
 *
 * type is a stable URI built from the stable code name (https://docs.tally.dev/errors/<code>),
 * so clients may switch on either `type` or `code`; `title` and `status` come from the error
 * table in util/err.h, `param` (present only when known) names the request field at fault,
 * `detail` is a sentence for people. Nothing else decides HTTP statuses for errors.
 *
 * Never: put SQL, driver, stack or secret text into detail. Those go to the log.
 */
#ifndef TL_API_PROBLEM_H
#define TL_API_PROBLEM_H

#include "util/buf.h"
#include "util/err.h"

#define PROBLEM_CONTENT_TYPE "application/problem+json"
#define PROBLEM_TYPE_PREFIX "https://docs.tally.dev/errors/"

/* HTTP status for err (TL_OK is 200). Cannot fail. */
int problem_status(enum tl_err err);

/*
 * Appends the problem JSON for err (not TL_OK) to out and stores its HTTP status in
 * *out_status. param and detail may be NULL (detail then defaults to the title); request_id
 * may be NULL or "". TL_ERR_LIMIT or TL_ERR_NOMEM when it does not fit; out is then unchanged
 * and *out_status is still set.
 */
enum tl_err problem_render(struct buf *out, enum tl_err err, const char *param, const char *detail,
                           const char *request_id, int *out_status);

#endif
