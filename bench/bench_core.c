/*
 * bench_core.c - the ledger core alone: transfers per second and batch latency.
 *
 * 100,000 funded wallets (no-overdraft flag) plus a funding and a fee account, a store lookup
 * that never finds anything (every transfer is new), and batches of 1, 128 and 8190 events:
 *   plain:  random wallet-to-wallet transfers
 *   linked: every payment is a linked pair whose second leg credits one hot fee account
 * Latency is one batch from ledger_batch_begin to ledger_batch_commit (apply and output
 * included); events are generated outside the timed part. Every event must succeed.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ledger.h"
#include "util/assert.h"
#include "util/limits.h"

#define WALLETS 100000u
#define FUNDING_ID (WALLETS + 1u)
#define FEE_ID (WALLETS + 2u)
#define USD 840
#define WALLET_FUNDS 1000000000000ll
#define EVENTS_PER_RUN 2000000u /* per batch size; batch size 1 runs fewer */

static uint64_t rng_state = 0x7a11e5u;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool lookup_nothing(void *ctx, struct id128 id, struct ledger_transfer *out,
                           enum ledger_pending_status *status)
{
    (void)ctx;
    (void)id;
    (void)out;
    (void)status;
    return false;
}

static const struct ledger_lookup lookup = {lookup_nothing, NULL};
static uint64_t transfer_next = 1;
static uint64_t now_ns = 1700000000000000000ull;

static struct id128 account_id(uint64_t n)
{
    return id128_make(0xacc0000000000000ull | n, n);
}

static struct ledger_event account_event(uint64_t n, uint16_t kind, uint32_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof(e));
    e.kind = LEDGER_EVENT_ACCOUNT;
    e.as.account.id = account_id(n);
    e.as.account.currency = USD;
    e.as.account.kind = kind;
    e.as.account.flags = flags;
    return e;
}

static struct ledger_event transfer_event(uint64_t debit, uint64_t credit, int64_t amount,
                                          uint16_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof(e));
    e.kind = LEDGER_EVENT_TRANSFER;
    /* Ids as the API makes them (time-ordered high half, random low half). */
    e.as.transfer.id =
        id128_make((now_ns / 1000000u) << 16 | (transfer_next & 0xffffu), rng_next() | 1u);
    transfer_next++;
    e.as.transfer.debit_account_id = account_id(debit);
    e.as.transfer.credit_account_id = account_id(credit);
    e.as.transfer.amount = amount;
    e.as.transfer.currency = USD;
    e.as.transfer.code = LEDGER_CODE_PAYMENT;
    e.as.transfer.flags = flags;
    return e;
}

/* Runs one batch; returns its duration. Every event must succeed. */
static uint64_t batch_run(struct ledger *ledger, const struct ledger_event *events, uint32_t count,
                          struct ledger_event_result *results)
{
    struct ledger_batch_out out;
    uint64_t start = clock_ns();
    ledger_batch_begin(ledger, now_ns, &lookup);
    ledger_batch_apply(ledger, events, count, results);
    ledger_batch_output(ledger, &out);
    ledger_batch_commit(ledger);
    uint64_t elapsed = clock_ns() - start;
    for (uint32_t i = 0; i < count; i++) {
        if (results[i].result != LEDGER_OK) {
            fprintf(stderr, "bench_core: event %u failed: %s\n", i,
                    ledger_result_name(results[i].result));
            exit(1);
        }
    }
    now_ns += 1000000u;
    return elapsed;
}

static void setup(struct ledger *ledger, struct ledger_event *events,
                  struct ledger_event_result *results)
{
    uint32_t count = 0;
    events[count++] = account_event(FUNDING_ID, LEDGER_KIND_SANDBOX_FUNDING, 0);
    events[count++] = account_event(FEE_ID, LEDGER_KIND_FEE_REVENUE, 0);
    for (uint64_t n = 1; n <= WALLETS; n++) {
        events[count++] =
            account_event(n, LEDGER_KIND_WALLET, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
        if (count == TL_BATCH_EVENTS_MAX) {
            batch_run(ledger, events, count, results);
            count = 0;
        }
    }
    for (uint64_t n = 1; n <= WALLETS; n++) {
        events[count++] = transfer_event(FUNDING_ID, n, WALLET_FUNDS, 0);
        if (count == TL_BATCH_EVENTS_MAX) {
            batch_run(ledger, events, count, results);
            count = 0;
        }
    }
    if (count > 0) {
        batch_run(ledger, events, count, results);
    }
    TL_ASSERT(ledger_account_count(ledger) == WALLETS + 2);
}

static uint64_t wallet_random(void)
{
    return 1 + rng_next() % WALLETS;
}

/* batch_events events: random transfers, or payment + fee pairs. */
static void batch_generate(struct ledger_event *events, uint32_t batch_events, bool linked)
{
    for (uint32_t i = 0; i < batch_events; i++) {
        uint64_t debit = wallet_random();
        uint64_t credit = wallet_random();
        while (credit == debit) {
            credit = wallet_random();
        }
        int64_t amount = (int64_t)(1 + rng_next() % 100);
        if (!linked) {
            events[i] = transfer_event(debit, credit, amount, 0);
            continue;
        }
        TL_ASSERT(i + 1 < batch_events);
        events[i] = transfer_event(debit, credit, amount, LEDGER_TRANSFER_LINKED);
        events[i + 1] = transfer_event(debit, FEE_ID, 1, 0);
        i++;
    }
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void scenario_run(struct ledger *ledger, struct ledger_event *events,
                         struct ledger_event_result *results, uint32_t batch_events, bool linked)
{
    uint32_t batches = EVENTS_PER_RUN / batch_events;
    if (batches > 500000u) {
        batches = 500000u;
    }
    uint64_t *latency_ns = calloc(batches, sizeof(*latency_ns));
    TL_ASSERT(latency_ns != NULL);
    uint64_t total_ns = 0;
    for (uint32_t b = 0; b < batches; b++) {
        batch_generate(events, batch_events, linked);
        latency_ns[b] = batch_run(ledger, events, batch_events, results);
        total_ns += latency_ns[b];
    }
    ledger_invariants_check(ledger);
    qsort(latency_ns, batches, sizeof(*latency_ns), compare_u64);
    uint64_t transfers = (uint64_t)batches * batch_events;
    printf("bench_core %-6s batch=%-5u transfers/s=%-10.0f p50_us=%-9.2f p99_us=%-9.2f "
           "(%" PRIu64 " transfers, %u batches)\n",
           linked ? "linked" : "plain", batch_events, (double)transfers * 1e9 / (double)total_ns,
           (double)latency_ns[batches / 2] / 1e3, (double)latency_ns[batches * 99 / 100] / 1e3,
           transfers, batches);
    free(latency_ns);
}

int main(void)
{
    struct ledger_config config = {WALLETS + 16};
    struct ledger *ledger = NULL;
    struct ledger_event *events = calloc(TL_BATCH_EVENTS_MAX, sizeof(*events));
    struct ledger_event_result *results = calloc(TL_BATCH_EVENTS_MAX, sizeof(*results));

    if (events == NULL || results == NULL || ledger_open(&config, &ledger) != TL_OK) {
        fprintf(stderr, "bench_core: out of memory\n");
        return 1;
    }
    setup(ledger, events, results);
    printf("bench_core: ledger core alone, %u wallets, lookups find nothing, single thread\n",
           WALLETS);
    static const uint32_t sizes[] = {1, 128, TL_BATCH_EVENTS_MAX};
    for (uint32_t i = 0; i < 3; i++) {
        scenario_run(ledger, events, results, sizes[i], false);
    }
    /* A linked pair needs two events, so the smallest linked batch is one pair. */
    static const uint32_t linked_sizes[] = {2, 128, TL_BATCH_EVENTS_MAX};
    for (uint32_t i = 0; i < 3; i++) {
        scenario_run(ledger, events, results, linked_sizes[i], true);
    }
    ledger_close(ledger);
    free(events);
    free(results);
    return 0;
}
