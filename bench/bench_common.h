/*
 * bench_common.h - what the writer benchmarks (bench_durable, bench_pg) share: the wallets
 * they fund, the events they submit, and reading the writer's statistics.
 */
#ifndef TL_BENCH_COMMON_H
#define TL_BENCH_COMMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ledger.h"
#include "store/writer.h"
#include "util/id128.h"

#define BENCH_WALLETS 100000u
#define BENCH_FUNDING_MINOR 1000000000000ll
#define BENCH_CURRENCY 978
#define BENCH_SETUP_THREADS 32u
#define BENCH_FEE_ACCOUNT (BENCH_WALLETS + 1u)

uint64_t mono_ns(void);
/* splitmix64 */
uint64_t prng_next(uint64_t *state);

/* Account n of the benchmark: 0 funds, 1..BENCH_WALLETS are wallets, then the fee account. */
struct id128 account_id(uint64_t n);
struct ledger_event transfer_event(uint64_t debit, uint64_t credit, int64_t amount,
                                   uint16_t code, uint16_t flags);
struct ledger_event account_event(uint64_t n, uint16_t kind, uint32_t flags);
/* Submits one command and asserts that every event succeeded. */
void submit_all_ok(struct writer *writer, const struct ledger_event *events, uint32_t count);

/* Creates and funds wallets first..last (inclusive), in commands of whole pairs. */
struct setup_thread {
    pthread_t thread;
    struct writer *writer;
    uint32_t first;
    uint32_t last; /* inclusive */
};
void *setup_main(void *arg);

/* Acknowledgement latency histogram: bucket b holds latencies up to 2^((b+1)/8) us. */
#define BENCH_LATENCY_BUCKETS 256u
uint32_t bench_latency_bucket(uint64_t ns);
/* The q quantile (0..1) of a histogram, as its bucket's upper edge in ms; 0 when empty. */
double bench_latency_quantile_ms(const uint64_t buckets[BENCH_LATENCY_BUCKETS], double q);

/* A random transfer between two distinct wallets, 1.00 to 100.99. */
struct bench_pick {
    uint64_t debit;
    uint64_t credit;
    int64_t amount;
};
struct bench_pick bench_pick_next(uint64_t *seed);
/* Fills events with count events: independent transfers, or (hot) linked pairs of a transfer
 * and its 1% fee to the fee account. Returns count. */
uint32_t bench_command_build(uint64_t *seed, uint32_t count, bool hot,
                             struct ledger_event *events);

/* What one submitting thread counted. */
struct bench_counts {
    uint64_t transfers;
    uint64_t commands;
    uint64_t failures;
    uint64_t latency_buckets[BENCH_LATENCY_BUCKETS];
};
/* Submits commands of command_events events (bench_command_build) to writer until *stop,
 * counting into counts. */
void bench_submit_loop(struct writer *writer, uint64_t *seed, uint32_t command_events, bool hot,
                       const atomic_bool *stop, struct bench_counts *counts);
/* into += from */
void bench_counts_add(struct bench_counts *into, const struct bench_counts *from);

/* after -= before, for the counters of a measured run. */
void stats_subtract(struct writer_stats *after, const struct writer_stats *before);
/* Quantile of the writer's cumulative commit histogram, interpolated inside its bucket. */
double commit_quantile_ms(const struct writer_stats *stats, double q);

#endif
