/*
 * store.h - the one storage interface.
 *
 * Backends: "sqlite" (default, embedded, one process) and, in a later issue, "postgres".
 * Callers above this header never see SQL, a driver type or a backend name beyond the config
 * string; every backend passes the same suite in tests/store/. A store is used by one thread
 * at a time per handle: the writer owns one handle, readers open their own (store_open with
 * the same config), and backends keep their own connection per handle.
 *
 * Durability contract: when store_batch_commit returns TL_OK the batch survives kill -9 and
 * power loss; when it returns an error nothing of the batch is visible, now or after restart.
 */
#ifndef TL_STORE_STORE_H
#define TL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ledger.h"
#include "util/err.h"
#include "util/id128.h"

struct store;

struct store_config {
    const char *backend; /* "sqlite" (default when NULL); "fault" wraps sqlite for tests */
    const char *path;    /* sqlite: database file; postgres: conninfo */
    bool read_only;      /* a reader handle: no migrations, no writes, never creates */
};

/*
 * Opens a handle and, unless read_only, applies pending migrations. Errors:
 * TL_ERR_INVALID_REQUEST (unknown backend, no path), TL_ERR_STORAGE (cannot open, migrations
 * fail, the stored schema is not this binary's; the cause is logged), TL_ERR_NOMEM. *out is set
 * only on TL_OK. store_close takes NULL; closing with a batch open is a caller bug.
 */
enum tl_err store_open(const struct store_config *config, struct store **out);
void store_close(struct store *store);

/* Schema version after migrations (store/migrations: one number for every backend). */
enum tl_err store_schema_version(struct store *store, uint32_t *out_version);

/* True when this handle's process is the only writer, so ledger state cached in memory stays
 * valid between batches (sqlite). False when other nodes write too (postgres): the writer then
 * reloads, locked, every account a batch touches. */
bool store_exclusive(const struct store *store);

/* Is the store reachable and answering (readiness probes)? */
enum tl_err store_ping(struct store *store);

/* ---- Startup ---- */

/* Calls fn for every account, in id order. Stops and returns fn's error if it fails. */
enum tl_err store_accounts_scan(struct store *store,
                                enum tl_err (*fn)(void *ctx, const struct ledger_account *a),
                                void *ctx);
/* Largest transfer or account timestamp stored, 0 when empty. */
enum tl_err store_timestamp_last(struct store *store, uint64_t *out);

/* ---- The write path: begin, load, commit or abort ---- */

/* Opens the batch transaction (sqlite: BEGIN IMMEDIATE; postgres: BEGIN). */
enum tl_err store_batch_begin(struct store *store);

/* Loads accounts by id (locked FOR UPDATE where the backend needs it, in id order to avoid
 * deadlocks). found[i] says whether out[i] was filled. Inside a batch only. */
enum tl_err store_accounts_get(struct store *store, const struct id128 *ids, uint32_t count,
                               struct ledger_account *out, bool *found);

/* Loads transfers by id with their hold status. found[i] says whether out[i] was filled. */
enum tl_err store_transfers_get(struct store *store, const struct id128 *ids, uint32_t count,
                                struct ledger_transfer *out, enum ledger_pending_status *status,
                                bool *found);

/* Open holds whose expiry (timestamp + timeout) is at or before now_ns, oldest first (by
 * expiry, then by timestamp), at most limit. TL_ERR_LIMIT when limit > TL_EXPIRE_SWEEP_MAX. */
enum tl_err store_pending_expired(struct store *store, uint64_t now_ns, uint32_t limit,
                                  struct ledger_transfer *out, uint32_t *out_count);

/* A row that rides along with a batch and commits atomically with it. */
enum store_record_kind {
    STORE_RECORD_OUTBOX = 1,      /* an event for notifications/webhooks: topic + JSON payload */
    STORE_RECORD_PAYMENT = 2,     /* a payment row (app.h: store_record_payment) */
    STORE_RECORD_IDEMPOTENCY = 3, /* an idempotency row (app.h: store_record_idempotency) */
    STORE_RECORD_PAYMENT_NOTE = 4, /* a payment's sealed note (app.h: store_record_payment_note) */
    STORE_RECORD_PAYMENT_SIGNATURE = 5, /* a payment's device signature (stepup.h) */
    STORE_RECORD_AUDIT = 6,        /* an audit log entry (app.h: store_record_audit) */
    STORE_RECORD_QUOTE = 7,        /* a quote row (app.h: store_record_quote) */
    STORE_RECORD_LIMIT_USAGE = 8,  /* an addition to a limit window's bucket (app.h) */
    STORE_RECORD_CONVERSION = 9,   /* a conversion row (records.h: store_record_conversion) */
};
/* The largest kind, for range checks. */
#define STORE_RECORD_KIND_MAX STORE_RECORD_CONVERSION

struct store_record {
    uint32_t kind;     /* enum store_record_kind */
    struct id128 key;  /* the record's id */
    char topic[64];    /* outbox: "payment.created"; NUL-terminated */
    const void *data;  /* payload, owned by the caller until commit returns */
    uint32_t data_bytes;
};

struct store_batch {
    struct ledger_batch_out ledger; /* postings, changed accounts, hold status changes */
    const struct store_record *records;
    uint32_t record_count;
};

/*
 * Writes the batch and commits durably. On error the transaction is rolled back and the batch
 * is over (no abort needed): TL_ERR_STORAGE when the backend refused or failed (I/O, a full
 * disk, a transfer id or account key that already exists), TL_ERR_CORRUPT when the batch and
 * the stored data disagree (a resolved hold that is not stored or not open, a posting naming
 * an account that exists nowhere) or stored data fails an integrity check.
 */
enum tl_err store_batch_commit(struct store *store, const struct store_batch *batch);
/* Rolls back an open batch transaction; does nothing when none is open. Cannot fail (errors
 * are logged by the backend). */
void store_batch_abort(struct store *store);

/* ---- Reads ---- */

enum tl_err store_account_get(struct store *store, struct id128 id, struct ledger_account *out,
                              bool *found);
enum tl_err store_transfer_get(struct store *store, struct id128 id, struct ledger_posting *out,
                               bool *found);

/*
 * History of one account, newest first, with the balances after each transfer.
 * Cursors are transfer timestamps (unique): starting_after_ts returns older entries than it,
 * ending_before_ts newer entries than it (still newest first); both 0 means the newest page.
 * limit is 1..TL_PAGE_LIMIT_MAX. *has_more says whether entries exist beyond the page in the
 * direction of travel. TL_ERR_INVALID_REQUEST when limit is out of range or both cursors are
 * set. An unknown account has an empty history.
 */
struct store_page {
    uint64_t starting_after_ts;
    uint64_t ending_before_ts;
    uint32_t limit;
};

enum tl_err store_history(struct store *store, struct id128 account_id,
                          const struct store_page *page, struct ledger_posting *out,
                          uint32_t *out_count, bool *has_more);

/* Outbox rows in commit order after seq (0 = from the start), at most limit. On TL_OK the
 * caller frees the rows with store_outbox_rows_free; on error nothing is allocated.
 * TL_ERR_LIMIT when limit > STORE_OUTBOX_LIST_MAX. */
#define STORE_OUTBOX_LIST_MAX 1024
struct store_outbox_row {
    uint64_t seq;
    struct id128 key;
    char topic[64];
    char *data; /* malloc'd, NUL-terminated; freed by store_outbox_rows_free */
    uint32_t data_bytes;
};
enum tl_err store_outbox_list(struct store *store, uint64_t after_seq, uint32_t limit,
                              struct store_outbox_row *out, uint32_t *out_count);
void store_outbox_rows_free(struct store_outbox_row *rows, uint32_t count);

#endif
