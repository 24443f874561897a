#include "util/clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "util/assert.h"

static uint64_t clock_read_ns(clockid_t id)
{
    struct timespec ts;
    int rc = clock_gettime(id, &ts);
    TL_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ns(void)
{
    return clock_read_ns(CLOCK_MONOTONIC);
}

uint64_t clock_wall_ns(void)
{
    return clock_read_ns(CLOCK_REALTIME);
}

void clock_iso8601(uint64_t wall_ns, char out[CLOCK_ISO8601_BYTES])
{
    time_t seconds = (time_t)(wall_ns / 1000000000ull);
    unsigned micros = (unsigned)((wall_ns % 1000000000ull) / 1000ull);
    struct tm tm;
    /* gmtime_r is the thread-safe form; it fails only for years beyond int. */
    const struct tm *filled = gmtime_r(&seconds, &tm);
    TL_ASSERT(filled != NULL);
    int n =
        snprintf(out, CLOCK_ISO8601_BYTES, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    TL_ASSERT(n == CLOCK_ISO8601_BYTES - 1);
}

void clock_sleep_ms(uint32_t ms)
{
    struct timespec left = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

struct timespec clock_mono_deadline(uint32_t ms)
{
    struct timespec deadline;
    TL_ASSERT(clock_gettime(CLOCK_MONOTONIC, &deadline) == 0);
    deadline.tv_sec += (time_t)(ms / 1000u);
    deadline.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return deadline;
}

void clock_cond_init_mono(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    TL_ASSERT(pthread_condattr_init(&attr) == 0);
    TL_ASSERT(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0);
    TL_ASSERT(pthread_cond_init(cond, &attr) == 0);
    pthread_condattr_destroy(&attr);
}
