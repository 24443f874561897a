/*
 * ops.h - operational endpoints: liveness, readiness, metrics.
 *
 * GET /healthz answers 200 {"status":"ok"} while the process serves requests (it touches
 * nothing else, so it stays up while the store is down). GET /readyz answers 200
 * {"status":"ready"} when a reader store handle answers store_ping, else a 503 not_ready
 * problem. GET /metrics is Prometheus text (metrics.h). None needs auth or is rate limited.
 *
 * Never: write anything, or make /healthz depend on the store or the writer (a liveness probe
 * that fails with a dependency gets a healthy process restarted).
 */
#ifndef TL_API_OPS_H
#define TL_API_OPS_H

#include "api/http.h"

enum tl_err ops_healthz(struct http_request *req, struct http_response *resp);
enum tl_err ops_readyz(struct http_request *req, struct http_response *resp);
enum tl_err ops_metrics(struct http_request *req, struct http_response *resp);

#endif
