#include "api/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/escrow.h"
#include "api/money_records.h"
#include "api/payments.h"
#include "api/readers.h"
#include "core/recur.h"
#include "store/plans.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/thread.h"

#define NS_PER_S 1000000000ull

struct scheduler {
    struct scheduler_config config;
    struct api_app *app;
    struct store *store;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool stopping;
};

static struct recur_rule scheduler_rule(const struct store_schedule *s)
{
    struct recur_rule rule = {s->repeat, s->interval_s, s->start_ns, s->end_count, s->end_ns};
    return rule;
}

static void scheduler_log(const char *event, struct id128 schedule_id, uint32_t index,
                          const char *outcome)
{
    char hex[ID128_HEX_BYTES];
    id128_to_hex(schedule_id, hex);
    LOG(LOG_INFO, event, LOG_STR("schedule", hex), LOG_U64("index", index),
        LOG_STR("outcome", outcome));
}

/* The occurrence's payment, on behalf of the schedule's payer, through payments.c. */
static enum tl_err scheduler_pay(struct scheduler *s, const struct store_schedule *schedule,
                                 const struct store_occurrence *occurrence)
{
    struct http_request req;
    struct http_response resp;
    memset(&req, 0, sizeof(req));
    req.app = s->app;
    req.principal.authenticated = true;
    req.principal.user_id = schedule->user_id;
    snprintf(req.request_id, sizeof(req.request_id), "sched-%u", occurrence->index);
    http_response_init(&resp);
    struct payments_order order = {
        .payment_id = occurrence->payment_id,
        .to_user = schedule->to_user,
        .amount = schedule->amount,
        .currency = schedule->currency,
        .to_text = schedule->to_text,
        .note = schedule->note,
        .exists_err = TL_ERR_CONFLICT,
    };
    enum tl_err err = payments_create_order(&req, &resp, &order);
    if (req.reader_ != NULL) {
        readers_release(s->app->readers, req.reader_);
    }
    http_response_free(&resp);
    return err;
}

/* Errors after which the same run may succeed: the occurrence stays claimed and runs again
 * once its claim is stale. Every other error is the payment's refusal. */
static bool scheduler_transient(enum tl_err err)
{
    return err == TL_ERR_BUSY || err == TL_ERR_STORAGE || err == TL_ERR_NOT_READY ||
           err == TL_ERR_SHUTDOWN || err == TL_ERR_NOMEM || err == TL_ERR_INTERNAL ||
           err == TL_ERR_CORRUPT || err == TL_ERR_IO;
}

/* Runs a claimed occurrence and records how it ended; a transient failure leaves it running
 * (claimed), to be run again once its claim is stale. */
static void scheduler_run(struct scheduler *s, const struct store_schedule *schedule,
                          const struct store_occurrence *occurrence, uint64_t now_ns)
{
    const char *reason = "";
    uint8_t status = STORE_OCCURRENCE_SUCCEEDED;
    enum tl_err err = TL_OK;
    if (now_ns > occurrence->due_ns &&
        now_ns - occurrence->due_ns > (uint64_t)s->config.grace_s * NS_PER_S) {
        status = STORE_OCCURRENCE_SKIPPED;
        reason = "missed";
    } else {
        err = scheduler_pay(s, schedule, occurrence);
    }
    if (scheduler_transient(err)) {
        scheduler_log("schedule_run_failed", schedule->id, occurrence->index, tl_err_code(err));
        return;
    }
    if (err != TL_OK && err != TL_ERR_CONFLICT) {
        /* A refusal (insufficient_funds, wallet_not_found, recipient_not_found, overflow, a
         * tier limit, a step-up rule...): this occurrence is skipped, the next one runs. */
        status = STORE_OCCURRENCE_SKIPPED;
        reason = err == TL_ERR_UNAUTHORIZED ? "payer_not_found" : tl_err_code(err);
    }
    uint64_t done_ns = clock_wall_ns();
    err = store_occurrence_finish(s->store, occurrence->schedule_id, occurrence->index, status,
                                  reason, done_ns);
    scheduler_log("schedule_run", schedule->id, occurrence->index,
                  status == STORE_OCCURRENCE_SUCCEEDED ? "succeeded" : reason);
    if (err != TL_OK) {
        scheduler_log("schedule_finish_failed", schedule->id, occurrence->index,
                      tl_err_code(err));
    } else if (status == STORE_OCCURRENCE_SKIPPED) {
        /* A paid run has its payment's entries; a skipped one moved nothing: say so. */
        money_records_schedule_skipped(s->store, schedule, occurrence, reason, done_ns);
    }
}

/* Occurrences whose claim went stale: run them again (the derived payment id keeps it once). */
static void scheduler_reclaim(struct scheduler *s, uint64_t now_ns)
{
    uint64_t stale_ns = (uint64_t)s->config.stale_s * NS_PER_S;
    for (uint32_t i = 0; i < SCHEDULER_TICK_ITEMS_MAX; i++) {
        struct store_occurrence occurrence;
        struct store_schedule schedule;
        bool found = false;
        enum tl_err err = store_occurrence_reclaim(s->store, now_ns > stale_ns ? now_ns - stale_ns
                                                                                : 0,
                                                   now_ns, &occurrence, &found);
        if (err != TL_OK || !found) {
            return;
        }
        err = store_schedule_get(s->store, occurrence.schedule_id, &schedule, &found);
        if (err == TL_OK && found) {
            scheduler_run(s, &schedule, &occurrence, now_ns);
        }
    }
}

/* Claims and runs the next occurrence of every due schedule (one each per tick). */
static void scheduler_schedules(struct scheduler *s, uint64_t now_ns)
{
    struct store_schedule *due = malloc(SCHEDULER_TICK_ITEMS_MAX * sizeof(*due));
    uint32_t count = 0;
    if (due == NULL) {
        return;
    }
    enum tl_err err = store_schedules_due(s->store, now_ns, SCHEDULER_TICK_ITEMS_MAX, due, &count);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        struct recur_rule rule = scheduler_rule(&due[i]);
        struct store_occurrence occurrence;
        bool claimed = false;
        memset(&occurrence, 0, sizeof(occurrence));
        occurrence.schedule_id = due[i].id;
        occurrence.index = due[i].next_index;
        occurrence.due_ns = due[i].next_due_ns;
        occurrence.payment_id = recur_payment_id(due[i].id, occurrence.index, occurrence.due_ns);
        occurrence.status = STORE_OCCURRENCE_RUNNING;
        occurrence.claimed_ns = now_ns;
        err = store_schedule_claim(s->store, &occurrence, recur_next(&rule, occurrence.index),
                                   &claimed);
        if (err == TL_OK && claimed) {
            scheduler_run(s, &due[i], &occurrence, now_ns);
        }
    }
    free(due);
}

static void scheduler_tick(struct scheduler *s)
{
    uint32_t released = 0;
    enum tl_err err = escrow_release_due(s->app, s->store, clock_wall_ns(), &released);
    if (err != TL_OK) {
        LOG(LOG_WARN, "escrow_release_due_failed", LOG_STR("error", tl_err_code(err)));
    }
    scheduler_reclaim(s, clock_wall_ns());
    scheduler_schedules(s, clock_wall_ns());
}

static void *scheduler_main(void *arg)
{
    struct scheduler *s = arg;
    TL_ASSERT(pthread_mutex_lock(&s->mutex) == 0);
    while (!s->stopping) {
        TL_ASSERT(pthread_mutex_unlock(&s->mutex) == 0);
        scheduler_tick(s);
        struct timespec deadline = clock_mono_deadline(s->config.tick_ms);
        TL_ASSERT(pthread_mutex_lock(&s->mutex) == 0);
        while (!s->stopping) {
            int rc = pthread_cond_timedwait(&s->wake, &s->mutex, &deadline);
            if (rc == ETIMEDOUT) {
                break;
            }
            TL_ASSERT(rc == 0);
        }
    }
    TL_ASSERT(pthread_mutex_unlock(&s->mutex) == 0);
    return NULL;
}

enum tl_err scheduler_start(const struct scheduler_config *config, struct api_app *app,
                            struct store *store, struct scheduler **out)
{
    TL_ASSERT(config->tick_ms >= 10);
    TL_ASSERT(config->stale_s >= 1);
    TL_ASSERT(app->writer != NULL);
    struct scheduler *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TL_ERR_NOMEM;
    }
    s->config = *config;
    s->app = app;
    s->store = store;
    clock_cond_init_mono(&s->wake);
    TL_ASSERT(pthread_mutex_init(&s->mutex, NULL) == 0);
    if (!thread_start(&s->thread, "tl-scheduler", scheduler_main, s)) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mutex);
        free(s);
        return TL_ERR_INTERNAL;
    }
    *out = s;
    return TL_OK;
}

void scheduler_stop(struct scheduler *scheduler)
{
    if (scheduler == NULL) {
        return;
    }
    TL_ASSERT(pthread_mutex_lock(&scheduler->mutex) == 0);
    scheduler->stopping = true;
    TL_ASSERT(pthread_cond_signal(&scheduler->wake) == 0);
    TL_ASSERT(pthread_mutex_unlock(&scheduler->mutex) == 0);
    TL_ASSERT(pthread_join(scheduler->thread, NULL) == 0);
    pthread_cond_destroy(&scheduler->wake);
    pthread_mutex_destroy(&scheduler->mutex);
    free(scheduler);
}
