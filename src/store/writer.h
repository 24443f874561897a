/*
 * writer.h - the single ledger writer with group commit.
 *
 * Callers (HTTP workers, tests, tools) never write money directly. They submit a command to a
 * bounded queue and block until the batch holding it is durable (writer_submit), or hand it over
 * with a completion callback the writer thread calls once the batch is durable or failed
 * (writer_submit_async), so an HTTP worker can serve other connections meanwhile. One writer thread takes up
 * to TL_BATCH_EVENTS_MAX events' worth of commands, applies them in the ledger core, writes
 * them in one store transaction, then wakes every caller with its results. Nothing is
 * acknowledged before its batch is durable. A batch that fails to commit fails every command
 * in it with TL_ERR_STORAGE and the ledger state is rolled back to before the batch.
 *
 * The writer also releases expired holds: when a hold's timeout passes, it applies an
 * LEDGER_TRANSFER_EXPIRE_PENDING transfer, recorded like any other.
 */
#ifndef TL_STORE_WRITER_H
#define TL_STORE_WRITER_H

#include <stdint.h>

#include "core/ledger.h"
#include "store/store.h"
#include "util/err.h"

struct writer;
struct writer_batch;

struct writer_command {
    /* In: events applied in order; LINKED chains stay inside one command. event_count 0 makes
     * a record-only command: no money, on_applied required (it attaches the records), events
     * and results may be NULL; it counts as one event toward the batch budget. */
    const struct ledger_event *events;
    uint32_t event_count; /* 0..TL_COMMAND_EVENTS_MAX */
    /* Out: one result per event, valid when err == TL_OK. Caller-owned. */
    struct ledger_event_result *results;
    /*
     * Optional, runs on the writer thread after this command's events were applied and before
     * the batch commits: may attach records (outbox rows, app rows) with writer_batch_attach so
     * they commit atomically with the money. Returning an error drops the whole command (its
     * events do not happen, its records are discarded, its results are zeroed, err reports the
     * error); the other commands are applied again without it, so a hook may run more than once
     * per batch and must start from scratch each time.
     */
    enum tl_err (*on_applied)(struct writer_command *cmd, struct writer_batch *batch);
    void *ctx;
    /* Out: TL_OK when durable; TL_ERR_STORAGE (nothing happened), TL_ERR_BUSY (queue full),
     * TL_ERR_SHUTDOWN (writer stopping), TL_ERR_INVALID_REQUEST (bad event count, or no
     * hook on a record-only command), or the
     * error on_applied returned (nothing happened). */
    enum tl_err err;
    /* Private to the writer. */
    struct writer_command *next_;
    void *wait_;
    void (*done_)(struct writer_command *cmd, void *done_ctx);
    void *done_ctx_;
};

/* Attaches a record to the batch being built. Copies data. TL_ERR_LIMIT past
 * TL_COMMAND_RECORDS_MAX records or TL_RECORD_BYTES_MAX bytes. */
enum tl_err writer_batch_attach(struct writer_batch *batch, const struct store_record *record);

/*
 * For hooks that keep state across the hooks of one batch (src/api/kyc.c: what earlier
 * commands of the batch already counted against a limit). The pass number changes whenever
 * the writer starts applying commands again: each new batch, and each re-application after a
 * hook dropped a command (state of an earlier pass is void then). Writer thread only.
 */
uint64_t writer_batch_pass(const struct writer_batch *batch);
/*
 * The writer's own store handle, inside the batch's open transaction, for hooks that must read
 * what every batch committed before this one (on a shared store the batch lock serializes the
 * batches of every node, so such a read cannot race another node's batch). Reads only: a hook
 * never writes through it (records are how a hook writes). Writer thread only.
 */
struct store *writer_batch_store(struct writer_batch *batch);

struct writer_config {
    uint32_t batch_events_max;  /* 1..TL_BATCH_EVENTS_MAX; 0 = TL_BATCH_EVENTS_MAX */
    uint32_t queue_max;         /* 1..TL_WRITER_QUEUE_MAX; 0 = TL_WRITER_QUEUE_MAX */
    uint32_t expire_interval_ms; /* how often to sweep expired holds; 0 = 1000 */
    /*
     * 0..TL_WRITER_LINGER_US_MAX: once a batch's first command is queued, how long the writer
     * waits for more before it runs the batch (PostgreSQL's commit_delay): fewer, larger
     * durable commits on a disk whose sync is slow, for that much more latency. A full batch
     * or writer_stop ends the wait early. 0: none.
     */
    uint32_t linger_us;
    uint64_t (*clock_ns)(void); /* wall clock for batch timestamps; NULL = CLOCK_REALTIME */
    /*
     * Optional, writer thread: runs for each hold a sweep expired (event: its expire_pending
     * transfer; result LEDGER_OK), after the sweep's events were applied and before the batch
     * commits, and may attach records like a command's on_applied (api/escrow.c: an escrow's
     * escrow.expired events and audit entry commit with the expiry). It may run again when
     * the writer re-applies the batch. An error leaves every hold of this sweep for a later
     * sweep (nothing of the sweep commits now); the batch's commands go ahead.
     */
    enum tl_err (*on_expired)(void *ctx, struct writer_batch *batch,
                              const struct ledger_event *event,
                              const struct ledger_event_result *result);
    void *on_expired_ctx;
};

/*
 * Loads the ledger state from store (every account, the last timestamp) into ledger and
 * starts the writer thread. The writer borrows store and ledger until writer_stop.
 */
enum tl_err writer_start(const struct writer_config *config, struct store *store,
                         struct ledger *ledger, struct writer **out);

/* Submits and waits until durable or failed; the outcome is in cmd->err and cmd->results.
 * Returns cmd->err. Thread-safe. */
enum tl_err writer_submit(struct writer *writer, struct writer_command *cmd);

/*
 * Submits without waiting. TL_OK: cmd is queued and belongs to the writer until done(cmd,
 * done_ctx) runs, exactly once, on the writer thread after the batch holding cmd committed
 * (cmd->err TL_OK) or failed (cmd->err and cmd->results as writer_submit leaves them). done must
 * be short and must not submit (it runs between two batches): wake someone and return. After
 * done returns the writer never touches cmd again. Any other return (TL_ERR_BUSY, TL_ERR_SHUTDOWN,
 * TL_ERR_INVALID_REQUEST, also in cmd->err): nothing was queued and done is never called.
 * Thread-safe; not from the writer thread.
 */
enum tl_err writer_submit_async(struct writer *writer, struct writer_command *cmd,
                                void (*done)(struct writer_command *cmd, void *done_ctx),
                                void *done_ctx);

/* Stops accepting, drains and commits everything queued (calling the done callbacks of
 * asynchronous commands), joins the thread, frees. */
void writer_stop(struct writer *writer);

/* Figures for /metrics and benchmarks. Thread-safe snapshot. */
#define WRITER_LATENCY_BUCKETS 16
struct writer_stats {
    uint64_t batches;
    uint64_t events;
    uint64_t commands;
    uint64_t batch_failures;
    uint32_t queue_depth;
    uint32_t batch_events_last;
    /* Commit latency histogram: bucket i counts commits <= writer_latency_bounds_us[i]. */
    uint64_t commit_latency_us_sum;
    uint64_t commit_latency_buckets[WRITER_LATENCY_BUCKETS];
    uint64_t batch_size_buckets[WRITER_LATENCY_BUCKETS]; /* <= writer_batch_size_bounds[i] */
};
extern const uint64_t writer_latency_bounds_us[WRITER_LATENCY_BUCKETS];
extern const uint64_t writer_batch_size_bounds[WRITER_LATENCY_BUCKETS];
void writer_stats_get(struct writer *writer, struct writer_stats *out);

#endif
