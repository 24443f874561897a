#include "api/ops.h"

#include <jansson.h>

#include "api/app.h"
#include "api/metrics.h"
#include "store/store.h"
#include "store/writer.h"

enum tl_err ops_healthz(struct http_request *req, struct http_response *resp)
{
    (void)req;
    return http_response_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

enum tl_err ops_readyz(struct http_request *req, struct http_response *resp)
{
    struct store *store = NULL;
    if (atomic_load(&req->app->draining)) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "shutting down");
    }
    if (http_request_store(req, &store) != TL_OK || store_ping(store) != TL_OK) {
        return http_fail(resp, TL_ERR_NOT_READY, NULL, "the store is not answering");
    }
    return http_response_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

enum tl_err ops_metrics(struct http_request *req, struct http_response *resp)
{
    struct writer_stats stats;
    const struct writer_stats *writer = NULL;
    if (req->app->writer != NULL) {
        writer_stats_get(req->app->writer, &stats);
        writer = &stats;
    }
    buf_reset(&resp->body);
    enum tl_err err = metrics_render(req->app->metrics, writer, &resp->body);
    if (err != TL_OK) {
        return err;
    }
    resp->content_type = METRICS_CONTENT_TYPE;
    return TL_OK;
}
