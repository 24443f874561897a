/*
 * assert.h - assertions that never compile out.
 *
 * TL_ASSERT catches our own bugs, never user input: anything a client can send is an error
 * code, not an assertion. A ledger that continues past a broken invariant posts wrong money,
 * so a failed assertion prints where it failed and aborts the process.
 */
#ifndef TL_UTIL_ASSERT_H
#define TL_UTIL_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define TL_ASSERT(cond)                                                                        \
    do {                                                                                       \
        if (__builtin_expect(!(cond), 0)) {                                                    \
            fprintf(stderr, "assertion failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);      \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#define TL_UNREACHABLE() TL_ASSERT(0 && "unreachable")

#endif
