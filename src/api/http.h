/*
 * http.h - what a handler sees: one request in, one response out.
 *
 * A request walks fixed phases (src/api/dispatch.c): read + limits -> route -> rate limit ->
 * authenticate -> content checks -> handler -> render -> log. A handler only parses its
 * input, executes and renders; it returns TL_OK with a response filled in, or an error code
 * (optionally with http_fail's param/detail) that the dispatcher turns into an RFC 9457
 * problem. Nothing here knows libmicrohttpd: the server fills these structs and tests can
 * build them by hand.
 *
 * A handler must never: write to the store directly (money goes through the writer), log or
 * echo a secret, or put driver/SQL text in a response.
 */
#ifndef TL_API_HTTP_H
#define TL_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/id128.h"
#include "util/limits.h"

struct api_app;
struct async_call;
struct route;
struct store;
struct json_t;

enum http_method {
    HTTP_METHOD_OTHER = 0, /* anything we do not route: never matches a route */
    HTTP_GET = 1,
    HTTP_HEAD = 2, /* answered by GET routes; the server sends no body */
    HTTP_POST = 3,
    HTTP_PUT = 4,
    HTTP_PATCH = 5,
    HTTP_DELETE = 6,
    HTTP_OPTIONS = 7,
};
#define HTTP_METHOD_COUNT 8

/* "GET" for HTTP_GET; "OTHER" for HTTP_METHOD_OTHER. Cannot fail. */
const char *http_method_name(enum http_method method);
/* Method token (case-sensitive, RFC 9110) -> enum; unknown tokens are HTTP_METHOD_OTHER. */
enum http_method http_method_parse(const char *token);

/* Who is calling, as established by the authenticate phase. */
struct http_principal {
    bool authenticated;
    struct id128 user_id;    /* zero when not authenticated */
    struct id128 session_id; /* zero when not authenticated */
};

/* A {param} captured from the path. name points into the route pattern (not NUL-ended). */
struct http_param {
    const char *name;
    size_t name_len;
    char value[TL_ROUTE_PARAM_BYTES_MAX + 1];
};

/* How the server answers header and query lookups; hides the HTTP library. */
enum http_lookup_kind {
    HTTP_LOOKUP_HEADER = 1, /* case-insensitive name */
    HTTP_LOOKUP_QUERY = 2,  /* decoded ?name=value */
};
typedef const char *(*http_lookup_fn)(void *ctx, enum http_lookup_kind kind, const char *name);

struct http_request {
    enum http_method method;
    const char *path;    /* decoded path without the query string; never logged with secrets */
    const uint8_t *body; /* NULL when empty; not NUL-terminated */
    size_t body_bytes;   /* <= TL_HTTP_BODY_BYTES_MAX */
    char request_id[TL_REQUEST_ID_BYTES_MAX + 1];
    char client_ip[48]; /* text form of the peer address */
    bool tls;
    /* Filled by the route phase. */
    const struct route *route;
    size_t route_index; /* index in the route table; == route count when no route matched */
    struct http_param params[TL_ROUTE_PARAMS_MAX];
    uint32_t param_count;
    /* Filled by the authenticate phase. */
    struct http_principal principal;
    bool operator; /* a ROUTE_OPERATOR route authenticated with the operator token */
    /* Idempotent routes: the validated Idempotency-Key header, or NULL when absent. */
    const char *idempotency_key;
    /* Services: store readers, writer, config. Never NULL inside a handler. */
    struct api_app *app;
    uint64_t start_ns; /* monotonic */
    /* Private to the server and dispatcher. */
    http_lookup_fn lookup_;
    void *lookup_ctx_;
    struct store *reader_;
    struct async_call *async_; /* api/async.h: NULL when the request cannot park */
};

/* Value of the route's {name} segment, NUL-terminated; NULL when the route has no such param. */
const char *http_request_param(const struct http_request *req, const char *name);
/* Decoded query parameter, or NULL. Do not log query values: they may carry secrets. */
const char *http_request_query(const struct http_request *req, const char *name);
/* Request header value (name case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
/*
 * A reader store handle for this request (the same one for every call), released by the
 * dispatcher after the handler returns. TL_ERR_BUSY when none became free in time,
 * TL_ERR_STORAGE when the server runs without a store.
 */
enum tl_err http_request_store(struct http_request *req, struct store **out);

struct http_header {
    const char *name; /* a literal ("Location"); not copied */
    char value[TL_HTTP_HEADER_VALUE_BYTES_MAX];
};

/*
 * A response body made over time instead of resp->body (Server-Sent Events, api/events.h). The
 * server pulls it with read on a libmicrohttpd thread. When read has nothing to send it calls
 * park(conn) and returns 0: the server suspends the connection, so no thread waits on it. The
 * producer calls wake(conn), from any thread, once there is more (never twice for one park).
 * read returns the bytes copied, 0 after park, or -1 at the end of the stream. release runs
 * once when the server (or http_response_free, when the stream was never handed over) is done
 * with it; no call comes after it.
 */
struct http_stream {
    ptrdiff_t (*read)(struct http_stream *stream, char *buf, size_t max);
    void (*release)(struct http_stream *stream);
    /* Set by the server before the first read. */
    void (*park)(void *conn);
    void (*wake)(void *conn);
    void *conn;
};

struct http_response {
    int status;               /* 200 unless set */
    const char *content_type; /* a literal; "application/json" unless set */
    struct buf body;          /* at most TL_HTTP_RESPONSE_BYTES_MAX */
    struct http_header headers[TL_HTTP_RESPONSE_HEADERS_MAX];
    uint32_t header_count;
    /* Set by http_fail for the problem the dispatcher renders when the handler fails. */
    char problem_param[TL_JSON_PARAM_BYTES_MAX + 1];
    char problem_detail[192];
    /* The error a problem response reports (TL_OK for success), for the access log. */
    enum tl_err problem_err;
    struct http_stream *stream; /* NULL unless the body is a stream; set by the handler */
};

/* An empty 200 application/json response. Cannot fail. */
void http_response_init(struct http_response *resp);
/* Frees the body. Cannot fail. */
void http_response_free(struct http_response *resp);

/* Adds (or replaces) a header; name must be a literal. TL_ERR_LIMIT past
 * TL_HTTP_RESPONSE_HEADERS_MAX headers or TL_HTTP_HEADER_VALUE_BYTES_MAX bytes. */
enum tl_err http_response_header_set(struct http_response *resp, const char *name,
                                     const char *value);
/* Adds a header even when one of that name is set already (Set-Cookie); errors as for
 * http_response_header_set. */
enum tl_err http_response_header_add(struct http_response *resp, const char *name,
                                     const char *value);
/* The value of a header set on the response, or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

/*
 * Renders value as compact JSON into the body with this status and content type
 * application/json. Takes ownership of value (decref'd here, also on error). TL_ERR_LIMIT when
 * the text exceeds TL_HTTP_RESPONSE_BYTES_MAX, TL_ERR_NOMEM.
 */
enum tl_err http_response_json(struct http_response *resp, int status, struct json_t *value);

/*
 * Records what the client did wrong for the problem response and returns err, so a handler
 * writes `return http_fail(resp, TL_ERR_INVALID_AMOUNT, "amount", "must be positive");`.
 * param names the offending field (or NULL), detail is a sentence for people (or NULL); both
 * are copied (cut at their buffer sizes) and must never hold secrets or internal text.
 */
enum tl_err http_fail(struct http_response *resp, enum tl_err err, const char *param,
                      const char *detail);

/* Replaces the response with the problem for err (RFC 9457, see problem.h). Cannot fail: if
 * even the problem cannot be rendered the body is left empty with the right status. */
void http_response_problem(struct http_response *resp, const struct http_request *req,
                           enum tl_err err, const char *param, const char *detail);

/* Handler: parse, execute, render. Returns TL_OK with resp filled, or an error (see above). */
typedef enum tl_err (*http_handler_fn)(struct http_request *req, struct http_response *resp);

#endif
