/*
 * audit_backend.h - the audit log's backend functions (sqlite_audit.c, postgres_audit.c);
 * private to src/store/.
 *
 * Each backend implements the audit ops of app_backend.h and chains entries with
 * store_audit_chain (audit_chain.h) under the lock that serializes every writer of the
 * database: on SQLite the write transaction (BEGIN IMMEDIATE, or the writer's batch), on
 * PostgreSQL the batch advisory lock (PG_BATCH_LOCK_KEY), which batches take in batch_begin
 * and direct appends take in their own transaction. The head (newest seq and hash) is read
 * under that lock, so two appenders never chain onto the same entry.
 *
 * Sealing: a migration copies version 4 entries without hashes. The first writable open seals
 * them in seq order, under the same lock, and only when every unsealed entry lies below every
 * sealed one; otherwise it logs, seals nothing and the verifier reports the entry.
 */
#ifndef TL_STORE_AUDIT_BACKEND_H
#define TL_STORE_AUDIT_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "store/app.h"
#include "store/store.h"

/* audit_store.c: seals at open (store_open, writable handles). Errors of the backend. */
enum tl_err store_audit_seal_at_open(struct store *store);

/* ---- SQLite (sqlite_audit.c) ---- */

struct sqlite3;
struct store_sqlite_audit; /* per handle: prepared statements and the batch's head */

/* Prepares the statements on db (at the current schema version). TL_ERR_STORAGE, TL_ERR_NOMEM;
 * *out only on TL_OK. db is borrowed. */
enum tl_err store_sqlite_audit_open(struct sqlite3 *db, struct store_sqlite_audit **out);
/* Takes NULL. Cannot fail. */
void store_sqlite_audit_close(struct store_sqlite_audit *audit);
/* sqlite_app.c: the handle's audit state. Cannot fail. */
struct store_sqlite_audit *store_sqlite_audit_of(struct store *store);
/* The batch's records phase starts: the head is read again at its first audit record. */
void store_sqlite_audit_batch_start(struct store *store);
/* One STORE_RECORD_AUDIT record, chained after the head, inside the batch. */
enum tl_err store_sqlite_audit_record_write(struct store *store, const struct store_record *record);
/* sqlite.c's commit: before COMMIT, writes a slice of the lagging heads of users' entries
 * (sqlite_audit_heads.c; errors abort the batch); after a durable COMMIT, publishes the batch's
 * entries to the heads (cannot fail); abort forgets them. */
enum tl_err store_sqlite_audit_batch_flush(struct store *store);
void store_sqlite_audit_batch_publish(struct store *store);
void store_sqlite_audit_batch_abort(struct store *store);

enum tl_err store_sqlite_audit_append(struct store *store, const struct store_audit *entry,
                                      uint64_t *out_seq);
enum tl_err store_sqlite_audit_list(struct store *store, struct id128 user_id,
                                    const struct store_audit_page *page, struct store_audit *out,
                                    uint32_t *out_count, bool *has_more);
enum tl_err store_sqlite_audit_scan(struct store *store, uint64_t after_seq, uint32_t limit,
                                    struct store_audit *out, uint32_t *out_count);
enum tl_err store_sqlite_audit_head(struct store *store, uint64_t *out_seq,
                                    uint8_t out_hash[STORE_AUDIT_HASH_BYTES]);
enum tl_err store_sqlite_audit_checkpoint_put(struct store *store,
                                              const struct store_audit_checkpoint *checkpoint,
                                              bool *inserted);
enum tl_err store_sqlite_audit_checkpoints_list(struct store *store, uint64_t after_seq,
                                                uint32_t limit, struct store_audit_checkpoint *out,
                                                uint32_t *out_count);
enum tl_err store_sqlite_audit_seal(struct store *store, uint32_t *out_sealed);

/* ---- PostgreSQL (postgres_audit.c) ---- */

/* The chain's head as a batch read it right after taking the batch lock. */
struct store_postgres_audit_head {
    bool valid; /* read in this batch */
    uint64_t seq;
    uint8_t hash[STORE_AUDIT_HASH_BYTES];
};

/* What batch_begin appends to its BEGIN and lock, in the same round trip (text result): the
 * head as (seq, hex of hash), no row when the chain is empty. */
#define STORE_POSTGRES_AUDIT_HEAD_SQL                                                              \
    "SELECT seq, encode(hash, 'hex') FROM audit_log ORDER BY seq DESC LIMIT 1"

#endif
