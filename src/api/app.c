#include "api/app.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "api/kyc.h"
#include "api/metrics.h"
#include "api/ratelimit.h"
#include "util/assert.h"
#include "util/clock.h"
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

static void app_store_init(struct api_app *app)
{
    clock_cond_init_mono(&app->app_store_freed);
    TL_ASSERT(pthread_mutex_init(&app->app_store_mutex, NULL) == 0);
    app->app_store = NULL;
    app->app_store_busy = false;
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
    app_store_init(app);
    enum tl_err err = metrics_new(app_route_names, api_route_count, &app->metrics);
    if (err == TL_OK && config != NULL) {
        err = app_limits_init(app, config);
    }
    if (err == TL_OK && config != NULL) {
        err = kyc_new(config, &app->kyc);
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
    kyc_free(app->kyc);
    app->kyc = NULL;
    TL_ASSERT(!app->app_store_busy);
    pthread_cond_destroy(&app->app_store_freed);
    pthread_mutex_destroy(&app->app_store_mutex);
    app->app_store = NULL; /* borrowed: main closes it */
}

enum tl_err api_app_store_acquire(struct api_app *app, struct store **out)
{
    if (app->app_store == NULL) {
        return TL_ERR_STORAGE;
    }
    struct timespec deadline = clock_mono_deadline(API_APP_STORE_WAIT_MS);
    enum tl_err err = TL_OK;
    TL_ASSERT(pthread_mutex_lock(&app->app_store_mutex) == 0);
    while (app->app_store_busy) {
        int rc = pthread_cond_timedwait(&app->app_store_freed, &app->app_store_mutex, &deadline);
        if (rc == ETIMEDOUT) {
            err = TL_ERR_BUSY;
            break;
        }
        TL_ASSERT(rc == 0);
    }
    if (err == TL_OK) {
        app->app_store_busy = true;
        *out = app->app_store;
    }
    TL_ASSERT(pthread_mutex_unlock(&app->app_store_mutex) == 0);
    return err;
}

void api_app_store_release(struct api_app *app, struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store == app->app_store);
    TL_ASSERT(pthread_mutex_lock(&app->app_store_mutex) == 0);
    TL_ASSERT(app->app_store_busy);
    app->app_store_busy = false;
    TL_ASSERT(pthread_cond_signal(&app->app_store_freed) == 0);
    TL_ASSERT(pthread_mutex_unlock(&app->app_store_mutex) == 0);
}
