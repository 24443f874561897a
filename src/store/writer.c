/*
 * writer.c - the single ledger writer: a bounded queue, one thread, group commit.
 *
 * Submitters put a command on an intrusive FIFO and sleep on a semaphore that lives on their
 * own stack. The writer thread takes commands in order while their events fit the batch
 * budget (a command never splits), opens the store transaction, prefetches every transfer the
 * events name, applies them in the ledger core, lets each command attach records, and
 * commits. A command whose hook fails is dropped whole and the rest applied again. Only after
 * store_batch_commit returns does anyone wake: TL_OK for everyone, or TL_ERR_STORAGE for
 * everyone with the ledger rolled back. This file never decides what a transfer does (the core
 * does) nor how it is stored (the backend does).
 *
 * A record-only command (no events, a hook that attaches records: a quote) rides the same
 * batches, so its rows get the same group commit; it counts as one event of the budget.
 *
 * The hot path allocates nothing per command: every per-batch array is sized to the batch
 * maximum in writer_start. Only the record arena grows, and it keeps its size between
 * batches.
 */
#include "store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/assert.h"
#include "util/clock.h"
#include "util/limits.h"
#include "util/thread.h"

/* Histogram bounds for /metrics. Buckets are cumulative, Prometheus-style: a commit of x us
 * counts in every bucket whose bound >= x. The last bound is +Inf. Latency is finest around
 * the 50 ms commit target; batch sizes run up to TL_BATCH_EVENTS_MAX (a batch with a sweep
 * can exceed it by up to TL_EXPIRE_SWEEP_MAX and lands in +Inf). */
const uint64_t writer_latency_bounds_us[WRITER_LATENCY_BUCKETS] = {
    100,   250,   500,   1000,   2500,   5000,   10000,   20000,
    35000, 50000, 75000, 100000, 250000, 500000, 1000000, UINT64_MAX,
};
const uint64_t writer_batch_size_bounds[WRITER_LATENCY_BUCKETS] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 6144, 8190, UINT64_MAX,
};

#define WRITER_EXPIRE_INTERVAL_MS_DEFAULT 1000u
/* Events one batch may hold: up to batch_events_max of commands plus one sweep of holds. */
#define WRITER_BATCH_EVENTS_CAPACITY LEDGER_BATCH_EVENTS_MAX
/* Transfers a batch may prefetch: each event's own id and its pending id. */
#define WRITER_PREFETCH_IDS_MAX (2u * WRITER_BATCH_EVENTS_CAPACITY)
/* Open addressing kept at most half full, so probes stay short. */
#define WRITER_PREFETCH_SLOTS (1u << 16)
/* Accounts a batch may reload on a shared store: both named sides and both sides of the hold. */
#define WRITER_RELOAD_IDS_MAX (4u * WRITER_BATCH_EVENTS_CAPACITY)
/* First sizes of the record arena; it doubles when a batch needs more and keeps that size. */
#define WRITER_RECORDS_INITIAL 64u
#define WRITER_RECORD_BYTES_INITIAL (64u * 1024u)

static_assert(WRITER_PREFETCH_SLOTS >= 2u * WRITER_PREFETCH_IDS_MAX, "prefetch table too small");
static_assert((WRITER_PREFETCH_SLOTS & (WRITER_PREFETCH_SLOTS - 1u)) == 0, "power of two");
static_assert(TL_BATCH_EVENTS_MAX + TL_EXPIRE_SWEEP_MAX <= WRITER_BATCH_EVENTS_CAPACITY,
              "a full batch of commands and a sweep must fit in a ledger batch");

/* What a submitter sleeps on; lives on the submitter's stack, pointed to by cmd->wait_. */
struct writer_wait {
    sem_t done;
};

struct prefetch_slot {
    struct id128 id;
    uint32_t generation; /* occupied in the current batch when equal to writer's */
    uint32_t index;      /* into the prefetch arrays */
};

struct writer_batch {
    struct store_record *records; /* data holds an offset into bytes until commit */
    size_t *record_offsets;
    uint32_t record_count;
    uint32_t record_capacity;
    uint32_t command_record_count; /* attached by the hook running now */
    uint8_t *bytes;
    size_t bytes_used;
    size_t bytes_capacity;
    uint64_t pass;       /* writer_batch_pass: one more at every apply pass */
    struct store *store; /* writer_batch_store: the writer's handle */
};

struct writer {
    struct store *store;
    struct ledger *ledger;
    uint32_t batch_events_max;
    uint32_t queue_max;
    uint64_t expire_interval_ns;
    uint64_t (*clock_ns)(void);
    enum tl_err (*on_expired)(void *ctx, struct writer_batch *batch,
                              const struct ledger_event *event,
                              const struct ledger_event_result *result);
    void *on_expired_ctx;
    bool exclusive;
    pthread_t thread;

    /* Shared with submitters, under queue_mutex. */
    pthread_mutex_t queue_mutex;
    pthread_cond_t queue_cond;
    struct writer_command *queue_head;
    struct writer_command *queue_tail;
    uint32_t queue_count;
    bool stopping;
    bool writer_idle; /* waiting on queue_cond: submitters signal it */

    /* Writer thread only. */
    struct writer_command **commands;
    uint32_t command_count;
    uint32_t command_events;
    uint64_t sweep_last_ns;
    bool sweep_again;
    uint64_t linger_ns; /* how long a batch waits for company once its first command is in */
    struct ledger_transfer *expired;
    struct ledger_event *expire_events;
    struct ledger_event_result *expire_results;
    uint32_t expire_count;

    struct id128 *prefetch_ids;
    struct ledger_transfer *prefetch_transfers;
    enum ledger_pending_status *prefetch_status;
    bool *prefetch_found;
    uint32_t prefetch_count;
    struct prefetch_slot *slots;
    uint32_t generation;

    struct id128 *reload_ids; /* shared stores only */
    struct ledger_account *reload_accounts;
    bool *reload_found;

    struct writer_batch batch;

    /* Under stats_mutex; buckets are per-bucket counts, made cumulative by stats_get. */
    pthread_mutex_t stats_mutex;
    struct writer_stats stats;
};

/* ---- Records attached by on_applied hooks ---- */

static enum tl_err batch_grow(struct writer_batch *batch, uint32_t records_needed,
                              size_t bytes_needed)
{
    if (records_needed > batch->record_capacity) {
        uint32_t capacity = batch->record_capacity * 2u;
        struct store_record *records = realloc(batch->records, capacity * sizeof *records);
        if (records == NULL) {
            return TL_ERR_NOMEM;
        }
        batch->records = records;
        size_t *offsets = realloc(batch->record_offsets, capacity * sizeof *offsets);
        if (offsets == NULL) {
            return TL_ERR_NOMEM;
        }
        batch->record_offsets = offsets;
        batch->record_capacity = capacity;
    }
    if (bytes_needed > batch->bytes_capacity) {
        size_t capacity = batch->bytes_capacity * 2u;
        while (capacity < bytes_needed) {
            capacity *= 2u;
        }
        uint8_t *bytes = realloc(batch->bytes, capacity);
        if (bytes == NULL) {
            return TL_ERR_NOMEM;
        }
        batch->bytes = bytes;
        batch->bytes_capacity = capacity;
    }
    return TL_OK;
}

enum tl_err writer_batch_attach(struct writer_batch *batch, const struct store_record *record)
{
    TL_ASSERT(batch != NULL);
    TL_ASSERT(record != NULL);
    TL_ASSERT(record->kind >= STORE_RECORD_OUTBOX);
    TL_ASSERT(record->kind <= STORE_RECORD_KIND_MAX);
    TL_ASSERT(memchr(record->topic, '\0', sizeof record->topic) != NULL);
    TL_ASSERT(record->data != NULL || record->data_bytes == 0);

    if (batch->command_record_count >= TL_COMMAND_RECORDS_MAX) {
        return TL_ERR_LIMIT;
    }
    if (record->data_bytes > TL_RECORD_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    enum tl_err err =
        batch_grow(batch, batch->record_count + 1u, batch->bytes_used + record->data_bytes);
    if (err != TL_OK) {
        return err;
    }
    uint32_t index = batch->record_count;
    batch->records[index] = *record;
    batch->records[index].data = NULL;
    batch->record_offsets[index] = batch->bytes_used;
    if (record->data_bytes > 0) {
        memcpy(batch->bytes + batch->bytes_used, record->data, record->data_bytes);
    }
    batch->bytes_used += record->data_bytes;
    batch->record_count++;
    batch->command_record_count++;
    TL_ASSERT(batch->bytes_used <= batch->bytes_capacity);
    return TL_OK;
}

uint64_t writer_batch_pass(const struct writer_batch *batch)
{
    TL_ASSERT(batch != NULL);
    TL_ASSERT(batch->pass != 0);
    return batch->pass;
}

struct store *writer_batch_store(struct writer_batch *batch)
{
    TL_ASSERT(batch != NULL);
    TL_ASSERT(batch->store != NULL);
    return batch->store;
}

/* Payload pointers are fixed only once every hook ran, since the arena may move as it grows. */
static void batch_records_resolve(struct writer_batch *batch)
{
    for (uint32_t i = 0; i < batch->record_count; i++) {
        TL_ASSERT(batch->record_offsets[i] <= batch->bytes_used);
        batch->records[i].data = batch->bytes + batch->record_offsets[i];
    }
}

/* ---- Prefetch: the transfers a batch names, answered to the ledger from a local hash ---- */

static struct prefetch_slot *prefetch_slot_find(struct writer *w, struct id128 id)
{
    uint32_t mask = WRITER_PREFETCH_SLOTS - 1u;
    uint32_t index = (uint32_t)id128_hash(id) & mask;
    for (;;) {
        struct prefetch_slot *slot = &w->slots[index];
        if (slot->generation != w->generation || id128_eq(slot->id, id)) {
            return slot;
        }
        index = (index + 1u) & mask;
    }
}

static void prefetch_request(struct writer *w, struct id128 id)
{
    if (id128_is_zero(id)) {
        return; /* the ledger rejects a zero id before looking anything up */
    }
    struct prefetch_slot *slot = prefetch_slot_find(w, id);
    if (slot->generation == w->generation) {
        return; /* named twice in this batch */
    }
    TL_ASSERT(w->prefetch_count < WRITER_PREFETCH_IDS_MAX);
    slot->id = id;
    slot->generation = w->generation;
    slot->index = w->prefetch_count;
    w->prefetch_ids[w->prefetch_count++] = id;
}

static void prefetch_request_events(struct writer *w, const struct ledger_event *events,
                                    uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (events[i].kind != LEDGER_EVENT_TRANSFER) {
            continue;
        }
        prefetch_request(w, events[i].as.transfer.id);
        prefetch_request(w, events[i].as.transfer.pending_id);
    }
}

static bool writer_lookup_transfer_get(void *ctx, struct id128 id, struct ledger_transfer *out,
                                       enum ledger_pending_status *status)
{
    struct writer *w = ctx;
    if (id128_is_zero(id)) {
        return false;
    }
    const struct prefetch_slot *slot = prefetch_slot_find(w, id);
    /* The ledger asks only about ids its events name, and those were all prefetched. */
    TL_ASSERT(slot->generation == w->generation);
    TL_ASSERT(slot->index < w->prefetch_count);
    if (!w->prefetch_found[slot->index]) {
        return false;
    }
    *out = w->prefetch_transfers[slot->index];
    *status = w->prefetch_status[slot->index];
    TL_ASSERT(id128_eq(out->id, id));
    return true;
}

static enum tl_err writer_prefetch(struct writer *w)
{
    w->prefetch_count = 0;
    w->generation++;
    if (w->generation == 0) { /* wrapped: stale slots could look current, so clear them */
        memset(w->slots, 0, WRITER_PREFETCH_SLOTS * sizeof *w->slots);
        w->generation = 1;
    }
    prefetch_request_events(w, w->expire_events, w->expire_count);
    for (uint32_t i = 0; i < w->command_count; i++) {
        prefetch_request_events(w, w->commands[i]->events, w->commands[i]->event_count);
    }
    if (w->prefetch_count == 0) {
        return TL_OK;
    }
    return store_transfers_get(w->store, w->prefetch_ids, w->prefetch_count, w->prefetch_transfers,
                               w->prefetch_status, w->prefetch_found);
}

/* ---- Reload: on a shared store, the accounts a batch touches are read again, locked ---- */

static int reload_id_compare(const void *a, const void *b)
{
    return id128_cmp(*(const struct id128 *)a, *(const struct id128 *)b);
}

static uint32_t reload_collect(struct writer *w, const struct ledger_event *events, uint32_t count,
                               uint32_t id_count)
{
    for (uint32_t i = 0; i < count; i++) {
        TL_ASSERT(id_count + 4u <= WRITER_RELOAD_IDS_MAX);
        if (events[i].kind == LEDGER_EVENT_ACCOUNT) {
            w->reload_ids[id_count++] = events[i].as.account.id;
            continue;
        }
        const struct ledger_transfer *t = &events[i].as.transfer;
        w->reload_ids[id_count++] = t->debit_account_id;
        w->reload_ids[id_count++] = t->credit_account_id;
        if (id128_is_zero(t->pending_id)) {
            continue;
        }
        const struct prefetch_slot *slot = prefetch_slot_find(w, t->pending_id);
        TL_ASSERT(slot->generation == w->generation);
        if (w->prefetch_found[slot->index]) {
            w->reload_ids[id_count++] = w->prefetch_transfers[slot->index].debit_account_id;
            w->reload_ids[id_count++] = w->prefetch_transfers[slot->index].credit_account_id;
        }
    }
    return id_count;
}

/* Sorted and unique, without zero ids: the store locks in id order to avoid deadlocks. */
static uint32_t reload_ids_unique(struct id128 *ids, uint32_t count)
{
    qsort(ids, count, sizeof *ids, reload_id_compare);
    uint32_t unique = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (id128_is_zero(ids[i])) {
            continue;
        }
        if (unique > 0 && id128_eq(ids[unique - 1u], ids[i])) {
            continue;
        }
        ids[unique++] = ids[i];
    }
    return unique;
}

static enum tl_err writer_reload(struct writer *w)
{
    uint32_t count = reload_collect(w, w->expire_events, w->expire_count, 0);
    for (uint32_t i = 0; i < w->command_count; i++) {
        count = reload_collect(w, w->commands[i]->events, w->commands[i]->event_count, count);
    }
    count = reload_ids_unique(w->reload_ids, count);
    if (count > 0) {
        enum tl_err err =
            store_accounts_get(w->store, w->reload_ids, count, w->reload_accounts, w->reload_found);
        if (err != TL_OK) {
            return err;
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!w->reload_found[i]) {
            continue;
        }
        TL_ASSERT(id128_eq(w->reload_accounts[i].id, w->reload_ids[i]));
        if (ledger_account_load(w->ledger, &w->reload_accounts[i]) != TL_OK) {
            return TL_ERR_STORAGE;
        }
    }
    /* Other writers assign timestamps too; ours must keep increasing past theirs. */
    uint64_t timestamp_last = 0;
    enum tl_err err = store_timestamp_last(w->store, &timestamp_last);
    if (err != TL_OK) {
        return err;
    }
    if (timestamp_last > ledger_timestamp_last(w->ledger)) {
        ledger_timestamp_load(w->ledger, timestamp_last);
    }
    return TL_OK;
}

/* ---- Hold expiry ---- */

/*
 * The expiry transfer's id is a fixed permutation of the hold's id (a four-round Feistel
 * network over the two 64-bit halves). A permutation never maps two holds to one id, the same
 * hold always maps to the same id, so a sweep that is retried (a failed batch, or another node
 * of a shared store sweeping the same hold) is an idempotent duplicate answered with "exists"
 * instead of a second release. id128_new would not be: every retry would mint a new id and
 * only the hold's status would stop a double release. A hash-like mix keeps the result from
 * colliding with the time-ordered ids id128_new makes, except by a 2^-122 accident.
 */
static uint64_t expire_id_round(uint64_t x, uint64_t key)
{
    x ^= key;
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

static struct id128 writer_expire_id(struct id128 pending_id)
{
    static const uint64_t keys[4] = {
        0x243f6a8885a308d3ull,
        0x13198a2e03707344ull,
        0xa4093822299f31d0ull,
        0x082efa98ec4e6c89ull,
    };
    uint64_t left = pending_id.hi;
    uint64_t right = pending_id.lo;
    for (int i = 0; i < 4; i++) {
        uint64_t next = left ^ expire_id_round(right, keys[i]);
        left = right;
        right = next;
    }
    struct id128 id = id128_make(left, right);
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(!id128_eq(id, pending_id));
    return id;
}

static void expire_event_make(const struct ledger_transfer *hold, struct ledger_event *out)
{
    TL_ASSERT((hold->flags & LEDGER_TRANSFER_PENDING) != 0);
    TL_ASSERT(hold->amount > 0);
    memset(out, 0, sizeof *out);
    out->kind = LEDGER_EVENT_TRANSFER;
    struct ledger_transfer *t = &out->as.transfer;
    t->id = writer_expire_id(hold->id);
    t->debit_account_id = hold->debit_account_id;
    t->credit_account_id = hold->credit_account_id;
    t->pending_id = hold->id;
    t->user_ref = hold->user_ref;
    t->amount = hold->amount;
    t->currency = hold->currency;
    t->code = LEDGER_CODE_HOLD_EXPIRY;
    t->flags = LEDGER_TRANSFER_EXPIRE_PENDING;
}

static enum tl_err writer_sweep_load(struct writer *w, uint64_t now_ns)
{
    uint32_t count = 0;
    enum tl_err err =
        store_pending_expired(w->store, now_ns, TL_EXPIRE_SWEEP_MAX, w->expired, &count);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(count <= TL_EXPIRE_SWEEP_MAX);
    for (uint32_t i = 0; i < count; i++) {
        expire_event_make(&w->expired[i], &w->expire_events[i]);
    }
    w->expire_count = count;
    /* A full sweep may have left more behind: sweep again with the next batch. */
    w->sweep_again = count == TL_EXPIRE_SWEEP_MAX;
    return TL_OK;
}

/* ---- Taking commands off the queue ---- */

/* What a command takes of the batch budget: its events, or one for a record-only command
 * (event_count 0), which still takes a slot of commands[] and runs its hook. So a batch holds
 * at most batch_events_max commands whatever their kind. */
static uint32_t command_budget_cost(const struct writer_command *cmd)
{
    TL_ASSERT(cmd->event_count <= TL_COMMAND_EVENTS_MAX);
    return cmd->event_count > 0 ? cmd->event_count : 1u;
}

/* Zeroes cmd's results (a record-only command has none). Cannot fail. */
static void command_results_clear(struct writer_command *cmd)
{
    if (cmd->event_count > 0) {
        memset(cmd->results, 0, cmd->event_count * sizeof *cmd->results);
    }
}

static bool writer_sweep_due(const struct writer *w, uint64_t now_ns)
{
    if (w->sweep_again) {
        return true;
    }
    return now_ns < w->sweep_last_ns || now_ns - w->sweep_last_ns >= w->expire_interval_ns;
}

static void writer_idle_wait(struct writer *w, uint64_t deadline_ns)
{
    struct timespec deadline = {
        .tv_sec = (time_t)(deadline_ns / 1000000000u),
        .tv_nsec = (long)(deadline_ns % 1000000000u),
    };
    w->writer_idle = true;
    int rc = pthread_cond_timedwait(&w->queue_cond, &w->queue_mutex, &deadline);
    TL_ASSERT(rc == 0 || rc == ETIMEDOUT);
    w->writer_idle = false;
}

/*
 * Waits for work and takes the next batch's commands in FIFO order while their events fit
 * batch_events_max; the first command is always taken, so a command larger than a small
 * batch_events_max still runs, alone. A due sweep's events come on top (the ledger's batch
 * has room for both). Returns false when the writer is stopping and the queue is drained.
 */
static bool writer_take(struct writer *w, bool *out_sweep)
{
    bool sweep = false;
    TL_ASSERT(pthread_mutex_lock(&w->queue_mutex) == 0);
    for (;;) {
        sweep = !w->stopping && writer_sweep_due(w, w->clock_ns());
        if (w->queue_count > 0 || sweep) {
            break;
        }
        if (w->stopping) {
            TL_ASSERT(pthread_mutex_unlock(&w->queue_mutex) == 0);
            return false;
        }
        writer_idle_wait(w, clock_mono_ns() + w->expire_interval_ns);
    }
    if (w->linger_ns > 0 && w->queue_count > 0) {
        /* Group commit on a slow disk: company for the first command, up to linger_ns. */
        uint64_t until_ns = clock_mono_ns() + w->linger_ns;
        while (!w->stopping && w->queue_count < w->batch_events_max && clock_mono_ns() < until_ns) {
            writer_idle_wait(w, until_ns);
        }
    }
    uint32_t budget = w->batch_events_max;
    uint32_t budget_used = 0;
    w->command_count = 0;
    w->command_events = 0;
    while (w->queue_head != NULL) {
        struct writer_command *cmd = w->queue_head;
        uint32_t cost = command_budget_cost(cmd);
        if (w->command_count > 0 && budget_used + cost > budget) {
            break;
        }
        w->queue_head = cmd->next_;
        cmd->next_ = NULL;
        w->commands[w->command_count++] = cmd;
        w->command_events += cmd->event_count;
        budget_used += cost;
    }
    if (w->queue_head == NULL) {
        w->queue_tail = NULL;
    }
    w->queue_count -= w->command_count;
    TL_ASSERT(pthread_mutex_unlock(&w->queue_mutex) == 0);
    TL_ASSERT(w->command_count <= w->batch_events_max);
    TL_ASSERT(w->command_events <= budget_used);
    TL_ASSERT(w->command_count <= 1u || budget_used <= budget);
    *out_sweep = sweep;
    return true;
}

/* ---- One batch ---- */

/* Runs cmd's hook, if any. False when it failed: cmd is then dropped (err set, results zeroed)
 * and the caller rolls the ledger back and applies the batch again without it. */
static bool writer_hook_run(struct writer *w, struct writer_command *cmd)
{
    struct writer_batch *batch = &w->batch;
    TL_ASSERT(cmd->err == TL_OK);
    if (cmd->on_applied == NULL) {
        return true;
    }
    uint32_t record_mark = batch->record_count;
    batch->command_record_count = 0;
    enum tl_err err = cmd->on_applied(cmd, batch);
    TL_ASSERT(batch->record_count - record_mark <= TL_COMMAND_RECORDS_MAX);
    if (err == TL_OK) {
        return true;
    }
    command_results_clear(cmd);
    cmd->err = err;
    return false;
}

/* The on_expired hook of each hold the sweep expired. False at the first that fails. */
static bool writer_expired_hooks_run(struct writer *w)
{
    if (w->on_expired == NULL) {
        return true;
    }
    for (uint32_t i = 0; i < w->expire_count; i++) {
        if (w->expire_results[i].result != LEDGER_OK) {
            continue;
        }
        uint32_t record_mark = w->batch.record_count;
        w->batch.command_record_count = 0;
        enum tl_err err = w->on_expired(w->on_expired_ctx, &w->batch, &w->expire_events[i],
                                        &w->expire_results[i]);
        TL_ASSERT(w->batch.record_count - record_mark <= TL_COMMAND_RECORDS_MAX);
        if (err != TL_OK) {
            return false;
        }
    }
    return true;
}

/* One pass: the sweep's expiries, then each command still in the batch followed by its hook,
 * in queue order. False, with the ledger batch still open, at the first hook that fails. */
static bool writer_apply_pass(struct writer *w, uint64_t now_ns)
{
    struct ledger_lookup lookup = {
        .transfer_get = writer_lookup_transfer_get,
        .ctx = w,
    };
    w->batch.record_count = 0;
    w->batch.bytes_used = 0;
    w->batch.pass++;
    ledger_batch_begin(w->ledger, now_ns, &lookup);
    if (w->expire_count > 0) {
        ledger_batch_apply(w->ledger, w->expire_events, w->expire_count, w->expire_results);
        if (!writer_expired_hooks_run(w)) {
            w->expire_count = 0; /* no expiry without its records: a later sweep finds them */
            return false;
        }
    }
    for (uint32_t i = 0; i < w->command_count; i++) {
        struct writer_command *cmd = w->commands[i];
        if (cmd->err != TL_OK) {
            continue; /* dropped by an earlier pass */
        }
        if (cmd->event_count > 0) { /* a record-only command is its hook alone */
            ledger_batch_apply(w->ledger, cmd->events, cmd->event_count, cmd->results);
        }
        if (!writer_hook_run(w, cmd)) {
            return false;
        }
    }
    return true;
}

/*
 * Applies the batch until no hook fails. A failing hook drops its whole command: no money
 * moves without its records. The ledger rolls back to the batch start and the rest is applied
 * again (same now_ns; the store transaction and the prefetch stay valid since nothing was
 * written yet). Each pass drops one command (or the sweep, once), so there are at most
 * command_count + 2 passes.
 */
static void writer_apply(struct writer *w, uint64_t now_ns)
{
    for (uint32_t i = 0; i < w->command_count; i++) {
        w->commands[i]->err = TL_OK;
    }
    uint32_t dropped = 0;
    while (!writer_apply_pass(w, now_ns)) {
        ledger_batch_rollback(w->ledger);
        dropped++;
        TL_ASSERT(dropped <= w->command_count + 1); /* each command, and the sweep once */
    }
    batch_records_resolve(&w->batch);
}

static void writer_fail_all(struct writer *w)
{
    for (uint32_t i = 0; i < w->command_count; i++) {
        struct writer_command *cmd = w->commands[i];
        command_results_clear(cmd);
        cmd->err = TL_ERR_STORAGE;
    }
}

static void writer_wake_all(struct writer *w)
{
    for (uint32_t i = 0; i < w->command_count; i++) {
        struct writer_command *cmd = w->commands[i];
        /* The command belongs to its submitter again: after the post or the callback it may
         * be gone. */
        w->commands[i] = NULL;
        if (cmd->done_ != NULL) {
            cmd->done_(cmd, cmd->done_ctx_);
            continue;
        }
        struct writer_wait *wait = cmd->wait_;
        TL_ASSERT(sem_post(&wait->done) == 0);
    }
    w->command_count = 0;
}

static uint32_t bucket_index(const uint64_t *bounds, uint64_t value)
{
    uint32_t i = 0;
    while (bounds[i] < value) {
        i++;
    }
    TL_ASSERT(i < WRITER_LATENCY_BUCKETS);
    return i;
}

static void writer_stats_record(struct writer *w, bool ok, uint32_t events, uint64_t commit_ns)
{
    uint64_t commit_us = commit_ns / 1000u;
    TL_ASSERT(pthread_mutex_lock(&w->stats_mutex) == 0);
    if (ok) {
        w->stats.batches++;
        w->stats.events += events;
        w->stats.commands += w->command_count;
        w->stats.batch_events_last = events;
        w->stats.commit_latency_us_sum += commit_us;
        w->stats.commit_latency_buckets[bucket_index(writer_latency_bounds_us, commit_us)]++;
        w->stats.batch_size_buckets[bucket_index(writer_batch_size_bounds, events)]++;
    } else {
        w->stats.batch_failures++;
    }
    TL_ASSERT(pthread_mutex_unlock(&w->stats_mutex) == 0);
}

static bool batch_is_empty(const struct store_batch *batch)
{
    const struct ledger_batch_out *out = &batch->ledger;
    return out->posting_count == 0 && out->account_count == 0 && out->pending_update_count == 0 &&
           batch->record_count == 0;
}

/* Everything up to the ledger: the store transaction, the sweep, prefetch and reload. */
static enum tl_err writer_prepare(struct writer *w, bool sweep, uint64_t now_ns)
{
    w->expire_count = 0;
    if (sweep) {
        /* Set before anything can fail: a store that is down is retried once per interval. */
        w->sweep_last_ns = now_ns;
        w->sweep_again = false;
    }
    enum tl_err err = store_batch_begin(w->store);
    if (err != TL_OK) {
        return err;
    }
    if (sweep) {
        err = writer_sweep_load(w, now_ns);
    }
    if (err == TL_OK) {
        err = writer_prefetch(w);
    }
    if (err == TL_OK && !w->exclusive) {
        err = writer_reload(w);
    }
    if (err != TL_OK) {
        store_batch_abort(w->store);
    }
    return err;
}

static void writer_batch_run(struct writer *w, bool sweep)
{
    uint64_t now_ns = w->clock_ns();
    enum tl_err err = writer_prepare(w, sweep, now_ns);
    if (err == TL_OK && w->command_count == 0 && w->expire_count == 0) {
        store_batch_abort(w->store); /* an idle sweep found nothing: no empty commit */
        return;
    }
    uint32_t events = w->command_events + w->expire_count;
    uint64_t commit_ns = 0;
    if (err == TL_OK) {
        TL_ASSERT(events <= WRITER_BATCH_EVENTS_CAPACITY);
        writer_apply(w, now_ns);
        struct store_batch batch = {
            .records = w->batch.records,
            .record_count = w->batch.record_count,
        };
        ledger_batch_output(w->ledger, &batch.ledger);
        uint64_t start_ns = clock_mono_ns();
        if (batch_is_empty(&batch)) {
            /* Every event failed or already existed: their answers rest on durable state. */
            store_batch_abort(w->store);
        } else {
            err = store_batch_commit(w->store, &batch);
        }
        commit_ns = clock_mono_ns() - start_ns;
        if (err == TL_OK) {
            ledger_batch_commit(w->ledger);
        } else {
            ledger_batch_rollback(w->ledger);
        }
    }
    if (err != TL_OK) {
        writer_fail_all(w); /* expiring holds stay open: the next sweep finds them again */
        w->sweep_again = false;
    }
    writer_stats_record(w, err == TL_OK, events, commit_ns);
    writer_wake_all(w);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    bool sweep = false;
    while (writer_take(w, &sweep)) {
        writer_batch_run(w, sweep);
    }
    return NULL;
}

/* ---- Start, submit, stop ---- */

static enum tl_err writer_account_load(void *ctx, const struct ledger_account *account)
{
    return ledger_account_load(ctx, account);
}

static enum tl_err writer_ledger_load(struct store *store, struct ledger *ledger)
{
    enum tl_err err = store_accounts_scan(store, writer_account_load, ledger);
    if (err != TL_OK) {
        return err;
    }
    uint64_t timestamp_last = 0;
    err = store_timestamp_last(store, &timestamp_last);
    if (err != TL_OK) {
        return err;
    }
    ledger_timestamp_load(ledger, timestamp_last);
    return TL_OK;
}

static void writer_free(struct writer *w)
{
    if (w == NULL) {
        return;
    }
    free(w->commands);
    free(w->expired);
    free(w->expire_events);
    free(w->expire_results);
    free(w->prefetch_ids);
    free(w->prefetch_transfers);
    free(w->prefetch_status);
    free(w->prefetch_found);
    free(w->slots);
    free(w->reload_ids);
    free(w->reload_accounts);
    free(w->reload_found);
    free(w->batch.records);
    free(w->batch.record_offsets);
    free(w->batch.bytes);
    free(w);
}

static enum tl_err writer_alloc(struct writer *w)
{
    w->commands = calloc(w->batch_events_max, sizeof *w->commands);
    w->expired = calloc(TL_EXPIRE_SWEEP_MAX, sizeof *w->expired);
    w->expire_events = calloc(TL_EXPIRE_SWEEP_MAX, sizeof *w->expire_events);
    w->expire_results = calloc(TL_EXPIRE_SWEEP_MAX, sizeof *w->expire_results);
    w->prefetch_ids = calloc(WRITER_PREFETCH_IDS_MAX, sizeof *w->prefetch_ids);
    w->prefetch_transfers = calloc(WRITER_PREFETCH_IDS_MAX, sizeof *w->prefetch_transfers);
    w->prefetch_status = calloc(WRITER_PREFETCH_IDS_MAX, sizeof *w->prefetch_status);
    w->prefetch_found = calloc(WRITER_PREFETCH_IDS_MAX, sizeof *w->prefetch_found);
    w->slots = calloc(WRITER_PREFETCH_SLOTS, sizeof *w->slots);
    w->batch.records = calloc(WRITER_RECORDS_INITIAL, sizeof *w->batch.records);
    w->batch.record_offsets = calloc(WRITER_RECORDS_INITIAL, sizeof *w->batch.record_offsets);
    w->batch.bytes = malloc(WRITER_RECORD_BYTES_INITIAL);
    w->batch.record_capacity = WRITER_RECORDS_INITIAL;
    w->batch.bytes_capacity = WRITER_RECORD_BYTES_INITIAL;
    if (!w->exclusive) {
        w->reload_ids = calloc(WRITER_RELOAD_IDS_MAX, sizeof *w->reload_ids);
        w->reload_accounts = calloc(WRITER_RELOAD_IDS_MAX, sizeof *w->reload_accounts);
        w->reload_found = calloc(WRITER_RELOAD_IDS_MAX, sizeof *w->reload_found);
        if (w->reload_ids == NULL || w->reload_accounts == NULL || w->reload_found == NULL) {
            return TL_ERR_NOMEM;
        }
    }
    if (w->commands == NULL || w->expired == NULL || w->expire_events == NULL ||
        w->expire_results == NULL || w->prefetch_ids == NULL || w->prefetch_transfers == NULL ||
        w->prefetch_status == NULL || w->prefetch_found == NULL || w->slots == NULL ||
        w->batch.records == NULL || w->batch.record_offsets == NULL || w->batch.bytes == NULL) {
        return TL_ERR_NOMEM;
    }
    return TL_OK;
}

static enum tl_err writer_config_apply(const struct writer_config *config, struct writer *w)
{
    w->batch_events_max = config->batch_events_max ? config->batch_events_max : TL_BATCH_EVENTS_MAX;
    w->queue_max = config->queue_max ? config->queue_max : TL_WRITER_QUEUE_MAX;
    uint32_t interval_ms =
        config->expire_interval_ms ? config->expire_interval_ms : WRITER_EXPIRE_INTERVAL_MS_DEFAULT;
    w->expire_interval_ns = (uint64_t)interval_ms * 1000000u;
    w->clock_ns = config->clock_ns ? config->clock_ns : clock_wall_ns;
    w->on_expired = config->on_expired;
    w->on_expired_ctx = config->on_expired_ctx;
    w->linger_ns = (uint64_t)config->linger_us * 1000u;
    if (w->batch_events_max > TL_BATCH_EVENTS_MAX || w->queue_max > TL_WRITER_QUEUE_MAX ||
        config->linger_us > TL_WRITER_LINGER_US_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

static enum tl_err writer_sync_init(struct writer *w)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        return TL_ERR_INTERNAL;
    }
    /* Idle waits time out on the monotonic clock: a wall-clock step must not stall sweeps. */
    TL_ASSERT(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0);
    int rc = pthread_cond_init(&w->queue_cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        return TL_ERR_INTERNAL;
    }
    TL_ASSERT(pthread_mutex_init(&w->queue_mutex, NULL) == 0);
    TL_ASSERT(pthread_mutex_init(&w->stats_mutex, NULL) == 0);
    return TL_OK;
}

static void writer_sync_destroy(struct writer *w)
{
    pthread_cond_destroy(&w->queue_cond);
    pthread_mutex_destroy(&w->queue_mutex);
    pthread_mutex_destroy(&w->stats_mutex);
}

enum tl_err writer_start(const struct writer_config *config, struct store *store,
                         struct ledger *ledger, struct writer **out)
{
    static const struct writer_config config_default = {0};
    TL_ASSERT(store != NULL);
    TL_ASSERT(ledger != NULL);
    TL_ASSERT(out != NULL);

    struct writer *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return TL_ERR_NOMEM;
    }
    w->store = store;
    w->batch.store = store;
    w->ledger = ledger;
    w->exclusive = store_exclusive(store);
    enum tl_err err = writer_config_apply(config ? config : &config_default, w);
    if (err == TL_OK) {
        err = writer_alloc(w);
    }
    if (err == TL_OK) {
        err = writer_ledger_load(store, ledger);
    }
    if (err != TL_OK) {
        goto out_free;
    }
    err = writer_sync_init(w);
    if (err != TL_OK) {
        goto out_free;
    }
    if (!thread_start(&w->thread, "tl-writer", writer_main, w)) {
        err = TL_ERR_INTERNAL;
        goto out_sync;
    }
    *out = w;
    return TL_OK;
out_sync:
    writer_sync_destroy(w);
out_free:
    writer_free(w);
    return err;
}

static bool command_valid(const struct writer_command *cmd)
{
    if (cmd->event_count > TL_COMMAND_EVENTS_MAX) {
        return false;
    }
    if (cmd->event_count == 0) {
        /* Record-only: without a hook it would do nothing at all. */
        return cmd->on_applied != NULL;
    }
    return cmd->events != NULL && cmd->results != NULL;
}

/* Queues the command unless the writer stops or the queue is full. */
static enum tl_err writer_enqueue(struct writer *w, struct writer_command *cmd)
{
    enum tl_err err = TL_OK;
    TL_ASSERT(pthread_mutex_lock(&w->queue_mutex) == 0);
    if (w->stopping) {
        err = TL_ERR_SHUTDOWN;
    } else if (w->queue_count >= w->queue_max) {
        err = TL_ERR_BUSY;
    } else {
        cmd->next_ = NULL;
        if (w->queue_tail == NULL) {
            w->queue_head = cmd;
        } else {
            w->queue_tail->next_ = cmd;
        }
        w->queue_tail = cmd;
        w->queue_count++;
        if (w->writer_idle) {
            TL_ASSERT(pthread_cond_signal(&w->queue_cond) == 0);
        }
    }
    TL_ASSERT(pthread_mutex_unlock(&w->queue_mutex) == 0);
    return err;
}

enum tl_err writer_submit(struct writer *writer, struct writer_command *cmd)
{
    TL_ASSERT(writer != NULL);
    TL_ASSERT(cmd != NULL);
    /* An on_applied hook that submits would wait for its own batch forever. */
    TL_ASSERT(!pthread_equal(pthread_self(), writer->thread));
    if (!command_valid(cmd)) {
        cmd->err = TL_ERR_INVALID_REQUEST;
        return cmd->err;
    }
    struct writer_wait wait;
    TL_ASSERT(sem_init(&wait.done, 0, 0) == 0);
    cmd->wait_ = &wait;
    cmd->done_ = NULL;
    cmd->done_ctx_ = NULL;
    /* Once queued, cmd belongs to the writer until it posts: cmd->err is its to set, even
     * before writer_enqueue returns here. */
    enum tl_err err = writer_enqueue(writer, cmd);
    if (err == TL_OK) {
        while (sem_wait(&wait.done) != 0) {
            TL_ASSERT(errno == EINTR);
        }
        err = cmd->err;
    }
    sem_destroy(&wait.done);
    cmd->wait_ = NULL;
    cmd->err = err;
    return err;
}

enum tl_err writer_submit_async(struct writer *writer, struct writer_command *cmd,
                                void (*done)(struct writer_command *cmd, void *done_ctx),
                                void *done_ctx)
{
    TL_ASSERT(writer != NULL);
    TL_ASSERT(cmd != NULL);
    TL_ASSERT(done != NULL);
    TL_ASSERT(!pthread_equal(pthread_self(), writer->thread));
    if (!command_valid(cmd)) {
        cmd->err = TL_ERR_INVALID_REQUEST;
        return cmd->err;
    }
    cmd->wait_ = NULL;
    cmd->done_ = done;
    cmd->done_ctx_ = done_ctx;
    /* Once queued, cmd is the writer's: done may run (and cmd be gone) before this returns. */
    enum tl_err err = writer_enqueue(writer, cmd);
    if (err != TL_OK) {
        cmd->done_ = NULL;
        cmd->err = err;
    }
    return err;
}

void writer_stop(struct writer *writer)
{
    if (writer == NULL) {
        return;
    }
    TL_ASSERT(pthread_mutex_lock(&writer->queue_mutex) == 0);
    writer->stopping = true;
    TL_ASSERT(pthread_cond_signal(&writer->queue_cond) == 0);
    TL_ASSERT(pthread_mutex_unlock(&writer->queue_mutex) == 0);
    TL_ASSERT(pthread_join(writer->thread, NULL) == 0);
    TL_ASSERT(writer->queue_count == 0);
    TL_ASSERT(writer->queue_head == NULL);
    writer_sync_destroy(writer);
    writer_free(writer);
}

void writer_stats_get(struct writer *writer, struct writer_stats *out)
{
    TL_ASSERT(writer != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(pthread_mutex_lock(&writer->stats_mutex) == 0);
    *out = writer->stats;
    TL_ASSERT(pthread_mutex_unlock(&writer->stats_mutex) == 0);
    TL_ASSERT(pthread_mutex_lock(&writer->queue_mutex) == 0);
    out->queue_depth = writer->queue_count;
    TL_ASSERT(pthread_mutex_unlock(&writer->queue_mutex) == 0);
    for (uint32_t i = 1; i < WRITER_LATENCY_BUCKETS; i++) {
        out->commit_latency_buckets[i] += out->commit_latency_buckets[i - 1u];
        out->batch_size_buckets[i] += out->batch_size_buckets[i - 1u];
    }
    TL_ASSERT(out->commit_latency_buckets[WRITER_LATENCY_BUCKETS - 1u] == out->batches);
}
