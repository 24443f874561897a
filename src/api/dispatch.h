/*
 * dispatch.h - the fixed phases every request walks, independent of the HTTP library.
 *
 *   route         404 not_found / 405 method_not_allowed (+ Allow)
 *   rate limit    per client address for every limited route -> 429 (+ Retry-After)
 *   authenticate  ROUTE_AUTH routes: app->authenticate fills req->principal, else 401
 *   rate limit    user and lookup classes, keyed by the principal when there is one
 *   content       a body must be application/json -> 415
 *   idempotency   ROUTE_IDEMPOTENT: Idempotency-Key must be 1..255 visible ASCII -> 400
 *   handler       parse -> execute -> render; an error becomes a problem response. A handler
 *                 that submits a writer command may park the request (api/async.h): the
 *                 phases after it run when the continuation answers (dispatch_resume).
 *   release       the reader store handle goes back to the pool
 *
 * Reading the body and its limits happen before (server.c), logging after. Tests call
 * dispatch_run directly with a hand-built request.
 *
 * Never: let a handler's failure escape as anything but a problem response.
 */
#ifndef TL_API_DISPATCH_H
#define TL_API_DISPATCH_H

#include "api/app.h"
#include "api/http.h"
#include "api/idempotency.h"

/* Bytes of an Idempotency-Key value. */
#define DISPATCH_IDEMPOTENCY_KEY_BYTES_MAX 255

/* One request's walk through the phases, kept across a park (api/async.h); the server owns
 * one per request. */
struct dispatch_call {
    struct idempotency_request idem;
};

/*
 * Runs the phases for req as dispatch_run does, except that the handler (or the idempotency
 * step) may park the request: then it returns true, resp belongs to the writer until the wake,
 * and the server calls dispatch_resume on a worker thread after it. False: resp is the answer.
 */
bool dispatch_start(struct api_app *app, struct http_request *req, struct http_response *resp,
                    struct dispatch_call *call);

/* After a parked request's wake: runs its continuation; true when it parked again, false when
 * resp is the answer. Cannot fail. */
bool dispatch_resume(struct api_app *app, struct http_request *req, struct http_response *resp,
                     struct dispatch_call *call);

/*
 * Runs the phases for req (method, path, body, request_id, client_ip and lookup filled by the
 * caller; req->app set to app) and leaves the answer in resp (initialised by the caller).
 * Sets req->route_index (== app->route_count when no route matched). Cannot fail. For
 * requests that cannot park (req->async_ NULL): the answer is in resp on return.
 */
void dispatch_run(struct api_app *app, struct http_request *req, struct http_response *resp);

#endif
