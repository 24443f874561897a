/*
 * bench_durable.c - durable throughput of the writer over SQLite (real fsyncs).
 *
 * Creates 100,000 funded wallets in a fresh database, then for each batch size (1, 128 and
 * 8190 events) runs two workloads for a fixed time with enough submitting threads to fill the
 * batches: "random" (independent transfers between random wallets) and "hot-fee" (linked
 * pairs: a payment between random wallets plus a fee from the payer to one hot fee account).
 * Prints transfers per second, batches per second, the batch commit latency (p50/p99 of
 * store_batch_commit, interpolated in the writer's histogram), the share of the run the writer
 * spent inside store_batch_commit, and the submit-to-acknowledge latency (p50/p99, measured
 * here per command, within 9%).
 *
 *   bench_durable [--seconds N] [--dir DIR] [--case I]
 * --case runs only the I-th row of the table (0-based), for profiling one configuration.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/limits.h"

#include "bench_common.h"

#define BENCH_THREAD_STACK_BYTES (256u * 1024u)

struct bench_case {
    const char *workload; /* "random" or "hot-fee" */
    uint32_t batch_events_max;
    uint32_t threads;
    uint32_t command_events;
    bool hot;
};

struct bench_result {
    struct bench_counts counts; /* what every submitter counted (submit latency: ack) */
    double seconds;
    struct writer_stats stats; /* difference over the run */
};

struct bench_thread {
    pthread_t thread;
    struct writer *writer;
    const struct bench_case *bench;
    uint64_t seed;
    struct bench_counts counts;
};

static atomic_bool bench_stop;

/* ---- Setup: 100,000 wallets, each created and funded in the same command ---- */

static void bench_setup(struct writer *writer)
{
    struct ledger_event events[2] = {
        account_event(0, LEDGER_KIND_SANDBOX_FUNDING, 0),
        account_event(BENCH_FEE_ACCOUNT, LEDGER_KIND_FEE_REVENUE,
                      LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
    };
    submit_all_ok(writer, events, 2);
    struct setup_thread threads[BENCH_SETUP_THREADS];
    uint32_t per_thread = BENCH_WALLETS / BENCH_SETUP_THREADS;
    for (uint32_t t = 0; t < BENCH_SETUP_THREADS; t++) {
        threads[t].writer = writer;
        threads[t].first = 1 + t * per_thread;
        threads[t].last = t + 1 == BENCH_SETUP_THREADS ? BENCH_WALLETS : (t + 1) * per_thread;
        TL_ASSERT(pthread_create(&threads[t].thread, NULL, setup_main, &threads[t]) == 0);
    }
    for (uint32_t t = 0; t < BENCH_SETUP_THREADS; t++) {
        TL_ASSERT(pthread_join(threads[t].thread, NULL) == 0);
    }
}

/* ---- One measured run ---- */

static void *bench_thread_main(void *arg)
{
    struct bench_thread *t = arg;
    bench_submit_loop(t->writer, &t->seed, t->bench->command_events, t->bench->hot, &bench_stop,
                      &t->counts);
    return NULL;
}

static void bench_run(const struct bench_case *bench, struct store *store, struct ledger *ledger,
                      double seconds, struct bench_result *out)
{
    struct writer_config config = {.batch_events_max = bench->batch_events_max};
    struct writer *writer = NULL;
    TL_ASSERT(writer_start(&config, store, ledger, &writer) == TL_OK);
    struct bench_thread *threads = calloc(bench->threads, sizeof *threads);
    TL_ASSERT(threads != NULL);
    pthread_attr_t attr;
    TL_ASSERT(pthread_attr_init(&attr) == 0);
    TL_ASSERT(pthread_attr_setstacksize(&attr, BENCH_THREAD_STACK_BYTES) == 0);

    atomic_store(&bench_stop, false);
    struct writer_stats before;
    writer_stats_get(writer, &before);
    uint64_t start_ns = mono_ns();
    for (uint32_t i = 0; i < bench->threads; i++) {
        threads[i].writer = writer;
        threads[i].bench = bench;
        threads[i].seed = 0x5eed0000u + i * 7919u + bench->batch_events_max;
        TL_ASSERT(pthread_create(&threads[i].thread, &attr, bench_thread_main, &threads[i]) == 0);
    }
    struct timespec duration = {.tv_sec = (time_t)seconds,
                                .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&duration, &duration) != 0 && errno == EINTR) {
    }
    atomic_store(&bench_stop, true);
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < bench->threads; i++) {
        TL_ASSERT(pthread_join(threads[i].thread, NULL) == 0);
        TL_ASSERT(threads[i].counts.failures == 0);
        bench_counts_add(&out->counts, &threads[i].counts);
    }
    out->seconds = (double)(mono_ns() - start_ns) / 1e9;
    writer_stats_get(writer, &out->stats);
    stats_subtract(&out->stats, &before);
    writer_stop(writer);
    pthread_attr_destroy(&attr);
    free(threads);
}

/* ---- Reporting ---- */

/* Quantile of the writer's cumulative commit histogram, interpolated inside its bucket. */

static void bench_print(const struct bench_case *bench, const struct bench_result *r)
{
    double batches = (double)r->stats.batches;
    /* The share of the run the writer thread spent inside store_batch_commit. */
    double commit_share = (double)r->stats.commit_latency_us_sum / 1e6 / r->seconds * 100.0;
    printf("%-8s %6u %8u %5u %12.0f %10.0f %9.1f %9.2f %9.2f %8.0f%% %9.2f %9.2f\n",
           bench->workload, bench->batch_events_max, bench->threads, bench->command_events,
           (double)r->counts.transfers / r->seconds, batches / r->seconds,
           batches > 0 ? (double)r->stats.events / batches : 0.0,
           commit_quantile_ms(&r->stats, 0.50), commit_quantile_ms(&r->stats, 0.99), commit_share,
           bench_latency_quantile_ms(r->counts.latency_buckets, 0.50),
           bench_latency_quantile_ms(r->counts.latency_buckets, 0.99));
    fflush(stdout);
}

static void machine_print(const char *path)
{
    struct utsname u;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) == 0) {
        printf("machine: %s %s %s, %ld online CPUs\n", u.sysname, u.release, u.machine, cpus);
    }
    printf("database: %s (sqlite WAL, synchronous=FULL: every commit fsyncs)\n", path);
}

/* ---- main ---- */

static const struct bench_case bench_cases[] = {
    {"random", 1, 8, 1, false},       {"hot-fee", 2, 8, 2, true},
    {"random", 128, 64, 8, false},    {"hot-fee", 128, 64, 8, true},
    {"random", 8190, 256, 64, false}, {"hot-fee", 8190, 256, 64, true},
};

struct bench_args {
    double seconds;
    const char *dir;
    long only_case; /* -1 = every case */
};

static bool args_parse(int argc, char **argv, struct bench_args *args)
{
    long case_count = (long)(sizeof bench_cases / sizeof bench_cases[0]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end = NULL;
            args->seconds = strtod(argv[++i], &end);
            if (end == NULL || *end != '\0' || args->seconds <= 0.0 || args->seconds > 600.0) {
                return false;
            }
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            args->dir = argv[++i];
        } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            char *end = NULL;
            args->only_case = strtol(argv[++i], &end, 10);
            if (end == NULL || *end != '\0' || args->only_case < 0 ||
                args->only_case >= case_count) {
                return false;
            }
        } else {
            return false;
        }
    }
    return true;
}

static void db_remove(const char *path, const char *dir, bool own_dir)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char file[600];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        unlink(file);
    }
    if (own_dir) {
        rmdir(dir);
    }
}

/* One row of the table on a fresh database, so every row starts from the same state. */
static void bench_case_run(const struct bench_case *bench, const char *path, double seconds)
{
    struct store_config store_config = {.backend = "sqlite", .path = path};
    struct ledger_config ledger_config = {.accounts_max = 1u << 18};
    struct store *store = NULL;
    struct ledger *ledger = NULL;
    struct writer *writer = NULL;
    struct writer_config setup_config = {0};
    TL_ASSERT(store_open(&store_config, &store) == TL_OK);
    TL_ASSERT(ledger_open(&ledger_config, &ledger) == TL_OK);
    TL_ASSERT(writer_start(&setup_config, store, ledger, &writer) == TL_OK);
    bench_setup(writer);
    writer_stop(writer);

    struct bench_result result;
    bench_run(bench, store, ledger, seconds, &result);
    bench_print(bench, &result);
    ledger_invariants_check(ledger);
    store_close(store);
    ledger_close(ledger);
}

int main(int argc, char **argv)
{
    struct bench_args args = {.seconds = 5.0, .only_case = -1};
    char dir[512];
    char path[600];
    if (!args_parse(argc, argv, &args)) {
        fprintf(stderr, "usage: bench_durable [--seconds N] [--dir DIR] [--case I]\n");
        return 2;
    }
    if (args.dir != NULL) {
        snprintf(dir, sizeof dir, "%s", args.dir);
    } else {
        snprintf(dir, sizeof dir, "/tmp/tally-bench-XXXXXX");
        if (mkdtemp(dir) == NULL) {
            perror("bench_durable: mkdtemp");
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/bench_durable.db", dir);

    printf("bench_durable: writer + sqlite, %u funded wallets (created and funded before each "
           "row, not timed), %.1f s per row\n",
           BENCH_WALLETS, args.seconds);
    machine_print(path);
    printf("\n%-8s %6s %8s %5s %12s %10s %9s %9s %9s %9s %9s %9s\n", "workload", "batch", "threads",
           "cmd", "transfers/s", "batches/s", "avg_batch", "commit50", "commit99", "in_commit",
           "ack50", "ack99");
    printf("%-8s %6s %8s %5s %12s %10s %9s %9s %9s %9s %9s %9s\n", "", "events", "", "events", "",
           "", "events", "ms", "ms", "", "ms", "ms");
    for (size_t i = 0; i < sizeof bench_cases / sizeof bench_cases[0]; i++) {
        if (args.only_case >= 0 && (size_t)args.only_case != i) {
            continue;
        }
        db_remove(path, dir, false);
        bench_case_run(&bench_cases[i], path, args.seconds);
    }
    db_remove(path, dir, args.dir == NULL);
    return 0;
}
