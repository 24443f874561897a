/*
 * dispatch.h - the fixed phases every request walks, independent of the HTTP library.
 *
 *   route         404 not_found / 405 method_not_allowed (+ Allow)
 *   rate limit    per client address for every limited route -> 429 (+ Retry-After)
 *   authenticate  ROUTE_AUTH routes: app->authenticate fills req->principal, else 401
 *   rate limit    user and lookup classes, keyed by the principal when there is one
 *   content       a body must be application/json -> 415
 *   idempotency   ROUTE_IDEMPOTENT: Idempotency-Key must be 1..255 visible ASCII -> 400
 *   handler       parse -> execute -> render; an error becomes a problem response
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

/* Bytes of an Idempotency-Key value. */
#define DISPATCH_IDEMPOTENCY_KEY_BYTES_MAX 255

/*
 * Runs the phases for req (method, path, body, request_id, client_ip and lookup filled by the
 * caller; req->app set to app) and leaves the answer in resp (initialised by the caller).
 * Sets req->route_index (== app->route_count when no route matched). Cannot fail.
 */
void dispatch_run(struct api_app *app, struct http_request *req, struct http_response *resp);

#endif
