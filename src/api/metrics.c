#include "api/metrics.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "api/router.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/limits.h"

const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000,
};

/* Statuses counted separately; anything else counts as "other". */
static const int metrics_statuses[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405,
                                       406, 409, 413, 415, 422, 429, 500, 501, 503};
#define METRICS_STATUS_SLOTS (sizeof(metrics_statuses) / sizeof(metrics_statuses[0]) + 1)

static const char *const metrics_limit_names[ROUTE_LIMIT_COUNT] = {"none", "ip", "user", "lookup"};

struct metrics_route {
    _Atomic uint64_t status_counts[METRICS_STATUS_SLOTS];
    _Atomic uint64_t latency_buckets[METRICS_LATENCY_BUCKETS + 1]; /* per bucket, last +Inf */
    _Atomic uint64_t latency_sum_us;
};

struct metrics {
    const char *const *route_names;
    size_t route_count;
    uint64_t start_wall_ns;
    _Atomic int64_t in_flight;
    _Atomic uint64_t rate_limited[ROUTE_LIMIT_COUNT];
    struct metrics_route routes[]; /* route_count + 1 */
};

enum tl_err metrics_new(const char *const *route_names, size_t route_count, struct metrics **out)
{
    TL_ASSERT(route_count <= TL_ROUTES_MAX);
    struct metrics *m = calloc(1, sizeof(*m) + (route_count + 1) * sizeof(struct metrics_route));
    if (m == NULL) {
        return TL_ERR_NOMEM;
    }
    m->route_names = route_names;
    m->route_count = route_count;
    m->start_wall_ns = clock_wall_ns();
    *out = m;
    return TL_OK;
}

void metrics_free(struct metrics *m)
{
    free(m);
}

static size_t metrics_status_slot(int status)
{
    for (size_t i = 0; i + 1 < METRICS_STATUS_SLOTS; i++) {
        if (metrics_statuses[i] == status) {
            return i;
        }
    }
    return METRICS_STATUS_SLOTS - 1;
}

void metrics_request_observe(struct metrics *m, size_t route_index, int status,
                             uint64_t duration_us)
{
    TL_ASSERT(route_index <= m->route_count);
    struct metrics_route *r = &m->routes[route_index];
    size_t bucket = 0;
    while (bucket < METRICS_LATENCY_BUCKETS && duration_us > metrics_latency_bounds_us[bucket]) {
        bucket++;
    }
    atomic_fetch_add_explicit(&r->status_counts[metrics_status_slot(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&r->latency_buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->latency_sum_us, duration_us, memory_order_relaxed);
}

void metrics_in_flight_add(struct metrics *m, int64_t delta)
{
    atomic_fetch_add_explicit(&m->in_flight, delta, memory_order_relaxed);
}

void metrics_rate_limited(struct metrics *m, unsigned limit_class)
{
    TL_ASSERT(limit_class < ROUTE_LIMIT_COUNT);
    atomic_fetch_add_explicit(&m->rate_limited[limit_class], 1, memory_order_relaxed);
}

/* Microseconds as decimal seconds without floating point: 2500 -> "0.0025". */
static void metrics_seconds(uint64_t us, char *out, size_t out_bytes)
{
    char frac[8];
    int n = snprintf(frac, sizeof(frac), "%06" PRIu64, us % 1000000u);
    TL_ASSERT(n == 6);
    while (n > 1 && frac[n - 1] == '0') {
        frac[--n] = '\0';
    }
    snprintf(out, out_bytes, "%" PRIu64 ".%s", us / 1000000u, frac);
}

/* Renders one histogram from cumulative counts; bounds in us (seconds=true) or plain. */
static enum tl_err metrics_histogram(struct buf *out, const char *name, const char *labels,
                                     const uint64_t *bounds, const uint64_t *cumulative,
                                     size_t bucket_count, uint64_t count, uint64_t sum,
                                     bool seconds)
{
    enum tl_err err = TL_OK;
    const char *comma = labels[0] != '\0' ? "," : "";
    for (size_t i = 0; i < bucket_count && err == TL_OK; i++) {
        char le[32];
        if (bounds[i] == UINT64_MAX) {
            continue; /* the +Inf line below covers it */
        }
        if (seconds) {
            metrics_seconds(bounds[i], le, sizeof(le));
        } else {
            snprintf(le, sizeof(le), "%" PRIu64, bounds[i]);
        }
        err = buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, comma, le,
                         cumulative[i]);
    }
    char sum_text[32];
    if (seconds) {
        metrics_seconds(sum, sum_text, sizeof(sum_text));
    } else {
        snprintf(sum_text, sizeof(sum_text), "%" PRIu64, sum);
    }
    if (err == TL_OK) {
        err = buf_printf(out,
                         "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n%s_sum{%s} %s\n"
                         "%s_count{%s} %" PRIu64 "\n",
                         name, labels, comma, count, name, labels, sum_text, name, labels, count);
    }
    return err;
}

/* Counter lines of one route, one per status seen. */
static enum tl_err metrics_render_counts(struct buf *out, const char *name, struct metrics_route *r)
{
    enum tl_err err = TL_OK;
    for (size_t s = 0; s < METRICS_STATUS_SLOTS && err == TL_OK; s++) {
        uint64_t n = atomic_load_explicit(&r->status_counts[s], memory_order_relaxed);
        char status[16];
        if (n == 0) {
            continue;
        }
        if (s + 1 < METRICS_STATUS_SLOTS) {
            snprintf(status, sizeof(status), "%d", metrics_statuses[s]);
        } else {
            snprintf(status, sizeof(status), "other");
        }
        err = buf_printf(out, "tally_http_requests_total{route=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                         name, status, n);
    }
    return err;
}

/* Histogram lines of one route; nothing for a route that has seen no request. */
static enum tl_err metrics_render_latency(struct buf *out, const char *name,
                                          struct metrics_route *r)
{
    /* Buckets are read one by one while requests finish, so _count is the histogram's own
     * total; it may differ from the counters by requests that finished meanwhile. */
    uint64_t cumulative[METRICS_LATENCY_BUCKETS];
    uint64_t running = 0;
    for (size_t i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
        running += atomic_load_explicit(&r->latency_buckets[i], memory_order_relaxed);
        cumulative[i] = running;
    }
    running +=
        atomic_load_explicit(&r->latency_buckets[METRICS_LATENCY_BUCKETS], memory_order_relaxed);
    if (running == 0) {
        return TL_OK;
    }
    char labels[128];
    snprintf(labels, sizeof(labels), "route=\"%s\"", name);
    return metrics_histogram(out, "tally_http_request_duration_seconds", labels,
                             metrics_latency_bounds_us, cumulative, METRICS_LATENCY_BUCKETS,
                             running,
                             atomic_load_explicit(&r->latency_sum_us, memory_order_relaxed), true);
}

static const char *metrics_route_name(const struct metrics *m, size_t index)
{
    return index < m->route_count ? m->route_names[index] : "unmatched";
}

static enum tl_err metrics_render_writer(struct buf *out, const struct writer_stats *w)
{
    if (w == NULL) {
        return buf_append_str(out, "# HELP tally_writer_up Whether a ledger writer is running.\n"
                                   "# TYPE tally_writer_up gauge\ntally_writer_up 0\n");
    }
    enum tl_err err = buf_printf(
        out,
        "# HELP tally_writer_up Whether a ledger writer is running.\n"
        "# TYPE tally_writer_up gauge\ntally_writer_up 1\n"
        "# TYPE tally_writer_queue_depth gauge\ntally_writer_queue_depth %" PRIu32 "\n"
        "# TYPE tally_writer_batches_total counter\ntally_writer_batches_total %" PRIu64 "\n"
        "# TYPE tally_writer_events_total counter\ntally_writer_events_total %" PRIu64 "\n"
        "# TYPE tally_writer_commands_total counter\ntally_writer_commands_total %" PRIu64 "\n"
        "# TYPE tally_writer_batch_failures_total counter\n"
        "tally_writer_batch_failures_total %" PRIu64 "\n"
        "# HELP tally_writer_batch_events Ledger events per committed batch.\n"
        "# TYPE tally_writer_batch_events histogram\n",
        w->queue_depth, w->batches, w->events, w->commands, w->batch_failures);
    if (err == TL_OK) {
        err = metrics_histogram(out, "tally_writer_batch_events", "", writer_batch_size_bounds,
                                w->batch_size_buckets, WRITER_LATENCY_BUCKETS, w->batches,
                                w->events, false);
    }
    if (err == TL_OK) {
        err = buf_append_str(out, "# HELP tally_writer_commit_duration_seconds Time to commit a "
                                  "batch durably.\n"
                                  "# TYPE tally_writer_commit_duration_seconds histogram\n");
    }
    if (err == TL_OK) {
        err = metrics_histogram(out, "tally_writer_commit_duration_seconds", "",
                                writer_latency_bounds_us, w->commit_latency_buckets,
                                WRITER_LATENCY_BUCKETS, w->batches, w->commit_latency_us_sum, true);
    }
    return err;
}

enum tl_err metrics_render(struct metrics *m, const struct writer_stats *writer, struct buf *out)
{
    /* The text format wants each family's lines together under its TYPE line. */
    enum tl_err err =
        buf_append_str(out, "# HELP tally_http_requests_total HTTP requests by route and status.\n"
                            "# TYPE tally_http_requests_total counter\n");
    for (size_t i = 0; i <= m->route_count && err == TL_OK; i++) {
        err = metrics_render_counts(out, metrics_route_name(m, i), &m->routes[i]);
    }
    if (err == TL_OK) {
        err = buf_append_str(out, "# HELP tally_http_request_duration_seconds Time from the "
                                  "first byte of a request to the end of its response.\n"
                                  "# TYPE tally_http_request_duration_seconds histogram\n");
    }
    for (size_t i = 0; i <= m->route_count && err == TL_OK; i++) {
        err = metrics_render_latency(out, metrics_route_name(m, i), &m->routes[i]);
    }
    if (err == TL_OK) {
        err = buf_printf(
            out,
            "# TYPE tally_http_requests_in_flight gauge\ntally_http_requests_in_flight %" PRId64
            "\n# TYPE tally_http_rate_limited_total counter\n",
            atomic_load_explicit(&m->in_flight, memory_order_relaxed));
    }
    for (unsigned c = 1; c < ROUTE_LIMIT_COUNT && err == TL_OK; c++) {
        err = buf_printf(out, "tally_http_rate_limited_total{class=\"%s\"} %" PRIu64 "\n",
                         metrics_limit_names[c],
                         atomic_load_explicit(&m->rate_limited[c], memory_order_relaxed));
    }
    if (err == TL_OK) {
        err = metrics_render_writer(out, writer);
    }
    if (err == TL_OK) {
        err = buf_printf(out,
                         "# TYPE tally_process_start_time_seconds gauge\n"
                         "tally_process_start_time_seconds %" PRIu64 "\n",
                         (uint64_t)(m->start_wall_ns / 1000000000u));
    }
    return err;
}
