/*
 * router.h - the route table's shape and the matcher.
 *
 * Every endpoint is one row of ONE static table (api_routes in routes.c, Redis-command-table
 * style): method, path pattern with {param} segments, handler, a route name used by metrics
 * and logs, flags and a rate-limit class. The table is the single source of truth for what the
 * API answers. Matching walks the table in order; the first row whose method and pattern match
 * wins. A path that matches some row's pattern but not its method is 405 with an Allow header;
 * a path that matches no pattern is 404. HEAD is answered by GET rows.
 *
 * Patterns: "/v1/wallets/{id}/history" - literal segments match exactly, {name} matches one
 * non-empty segment of URL-unreserved characters (A-Z a-z 0-9 - . _ ~) of at most
 * TL_ROUTE_PARAM_BYTES_MAX bytes. No trailing slash, no wildcards, no regexes.
 *
 * Never: allocate, or match anything the table does not list.
 */
#ifndef TL_API_ROUTER_H
#define TL_API_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "api/http.h"

/* Route flags. */
#define ROUTE_AUTH (1u << 0)       /* the authenticate phase must establish a principal */
#define ROUTE_IDEMPOTENT (1u << 1) /* POST honouring an Idempotency-Key header */
#define ROUTE_OPERATOR (1u << 2)   /* /v1/admin/...: the operator token, not a user (operator.h) */

/* Which token bucket a request of this route draws from (see ratelimit.h). */
enum route_limit {
    ROUTE_LIMIT_NONE = 0,   /* probes and scrapers: never limited */
    ROUTE_LIMIT_IP = 1,     /* the default: per client address */
    ROUTE_LIMIT_USER = 2,   /* per client address, then per signed-in user */
    ROUTE_LIMIT_LOOKUP = 3, /* per address, then the strict lookup bucket (user, else address) */
};
#define ROUTE_LIMIT_COUNT 4

struct route {
    enum http_method method;
    const char *pattern;
    http_handler_fn handler;
    const char *name; /* metrics/log label: [a-z0-9_.]+, unique in the table */
    uint32_t flags;   /* ROUTE_* */
    enum route_limit limit;
};

/* The server's table (routes.c). */
extern const struct route api_routes[];
extern const size_t api_route_count;

enum router_outcome {
    ROUTER_FOUND = 1,
    ROUTER_NOT_FOUND = 2,
    ROUTER_METHOD_NOT_ALLOWED = 3,
};

struct router_match {
    size_t route_index; /* ROUTER_FOUND only */
    struct http_param params[TL_ROUTE_PARAMS_MAX];
    uint32_t param_count;
    char allow[64]; /* ROUTER_METHOD_NOT_ALLOWED: "GET, HEAD, POST" */
};

/* Finds the row for method and path (decoded, without query). Cannot fail. */
enum router_outcome router_match(const struct route *table, size_t route_count,
                                 enum http_method method, const char *path,
                                 struct router_match *out);

/* Asserts the table is well formed: patterns, param names, unique names, no duplicate or
 * shadowed rows, at most TL_ROUTES_MAX rows. Called at startup and by tests. */
void router_table_check(const struct route *table, size_t route_count);

#endif
