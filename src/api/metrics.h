/*
 * metrics.h - request and writer figures in Prometheus text format (GET /metrics).
 *
 * Per route (by route name, plus "unmatched" for 404/405 paths): request counts by status
 * and a latency histogram with fixed bucket bounds. Recording is lock-free (relaxed atomics),
 * so the hot path never waits on a scrape. Rendering also reports requests in flight,
 * rate-limit rejections by class, and the writer's figures (batch size and commit latency
 * histograms, queue depth, totals) when a writer snapshot is given.
 *
 * Series:
 *   tally_http_requests_total{route,status}            counter
 *   tally_http_request_duration_seconds{route}         histogram (_bucket, _sum, _count)
 *   tally_http_requests_in_flight                      gauge
 *   tally_http_rate_limited_total{class}               counter
 *   tally_writer_up                                    gauge (0 without a writer)
 *   tally_writer_queue_depth                           gauge
 *   tally_writer_batches_total, _events_total, _commands_total, _batch_failures_total
 *   tally_writer_batch_events                          histogram
 *   tally_writer_commit_duration_seconds               histogram
 *   tally_process_start_time_seconds                   gauge
 *
 * Never: label a series with anything a client chose (raw paths, ids, user agents).
 */
#ifndef TL_API_METRICS_H
#define TL_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

struct metrics;
struct writer_stats;

/* Latency histogram buckets (upper bounds in microseconds, then +Inf). */
#define METRICS_LATENCY_BUCKETS 14
extern const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BUCKETS];

/*
 * Makes the registry for route_count routes named route_names[i] (borrowed for the registry's
 * lifetime) and one more slot, "unmatched", at index route_count. TL_ERR_NOMEM.
 */
enum tl_err metrics_new(const char *const *route_names, size_t route_count, struct metrics **out);
void metrics_free(struct metrics *m);

/* Records one finished request. route_index <= route_count. Thread-safe, lock-free. */
void metrics_request_observe(struct metrics *m, size_t route_index, int status,
                             uint64_t duration_us);
/* Requests in flight: +1 when one starts, -1 when it ends. Thread-safe. */
void metrics_in_flight_add(struct metrics *m, int64_t delta);
/* A request refused by rate-limit class limit_class (enum route_limit). Thread-safe. */
void metrics_rate_limited(struct metrics *m, unsigned limit_class);

/* Appends the text exposition. writer may be NULL (no writer running). TL_ERR_LIMIT when out
 * is too small, TL_ERR_NOMEM; out then holds a partial text the caller discards. */
enum tl_err metrics_render(struct metrics *m, const struct writer_stats *writer, struct buf *out);

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
