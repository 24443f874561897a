#include "api/seen.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/authn.h"
#include "store/app.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/thread.h"

static_assert(STORE_HASH_BYTES == 32, "seen_note takes a 32-byte token hash");

struct seen_touch {
    uint8_t token_hash[STORE_HASH_BYTES];
    uint64_t now_ns;
};

struct seen {
    struct api_app *app;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;    /* a touch was queued, or stopping */
    pthread_cond_t written; /* written_total moved */
    bool stopping;
    uint32_t count;
    uint64_t queued_total;  /* touches ever queued (dropped ones not counted) */
    uint64_t written_total; /* of those, how many the thread has written or given up on */
    struct seen_touch queue[SEEN_QUEUE_MAX];
    struct seen_touch taken[SEEN_QUEUE_MAX]; /* the thread's copy of one turn's queue */
};

/* One touch through the app-store handle; a failure is logged (best effort, authn.h). */
static void seen_write(struct seen *seen, const struct seen_touch *touch)
{
    struct store *store = NULL;
    enum tl_err err = api_app_store_acquire(seen->app, &store);
    if (err == TL_OK) {
        err = store_session_touch(store, touch->token_hash, touch->now_ns,
                                  (uint64_t)AUTHN_LAST_SEEN_INTERVAL_S * 1000000000u / 2u);
        api_app_store_release(seen->app, store);
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "session_last_seen_failed", LOG_STR("error", tl_err_code(err)));
    }
}

static void *seen_main(void *arg)
{
    struct seen *seen = arg;
    TL_ASSERT(pthread_mutex_lock(&seen->mutex) == 0);
    for (;;) {
        while (!seen->stopping && seen->count == 0) {
            TL_ASSERT(pthread_cond_wait(&seen->wake, &seen->mutex) == 0);
        }
        if (seen->count == 0) {
            break; /* stopping, and everything queued is written */
        }
        uint32_t count = seen->count;
        uint64_t upto = seen->queued_total;
        TL_ASSERT(count <= SEEN_QUEUE_MAX);
        memcpy(seen->taken, seen->queue, count * sizeof(seen->queue[0]));
        seen->count = 0;
        TL_ASSERT(pthread_mutex_unlock(&seen->mutex) == 0);
        for (uint32_t i = 0; i < count; i++) {
            seen_write(seen, &seen->taken[i]);
        }
        TL_ASSERT(pthread_mutex_lock(&seen->mutex) == 0);
        TL_ASSERT(upto >= seen->written_total);
        seen->written_total = upto;
        TL_ASSERT(pthread_cond_broadcast(&seen->written) == 0);
    }
    TL_ASSERT(pthread_mutex_unlock(&seen->mutex) == 0);
    return NULL;
}

enum tl_err seen_start(struct api_app *app, struct seen **out)
{
    TL_ASSERT(app != NULL);
    TL_ASSERT(out != NULL);
    struct seen *seen = calloc(1, sizeof(*seen));
    if (seen == NULL) {
        return TL_ERR_NOMEM;
    }
    seen->app = app;
    clock_cond_init_mono(&seen->wake);
    clock_cond_init_mono(&seen->written);
    TL_ASSERT(pthread_mutex_init(&seen->mutex, NULL) == 0);
    if (!thread_start(&seen->thread, "tl-last-seen", seen_main, seen)) {
        pthread_cond_destroy(&seen->wake);
        pthread_cond_destroy(&seen->written);
        pthread_mutex_destroy(&seen->mutex);
        free(seen);
        return TL_ERR_INTERNAL;
    }
    *out = seen;
    return TL_OK;
}

void seen_stop(struct seen *seen)
{
    if (seen == NULL) {
        return;
    }
    TL_ASSERT(pthread_mutex_lock(&seen->mutex) == 0);
    seen->stopping = true;
    TL_ASSERT(pthread_cond_signal(&seen->wake) == 0);
    TL_ASSERT(pthread_mutex_unlock(&seen->mutex) == 0);
    TL_ASSERT(pthread_join(seen->thread, NULL) == 0);
    TL_ASSERT(seen->count == 0);
    TL_ASSERT(seen->written_total == seen->queued_total);
    pthread_cond_destroy(&seen->wake);
    pthread_cond_destroy(&seen->written);
    pthread_mutex_destroy(&seen->mutex);
    explicit_bzero(seen, sizeof(*seen));
    free(seen);
}

bool seen_note(struct seen *seen, const uint8_t token_hash[32], uint64_t now_ns)
{
    TL_ASSERT(seen != NULL);
    TL_ASSERT(token_hash != NULL);
    TL_ASSERT(now_ns > 0);
    TL_ASSERT(pthread_mutex_lock(&seen->mutex) == 0);
    bool queued = !seen->stopping && seen->count < SEEN_QUEUE_MAX;
    if (queued) {
        struct seen_touch *touch = &seen->queue[seen->count++];
        memcpy(touch->token_hash, token_hash, STORE_HASH_BYTES);
        touch->now_ns = now_ns;
        seen->queued_total++;
        TL_ASSERT(pthread_cond_signal(&seen->wake) == 0);
    }
    TL_ASSERT(pthread_mutex_unlock(&seen->mutex) == 0);
    return queued;
}

void seen_flush(struct seen *seen)
{
    TL_ASSERT(seen != NULL);
    struct timespec deadline = clock_mono_deadline(SEEN_FLUSH_WAIT_MS);
    TL_ASSERT(pthread_mutex_lock(&seen->mutex) == 0);
    uint64_t target = seen->queued_total;
    while (seen->written_total < target) {
        int rc = pthread_cond_timedwait(&seen->written, &seen->mutex, &deadline);
        if (rc == ETIMEDOUT) {
            break;
        }
        TL_ASSERT(rc == 0);
    }
    TL_ASSERT(pthread_mutex_unlock(&seen->mutex) == 0);
}
