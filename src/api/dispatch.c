#include "api/dispatch.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/async.h"
#include "api/idempotency.h"
#include "api/metrics.h"
#include "api/operator.h"
#include "api/problem.h"
#include "api/ratelimit.h"
#include "api/readers.h"
#include "util/assert.h"
#include "util/clock.h"

static enum tl_err dispatch_route(struct api_app *app, struct http_request *req,
                                  struct http_response *resp)
{
    struct router_match match;
    req->route_index = app->route_count;
    switch (router_match(app->routes, app->route_count, req->method, req->path, &match)) {
    case ROUTER_FOUND:
        req->route_index = match.route_index;
        req->route = &app->routes[match.route_index];
        memcpy(req->params, match.params, sizeof(req->params));
        req->param_count = match.param_count;
        return TL_OK;
    case ROUTER_METHOD_NOT_ALLOWED:
        TL_ASSERT(http_response_header_set(resp, "Allow", match.allow) == TL_OK);
        return http_fail(resp, TL_ERR_METHOD_NOT_ALLOWED, NULL,
                         "this endpoint does not answer that method; see the Allow header");
    case ROUTER_NOT_FOUND:
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such endpoint");
    }
    TL_UNREACHABLE();
    return TL_ERR_INTERNAL;
}

/* Takes a token for key from class limit_class; 429 with Retry-After when it is empty. */
static enum tl_err dispatch_limit(struct api_app *app, unsigned limit_class, const char *key,
                                  struct http_response *resp)
{
    struct ratelimit *rl = app->limits[limit_class];
    uint32_t retry_after_s = 0;
    if (rl == NULL) {
        return TL_OK;
    }
    uint64_t now_ns = app->clock_ns != NULL ? app->clock_ns() : clock_mono_ns();
    if (ratelimit_take(rl, key, strlen(key), now_ns, &retry_after_s)) {
        return TL_OK;
    }
    char seconds[16];
    snprintf(seconds, sizeof(seconds), "%u", retry_after_s);
    TL_ASSERT(http_response_header_set(resp, "Retry-After", seconds) == TL_OK);
    metrics_rate_limited(app->metrics, limit_class);
    return http_fail(resp, TL_ERR_RATE_LIMITED, NULL, "too many requests; see Retry-After");
}

/* User and lookup classes: keyed by the principal, else by the client address. */
static enum tl_err dispatch_limit_principal(struct api_app *app, struct http_request *req,
                                            struct http_response *resp)
{
    enum route_limit limit = req->route->limit;
    if (limit != ROUTE_LIMIT_USER && limit != ROUTE_LIMIT_LOOKUP) {
        return TL_OK;
    }
    if (!req->principal.authenticated) {
        return limit == ROUTE_LIMIT_LOOKUP ? dispatch_limit(app, limit, req->client_ip, resp)
                                           : TL_OK;
    }
    char key[ID128_HEX_BYTES + 2] = "u:";
    id128_to_hex(req->principal.user_id, key + 2);
    return dispatch_limit(app, limit, key, resp);
}

/* Operator routes: the operator token or nothing; without one configured they do not exist. */
static enum tl_err dispatch_operator(struct api_app *app, struct http_request *req,
                                     struct http_response *resp)
{
    if (app->operator_auth == NULL || !app->operator_auth->enabled) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such resource");
    }
    if (!operator_auth_check(app->operator_auth, http_request_header(req, "Authorization"))) {
        /* RFC 6750: a 401 names the scheme the client should use. Cannot exceed limits. */
        TL_ASSERT(http_response_header_set(resp, "WWW-Authenticate", "Bearer realm=\"tally-admin\"") ==
                  TL_OK);
        return http_fail(resp, TL_ERR_UNAUTHORIZED, NULL, "the operator token is required");
    }
    req->operator = true;
    return TL_OK;
}

static enum tl_err dispatch_authenticate(struct api_app *app, struct http_request *req,
                                         struct http_response *resp)
{
    if ((req->route->flags & ROUTE_OPERATOR) != 0) {
        TL_ASSERT((req->route->flags & ROUTE_AUTH) == 0);
        return dispatch_operator(app, req, resp);
    }
    if ((req->route->flags & ROUTE_AUTH) == 0) {
        return TL_OK;
    }
    enum tl_err err = TL_ERR_UNAUTHORIZED;
    if (app->authenticate != NULL) {
        err = app->authenticate(app->authenticate_ctx, req);
    }
    if (err == TL_OK && !req->principal.authenticated) {
        err = TL_ERR_UNAUTHORIZED; /* an authenticator that forgot to say who */
    }
    if (err != TL_OK) {
        memset(&req->principal, 0, sizeof(req->principal));
        if (err == TL_ERR_UNAUTHORIZED) {
            /* RFC 6750: a 401 names the scheme the client should use. Cannot exceed limits. */
            TL_ASSERT(http_response_header_set(resp, "WWW-Authenticate", "Bearer realm=\"tally\"") ==
                      TL_OK);
        }
        return http_fail(resp, err, NULL,
                         err == TL_ERR_CSRF_FAILED
                             ? "a request signed in by the session cookie must send the tally_csrf "
                               "cookie's value in X-CSRF-Token, from the web app's origin"
                             : "valid credentials are required");
    }
    return TL_OK;
}

/* "application/json", any case, optionally followed by parameters (charset=utf-8). */
static bool dispatch_is_json(const char *content_type)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;
    if (content_type == NULL || strncasecmp(content_type, json, n) != 0) {
        return false;
    }
    return content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ';
}

static enum tl_err dispatch_content(struct http_request *req, struct http_response *resp)
{
    if (req->body_bytes == 0 || dispatch_is_json(http_request_header(req, "Content-Type"))) {
        return TL_OK;
    }
    return http_fail(resp, TL_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                     "request bodies must be application/json");
}

static enum tl_err dispatch_idempotency(struct http_request *req, struct http_response *resp)
{
    if ((req->route->flags & ROUTE_IDEMPOTENT) == 0) {
        return TL_OK;
    }
    const char *key = http_request_header(req, "Idempotency-Key");
    if (key == NULL) {
        return TL_OK;
    }
    size_t len = strlen(key);
    bool ok = len >= 1 && len <= DISPATCH_IDEMPOTENCY_KEY_BYTES_MAX;
    for (size_t i = 0; ok && i < len; i++) {
        ok = key[i] > 0x20 && key[i] < 0x7f;
    }
    if (!ok) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "Idempotency-Key",
                         "must be 1 to 255 visible ASCII characters");
    }
    req->idempotency_key = key;
    return TL_OK;
}

/* The handler, as the request the thread runs (idempotency_current). */
static enum tl_err dispatch_handler(struct http_request *req, struct http_response *resp,
                                    struct dispatch_call *call)
{
    idempotency_enter(&call->idem);
    enum tl_err err = req->route->handler(req, resp);
    idempotency_enter(NULL);
    return err;
}

/* The key's begin step, then the handler. Runs again after a park on a duplicate in flight. */
static enum tl_err dispatch_keyed(struct http_request *req, struct http_response *resp, void *ctx)
{
    struct dispatch_call *call = ctx;
    enum tl_err err = idempotency_begin_async(req, resp, &call->idem, dispatch_keyed, call);
    if (err != TL_OK || call->idem.replayed || async_parked(req)) {
        return err;
    }
    return dispatch_handler(req, resp, call);
}

/*
 * Every phase up to and including the handler, in order; the first error stops the walk. A
 * request with an Idempotency-Key claims its key before the handler runs and may be answered
 * from the store instead (idem->replayed); the handler can reach its claim through
 * idempotency_current() to commit its answer with the money (see idempotency.h).
 */
static enum tl_err dispatch_phases(struct api_app *app, struct http_request *req,
                                   struct http_response *resp, struct dispatch_call *call)
{
    enum tl_err err = dispatch_route(app, req, resp);
    if (err == TL_OK && req->route->limit != ROUTE_LIMIT_NONE) {
        err = dispatch_limit(app, ROUTE_LIMIT_IP, req->client_ip, resp);
    }
    if (err == TL_OK) {
        err = dispatch_authenticate(app, req, resp);
    }
    if (err == TL_OK) {
        err = dispatch_limit_principal(app, req, resp);
    }
    if (err == TL_OK) {
        err = dispatch_content(req, resp);
    }
    if (err == TL_OK) {
        err = dispatch_idempotency(req, resp);
    }
    if (err != TL_OK) {
        return err;
    }
    if (req->idempotency_key != NULL) {
        return dispatch_keyed(req, resp, call);
    }
    return dispatch_handler(req, resp, call);
}

/* After the handler or a continuation: the problem, the key's finish step, the reader. A
 * parked request only gives its reader back (it waits without one); resp is not its own. */
static bool dispatch_end(struct api_app *app, struct http_request *req, struct http_response *resp,
                         struct dispatch_call *call, enum tl_err err)
{
    if (req->reader_ != NULL) {
        readers_release(app->readers, req->reader_);
        req->reader_ = NULL;
    }
    if (async_parked(req)) {
        TL_ASSERT(err == TL_OK);
        return true;
    }
    /* A handler may render the problem for its error itself, with extension members (the
     * challenge of step_up_required, api/stepup.h); that one is kept. */
    bool rendered = err != TL_OK && resp->problem_err == err && resp->body.len > 0 &&
                    resp->content_type != NULL &&
                    strcmp(resp->content_type, PROBLEM_CONTENT_TYPE) == 0;
    if (err != TL_OK && !rendered) {
        /* Headers set for the failure (Allow, Retry-After) stay; the body becomes the problem. */
        http_response_problem(resp, req, err, resp->problem_param, resp->problem_detail);
    }
    /* After the problem is rendered: what a retry replays is exactly what this one sent. */
    idempotency_finish(req, resp, &call->idem);
    return false;
}

bool dispatch_start(struct api_app *app, struct http_request *req, struct http_response *resp,
                    struct dispatch_call *call)
{
    TL_ASSERT(app != NULL);
    TL_ASSERT(req->path != NULL);
    req->app = app;
    idempotency_request_init(&call->idem);
    enum tl_err err = dispatch_phases(app, req, resp, call);
    return dispatch_end(app, req, resp, call, err);
}

bool dispatch_resume(struct api_app *app, struct http_request *req, struct http_response *resp,
                     struct dispatch_call *call)
{
    async_resume_fn next = NULL;
    void *ctx = NULL;
    async_resumed(req->async_, &next, &ctx);
    idempotency_enter(&call->idem);
    enum tl_err err = next(req, resp, ctx);
    idempotency_enter(NULL);
    return dispatch_end(app, req, resp, call, err);
}

void dispatch_run(struct api_app *app, struct http_request *req, struct http_response *resp)
{
    struct dispatch_call call;
    TL_ASSERT(!async_can_park(req)); /* nobody would resume it */
    bool parked = dispatch_start(app, req, resp, &call);
    TL_ASSERT(!parked);
}
