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
#include "api/sessions.h"
#include "api/users.h"
/* money */
#include "api/deposits.h"
#include "api/payments.h"
#include "api/wallets.h"

const struct route api_routes[] = {
    /* ---- Operations: probes and scrapers, no auth, never rate limited ---- */
    {HTTP_GET, "/healthz", ops_healthz, "healthz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/readyz", ops_readyz, "readyz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/metrics", ops_metrics, "metrics", 0, ROUTE_LIMIT_NONE},

    /* ---- identity: sign-up, sessions, the signed-in user, recipient lookup ---- */
    {HTTP_POST, "/v1/users", users_create, "users.create", ROUTE_IDEMPOTENT, ROUTE_LIMIT_IP},
    {HTTP_GET, "/v1/users/lookup", users_lookup, "users.lookup", ROUTE_AUTH, ROUTE_LIMIT_LOOKUP},
    {HTTP_GET, "/v1/me", users_me, "me.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    /* Not ROUTE_IDEMPOTENT: the response holds a token, which must never be stored. */
    {HTTP_POST, "/v1/sessions", sessions_create, "sessions.create", 0, ROUTE_LIMIT_IP},
    {HTTP_DELETE, "/v1/sessions/current", sessions_delete, "sessions.delete", ROUTE_AUTH,
     ROUTE_LIMIT_USER},

    /* ---- money: wallets, deposits, payments; all per user, POSTs idempotent ---- */
    {HTTP_GET, "/v1/wallets", wallets_list, "wallets.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/wallets", wallets_create, "wallets.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/wallets/{id}", wallets_get, "wallets.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/wallets/{id}/transactions", wallets_transactions, "wallets.transactions",
     ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/deposits", deposits_create, "deposits.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payments", payments_create, "payments.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payments", payments_list, "payments.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payments/{id}", payments_get, "payments.get", ROUTE_AUTH, ROUTE_LIMIT_USER},

    /* ---- Resources: /v1/... rows go here, grouped by resource. For example:
     * {HTTP_POST, "/v1/payments", payments_create, "payments.create",
     *  ROUTE_AUTH | ROUTE_IDEMPOTENT, ROUTE_LIMIT_USER},
     * {HTTP_GET, "/v1/wallets/{id}", wallets_get, "wallets.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
     */
};

const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);
