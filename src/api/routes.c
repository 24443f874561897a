/*
 * routes.c - THE route table: every endpoint tallyd answers, one row each.
 *
 * To add an endpoint: write its handler (parse -> execute -> render, see http.h) in its own
 * file under src/api/, declare it in that file's header, include the header here and add a
 * row below. router_table_check (run at startup and in tests) rejects malformed patterns,
 * duplicate names and rows hidden by an earlier row, so list literal paths ("/v1/users/me")
 * before parameter paths of the same shape ("/v1/users/{id}").
 *
 *   method, pattern, handler, name (metrics label), flags, rate-limit class
 */
#include "api/ops.h"
#include "api/router.h"

const struct route api_routes[] = {
    /* ---- Operations: probes and scrapers, no auth, never rate limited ---- */
    {HTTP_GET, "/healthz", ops_healthz, "healthz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/readyz", ops_readyz, "readyz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/metrics", ops_metrics, "metrics", 0, ROUTE_LIMIT_NONE},

    /* ---- Resources: /v1/... rows go here, grouped by resource. For example:
     * {HTTP_POST, "/v1/payments", payments_create, "payments.create",
     *  ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
     * {HTTP_GET, "/v1/wallets/{id}", wallets_get, "wallets.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
     */
};

const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);
