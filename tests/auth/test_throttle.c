/*
 * test_throttle.c - login throttling (src/auth/throttle.c) driven by a fake clock: backoff,
 * the hourly cap, resets, independence of accounts, the bounded table and concurrency.
 */
#include "test.h"

#include <pthread.h>
#include <string.h>

#include "auth/throttle.h"

struct fake_clock {
    uint64_t now_ms;
};

static uint64_t fake_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now_ms;
}

static struct throttle *make(struct fake_clock *clock, size_t accounts)
{
    struct throttle_config config;
    struct throttle *t = NULL;
    throttle_config_default(&config);
    config.accounts_max = accounts;
    config.clock_ms = fake_now;
    config.clock_ctx = clock;
    assert_int_equal(throttle_new(&config, &t), TL_OK);
    return t;
}

/* Returns 0 when allowed, else the retry-after seconds. */
static uint32_t attempt(struct throttle *t, const char *account)
{
    uint32_t retry_s = 0xdeadbeef;
    enum tl_err err = throttle_attempt(t, account, strlen(account), &retry_s);
    if (err == TL_OK) {
        assert_int_equal(retry_s, 0xdeadbeef);
        return 0;
    }
    assert_int_equal(err, TL_ERR_RATE_LIMITED);
    assert_true(retry_s >= 1);
    return retry_s;
}

static void test_backoff_sequence(void **state)
{
    (void)state;
    struct fake_clock clock = {1000000};
    struct throttle *t = make(&clock, 1024);
    /* Five free failures, back to back. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(attempt(t, "alice"), 0);
    }
    /* Then 1 s, 2 s, 4 s, ... 512 s, then 900 s (15 min) for good. */
    const uint32_t waits_s[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900};
    for (size_t i = 0; i < sizeof waits_s / sizeof waits_s[0]; i++) {
        assert_int_equal(attempt(t, "alice"), waits_s[i]);
        /* Waiting almost long enough is not enough; the answer counts down. */
        clock.now_ms += waits_s[i] * 1000u - 1;
        assert_int_equal(attempt(t, "alice"), 1);
        clock.now_ms += 1;
        assert_int_equal(attempt(t, "alice"), 0);
    }
    throttle_free(t);
}

static void test_retry_after_rounds_up(void **state)
{
    (void)state;
    struct fake_clock clock = {5000};
    struct throttle *t = make(&clock, 1024);
    for (int i = 0; i < 7; i++) {
        clock.now_ms += i == 0 ? 0 : 4000;
        assert_int_equal(attempt(t, "bob"), 0);
    }
    /* Seventh failure: 4 s of backoff. */
    clock.now_ms += 1;
    assert_int_equal(attempt(t, "bob"), 4);
    clock.now_ms += 2998;
    assert_int_equal(attempt(t, "bob"), 2);
    clock.now_ms += 1000;
    assert_int_equal(attempt(t, "bob"), 1);
    throttle_free(t);
}

static void test_success_resets_consecutive(void **state)
{
    (void)state;
    struct fake_clock clock = {0};
    struct throttle *t = make(&clock, 1024);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(attempt(t, "carol"), 0);
        clock.now_ms += 60000;
    }
    /* Sixth failure set a 2 s backoff; a minute later the right password comes in. */
    assert_int_equal(attempt(t, "carol"), 0);
    throttle_succeeded(t, "carol", 5);
    /* The count starts again: five free failures, then 1 s. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(attempt(t, "carol"), 0);
    }
    assert_int_equal(attempt(t, "carol"), 1);
    throttle_free(t);
}

/* An allowed attempt holds back the next ones until it is known to have succeeded. */
static void test_attempt_counts_until_success(void **state)
{
    (void)state;
    struct fake_clock clock = {0};
    struct throttle *t = make(&clock, 1024);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(attempt(t, "dave"), 0);
    }
    assert_int_equal(attempt(t, "dave"), 1);
    throttle_succeeded(t, "dave", 4);
    assert_int_equal(attempt(t, "dave"), 0);
    throttle_free(t);
}

/* At most 100 failures in any hour, even when successes keep the backoff away. */
static void test_hourly_cap(void **state)
{
    (void)state;
    struct fake_clock clock = {10000000};
    struct throttle *t = make(&clock, 1024);
    uint64_t first_ms = clock.now_ms;
    int failures = 0;
    for (;;) {
        /* Four failures and a success, ten seconds apart. */
        for (int i = 0; i < 4; i++) {
            assert_int_equal(attempt(t, "erin"), 0);
            failures++;
            clock.now_ms += 10000;
        }
        if (failures == 100) {
            break;
        }
        assert_int_equal(attempt(t, "erin"), 0);
        throttle_succeeded(t, "erin", 4);
        clock.now_ms += 10000;
    }
    /* 100 failures in 1,240 s: the next slot opens when the first one is an hour old. */
    uint64_t opens_ms = first_ms + 3600u * 1000u;
    uint32_t retry = attempt(t, "erin");
    assert_int_equal(retry, (uint32_t)((opens_ms - clock.now_ms) / 1000u));
    /* The 24 successes on the way did not clear the hourly count, and asking again changes
     * nothing. */
    assert_int_equal(attempt(t, "erin"), retry);
    clock.now_ms = opens_ms - 1000;
    assert_int_equal(attempt(t, "erin"), 1);
    clock.now_ms = opens_ms;
    assert_int_equal(attempt(t, "erin"), 0);
    /* That used the one slot that opened; the second failure opens 10 s later. */
    assert_true(attempt(t, "erin") > 0);
    throttle_free(t);
}

/* An hour without failures forgets the consecutive count. */
static void test_idle_hour_resets(void **state)
{
    (void)state;
    struct fake_clock clock = {0};
    struct throttle *t = make(&clock, 1024);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(attempt(t, "frank"), 0);
    }
    clock.now_ms += 3599u * 1000u;
    assert_int_equal(attempt(t, "frank"), 0);
    assert_int_equal(attempt(t, "frank"), 2);
    clock.now_ms += 3600u * 1000u;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(attempt(t, "frank"), 0);
    }
    assert_int_equal(attempt(t, "frank"), 1);
    throttle_free(t);
}

static void test_accounts_independent(void **state)
{
    (void)state;
    struct fake_clock clock = {0};
    struct throttle *t = make(&clock, 1024);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(attempt(t, "grace"), 0);
    }
    assert_int_equal(attempt(t, "grace"), 1);
    assert_int_equal(attempt(t, "Grace"), 0);
    assert_int_equal(attempt(t, "grace2"), 0);
    /* Keys are bytes: a binary user id works, including NULs. */
    const uint8_t id[16] = {0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    uint32_t retry = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(throttle_attempt(t, id, sizeof id, &retry), TL_OK);
    }
    assert_int_equal(throttle_attempt(t, id, sizeof id, &retry), TL_ERR_RATE_LIMITED);
    assert_int_equal(throttle_attempt(t, id, 15, &retry), TL_OK);
    /* A success for an account never seen is harmless. */
    throttle_succeeded(t, "nobody", 6);
    throttle_free(t);
}

/* The table never grows: with 8 slots, a ninth live account pushes out the stalest one. */
static void test_bounded_table(void **state)
{
    (void)state;
    struct fake_clock clock = {0};
    struct throttle *t = make(&clock, THROTTLE_ACCOUNTS_MIN);
    char name[16];
    for (int a = 0; a < 8; a++) {
        snprintf(name, sizeof name, "user%d", a);
        for (int i = 0; i < 5; i++) {
            assert_int_equal(attempt(t, name), 0);
        }
        assert_int_equal(attempt(t, name), 1);
        clock.now_ms += 1000;
    }
    assert_int_equal(throttle_evictions(t), 0);
    assert_int_equal(attempt(t, "user8"), 0);
    assert_int_equal(throttle_evictions(t), 1);
    /* user0 failed longest ago and was forgotten: it starts afresh (and pushes out user1). */
    assert_int_equal(attempt(t, "user0"), 0);
    assert_int_equal(attempt(t, "user0"), 0);
    assert_int_equal(throttle_evictions(t), 2);
    /* user2 is remembered: its backoff has run out, but its count goes on (sixth failure,
     * 2 s). */
    assert_int_equal(attempt(t, "user2"), 0);
    assert_int_equal(attempt(t, "user2"), 2);

    /* Idle accounts give their slots back without counting as evictions. */
    clock.now_ms += 2u * 3600u * 1000u;
    for (int a = 10; a < 18; a++) {
        snprintf(name, sizeof name, "user%d", a);
        assert_int_equal(attempt(t, name), 0);
    }
    assert_int_equal(throttle_evictions(t), 2);
    throttle_free(t);
}

static void test_config_bounds(void **state)
{
    (void)state;
    struct throttle_config config;
    struct throttle *t = NULL;
    throttle_config_default(&config);
    assert_int_equal(config.accounts_max, THROTTLE_ACCOUNTS_DEFAULT);
    config.accounts_max = THROTTLE_ACCOUNTS_MIN - 1;
    assert_int_equal(throttle_new(&config, &t), TL_ERR_LIMIT);
    config.accounts_max = THROTTLE_ACCOUNTS_MAX + 1;
    assert_int_equal(throttle_new(&config, &t), TL_ERR_LIMIT);
    assert_null(t);
    /* The real clock: a new account is allowed at once. */
    config.accounts_max = 100;
    assert_int_equal(throttle_new(&config, &t), TL_OK);
    assert_int_equal(attempt(t, "real-clock"), 0);
    throttle_free(t);
    throttle_free(NULL);
}

struct hammer {
    struct throttle *t;
    const char *account;
    int allowed;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 2000; i++) {
        uint32_t retry = 0;
        if (throttle_attempt(h->t, h->account, strlen(h->account), &retry) == TL_OK) {
            h->allowed++;
        }
    }
    return NULL;
}

/* Concurrent attempts cannot slip past the limit: with the clock stopped, exactly five of
 * 8,000 attempts on one account get through; each other account gets its own five. */
static void test_concurrent(void **state)
{
    (void)state;
    struct fake_clock clock = {42000};
    struct throttle *t = make(&clock, 1024);
    static const char *const accounts[8] = {"shared", "shared", "shared", "shared",
                                            "own4",   "own5",   "own6",   "own7"};
    pthread_t threads[8];
    struct hammer work[8];
    for (int i = 0; i < 8; i++) {
        work[i].t = t;
        work[i].account = accounts[i];
        work[i].allowed = 0;
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_run, &work[i]), 0);
    }
    int shared = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        if (i < 4) {
            shared += work[i].allowed;
        } else {
            assert_int_equal(work[i].allowed, 5);
        }
    }
    assert_int_equal(shared, 5);
    throttle_free(t);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_backoff_sequence),
    cmocka_unit_test(test_retry_after_rounds_up),
    cmocka_unit_test(test_success_resets_consecutive),
    cmocka_unit_test(test_attempt_counts_until_success),
    cmocka_unit_test(test_hourly_cap),
    cmocka_unit_test(test_idle_hour_resets),
    cmocka_unit_test(test_accounts_independent),
    cmocka_unit_test(test_bounded_table),
    cmocka_unit_test(test_config_bounds),
    cmocka_unit_test(test_concurrent),
};

TL_TEST_MAIN(tests)
