/*
 * thread.h - starting the process's own background threads.
 *
 * Every long-lived thread tallyd starts (the ledger writer, the checkpointer, the pruners, the
 * event hub ...) starts here with a name, so `top -H`, `perf` and /proc/PID/task show which
 * one spends the CPU. Never used by src/core, which starts no threads.
 */
#ifndef TL_UTIL_THREAD_H
#define TL_UTIL_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* The kernel keeps at most 15 bytes of a thread's name (plus NUL). */
#define THREAD_NAME_BYTES_MAX 15

/* Starts main(arg) on a new joinable thread named name (1..THREAD_NAME_BYTES_MAX bytes); the
 * name is set before main runs. Returns false, with no thread started, when the system
 * refuses one (or memory for the start runs out); a name the kernel refuses leaves the thread
 * running under the process's name. */
bool thread_start(pthread_t *thread, const char *name, void *(*main)(void *), void *arg);

#endif
