/*
 * clock.h - the process's clocks in one place.
 *
 * Monotonic time measures durations (request latency, token-bucket refill, drain deadlines);
 * wall time stamps log lines. Modules that need time in tests take it as an argument (an
 * injected now_ns) instead of calling these, so that tests control it. Never used by
 * src/core, which has no clock.
 */
#ifndef TL_UTIL_CLOCK_H
#define TL_UTIL_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Nanoseconds on CLOCK_MONOTONIC. Cannot fail. */
uint64_t clock_mono_ns(void);
/* Nanoseconds since the Unix epoch on CLOCK_REALTIME. Cannot fail. */
uint64_t clock_wall_ns(void);

/* "2024-05-01T12:34:56.789012Z" (UTC, microseconds) plus NUL. */
#define CLOCK_ISO8601_BYTES 28
/* Formats a wall time in ns as ISO 8601 UTC. Cannot fail. */
void clock_iso8601(uint64_t wall_ns, char out[CLOCK_ISO8601_BYTES]);

/* The CLOCK_MONOTONIC time ms milliseconds from now, for pthread_cond_timedwait on a condition
 * made with pthread_condattr_setclock(CLOCK_MONOTONIC). Cannot fail. */
struct timespec clock_mono_deadline(uint32_t ms);
/* Initialises cond so that its timed waits take CLOCK_MONOTONIC deadlines (clock_mono_deadline).
 * Cannot fail (asserts). */
void clock_cond_init_mono(pthread_cond_t *cond);

/* Sleeps for ms milliseconds, resuming after signals. Cannot fail. */
void clock_sleep_ms(uint32_t ms);

#endif
