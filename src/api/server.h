/*
 * server.h - the HTTP(S) server: libmicrohttpd wiring around dispatch_run.
 *
 * An internal epoll thread pool answers HTTP/1.1 with keep-alive. Per request: the body is
 * read into a bounded buffer (over TL_HTTP_BODY_BYTES_MAX -> 413 without reading the rest,
 * then the connection closes), the phases in dispatch.h run on the handler's second call or
 * later (answering on the first call would force Connection: close), and one JSON access-log
 * line is written when the response is done. Header block size, idle timeout, total and
 * per-address connections are bounded so slow clients cannot pin the workers.
 *
 * TLS (when a certificate and key are given) allows only TLS 1.2 and 1.3 with ECDHE key
 * exchange and AEAD ciphers, and every HTTPS response carries Strict-Transport-Security.
 * Plain HTTP is refused unless the bind address is loopback or allow_insecure_http is set.
 * Every response carries Request-Id (a sane incoming one is echoed, else one is made).
 * A response whose body is an http_stream (GET /v1/events) is served from a callback; while
 * the stream has nothing to send its connection is suspended, so it holds no worker.
 *
 * Never: log a query string, an Authorization/Cookie header, a body or any secret.
 */
#ifndef TL_API_SERVER_H
#define TL_API_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "api/app.h"
#include "util/err.h"

struct server_config {
    const char *listen; /* IPv4 or IPv6 literal */
    uint16_t port;      /* 0: a free port, see server_port */
    uint32_t threads;   /* 1..TL_HTTP_THREADS_MAX */
    uint32_t connections_max;
    uint32_t connections_per_ip_max;
    uint32_t timeout_s;
    const char *tls_cert_path; /* PEM; NULL or "" for plain HTTP */
    const char *tls_key_path;
    bool allow_insecure_http;
};

/* The GnuTLS priority string: TLS 1.2/1.3, ECDHE, AEAD only; the server's order wins. */
#define SERVER_TLS_PRIORITIES                                                                      \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"                  \
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"
#define SERVER_HSTS "max-age=63072000; includeSubDomains"
#define SERVER_ERROR_BYTES 320

struct server;

/*
 * Checks config without opening anything: listen address, certificate and key given
 * together, and the plain-HTTP policy. server_start runs it too; main runs it first to fail
 * before touching the data directory. TL_ERR_INVALID_REQUEST with one line in error.
 */
enum tl_err server_config_check(const struct server_config *config, char error[SERVER_ERROR_BYTES]);

/*
 * Starts listening and serving with app (borrowed until server_stop). On error returns
 * TL_ERR_INVALID_REQUEST (policy: plain HTTP on a public address; bad address), TL_ERR_IO
 * (unreadable certificate, cannot listen) or TL_ERR_NOMEM, with one line in error.
 */
enum tl_err server_start(const struct server_config *config, struct api_app *app,
                         struct server **out, char error[SERVER_ERROR_BYTES]);

/* The port actually bound (useful with port 0). Cannot fail. */
uint16_t server_port(const struct server *server);

/*
 * Graceful stop: marks app draining (/readyz answers 503, responses close their connection),
 * stops accepting, waits up to TL_HTTP_DRAIN_MS_MAX for in-flight requests, then stops every
 * thread and frees the server. When it returns no handler is running. Cannot fail.
 */
void server_stop(struct server *server);

#endif
