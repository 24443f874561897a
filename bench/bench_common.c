#include "bench_common.h"

#include <string.h>
#include <time.h>

#include "util/assert.h"
#include "util/limits.h"

uint64_t mono_ns(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    TL_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t prng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct id128 account_id(uint64_t n)
{
    return id128_make(0xacc0000000000000ull, n);
}

struct ledger_event transfer_event(uint64_t debit, uint64_t credit, int64_t amount,
                                   uint16_t code, uint16_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof e);
    e.kind = LEDGER_EVENT_TRANSFER;
    e.as.transfer.id = id128_new();
    e.as.transfer.debit_account_id = account_id(debit);
    e.as.transfer.credit_account_id = account_id(credit);
    e.as.transfer.amount = amount;
    e.as.transfer.currency = BENCH_CURRENCY;
    e.as.transfer.code = code;
    e.as.transfer.flags = flags;
    return e;
}

struct ledger_event account_event(uint64_t n, uint16_t kind, uint32_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof e);
    e.kind = LEDGER_EVENT_ACCOUNT;
    e.as.account.id = account_id(n);
    e.as.account.currency = BENCH_CURRENCY;
    e.as.account.kind = kind;
    e.as.account.flags = flags;
    return e;
}

void submit_all_ok(struct writer *writer, const struct ledger_event *events, uint32_t count)
{
    struct ledger_event_result results[TL_COMMAND_EVENTS_MAX];
    struct writer_command cmd = {.events = events, .event_count = count, .results = results};
    enum tl_err err = writer_submit(writer, &cmd);
    TL_ASSERT(err == TL_OK);
    for (uint32_t i = 0; i < count; i++) {
        TL_ASSERT(results[i].result == LEDGER_OK);
    }
}

void *setup_main(void *arg)
{
    struct setup_thread *s = arg;
    struct ledger_event events[TL_COMMAND_EVENTS_MAX];
    uint32_t n = s->first;
    while (n <= s->last) {
        uint32_t count = 0;
        for (; n <= s->last && count + 2 <= TL_COMMAND_EVENTS_MAX; n++) {
            events[count++] =
                account_event(n, LEDGER_KIND_WALLET, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
            events[count++] = transfer_event(0, n, BENCH_FUNDING_MINOR, LEDGER_CODE_DEPOSIT, 0);
        }
        submit_all_ok(s->writer, events, count);
    }
    return NULL;
}

void stats_subtract(struct writer_stats *after, const struct writer_stats *before)
{
    after->batches -= before->batches;
    after->events -= before->events;
    after->commands -= before->commands;
    after->batch_failures -= before->batch_failures;
    after->commit_latency_us_sum -= before->commit_latency_us_sum;
    for (uint32_t i = 0; i < WRITER_LATENCY_BUCKETS; i++) {
        after->commit_latency_buckets[i] -= before->commit_latency_buckets[i];
        after->batch_size_buckets[i] -= before->batch_size_buckets[i];
    }
}

double commit_quantile_ms(const struct writer_stats *stats, double q)
{
    uint64_t total = stats->commit_latency_buckets[WRITER_LATENCY_BUCKETS - 1];
    if (total == 0) {
        return 0.0;
    }
    double rank = q * (double)total;
    uint64_t below = 0;
    double lower_us = 0.0;
    for (uint32_t i = 0; i < WRITER_LATENCY_BUCKETS; i++) {
        uint64_t cumulative = stats->commit_latency_buckets[i];
        double upper_us =
            i + 1 == WRITER_LATENCY_BUCKETS ? lower_us * 2.0 : (double)writer_latency_bounds_us[i];
        if ((double)cumulative >= rank && cumulative > below) {
            double within = (rank - (double)below) / (double)(cumulative - below);
            return (lower_us + within * (upper_us - lower_us)) / 1000.0;
        }
        below = cumulative;
        lower_us = upper_us;
    }
    return lower_us / 1000.0;
}

#define BENCH_LATENCY_STEP 1.0905077326652577 /* 2^(1/8) */

uint32_t bench_latency_bucket(uint64_t ns)
{
    double us = (double)(ns / 1000u + 1u);
    uint32_t bucket = 0;
    double edge = 1.0;
    while (bucket + 1 < BENCH_LATENCY_BUCKETS && us >= edge * BENCH_LATENCY_STEP) {
        edge *= BENCH_LATENCY_STEP;
        bucket++;
    }
    return bucket;
}

double bench_latency_quantile_ms(const uint64_t buckets[BENCH_LATENCY_BUCKETS], double q)
{
    TL_ASSERT(q >= 0.0 && q <= 1.0);
    uint64_t total = 0;
    for (uint32_t b = 0; b < BENCH_LATENCY_BUCKETS; b++) {
        total += buckets[b];
    }
    double rank = q * (double)total;
    uint64_t seen = 0;
    double upper_us = 1.0;
    for (uint32_t b = 0; b < BENCH_LATENCY_BUCKETS; b++) {
        upper_us *= BENCH_LATENCY_STEP;
        seen += buckets[b];
        if ((double)seen >= rank && seen > 0) {
            return upper_us / 1000.0;
        }
    }
    return 0.0;
}

struct bench_pick bench_pick_next(uint64_t *seed)
{
    struct bench_pick pick;
    pick.debit = prng_next(seed) % BENCH_WALLETS + 1u;
    pick.credit = prng_next(seed) % (BENCH_WALLETS - 1u) + 1u;
    pick.credit += pick.credit >= pick.debit;
    pick.amount = (int64_t)(prng_next(seed) % 10000u) + 100;
    TL_ASSERT(pick.debit != pick.credit);
    return pick;
}

uint32_t bench_command_build(uint64_t *seed, uint32_t count, bool hot,
                             struct ledger_event *events)
{
    TL_ASSERT(count >= 1 && count <= TL_COMMAND_EVENTS_MAX);
    TL_ASSERT(!hot || count % 2u == 0);
    for (uint32_t i = 0; i < count; i++) {
        struct bench_pick p = bench_pick_next(seed);
        if (!hot) {
            events[i] = transfer_event(p.debit, p.credit, p.amount, LEDGER_CODE_PAYMENT, 0);
            continue;
        }
        events[i] = transfer_event(p.debit, p.credit, p.amount, LEDGER_CODE_PAYMENT,
                                   LEDGER_TRANSFER_LINKED);
        i++;
        events[i] = transfer_event(p.debit, BENCH_FEE_ACCOUNT, p.amount / 100, LEDGER_CODE_FEE, 0);
    }
    return count;
}

void bench_submit_loop(struct writer *writer, uint64_t *seed, uint32_t command_events, bool hot,
                       const atomic_bool *stop, struct bench_counts *counts)
{
    struct ledger_event events[TL_COMMAND_EVENTS_MAX];
    struct ledger_event_result results[TL_COMMAND_EVENTS_MAX];
    while (!atomic_load_explicit(stop, memory_order_relaxed)) {
        struct writer_command cmd = {.results = results};
        cmd.events = events;
        cmd.event_count = bench_command_build(seed, command_events, hot, events);
        uint64_t start_ns = mono_ns();
        enum tl_err err = writer_submit(writer, &cmd);
        uint64_t elapsed_ns = mono_ns() - start_ns;
        if (err != TL_OK) {
            counts->failures++;
            continue;
        }
        counts->latency_buckets[bench_latency_bucket(elapsed_ns)]++;
        counts->commands++;
        for (uint32_t i = 0; i < cmd.event_count; i++) {
            counts->transfers += results[i].result == LEDGER_OK;
        }
    }
}

void bench_counts_add(struct bench_counts *into, const struct bench_counts *from)
{
    into->transfers += from->transfers;
    into->commands += from->commands;
    into->failures += from->failures;
    for (uint32_t b = 0; b < BENCH_LATENCY_BUCKETS; b++) {
        into->latency_buckets[b] += from->latency_buckets[b];
    }
}
