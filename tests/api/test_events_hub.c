/*
 * test_events_hub.c - the event hub's on_row with no stream open, on every backend of
 * TALLY_STORE_BACKENDS (tests/pg/run_pg_store.sh runs it on PostgreSQL).
 *
 * A node learns of sessions revoked on other nodes from the outbox rows its hub polls. With no
 * event stream open the hub does not read every row; it must still hand on_row the rows of its
 * topic (session.revoked), in seq order, and none committed before it started.
 */
#include "../store/store_fixture.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "api/events.h"
#include "store/app.h"
#include "store/store.h"
#include "util/clock.h"

#define SEEN_MAX 16

struct seen {
    pthread_mutex_t mutex;
    uint32_t count;
    uint64_t seq[SEEN_MAX];
    char topic[SEEN_MAX][64];
};

static void seen_row(void *ctx, const struct store_outbox_row *row)
{
    struct seen *s = ctx;
    assert_int_equal(pthread_mutex_lock(&s->mutex), 0);
    if (s->count < SEEN_MAX) {
        s->seq[s->count] = row->seq;
        snprintf(s->topic[s->count], sizeof(s->topic[0]), "%s", row->topic);
    }
    s->count++;
    assert_int_equal(pthread_mutex_unlock(&s->mutex), 0);
}

static uint32_t seen_count(struct seen *s)
{
    assert_int_equal(pthread_mutex_lock(&s->mutex), 0);
    uint32_t count = s->count;
    assert_int_equal(pthread_mutex_unlock(&s->mutex), 0);
    return count;
}

/* Waits up to 20 s for at least count rows, then two more polls' worth for any extra. */
static void seen_wait(struct seen *s, uint32_t count)
{
    for (int i = 0; i < 2000 && seen_count(s) < count; i++) {
        clock_sleep_ms(10);
    }
    clock_sleep_ms(60);
    assert_int_equal(seen_count(s), count);
}

static uint64_t append(struct store *writer, uint64_t user, const char *topic)
{
    static const char data[] = "{\"data\":{}}";
    uint64_t seq = 0;
    assert_int_equal(store_outbox_append(writer, id128_make(0x5500000000000000ull, user), topic,
                                         data, (uint32_t)strlen(data), &seq),
                     TL_OK);
    return seq;
}

/* One hub with on_row_topic topic (NULL: every row) and no stream, over rows of mixed topics. */
static void hub_quiet_run(struct store_fixture *f, const char *topic)
{
    struct store *writer = fixture_open_writer(f);
    struct store *reader = fixture_open_reader(f);
    struct seen seen;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(pthread_mutex_init(&seen.mutex, NULL), 0);
    (void)append(writer, 1, "session.revoked"); /* before the hub: never handed over */
    _Atomic bool draining = false;
    struct events_hub_config config = {
        .poll_ms = 20,
        .on_row = seen_row,
        .on_row_ctx = &seen,
        .on_row_topic = topic,
    };
    struct events_hub *hub = NULL;
    assert_int_equal(events_hub_start(&config, reader, &draining, &hub), TL_OK);
    assert_int_equal(events_hub_stream_count(hub), 0);

    uint64_t seqs[5];
    seqs[0] = append(writer, 2, "payment.created");
    seqs[1] = append(writer, 3, "session.revoked");
    seqs[2] = append(writer, 2, "payment.received");
    seqs[3] = append(writer, 4, "session.revoked");
    if (topic != NULL) {
        seen_wait(&seen, 2);
        assert_int_equal(seen.seq[0], seqs[1]);
        assert_int_equal(seen.seq[1], seqs[3]);
        assert_string_equal(seen.topic[0], "session.revoked");
        assert_string_equal(seen.topic[1], "session.revoked");
    } else {
        seen_wait(&seen, 4);
        for (uint32_t i = 0; i < 4; i++) {
            assert_int_equal(seen.seq[i], seqs[i]);
        }
    }
    /* Later rows come on later polls, each once. */
    seqs[4] = append(writer, 5, "session.revoked");
    seen_wait(&seen, topic != NULL ? 3 : 5);
    assert_int_equal(seen.seq[seen_count(&seen) - 1], seqs[4]);

    events_hub_stop(hub);
    pthread_mutex_destroy(&seen.mutex);
    store_close(reader);
    store_close(writer);
}

static void body_topic(struct store_fixture *f)
{
    hub_quiet_run(f, "session.revoked");
}

static void body_every_row(struct store_fixture *f)
{
    hub_quiet_run(f, NULL);
}

static void test_quiet_hub_hands_over_its_topic(void **state)
{
    (void)state;
    fixture_each_backend(body_topic);
}

static void test_quiet_hub_every_row_without_topic(void **state)
{
    (void)state;
    fixture_each_backend(body_every_row);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_quiet_hub_hands_over_its_topic),
    cmocka_unit_test(test_quiet_hub_every_row_without_topic),
};

TL_TEST_MAIN(tests)
