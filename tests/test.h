/*
 * test.h - shared by every cmocka suite: runs a group and prints the closing summary line
 * "N passed, N failed" that tests/run.sh adds up.
 */
#ifndef TL_TESTS_TEST_H
#define TL_TESTS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#define TL_TEST_MAIN(tests)                                                                    \
    int main(void)                                                                             \
    {                                                                                          \
        size_t total = sizeof(tests) / sizeof((tests)[0]);                                     \
        int failed = cmocka_run_group_tests(tests, NULL, NULL);                                \
        printf("%zu passed, %d failed\n", total - (size_t)failed, failed);                     \
        return failed == 0 ? 0 : 1;                                                            \
    }

#endif
