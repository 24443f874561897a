/* test_ratelimit - token buckets with an injected clock, bounded memory, thread safety. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/ratelimit.h"
#include "test.h"
#include "util/limits.h"

#define NS_PER_S 1000000000ull

static struct ratelimit *make(uint32_t per_min, uint32_t burst, uint32_t keys_max)
{
    struct ratelimit_config config = {per_min, burst, keys_max};
    struct ratelimit *rl = NULL;
    assert_int_equal(ratelimit_new(&config, &rl), TL_OK);
    return rl;
}

static bool take(struct ratelimit *rl, const char *key, uint64_t now_ns, uint32_t *retry)
{
    return ratelimit_take(rl, key, strlen(key), now_ns, retry);
}

static void test_burst_then_limited(void **state)
{
    (void)state;
    struct ratelimit *rl = make(60, 3, 1024); /* one token a second, three at once */
    uint32_t retry = 0;
    uint64_t t = 1000 * NS_PER_S;
    assert_true(take(rl, "10.0.0.1", t, &retry));
    assert_true(take(rl, "10.0.0.1", t, &retry));
    assert_true(take(rl, "10.0.0.1", t, &retry));
    assert_false(take(rl, "10.0.0.1", t, &retry));
    assert_int_equal(retry, 1);
    /* Half a second later still nothing; a second later one token. */
    assert_false(take(rl, "10.0.0.1", t + NS_PER_S / 2, &retry));
    assert_int_equal(retry, 1);
    assert_true(take(rl, "10.0.0.1", t + NS_PER_S, &retry));
    assert_false(take(rl, "10.0.0.1", t + NS_PER_S, &retry));
    /* Long idle: back to a full bucket, never more. */
    t += 3600 * NS_PER_S;
    for (int i = 0; i < 3; i++) {
        assert_true(take(rl, "10.0.0.1", t, &retry));
    }
    assert_false(take(rl, "10.0.0.1", t, &retry));
    ratelimit_free(rl);
}

static void test_retry_after_for_slow_rates(void **state)
{
    (void)state;
    struct ratelimit *rl = make(1, 1, 1024); /* one a minute */
    uint32_t retry = 0;
    assert_true(take(rl, "k", NS_PER_S, &retry));
    assert_false(take(rl, "k", NS_PER_S, &retry));
    assert_int_equal(retry, 60);
    assert_false(take(rl, "k", 31 * NS_PER_S, &retry));
    assert_int_equal(retry, 30);
    assert_true(take(rl, "k", 61 * NS_PER_S, &retry));
    ratelimit_free(rl);
}

static void test_keys_are_independent(void **state)
{
    (void)state;
    struct ratelimit *rl = make(60, 1, 1024);
    uint32_t retry = 0;
    assert_true(take(rl, "a", 0, &retry));
    assert_false(take(rl, "a", 0, &retry));
    assert_true(take(rl, "b", 0, &retry));
    assert_true(take(rl, "ab", 0, &retry));
    /* Long keys are compared by their first TL_RATELIMIT_KEY_BYTES_MAX bytes and hash. */
    char long_key[200];
    memset(long_key, 'x', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_true(take(rl, long_key, 0, &retry));
    assert_false(take(rl, long_key, 0, &retry));
    ratelimit_free(rl);
}

static void test_clock_going_back_does_not_refill(void **state)
{
    (void)state;
    struct ratelimit *rl = make(60, 1, 1024);
    uint32_t retry = 0;
    assert_true(take(rl, "k", 100 * NS_PER_S, &retry));
    assert_false(take(rl, "k", 50 * NS_PER_S, &retry));
    assert_false(take(rl, "k", 100 * NS_PER_S, &retry));
    assert_true(take(rl, "k", 101 * NS_PER_S, &retry));
    ratelimit_free(rl);
}

static void test_memory_is_bounded_by_eviction(void **state)
{
    (void)state;
    /* One set of RATELIMIT_WAYS slots: the ninth key evicts the least recently seen. */
    struct ratelimit *rl = make(60, 1, RATELIMIT_WAYS);
    uint32_t retry = 0;
    char key[16];
    for (unsigned i = 0; i < RATELIMIT_WAYS; i++) {
        snprintf(key, sizeof(key), "k%u", i);
        assert_true(take(rl, key, (uint64_t)i, &retry));
    }
    /* All are tracked and empty. */
    for (unsigned i = 0; i < RATELIMIT_WAYS; i++) {
        snprintf(key, sizeof(key), "k%u", i);
        assert_false(take(rl, key, 100, &retry));
    }
    /* A flood of new keys never fails and never grows memory (it cannot: nothing allocates). */
    for (unsigned i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "n%u", i);
        assert_true(take(rl, key, 200 + i, &retry));
    }
    /* k0 was evicted: it comes back as a new key with a full bucket. */
    assert_true(take(rl, "k0", 200000, &retry));
    ratelimit_free(rl);
}

static void test_config_bounds(void **state)
{
    (void)state;
    struct ratelimit *rl = NULL;
    const struct ratelimit_config bad[] = {
        {0, 1, 1024},
        {TL_RATELIMIT_PER_MIN_MAX + 1, 1, 1024},
        {60, 0, 1024},
        {60, TL_RATELIMIT_BURST_MAX + 1, 1024},
        {60, 1, RATELIMIT_WAYS - 1},
        {60, 1, TL_RATELIMIT_KEYS_MAX + 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ratelimit_new(&bad[i], &rl), TL_ERR_INVALID_REQUEST);
    }
    /* The largest allowed figures do not overflow the arithmetic. */
    rl = make(TL_RATELIMIT_PER_MIN_MAX, TL_RATELIMIT_BURST_MAX, TL_RATELIMIT_KEYS_MAX);
    uint32_t retry = 0;
    assert_true(take(rl, "k", UINT64_MAX / 2, &retry));
    assert_true(take(rl, "k", UINT64_MAX - 1, &retry));
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

struct hammer {
    struct ratelimit *rl;
    unsigned allowed;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    uint32_t retry = 0;
    for (int i = 0; i < 5000; i++) {
        if (ratelimit_take(h->rl, "shared", 6, 42, &retry)) {
            h->allowed++;
        }
    }
    return NULL;
}

static void test_threads_never_overspend(void **state)
{
    (void)state;
    struct ratelimit *rl = make(60, 1000, 1024);
    struct hammer hammers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        hammers[i] = (struct hammer){rl, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_run, &hammers[i]), 0);
    }
    unsigned total = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        total += hammers[i].allowed;
    }
    assert_int_equal(total, 1000);
    ratelimit_free(rl);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_burst_then_limited),
    cmocka_unit_test(test_retry_after_for_slow_rates),
    cmocka_unit_test(test_keys_are_independent),
    cmocka_unit_test(test_clock_going_back_does_not_refill),
    cmocka_unit_test(test_memory_is_bounded_by_eviction),
    cmocka_unit_test(test_config_bounds),
    cmocka_unit_test(test_threads_never_overspend),
};

TL_TEST_MAIN(tests)
