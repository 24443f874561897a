#include "api/app.h"

#include <string.h>

#include "api/metrics.h"
#include "api/ratelimit.h"
#include "util/assert.h"
#include "util/config.h"
#include "util/limits.h"

static const char *app_route_names[TL_ROUTES_MAX];

static enum tl_err app_limits_init(struct api_app *app, const struct config *config)
{
    const struct ratelimit_config classes[ROUTE_LIMIT_COUNT] = {
        [ROUTE_LIMIT_IP] = {config->ratelimit_ip_per_min, config->ratelimit_ip_burst,
                            TL_RATELIMIT_KEYS_MAX},
        [ROUTE_LIMIT_USER] = {config->ratelimit_user_per_min, config->ratelimit_user_burst,
                              TL_RATELIMIT_KEYS_MAX},
        [ROUTE_LIMIT_LOOKUP] = {config->ratelimit_lookup_per_min, config->ratelimit_lookup_burst,
                                TL_RATELIMIT_KEYS_MAX},
    };
    for (unsigned c = ROUTE_LIMIT_IP; c < ROUTE_LIMIT_COUNT; c++) {
        enum tl_err err = ratelimit_new(&classes[c], &app->limits[c]);
        if (err != TL_OK) {
            return err;
        }
    }
    return TL_OK;
}

enum tl_err api_app_init(struct api_app *app, const struct config *config, struct writer *writer,
                         struct readers *readers)
{
    memset(app, 0, sizeof(*app));
    router_table_check(api_routes, api_route_count);
    for (size_t i = 0; i < api_route_count; i++) {
        app_route_names[i] = api_routes[i].name;
    }
    app->config = config;
    app->routes = api_routes;
    app->route_count = api_route_count;
    app->writer = writer;
    app->readers = readers;
    atomic_init(&app->draining, false);
    enum tl_err err = metrics_new(app_route_names, api_route_count, &app->metrics);
    if (err == TL_OK && config != NULL) {
        err = app_limits_init(app, config);
    }
    if (err != TL_OK) {
        api_app_fini(app);
    }
    return err;
}

void api_app_fini(struct api_app *app)
{
    for (unsigned c = 0; c < ROUTE_LIMIT_COUNT; c++) {
        ratelimit_free(app->limits[c]);
        app->limits[c] = NULL;
    }
    metrics_free(app->metrics);
    app->metrics = NULL;
}
