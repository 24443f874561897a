/*
 * sqlite_private.h - what sqlite.c and sqlite_app.c share; private to the SQLite backend.
 *
 * sqlite.c owns the handle and its connection; sqlite_app.c owns the application rows' state
 * for that connection (its prepared statements), made at open and freed at close;
 * sqlite_notes.c adds the schema v5 notes rows. Nothing outside these files includes this
 * header.
 */
#ifndef TL_STORE_SQLITE_PRIVATE_H
#define TL_STORE_SQLITE_PRIVATE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/app.h"
#include "store/app_backend.h"
#include "store/stepup_backend.h"
#include "store/store.h"
#include "util/assert.h"
#include "core/ledger.h"
#include "util/err.h"

/* Per-handle state of sqlite_app.c. */
struct store_sqlite_app;

/* sqlite.c: the app state of an SQLite handle (store->ops must be store_sqlite_ops). Cannot
 * fail. */
struct store_sqlite_app *store_sqlite_app_of(struct store *store);

/* sqlite_app.c: prepares the app statements on db, which must be at the current schema
 * version. TL_ERR_STORAGE (logged) or TL_ERR_NOMEM; *out is set only on TL_OK. db is borrowed
 * and must outlive the state. */
enum tl_err store_sqlite_app_open(sqlite3 *db, struct store_sqlite_app **out);
/* Finalizes the statements and frees the state; takes NULL. Cannot fail. */
void store_sqlite_app_close(struct store_sqlite_app *app);

extern const struct store_app_ops store_sqlite_app_ops;

/* sqlite_app.c: the payment whose main transfer has timestamp created_ns (the payments
 * rowid). Errors as store_sqlite_step_one. */
enum tl_err store_sqlite_payment_at(struct store *store, uint64_t created_ns,
                                    struct store_payment *out, bool *found);

/* sqlite_paylists.c (schema v9): store_payments_list on SQLite, by the history chains of the
 * user's wallets; its statements, prepared with the app's at open (takes NULL to close). */
struct store_sqlite_paylists;
enum tl_err store_sqlite_paylists_open(sqlite3 *db, struct store_sqlite_paylists **out);
void store_sqlite_paylists_close(struct store_sqlite_paylists *paylists);
/* sqlite_app.c: the handle's paylists state. Cannot fail. */
struct store_sqlite_paylists *store_sqlite_paylists_of(struct store *store);
enum tl_err store_sqlite_payments_list(struct store *store, struct id128 user_id,
                                       enum store_direction direction,
                                       const struct store_page *page, struct store_payment *out,
                                       uint32_t *out_count, bool *has_more);

/* sqlite_refunds.c: refunds, reversals and disputes (app_backend.h, schema v5). */
enum tl_err store_sqlite_refund_put(struct store *store, const struct store_refund *row);
enum tl_err store_sqlite_refund_get(struct store *store, struct id128 id, struct store_refund *out,
                                    bool *found);
enum tl_err store_sqlite_refunds_list(struct store *store, struct id128 payment_id,
                                      const struct store_request_page *page,
                                      struct store_refund *out, uint32_t *out_count,
                                      bool *has_more);
enum tl_err store_sqlite_refund_totals(struct store *store, struct id128 payment_id,
                                       int64_t *out_refunded, int64_t *out_reversed);
enum tl_err store_sqlite_dispute_create(struct store *store, const struct store_dispute *d);
enum tl_err store_sqlite_dispute_get(struct store *store, struct id128 id,
                                     struct store_dispute *out, bool *found);
enum tl_err store_sqlite_disputes_list(struct store *store, struct id128 payment_id,
                                       uint8_t status, const struct store_request_page *page,
                                       struct store_dispute *out, uint32_t *out_count,
                                       bool *has_more);
enum tl_err store_sqlite_dispute_resolve(struct store *store, struct id128 id, uint8_t status,
                                         const char *note, struct id128 reversal_id,
                                         uint64_t now_ns, bool *resolved);
/* sqlite.c: the handle's slot for sqlite_stepup.c's statements (NULL until that file prepares
 * them on first use) and, in *out_db, its connection. Cannot fail. */
sqlite3_stmt ***store_sqlite_stepup_slot(struct store *store, sqlite3 **out_db);
/* sqlite_stepup.c: the rows of stepup.h (schema v5), and freeing a handle's statements (takes
 * NULL). */
extern const struct store_stepup_ops store_sqlite_stepup_ops;
void store_sqlite_stepup_close(sqlite3_stmt **stmts);

/* ---- Helpers both files use; defined in sqlite.c (or inline here for the hot binders). ---- */

/* Logs a driver error with the "store.sqlite:" prefix (the SQL error text is fine in logs)
 * and maps it: TL_ERR_CORRUPT for a corrupt or non-database file, else TL_ERR_STORAGE. db may
 * be NULL. rc must not be SQLITE_OK. */
enum tl_err store_sqlite_fail(sqlite3 *db, int rc, const char *what);
/* Logs a stored row that does not decode (the database holds something we never write);
 * always TL_ERR_CORRUPT. */
enum tl_err store_sqlite_corrupt(const char *what);

/* A decoder of one result row into *row; false when a stored value is not one we wrote. */
typedef bool (*store_sqlite_decode_fn)(sqlite3_stmt *stmt, void *row);

/*
 * Steps a statement whose parameters are bound and which returns at most one row, decodes it
 * into row, and resets the statement. *found says whether row was filled; it is set only on
 * TL_OK. Errors are logged under what: TL_ERR_CORRUPT (a row that does not decode) or the
 * mapped driver error.
 */
enum tl_err store_sqlite_step_one(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                                  store_sqlite_decode_fn decode, void *row, bool *found);

/*
 * Reads one page of a keyset-paged statement whose parameters are ?1 an id (16 bytes), ?2 the
 * cursor time and ?3 the row limit: binds them, reads page->limit + 1 rows of item_bytes each
 * into out (the extra row only says *has_more), and resets the statement. The statement walks
 * in the direction of travel: a newer page (page->ending_before_ts != 0) reads oldest first and
 * is reversed, so every page is newest first. out holds page->limit items. Errors as in
 * store_sqlite_step_one; *out_count and *has_more are set only on TL_OK.
 */
enum tl_err store_sqlite_page_read(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                                   struct id128 id, const struct store_page *page,
                                   store_sqlite_decode_fn decode, void *out, size_t item_bytes,
                                   uint32_t *out_count, bool *has_more);

/* Reverses items[0..count) of item_bytes each in place. Cannot fail. */
void store_sqlite_reverse(void *items, uint32_t count, size_t item_bytes);

/*
 * A ring of limit items that a walk newest first filled in order (the i-th item it kept at
 * i % limit; seen items in all) keeps the last limit of them: the ones just newer than a
 * cursor. Puts them in walk order (newest first) at items[0..count) and returns count
 * (min(seen, limit)). Cannot fail.
 */
uint32_t store_sqlite_ring_order(void *items, uint64_t seen, uint32_t limit, size_t item_bytes);

/*
 * sqlite.c: the head of an account's history chain, as store_history reads it (the
 * process's account directory when a handle of it writes the file, else the row and the
 * postings after replay_after): *out_key its key (accounts.timestamp, what transfers name it
 * by) and *out_last its newest posting (0: none). *found false: no such account. Errors as
 * store_sqlite_step_one; TL_ERR_CORRUPT when the head does not come after the account.
 */
enum tl_err store_sqlite_chain_head(struct store *store, struct id128 account_id, uint64_t *out_key,
                                    uint64_t *out_last, bool *found);

/* Runs a statement that returns no rows and resets it; the SQLite result code. */
static inline int store_sqlite_run(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        rc = SQLITE_MISUSE; /* our statements that reach here never return rows */
    }
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(stmt);
    return rc;
}

/* Binding: every bind failure is our bug (wrong index or over SQLite's limits). */
static inline void store_sqlite_bind_i64(sqlite3_stmt *stmt, int index, int64_t value)
{
    int rc = sqlite3_bind_int64(stmt, index, value);
    TL_ASSERT(rc == SQLITE_OK);
}

static inline void store_sqlite_bind_u64(sqlite3_stmt *stmt, int index, uint64_t value)
{
    TL_ASSERT(value <= (uint64_t)INT64_MAX);
    store_sqlite_bind_i64(stmt, index, (int64_t)value);
}

/* Decoding: false when a stored value is not one we could have written. An id is a 16-byte
 * blob (zero allowed here). */
static inline bool store_sqlite_col_id(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_BLOB) {
        return false;
    }
    if (sqlite3_column_bytes(stmt, index) != ID128_BYTES) {
        return false;
    }
    *out = id128_from_bytes(sqlite3_column_blob(stmt, index));
    return true;
}

/* An integer column. */
static inline bool store_sqlite_col_i64(sqlite3_stmt *stmt, int index, int64_t *out)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_INTEGER) {
        return false;
    }
    *out = sqlite3_column_int64(stmt, index);
    return true;
}

/* ---- sqlite_shared.c: the committed accounts of a database this process writes ---- */

/* The account columns in the order store_sqlite_row_account decodes. */
#define STORE_SQLITE_ACCOUNT_COLUMNS                                                               \
    "id, user_data, debits_pending, debits_posted, credits_pending, credits_posted, "              \
    "timestamp, currency, kind, flags, posting_last"

/* Rewrites one account row's balances and posting_last (?1..?5) by key (?6). */
#define STORE_SQLITE_META_SET_SQL "UPDATE store_meta SET value = ?1 WHERE name = 'replay_after'"
#define STORE_SQLITE_ACCOUNT_FLUSH_SQL                                                             \
    "UPDATE accounts SET debits_pending = ?1, debits_posted = ?2, credits_pending = ?3, "          \
    "credits_posted = ?4, posting_last = ?5 WHERE timestamp = ?6"

/* sqlite.c: decodes a row of STORE_SQLITE_ACCOUNT_COLUMNS; false when it is not one we wrote. */
bool store_sqlite_row_account(sqlite3_stmt *stmt, struct ledger_account *out);

/* A database file's identity, for finding the shared state of a path opened another way. */
struct store_sqlite_file {
    dev_t dev;
    ino_t ino;
};
enum tl_err store_sqlite_file_id(const char *path, struct store_sqlite_file *out);

/* store_meta.replay_after: every account row reflects every posting at or before it. */
enum tl_err store_sqlite_replay_after(sqlite3 *db, uint64_t *out);

struct sqlite_shared;

/*
 * A writable handle attaches at open. The first in this process for the file takes the
 * file's writer lock (TL_ERR_STORAGE when another process holds it), replays the postings
 * after replay_after onto the account rows, loads the directory and starts the checkpointer;
 * later ones share it. db is the handle's connection (WAL hook installed on it). Detach at
 * close, with no batch open; the last one writes every lagging row and stops the checkpointer.
 */
enum tl_err store_sqlite_shared_attach(sqlite3 *db, const char *path, struct sqlite_shared **out);
void store_sqlite_shared_detach(struct sqlite_shared *sh, sqlite3 *db);
void store_sqlite_shared_catch_up(struct sqlite_shared *sh, sqlite3 *db);

/* Readers: the committed account with id, when a handle of this process writes the file
 * (returns true; *found says whether out was filled). False: no directory, read the store. */
bool store_sqlite_shared_account(const struct store_sqlite_file *file, struct id128 id,
                                 struct ledger_account *out, bool *found);
/* The batch's thread: true when no committed transfer can have this id (it is above the
 * largest), so a lookup can be skipped. UUIDv7 ids of new transfers nearly always are. */
bool store_sqlite_shared_transfer_new(const struct sqlite_shared *sh, struct id128 id);
/* The batch's thread: accounts.timestamp of a committed account, false when unknown. */
bool store_sqlite_shared_key(struct sqlite_shared *sh, struct id128 id, uint64_t *out);
/* Replaces a stored row with the newest committed state of the same account. */
void store_sqlite_shared_overlay(struct sqlite_shared *sh, struct ledger_account *a);

/* ---- sqlite_limits.c: the running totals of the limit windows, in memory (schema v8) ---- */

struct sqlite_limits;

/* One batch's additions to the totals (one per STORE_RECORD_LIMIT_USAGE record, merged per
 * bucket before the commit), per handle; scratch and statements kept for the handle's life. */
struct sqlite_limits_add {
    struct store_limit_usage usage; /* amount: the batch's sum for this bucket */
    uint64_t count;                 /* movements the batch adds to the bucket */
    uint32_t series;                /* the bucket's series in the totals, set by reserve */
};
struct sqlite_limits_key; /* sqlite_limits.c's sort scratch */
/* A series whose first count buckets a flush deleted as dead (sqlite_limits.c). */
struct sqlite_limits_prune {
    uint32_t series;
    uint32_t count;
};

struct sqlite_limits_batch {
    struct sqlite_limits_add *adds;
    uint32_t add_count;
    uint32_t add_max;
    uint32_t log_count; /* rows the batch appended to limit_usage_log (before merging) */
    bool merged;
    bool flushed; /* the batch wrote every lagging bucket and trimmed the log */
    struct sqlite_limits_key *keys;
    uint32_t key_max;
    sqlite3_stmt *log_insert; /* prepared on first use on the batch's connection */
    sqlite3_stmt *total_set;
    sqlite3_stmt *log_trim;
    sqlite3_stmt *prune;
    struct sqlite_limits_prune *prunes; /* what the flush deleted as dead, for publish */
    uint32_t prune_count;
    uint32_t prune_max;
    uint64_t prune_before_ns; /* the flush pruned up to here (0: it did not prune) */
};

/*
 * Loads limit_totals into memory and replays limit_usage_log onto it, then writes the
 * replayed buckets and empties the log, in one transaction on db (the first writing handle of
 * the process, at attach). flush_rows: how many log rows make a batch rewrite the lagging
 * buckets. TL_ERR_CORRUPT for a row we never write or a total past INT64_MAX, else the mapped
 * driver error or TL_ERR_NOMEM; *out set only on TL_OK.
 */
enum tl_err store_sqlite_limits_open(sqlite3 *db, uint32_t flush_rows, struct sqlite_limits **out);
/* Writes every lagging bucket and empties the log in its own transaction on db (the last
 * writing handle, at detach; on failure the log stays and the next open replays it), then
 * frees the totals. db NULL only frees. Takes NULL. Cannot fail. */
void store_sqlite_limits_close(struct sqlite_limits *l, sqlite3 *db);
/*
 * The batch's side, in the order of a commit: reset (begin), append (records_write: one log
 * row per record, in the open transaction), merge then reserve (before COMMIT; reserve under
 * the lock readers take, so that publish cannot fail), flush (before COMMIT: when the
 * committed log is long, rewrites every lagging bucket, trims the log and deletes the rows of
 * buckets no window can count again), publish (after a
 * durable COMMIT, under the readers' lock: the batch's additions reach the totals).
 */
void store_sqlite_limits_batch_reset(struct sqlite_limits_batch *b);
void store_sqlite_limits_batch_free(struct sqlite_limits_batch *b);
enum tl_err store_sqlite_limits_append(const struct sqlite_limits *l, struct sqlite_limits_batch *b,
                                       sqlite3 *db, const struct store_record *record);
enum tl_err store_sqlite_limits_merge(struct sqlite_limits_batch *b);
enum tl_err store_sqlite_limits_reserve(struct sqlite_limits *l, struct sqlite_limits_batch *b);
enum tl_err store_sqlite_limits_flush(struct sqlite_limits *l, struct sqlite_limits_batch *b,
                                      sqlite3 *db);
void store_sqlite_limits_publish(struct sqlite_limits *l, struct sqlite_limits_batch *b);
/* The committed totals of (user, currency, direction) in the buckets that end after after_ns:
 * out->amount, count and oldest_ns (tier untouched). Under the readers' lock. TL_ERR_STORAGE
 * when the sum passes INT64_MAX (as SQLite's sum() refuses), TL_ERR_CORRUPT past UINT32_MAX
 * movements. */
enum tl_err store_sqlite_limits_sum(const struct sqlite_limits *l, struct id128 user_id,
                                    uint16_t currency, uint8_t direction, uint64_t after_ns,
                                    struct store_limits_window *out);

/* A handle of any kind: the window's sums from the totals of this process when one of its
 * handles writes the file (true; *err says how the read went). False: no totals in memory,
 * read the tables. */
bool store_sqlite_shared_limits_window(const struct store_sqlite_file *file,
                                       struct id128 user_id, uint16_t currency,
                                       uint8_t direction, uint64_t after_ns,
                                       struct store_limits_window *out, enum tl_err *err);

/* A row the batch flushes: its directory entry, and its index in changed[] or UINT32_MAX
 * when the batch does not change it. */
struct store_sqlite_cand {
    uint32_t entry;
    uint32_t staged;
};

/* One batch's accounts, per handle; scratch kept for the handle's life. */
struct store_sqlite_batch {
    uint32_t epoch;
    bool staged;
    uint32_t max;
    uint32_t *changed; /* directory entries of existing accounts the batch changes */
    const struct ledger_account **changed_account; /* their new states (the ledger's memory) */
    uint64_t *since;                               /* their dirty_since after the batch */
    bool *forced; /* changed without a posting of this batch: written now */
    uint32_t changed_count;
    const struct ledger_account **created; /* new accounts; sqlite.c inserts their rows */
    uint32_t created_count;
    struct store_sqlite_cand *cand;
    uint32_t cand_max;
    uint32_t flush_count; /* cand[0..flush_count) are written */
    uint64_t first_ts;    /* the batch's postings: first and last timestamp, 0 = none */
    uint64_t last_ts;
    /* After publish: */
    struct id128 transfer_id_max;
    uint32_t cursor;
    uint32_t pass_scanned;
    uint64_t pass_since;
    uint64_t replay_after;
    struct sqlite_limits_batch limits; /* the batch's additions to the limit windows */
};

/*
 * The commit of one batch on an attached handle: begin (takes the file's commit lock; after
 * SQL BEGIN), stage (accounts_write: sorts the batch's accounts into changed and created;
 * TL_ERR_STORAGE when an account id is stored under another key), postings (postings_write:
 * their timestamps), flush (before SQL COMMIT: writes a slice of lagging rows and
 * replay_after), then publish after a durable COMMIT or end after a failure (both release
 * the commit lock). Nothing reaches readers before publish.
 */
void store_sqlite_shared_begin(struct sqlite_shared *sh, struct store_sqlite_batch *b);
enum tl_err store_sqlite_shared_stage(struct sqlite_shared *sh, struct store_sqlite_batch *b,
                                      const struct ledger_account *const *accounts,
                                      uint32_t count);
/* Called for each posting written, in order: its timestamp range and id. */
void store_sqlite_shared_postings(struct store_sqlite_batch *b, uint64_t first_ts,
                                  uint64_t last_ts, struct id128 id);
enum tl_err store_sqlite_shared_flush(struct sqlite_shared *sh, struct store_sqlite_batch *b,
                                      sqlite3 *db, sqlite3_stmt *update, sqlite3_stmt *meta);
void store_sqlite_shared_publish(struct sqlite_shared *sh, struct store_sqlite_batch *b);
void store_sqlite_shared_end(struct sqlite_shared *sh, struct store_sqlite_batch *b);
/* The batch's limit usage records: append writes one to limit_usage_log (records_write);
 * limits_flush merges them, reserves room for publish and, when due, rewrites the lagging
 * buckets (before SQL COMMIT, after store_sqlite_shared_flush). Publish adds them to the
 * totals. Errors: the mapped driver error, TL_ERR_NOMEM, TL_ERR_STORAGE on an overflow. */
enum tl_err store_sqlite_shared_limits_append(struct sqlite_shared *sh,
                                              struct store_sqlite_batch *b, sqlite3 *db,
                                              const struct store_record *record);
enum tl_err store_sqlite_shared_limits_flush(struct sqlite_shared *sh,
                                             struct store_sqlite_batch *b, sqlite3 *db);
void store_sqlite_batch_free(struct store_sqlite_batch *b);

/* ---- sqlite_audit_heads.c: the newest audit entry of every party (schema v7) ---- */

/* The directory of heads of a file this process writes; sqlite_shared.c owns it. */
struct store_sqlite_heads;
/* A write transaction's side of it: a handle's statements and the transaction's entries. */
struct store_sqlite_heads_txn;

/* An audit entry's parties (counterparty_id zero when none). */
struct store_sqlite_audit_link {
    uint64_t seq;
    struct id128 user_id;
    struct id128 counterparty_id;
};

/* Loads audit_heads and replays the entries after store_meta.audit_replay_after onto it, in
 * one transaction on db (the attaching connection). TL_ERR_STORAGE, TL_ERR_CORRUPT,
 * TL_ERR_NOMEM; *out only on TL_OK. flush_min: the fewest heads a batch writes. */
enum tl_err store_sqlite_heads_open(sqlite3 *db, uint32_t flush_min,
                                    struct store_sqlite_heads **out);
/* The last handle closes: writes every lagging head and the mark. On failure (logged) they
 * stay behind and the next open replays. Cannot fail. */
void store_sqlite_heads_flush_all(struct store_sqlite_heads *heads, sqlite3 *db);
/* Takes NULL. */
void store_sqlite_heads_free(struct store_sqlite_heads *heads);
/* The user's newest published entry (0 and false when the user has none). Any thread. */
bool store_sqlite_heads_get(struct store_sqlite_heads *heads, struct id128 user_id,
                            uint64_t *out_seq);

/* Per handle: prepares the statements on db. TL_ERR_STORAGE, TL_ERR_NOMEM. */
enum tl_err store_sqlite_heads_txn_open(sqlite3 *db, struct store_sqlite_heads_txn **out);
/* Takes NULL. */
void store_sqlite_heads_txn_close(struct store_sqlite_heads_txn *txn);
/* Forgets the transaction's entries (a new transaction, or after a rollback). */
void store_sqlite_heads_txn_reset(struct store_sqlite_heads_txn *txn);
/*
 * A write transaction that appends audit entries: catch_up before the first (last_seq: the
 * chain's newest seq read in this transaction; TL_ERR_CORRUPT when the directory disagrees),
 * then per entry prev (each party's previous entry) and add (after its insert; TL_ERR_NOMEM),
 * then flush before COMMIT (write_slice: a writer batch also writes a slice of lagging heads
 * and the mark; every transaction reserves what publish needs), then publish after a durable
 * COMMIT (cannot fail), or txn_reset after a rollback.
 */
enum tl_err store_sqlite_heads_catch_up(struct store_sqlite_heads *heads,
                                        struct store_sqlite_heads_txn *txn, uint64_t last_seq);
uint64_t store_sqlite_heads_prev(struct store_sqlite_heads *heads,
                                 const struct store_sqlite_heads_txn *txn, struct id128 user_id);
enum tl_err store_sqlite_heads_add(struct store_sqlite_heads_txn *txn,
                                   const struct store_sqlite_audit_link *link);
enum tl_err store_sqlite_heads_flush(struct store_sqlite_heads *heads,
                                     struct store_sqlite_heads_txn *txn, bool write_slice);
void store_sqlite_heads_publish(struct store_sqlite_heads *heads,
                                struct store_sqlite_heads_txn *txn);

/* sqlite_shared.c: the heads of an attached handle's file. Cannot fail. */
struct store_sqlite_heads *store_sqlite_shared_heads(struct sqlite_shared *sh);
/* Readers: the user's newest audit entry when a handle of this process writes the file
 * (returns true; *out_seq 0 when the user has none). False: no directory, read the store. */
bool store_sqlite_shared_audit_head(const struct store_sqlite_file *file, struct id128 user_id,
                                    uint64_t *out_seq);
/* sqlite.c: the handle's shared state (NULL for a read-only handle) and file. */
struct sqlite_shared *store_sqlite_shared_of(struct store *store);
const struct store_sqlite_file *store_sqlite_file_of(struct store *store);

/* ---- sqlite_notes.c: the schema v5 notes rows (app_backend.h ops of the same names) ---- */

enum tl_err store_sqlite_notes_key_put(struct store *store, const struct store_encryption_key *key,
                                       struct store_encryption_key *out);
enum tl_err store_sqlite_notes_key_get(struct store *store, struct id128 user_id,
                                       struct store_encryption_key *out, bool *found);
enum tl_err store_sqlite_notes_key_delete(struct store *store, struct id128 user_id);
enum tl_err store_sqlite_notes_get(struct store *store, const struct id128 *ids, uint32_t count,
                                   struct store_payment_note *out, bool *found);
enum tl_err store_sqlite_notes_session_touch(struct store *store,
                                             const uint8_t token_hash[STORE_HASH_BYTES],
                                             uint64_t now_ns, uint64_t interval_ns);
enum tl_err store_sqlite_notes_sessions_seen(struct store *store, struct id128 user_id,
                                             uint64_t now_ns, struct store_session_seen *out,
                                             uint32_t max, uint32_t *out_count);
/* Inserts a STORE_RECORD_PAYMENT_NOTE record inside the open batch (sqlite_app.c's
 * record_write hands it over). A payment id that has a note fails the batch. */
enum tl_err store_sqlite_notes_record_write(struct store *store, const struct store_record *record);

#endif
