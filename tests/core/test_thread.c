/*
 * test_thread.c - util/thread: a started thread runs its function with its argument, under the
 * name it was given, and is joinable.
 */
#include "util/thread.h"

#include <assert.h>
#include <string.h>

#include "test.h"

struct probe {
    int value;
    char name[THREAD_NAME_BYTES_MAX + 1];
};

static void *probe_main(void *arg)
{
    struct probe *p = arg;
    p->value += 1;
    if (pthread_getname_np(pthread_self(), p->name, sizeof(p->name)) != 0) {
        p->name[0] = '\0';
    }
    return p;
}

static void test_thread_runs_named(void **state)
{
    (void)state;
    struct probe p = {.value = 41};
    pthread_t thread;
    assert_true(thread_start(&thread, "tl-probe", probe_main, &p));
    void *result = NULL;
    assert_int_equal(pthread_join(thread, &result), 0);
    assert_ptr_equal(result, &p);
    assert_int_equal(p.value, 42);
    assert_string_equal(p.name, "tl-probe");
}

static void test_thread_longest_name(void **state)
{
    (void)state;
    static const char name[] = "tl-fifteen-byte";
    static_assert(sizeof(name) - 1 == THREAD_NAME_BYTES_MAX, "the longest name the kernel keeps");
    struct probe p = {0};
    pthread_t thread;
    assert_true(thread_start(&thread, name, probe_main, &p));
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_string_equal(p.name, name);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_thread_runs_named),
    cmocka_unit_test(test_thread_longest_name),
};

TL_TEST_MAIN(tests)
