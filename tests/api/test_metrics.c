/* test_metrics - Prometheus text: counters, histograms, writer figures, family grouping. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics.h"
#include "store/writer.h"
#include "test.h"

#define LATENCY_BUCKET "tally_http_request_duration_seconds_bucket"

static const char *const names[] = {"healthz", "payments.create"};

static char *render(struct metrics *m, const struct writer_stats *w)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(m, w, &out), TL_OK);
    return out.data; /* caller frees */
}

static void expect_line(const char *text, const char *line)
{
    char needle[512];
    snprintf(needle, sizeof(needle), "\n%s\n", line);
    if (strstr(text, needle) == NULL) {
        print_error("missing line: %s\n", line);
        fail();
    }
}

static void test_requests_and_latency(void **state)
{
    (void)state;
    struct metrics *m = NULL;
    assert_int_equal(metrics_new(names, 2, &m), TL_OK);
    metrics_request_observe(m, 0, 200, 50);      /* <= 100us */
    metrics_request_observe(m, 0, 200, 3000);    /* <= 5ms */
    metrics_request_observe(m, 1, 422, 9000000); /* beyond the last bound */
    metrics_request_observe(m, 2, 404, 10);      /* unmatched */
    metrics_request_observe(m, 2, 418, 10);      /* an uncommon status */
    metrics_in_flight_add(m, 2);
    metrics_in_flight_add(m, -1);
    metrics_rate_limited(m, 3);
    char *text = render(m, NULL);
    expect_line(text, "tally_http_requests_total{route=\"healthz\",status=\"200\"} 2");
    expect_line(text, "tally_http_requests_total{route=\"payments.create\",status=\"422\"} 1");
    expect_line(text, "tally_http_requests_total{route=\"unmatched\",status=\"404\"} 1");
    expect_line(text, "tally_http_requests_total{route=\"unmatched\",status=\"other\"} 1");
    expect_line(text, LATENCY_BUCKET "{route=\"healthz\",le=\"0.0001\"} 1");
    expect_line(text, LATENCY_BUCKET "{route=\"healthz\",le=\"0.0025\"} 1");
    expect_line(text, LATENCY_BUCKET "{route=\"healthz\",le=\"0.005\"} 2");
    expect_line(text, LATENCY_BUCKET "{route=\"healthz\",le=\"+Inf\"} 2");
    expect_line(text, "tally_http_request_duration_seconds_sum{route=\"healthz\"} 0.00305");
    expect_line(text, "tally_http_request_duration_seconds_count{route=\"healthz\"} 2");
    expect_line(text, LATENCY_BUCKET "{route=\"payments.create\",le=\"5.0\"} 0");
    expect_line(text, LATENCY_BUCKET "{route=\"payments.create\",le=\"+Inf\"} 1");
    expect_line(text, "tally_http_requests_in_flight 1");
    expect_line(text, "tally_http_rate_limited_total{class=\"lookup\"} 1");
    expect_line(text, "tally_http_rate_limited_total{class=\"ip\"} 0");
    expect_line(text, "tally_writer_up 0");
    assert_null(strstr(text, "tally_writer_queue_depth"));
    /* Each family appears as one block: its TYPE line once, its samples after it. */
    const char *type = strstr(text, "# TYPE tally_http_requests_total counter");
    const char *histogram = strstr(text, "# TYPE tally_http_request_duration_seconds histogram");
    assert_non_null(type);
    assert_non_null(histogram);
    const char *last_counter = strstr(text, "route=\"unmatched\",status=\"other\"");
    assert_true(last_counter < histogram);
    assert_true(strstr(histogram, "tally_http_requests_total") == NULL);
    free(text);
    metrics_free(m);
}

static void test_writer_figures(void **state)
{
    (void)state;
    struct metrics *m = NULL;
    assert_int_equal(metrics_new(names, 2, &m), TL_OK);
    struct writer_stats w;
    memset(&w, 0, sizeof(w));
    w.batches = 3;
    w.events = 70;
    w.commands = 12;
    w.batch_failures = 1;
    w.queue_depth = 5;
    w.commit_latency_us_sum = 4500;
    /* Cumulative, as writer_stats_get returns them. */
    for (int i = 0; i < WRITER_LATENCY_BUCKETS; i++) {
        w.commit_latency_buckets[i] = writer_latency_bounds_us[i] >= 1000 ? 3 : 1;
        w.batch_size_buckets[i] = writer_batch_size_bounds[i] >= 64 ? 3 : 0;
    }
    char *text = render(m, &w);
    expect_line(text, "tally_writer_up 1");
    expect_line(text, "tally_writer_queue_depth 5");
    expect_line(text, "tally_writer_batches_total 3");
    expect_line(text, "tally_writer_events_total 70");
    expect_line(text, "tally_writer_commands_total 12");
    expect_line(text, "tally_writer_batch_failures_total 1");
    expect_line(text, "tally_writer_batch_events_bucket{le=\"64\"} 3");
    expect_line(text, "tally_writer_batch_events_bucket{le=\"32\"} 0");
    expect_line(text, "tally_writer_batch_events_bucket{le=\"+Inf\"} 3");
    expect_line(text, "tally_writer_batch_events_sum{} 70");
    expect_line(text, "tally_writer_commit_duration_seconds_bucket{le=\"0.001\"} 3");
    expect_line(text, "tally_writer_commit_duration_seconds_bucket{le=\"0.0005\"} 1");
    expect_line(text, "tally_writer_commit_duration_seconds_sum{} 0.0045");
    expect_line(text, "tally_writer_commit_duration_seconds_count{} 3");
    /* A bound of UINT64_MAX is the +Inf bucket, printed once. */
    assert_null(strstr(text, "18446744073709551615"));
    free(text);
    metrics_free(m);
}

static void test_render_limit(void **state)
{
    (void)state;
    struct metrics *m = NULL;
    assert_int_equal(metrics_new(names, 2, &m), TL_OK);
    struct buf out;
    buf_init(&out, 64);
    assert_int_equal(metrics_render(m, NULL, &out), TL_ERR_LIMIT);
    buf_free(&out);
    metrics_free(m);
}

static struct metrics *shared;

static void *observe_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        metrics_request_observe(shared, 1, 201, (uint64_t)i);
    }
    return NULL;
}

static void test_concurrent_observations_are_all_counted(void **state)
{
    (void)state;
    assert_int_equal(metrics_new(names, 2, &shared), TL_OK);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, observe_many, NULL), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    }
    char *text = render(shared, NULL);
    expect_line(text, "tally_http_requests_total{route=\"payments.create\",status=\"201\"} 400000");
    expect_line(text,
                "tally_http_request_duration_seconds_count{route=\"payments.create\"} 400000");
    free(text);
    metrics_free(shared);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_requests_and_latency),
    cmocka_unit_test(test_writer_figures),
    cmocka_unit_test(test_render_limit),
    cmocka_unit_test(test_concurrent_observations_are_all_counted),
};

TL_TEST_MAIN(tests)
