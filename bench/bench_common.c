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
