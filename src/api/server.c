#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/async.h"
#include "api/dispatch.h"
#include "api/metrics.h"
#include "api/problem.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/limits.h"
#include "util/log.h"

/* Bytes a streamed body is asked for at a time. */
#define SERVER_STREAM_BLOCK_BYTES 4096u

struct server {
    struct MHD_Daemon *daemon;
    struct api_app *app;
    bool tls;
    uint16_t port;
    _Atomic int64_t in_flight;
    struct async_gate gate; /* requests parked on the writer or a duplicate key (async.h) */
    char *tls_cert_pem;
    char *tls_key_pem;
    size_t tls_key_bytes;
};

/* One request's state, from the first access-handler call to the completion callback. */
struct server_request {
    struct server *server;
    struct MHD_Connection *connection;
    struct http_request req;
    struct http_response resp;
    struct buf body;
    struct async_call async;   /* parking: the connection is suspended meanwhile */
    struct dispatch_call call; /* the phases' state across a park */
    bool dispatched;           /* dispatch_start ran; later calls are resumes */
    bool responded;
    bool body_too_large;
    uint64_t discarded_bytes; /* of a chunked body past the maximum */
    uint64_t bytes_out;       /* response body bytes handed to the library */
};

static const char *server_lookup(void *ctx, enum http_lookup_kind kind, const char *name)
{
    struct server_request *sr = ctx;
    enum MHD_ValueKind mhd_kind =
        kind == HTTP_LOOKUP_HEADER ? MHD_HEADER_KIND : MHD_GET_ARGUMENT_KIND;
    return MHD_lookup_connection_value(sr->connection, mhd_kind, name);
}

/* Echoes a client's Request-Id when it is 1..TL_REQUEST_ID_BYTES_MAX of [A-Za-z0-9._:-];
 * anything else is replaced (never cut), so log lines and headers stay clean. */
static void server_request_id(struct server_request *sr)
{
    const char *incoming = server_lookup(sr, HTTP_LOOKUP_HEADER, "Request-Id");
    size_t len = incoming != NULL ? strlen(incoming) : 0;
    bool sane = len >= 1 && len <= TL_REQUEST_ID_BYTES_MAX;
    for (size_t i = 0; sane && i < len; i++) {
        char c = incoming[i];
        sane = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
    }
    if (sane) {
        memcpy(sr->req.request_id, incoming, len + 1);
        return;
    }
    char hex[ID128_HEX_BYTES];
    id128_to_hex(id128_new(), hex);
    snprintf(sr->req.request_id, sizeof(sr->req.request_id), "req_%s", hex);
}

static void server_client_ip(struct server_request *sr)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(sr->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(sr->req.client_ip, sizeof(sr->req.client_ip), "unknown");
    if (info == NULL || info->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, sr->req.client_ip, sizeof(sr->req.client_ip));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, sr->req.client_ip, sizeof(sr->req.client_ip));
    }
}

/* A parked request's connection is suspended: no worker waits for it, and the library does not
 * time it out (it cannot be cut off while the writer holds its response). */
static void server_suspend(void *conn)
{
    MHD_suspend_connection(conn);
}

static void server_resume(void *conn)
{
    MHD_resume_connection(conn);
}

static struct server_request *server_request_new(struct server *server,
                                                 struct MHD_Connection *connection, const char *url,
                                                 const char *method)
{
    struct server_request *sr = calloc(1, sizeof(*sr));
    if (sr == NULL) {
        return NULL;
    }
    sr->server = server;
    sr->connection = connection;
    sr->req.method = http_method_parse(method);
    sr->req.path = url;
    sr->req.tls = server->tls;
    sr->req.app = server->app;
    sr->req.start_ns = clock_mono_ns();
    sr->req.route_index = server->app->route_count;
    sr->req.lookup_ = server_lookup;
    sr->req.lookup_ctx_ = sr;
    sr->async.suspend = server_suspend;
    sr->async.resume = server_resume;
    sr->async.conn = connection;
    sr->async.gate = &server->gate;
    sr->req.async_ = &sr->async;
    server_request_id(sr);
    server_client_ip(sr);
    http_response_init(&sr->resp);
    buf_init(&sr->body, TL_HTTP_BODY_BYTES_MAX);
    atomic_fetch_add(&server->in_flight, 1);
    metrics_in_flight_add(server->app->metrics, 1);
    return sr;
}

static void server_request_free(struct server_request *sr)
{
    atomic_fetch_sub(&sr->server->in_flight, 1);
    metrics_in_flight_add(sr->server->app->metrics, -1);
    http_response_free(&sr->resp);
    buf_free(&sr->body);
    free(sr);
}

static bool server_add_header(struct MHD_Response *r, const char *name, const char *value)
{
    return MHD_add_response_header(r, name, value) == MHD_YES;
}

/* ---- Streamed bodies (http_stream): parked connections are suspended, not waited on ---- */

static void server_stream_park(void *conn)
{
    MHD_suspend_connection(conn);
}

static void server_stream_wake(void *conn)
{
    MHD_resume_connection(conn);
}

static ssize_t server_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_stream *stream = cls;
    (void)pos;
    ptrdiff_t n = stream->read(stream, buf, max);
    TL_ASSERT(n >= -1 && n <= (ptrdiff_t)max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void server_stream_free(void *cls)
{
    struct http_stream *stream = cls;
    stream->release(stream);
}

/* A response whose body the handler's stream produces; the stream moves to the library. */
static struct MHD_Response *server_stream_response(struct server_request *sr)
{
    struct http_stream *stream = sr->resp.stream;
    stream->park = server_stream_park;
    stream->wake = server_stream_wake;
    stream->conn = sr->connection;
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, SERVER_STREAM_BLOCK_BYTES, server_stream_read, stream, server_stream_free);
    if (r != NULL) {
        sr->resp.stream = NULL; /* the library releases it now */
    }
    return r;
}

/* Hands resp to libmicrohttpd: the body buffer moves to it without a copy. */
static enum MHD_Result server_respond(struct server_request *sr, bool close_connection)
{
    struct http_response *resp = &sr->resp;
    struct MHD_Response *r;
    TL_ASSERT(!sr->responded);
    sr->bytes_out = resp->body.len;
    if (resp->stream != NULL) {
        r = server_stream_response(sr);
    } else if (resp->body.len > 0) {
        r = MHD_create_response_from_buffer(resp->body.len, resp->body.data, MHD_RESPMEM_MUST_FREE);
        if (r != NULL) {
            buf_init(&resp->body, TL_HTTP_RESPONSE_BYTES_MAX); /* MHD frees the bytes now */
        }
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (r == NULL) {
        return MHD_NO;
    }
    bool ok = server_add_header(r, "Content-Type", resp->content_type);
    ok = ok && server_add_header(r, "Request-Id", sr->req.request_id);
    ok = ok && server_add_header(r, "Cache-Control", "no-store");
    ok = ok && server_add_header(r, "X-Content-Type-Options", "nosniff");
    if (sr->server->tls) {
        ok = ok && server_add_header(r, "Strict-Transport-Security", SERVER_HSTS);
    }
    for (uint32_t i = 0; i < resp->header_count; i++) {
        ok = ok && server_add_header(r, resp->headers[i].name, resp->headers[i].value);
    }
    if (close_connection || atomic_load(&sr->server->app->draining)) {
        ok = ok && server_add_header(r, "Connection", "close");
    }
    enum MHD_Result result = MHD_NO;
    if (ok) {
        result = MHD_queue_response(sr->connection, (unsigned int)resp->status, r);
    }
    MHD_destroy_response(r);
    sr->responded = result == MHD_YES;
    return result;
}

/* 413 before or while the body arrives; the connection closes after it. */
static enum MHD_Result server_too_large(struct server_request *sr)
{
    char detail[96];
    struct router_match match;
    const struct api_app *app = sr->server->app;
    sr->body_too_large = true;
    /* Name the route in logs and metrics when the path is one. */
    if (router_match(app->routes, app->route_count, sr->req.method, sr->req.path, &match) ==
        ROUTER_FOUND) {
        sr->req.route_index = match.route_index;
    }
    snprintf(detail, sizeof(detail), "request bodies are limited to %u bytes",
             TL_HTTP_BODY_BYTES_MAX);
    http_response_problem(&sr->resp, &sr->req, TL_ERR_PAYLOAD_TOO_LARGE, NULL, detail);
    return server_respond(sr, true);
}

/* A Content-Length larger than the body maximum (MHD has already checked its syntax). */
static bool server_declared_too_large(struct server_request *sr)
{
    const char *length = server_lookup(sr, HTTP_LOOKUP_HEADER, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length == NULL) {
        return false;
    }
    uint64_t n = 0;
    for (const char *p = length; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > TL_HTTP_BODY_BYTES_MAX) {
            return true;
        }
    }
    return false;
}

/*
 * A chunk of body. A chunked body (no Content-Length) that grows past the maximum cannot be
 * answered mid-stream (libmicrohttpd queues responses only before the body or after all of
 * it), so the rest is discarded, up to TL_HTTP_DISCARD_BYTES_MAX, and 413 goes out at the end;
 * a client still sending past that loses its connection without an answer.
 */
static enum MHD_Result server_body_chunk(struct server_request *sr, const char *data, size_t bytes)
{
    if (sr->responded) {
        return MHD_YES; /* 413 queued before the body: the library drops the rest */
    }
    if (!sr->body_too_large && buf_append(&sr->body, data, bytes) == TL_OK) {
        return MHD_YES;
    }
    sr->body_too_large = true;
    sr->discarded_bytes += bytes;
    return sr->discarded_bytes <= TL_HTTP_DISCARD_BYTES_MAX ? MHD_YES : MHD_NO;
}

/*
 * libmicrohttpd calls this once when the headers are in, then once per chunk of body, then
 * once more with no data. Answering on the first call would make it close the connection, so
 * the phases run on the last call; only a body that is too large is answered early.
 */
static enum MHD_Result server_access(void *cls, struct MHD_Connection *connection, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    struct server *server = cls;
    struct server_request *sr = *con_cls;
    (void)version;
    if (sr == NULL) {
        sr = server_request_new(server, connection, url, method);
        if (sr == NULL) {
            return MHD_NO; /* out of memory: drop the connection */
        }
        *con_cls = sr;
        if (server_declared_too_large(sr)) {
            return server_too_large(sr);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t chunk = *upload_data_size;
        *upload_data_size = 0;
        return server_body_chunk(sr, upload_data, chunk);
    }
    if (sr->responded) {
        return MHD_YES;
    }
    if (sr->dispatched) {
        /* Resumed after a park: the continuation answers, or parks again. */
        if (dispatch_resume(server->app, &sr->req, &sr->resp, &sr->call)) {
            return MHD_YES;
        }
        return server_respond(sr, false);
    }
    if (sr->body_too_large) {
        return server_too_large(sr);
    }
    sr->req.body = sr->body.len > 0 ? (const uint8_t *)sr->body.data : NULL;
    sr->req.body_bytes = sr->body.len;
    sr->dispatched = true;
    if (dispatch_start(server->app, &sr->req, &sr->resp, &sr->call)) {
        return MHD_YES; /* parked: the connection is suspended until the wake */
    }
    return server_respond(sr, false);
}

static void server_log_request(const struct server_request *sr, enum MHD_RequestTerminationCode toe,
                               uint64_t duration_us)
{
    const struct api_app *app = sr->server->app;
    const char *route = sr->req.route_index < app->route_count
                            ? app->routes[sr->req.route_index].name
                            : "unmatched";
    /* The path is logged as sent (ids are not secrets); the query string never is. */
    bool path_short = strlen(sr->req.path) <= TL_ROUTE_PATH_BYTES_MAX;
    const char *code = sr->resp.problem_err != TL_OK ? tl_err_code(sr->resp.problem_err) : NULL;
    enum log_level level = sr->resp.status >= 500 ? LOG_WARN : LOG_INFO;
    LOG(level, "request", LOG_STR("request_id", sr->req.request_id),
        LOG_STR("method", http_method_name(sr->req.method)),
        LOG_STR("path", path_short ? sr->req.path : "(too long)"), LOG_STR("route", route),
        LOG_I64("status", sr->responded ? sr->resp.status : 0), LOG_STR("code", code),
        LOG_U64("duration_us", duration_us), LOG_U64("bytes_in", sr->body.len),
        LOG_U64("bytes", sr->bytes_out), LOG_STR("ip", sr->req.client_ip),
        LOG_BOOL("completed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK));
}

/* libmicrohttpd is done with a request (sent, failed or abandoned): log, count, free. */
static void server_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    struct server_request *sr = *con_cls;
    (void)cls;
    (void)connection;
    if (sr == NULL) {
        return;
    }
    *con_cls = NULL;
    if (sr->async.parked) {
        /* Woken, but the connection ended (the client went away) before its worker ran the
         * continuation: run it here, unable to park, so that what it holds (the payment's
         * state, the Idempotency-Key) is released. Its answer goes nowhere; with a key it is
         * stored for a retry, as a committed payment's always is. */
        TL_ASSERT(atomic_load(&sr->async.woken)); /* never while the writer holds it */
        sr->async.suspend = NULL;
        bool parked = dispatch_resume(sr->server->app, &sr->req, &sr->resp, &sr->call);
        TL_ASSERT(!parked);
    }
    uint64_t duration_us = (clock_mono_ns() - sr->req.start_ns) / 1000u;
    server_log_request(sr, toe, duration_us);
    if (sr->responded) {
        metrics_request_observe(sr->server->app->metrics, sr->req.route_index, sr->resp.status,
                                duration_us);
    }
    server_request_free(sr);
}

static void server_library_log(void *cls, const char *fmt, va_list ap)
{
    char text[256];
    (void)cls;
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) {
        text[--len] = '\0';
    }
    LOG(LOG_WARN, "http_library", LOG_STR("msg", text));
}

/* Reads a whole PEM file (NUL-terminated, at most TL_TLS_PEM_BYTES_MAX) into *out. */
static enum tl_err server_read_pem(const char *path, char **out, size_t *out_bytes,
                                   char error[SERVER_ERROR_BYTES])
{
    enum tl_err err = TL_ERR_IO;
    struct buf pem;
    char chunk[4096];
    buf_init(&pem, TL_TLS_PEM_BYTES_MAX);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(error, SERVER_ERROR_BYTES, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(error, SERVER_ERROR_BYTES, "%s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (buf_append(&pem, chunk, (size_t)n) != TL_OK) {
            snprintf(error, SERVER_ERROR_BYTES, "%s: larger than %u bytes", path,
                     TL_TLS_PEM_BYTES_MAX);
            goto out;
        }
    }
    if (pem.len == 0) {
        snprintf(error, SERVER_ERROR_BYTES, "%s: empty", path);
        goto out;
    }
    *out = pem.data;
    *out_bytes = pem.len;
    pem.data = NULL;
    err = TL_OK;
out:
    explicit_bzero(chunk, sizeof(chunk));
    if (pem.data != NULL) {
        explicit_bzero(pem.data, pem.cap);
    }
    buf_free(&pem);
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

static void server_free(struct server *server)
{
    free(server->tls_cert_pem);
    if (server->tls_key_pem != NULL) {
        explicit_bzero(server->tls_key_pem, server->tls_key_bytes);
        free(server->tls_key_pem);
    }
    free(server);
}

/* The listen address as a socket address; false when it is not an IP literal. */
static bool server_sockaddr(const char *listen, uint16_t port, struct sockaddr_storage *out,
                            bool *ipv6)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)out;
    if (inet_pton(AF_INET, listen, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *ipv6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, listen, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *ipv6 = true;
        return true;
    }
    return false;
}

static bool server_tls_wanted(const struct server_config *config)
{
    return config->tls_cert_path != NULL && config->tls_cert_path[0] != '\0';
}

enum tl_err server_config_check(const struct server_config *config, char error[SERVER_ERROR_BYTES])
{
    struct sockaddr_storage addr;
    bool ipv6 = false;
    bool key = config->tls_key_path != NULL && config->tls_key_path[0] != '\0';
    if (config->listen == NULL || !server_sockaddr(config->listen, config->port, &addr, &ipv6)) {
        snprintf(error, SERVER_ERROR_BYTES, "listen address '%s' is not an IP literal",
                 config->listen != NULL ? config->listen : "");
        return TL_ERR_INVALID_REQUEST;
    }
    if (server_tls_wanted(config) != key) {
        snprintf(error, SERVER_ERROR_BYTES, "TLS needs both a certificate and a key");
        return TL_ERR_INVALID_REQUEST;
    }
    if (!key && !config->allow_insecure_http && !config_listen_is_loopback(config->listen)) {
        snprintf(error, SERVER_ERROR_BYTES,
                 "refusing plain HTTP on non-loopback address %s: give --tls-cert and "
                 "--tls-key, or --allow-insecure-http behind a TLS-terminating proxy",
                 config->listen);
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

/* Policy and TLS material, before any socket is opened. */
static enum tl_err server_prepare(const struct server_config *config, struct server *server,
                                  char error[SERVER_ERROR_BYTES])
{
    enum tl_err err = server_config_check(config, error);
    if (err != TL_OK) {
        return err;
    }
    server->tls = server_tls_wanted(config);
    if (!server->tls) {
        return TL_OK;
    }
    size_t cert_bytes = 0;
    err = server_read_pem(config->tls_cert_path, &server->tls_cert_pem, &cert_bytes, error);
    if (err == TL_OK) {
        err = server_read_pem(config->tls_key_path, &server->tls_key_pem, &server->tls_key_bytes,
                              error);
    }
    return err;
}

static struct MHD_Daemon *server_daemon_start(const struct server_config *config,
                                              struct server *server,
                                              const struct sockaddr_storage *addr, bool ipv6)
{
    /* Suspend/resume: a streamed body (GET /v1/events) parks its connection between events
     * instead of holding a worker. */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                         MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ipv6) {
        flags |= MHD_USE_IPv6;
    }
    /* TLS options ride in an array so one call serves both modes. */
    struct MHD_OptionItem tls_options[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, server->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, server->tls_key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)SERVER_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem no_options[] = {{MHD_OPTION_END, 0, NULL}};
    if (server->tls) {
        flags |= MHD_USE_TLS;
    }
    /* The logger comes first so that every message of the library goes through it. */
    return MHD_start_daemon(
        flags, config->port, NULL, NULL, server_access, server, MHD_OPTION_EXTERNAL_LOGGER,
        server_library_log, server, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)config->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)config->connections_max, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)config->connections_per_ip_max, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)config->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)TL_HTTP_HEADER_BYTES_MAX, MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_NOTIFY_COMPLETED, server_completed, server, MHD_OPTION_ARRAY,
        server->tls ? tls_options : no_options, MHD_OPTION_END);
}

enum tl_err server_start(const struct server_config *config, struct api_app *app,
                         struct server **out, char error[SERVER_ERROR_BYTES])
{
    struct sockaddr_storage addr;
    bool ipv6 = false;
    TL_ASSERT(app != NULL);
    TL_ASSERT(app->metrics != NULL);
    TL_ASSERT(config->threads >= 1 && config->threads <= TL_HTTP_THREADS_MAX);
    error[0] = '\0';
    if (server_config_check(config, error) != TL_OK) {
        return TL_ERR_INVALID_REQUEST;
    }
    bool parsed = server_sockaddr(config->listen, config->port, &addr, &ipv6);
    TL_ASSERT(parsed); /* server_config_check parsed it */
    struct server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        return TL_ERR_NOMEM;
    }
    server->app = app;
    atomic_init(&server->in_flight, 0);
    async_gate_init(&server->gate);
    enum tl_err err = server_prepare(config, server, error);
    if (err != TL_OK) {
        server_free(server);
        return err;
    }
    server->daemon = server_daemon_start(config, server, &addr, ipv6);
    if (server->daemon == NULL) {
        snprintf(error, SERVER_ERROR_BYTES,
                 "cannot serve on %s port %u (address in use, or bad TLS certificate/key)",
                 config->listen, config->port);
        server_free(server);
        return TL_ERR_IO;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info != NULL ? info->port : config->port;
    LOG(LOG_INFO, "listening", LOG_STR("address", config->listen), LOG_U64("port", server->port),
        LOG_BOOL("tls", server->tls), LOG_U64("threads", config->threads));
    *out = server;
    return TL_OK;
}

uint16_t server_port(const struct server *server)
{
    return server->port;
}

/* Sleeps until no request is in flight, or until the deadline if none is parked: past it
 * the rest are cut off, but never a parked one (its connection is suspended, which the library
 * must not stop with, and the writer, still running, wakes it once its batch is done). */
static void server_drain_wait(struct server *server, uint64_t deadline_ns)
{
    while (async_gate_parked(&server->gate) > 0 ||
           (atomic_load(&server->in_flight) > 0 && clock_mono_ns() < deadline_ns)) {
        clock_sleep_ms(5);
    }
}

void server_stop(struct server *server)
{
    if (server == NULL) {
        return;
    }
    atomic_store(&server->app->draining, true);
    MHD_socket listen_fd = MHD_quiesce_daemon(server->daemon);
    uint64_t deadline_ns = clock_mono_ns() + (uint64_t)TL_HTTP_DRAIN_MS_MAX * 1000000u;
    /* Requests drain with parking still allowed: a duplicate of a key in flight must not block
     * the worker its holder needs. */
    server_drain_wait(server, deadline_ns);
    /* Nothing is in flight now (unless the deadline passed), but a connection accepted before
     * the quiesce may still bring a request (the library serves it until MHD_stop_daemon),
     * and a wake may still be running. From here on no request parks: a payment waits for its
     * batch on its worker, which MHD_stop_daemon joins, and a duplicate of a key in flight
     * answers 503. The second wait covers the parks counted before the gate closed and the
     * wakes still running (a wake counts its request out as its last touch of the server): at
     * zero no connection is suspended, which libmicrohttpd aborts on, and the server can be
     * freed. */
    async_gate_close(&server->gate);
    server_drain_wait(server, deadline_ns);
    int64_t abandoned = atomic_load(&server->in_flight);
    MHD_stop_daemon(server->daemon);
    if (listen_fd != MHD_INVALID_SOCKET) {
        close(listen_fd);
    }
    LOG(LOG_INFO, "server_stopped", LOG_I64("requests_cut_off", abandoned));
    server_free(server);
}
