/*
 * store.c - picks a backend by name and walks every call through its vtable.
 *
 * Everything here holds for every backend: argument checks, the batch state machine
 * (begin -> commit | abort) and the fixed phases of a commit. Nothing here knows SQL.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit_backend.h"
#include "store/backend.h"
#include "util/assert.h"
#include "util/limits.h"

/* The backends a config may name. NULL picks the first. */
static const struct store_ops *const store_backends[] = {
    &store_sqlite_ops,
    &store_postgres_ops,
    &store_fault_ops,
};

#define STORE_BACKEND_COUNT (sizeof(store_backends) / sizeof(store_backends[0]))

void store_init(struct store *store, const struct store_ops *ops, bool read_only)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(ops != NULL);
    store->ops = ops;
    store->read_only = read_only;
    store->in_batch = false;
}

enum tl_err store_open(const struct store_config *config, struct store **out)
{
    const struct store_ops *ops = NULL;
    struct store *store = NULL;
    enum tl_err err;

    TL_ASSERT(config != NULL);
    TL_ASSERT(out != NULL);
    if (config->backend == NULL) {
        ops = store_backends[0];
    }
    for (size_t i = 0; ops == NULL && i < STORE_BACKEND_COUNT; i++) {
        if (strcmp(config->backend, store_backends[i]->name) == 0) {
            ops = store_backends[i];
        }
    }
    if (ops == NULL) {
        fprintf(stderr, "store: unknown backend \"%s\"\n", config->backend);
        return TL_ERR_INVALID_REQUEST;
    }
    if (config->path == NULL || config->path[0] == '\0') {
        fprintf(stderr, "store: %s: no path configured\n", ops->name);
        return TL_ERR_INVALID_REQUEST;
    }
    err = ops->open(config, &store);
    if (err != TL_OK) {
        return err;
    }
    /* Entries a migration copied into the audit chain are sealed before anything appends. */
    err = config->read_only ? TL_OK : store_audit_seal_at_open(store);
    if (err != TL_OK) {
        ops->close(store);
        return err;
    }
    TL_ASSERT(store->ops == ops);
    TL_ASSERT(store->read_only == config->read_only);
    *out = store;
    return TL_OK;
}

void store_close(struct store *store)
{
    if (store == NULL) {
        return;
    }
    /* Closing with a batch open is a caller bug, but the backend still rolls it back. */
    TL_ASSERT(!store->in_batch);
    store->ops->close(store);
}

enum tl_err store_schema_version(struct store *store, uint32_t *out_version)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out_version != NULL);
    return store->ops->schema_version(store, out_version);
}

bool store_exclusive(const struct store *store)
{
    TL_ASSERT(store != NULL);
    return store->ops->exclusive(store);
}

enum tl_err store_ping(struct store *store)
{
    TL_ASSERT(store != NULL);
    return store->ops->ping(store);
}

enum tl_err store_accounts_scan(struct store *store,
                                enum tl_err (*fn)(void *ctx, const struct ledger_account *a),
                                void *ctx)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(fn != NULL);
    return store->ops->accounts_scan(store, fn, ctx);
}

enum tl_err store_timestamp_last(struct store *store, uint64_t *out)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out != NULL);
    return store->ops->timestamp_last(store, out);
}

enum tl_err store_batch_begin(struct store *store)
{
    enum tl_err err;

    TL_ASSERT(store != NULL);
    TL_ASSERT(!store->read_only);
    TL_ASSERT(!store->in_batch);
    err = store->ops->batch_begin(store);
    store->in_batch = err == TL_OK;
    return err;
}

enum tl_err store_accounts_get(struct store *store, const struct id128 *ids, uint32_t count,
                               struct ledger_account *out, bool *found)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->in_batch);
    TL_ASSERT(count == 0 || (ids != NULL && out != NULL && found != NULL));
    return store->ops->accounts_get(store, ids, count, out, found);
}

enum tl_err store_transfers_get(struct store *store, const struct id128 *ids, uint32_t count,
                                struct ledger_transfer *out, enum ledger_pending_status *status,
                                bool *found)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(count == 0 || (ids != NULL && out != NULL));
    TL_ASSERT(count == 0 || (status != NULL && found != NULL));
    return store->ops->transfers_get(store, ids, count, out, status, found);
}

enum tl_err store_pending_expired(struct store *store, uint64_t now_ns, uint32_t limit,
                                  struct ledger_transfer *out, uint32_t *out_count)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(limit == 0 || out != NULL);
    if (limit > TL_EXPIRE_SWEEP_MAX) {
        return TL_ERR_LIMIT;
    }
    return store->ops->pending_expired(store, now_ns, limit, out, out_count);
}

/* Our own batches only: every check here is a bug in the ledger or the writer if it fails. */
static void store_batch_check(const struct store_batch *batch)
{
    const struct ledger_batch_out *ledger = &batch->ledger;

    TL_ASSERT(ledger->posting_count == 0 || ledger->postings != NULL);
    TL_ASSERT(ledger->account_count == 0 || ledger->accounts != NULL);
    TL_ASSERT(ledger->pending_update_count == 0 || ledger->pending_updates != NULL);
    TL_ASSERT(batch->record_count == 0 || batch->records != NULL);
    for (uint32_t i = 0; i < ledger->posting_count; i++) {
        const struct ledger_transfer *t = &ledger->postings[i].transfer;
        TL_ASSERT(!id128_is_zero(t->id));
        TL_ASSERT(t->timestamp != 0);
        TL_ASSERT(t->timestamp <= (uint64_t)INT64_MAX);
        TL_ASSERT(i == 0 || ledger->postings[i - 1].transfer.timestamp < t->timestamp);
    }
    for (uint32_t i = 0; i < ledger->account_count; i++) {
        TL_ASSERT(ledger->accounts[i] != NULL);
        TL_ASSERT(!id128_is_zero(ledger->accounts[i]->id));
        TL_ASSERT(ledger->accounts[i]->timestamp != 0);
        TL_ASSERT(ledger->accounts[i]->timestamp <= (uint64_t)INT64_MAX);
    }
    for (uint32_t i = 0; i < ledger->pending_update_count; i++) {
        TL_ASSERT(!id128_is_zero(ledger->pending_updates[i].pending_id));
        TL_ASSERT(ledger->pending_updates[i].status > LEDGER_PENDING_OPEN);
        TL_ASSERT(ledger->pending_updates[i].status <= LEDGER_PENDING_EXPIRED);
    }
    for (uint32_t i = 0; i < batch->record_count; i++) {
        const struct store_record *r = &batch->records[i];
        TL_ASSERT(r->kind >= STORE_RECORD_OUTBOX);
        TL_ASSERT(r->kind <= STORE_RECORD_KIND_MAX);
        TL_ASSERT(memchr(r->topic, '\0', sizeof(r->topic)) != NULL);
        TL_ASSERT(r->data_bytes <= TL_RECORD_BYTES_MAX);
        TL_ASSERT(r->data_bytes == 0 || r->data != NULL);
    }
}

/*
 * A commit walks fixed phases: accounts first (new accounts exist before postings name them),
 * then postings (a hold created and resolved in the same batch exists before its status is
 * updated), hold statuses, records, COMMIT. The first failure rolls everything back.
 */
enum tl_err store_batch_commit(struct store *store, const struct store_batch *batch)
{
    const struct ledger_batch_out *ledger;
    enum tl_err err;

    TL_ASSERT(store != NULL);
    TL_ASSERT(batch != NULL);
    TL_ASSERT(store->in_batch);
    store_batch_check(batch);
    ledger = &batch->ledger;

    err = store->ops->accounts_write(store, ledger->accounts, ledger->account_count);
    if (err != TL_OK) {
        goto out_rollback;
    }
    err = store->ops->postings_write(store, ledger->postings, ledger->posting_count);
    if (err != TL_OK) {
        goto out_rollback;
    }
    err = store->ops->pending_write(store, ledger->pending_updates, ledger->pending_update_count);
    if (err != TL_OK) {
        goto out_rollback;
    }
    err = store->ops->records_write(store, batch->records, batch->record_count);
    if (err != TL_OK) {
        goto out_rollback;
    }
    err = store->ops->commit(store);
    if (err != TL_OK) {
        goto out_rollback;
    }
    store->in_batch = false;
    return TL_OK;

out_rollback:
    TL_ASSERT(err != TL_OK);
    store->ops->abort(store);
    store->in_batch = false;
    return err;
}

void store_batch_abort(struct store *store)
{
    TL_ASSERT(store != NULL);
    if (!store->in_batch) {
        return;
    }
    store->ops->abort(store);
    store->in_batch = false;
}

enum tl_err store_account_get(struct store *store, struct id128 id, struct ledger_account *out,
                              bool *found)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    return store->ops->account_get(store, id, out, found);
}

enum tl_err store_transfer_get(struct store *store, struct id128 id, struct ledger_posting *out,
                               bool *found)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    return store->ops->transfer_get(store, id, out, found);
}

enum tl_err store_history(struct store *store, struct id128 account_id,
                          const struct store_page *page, struct ledger_posting *out,
                          uint32_t *out_count, bool *has_more)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(page != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    if (page->limit == 0 || page->limit > TL_PAGE_LIMIT_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    if (page->starting_after_ts != 0 && page->ending_before_ts != 0) {
        return TL_ERR_INVALID_REQUEST;
    }
    return store->ops->history(store, account_id, page, out, out_count, has_more);
}

enum tl_err store_outbox_list(struct store *store, uint64_t after_seq, uint32_t limit,
                              struct store_outbox_row *out, uint32_t *out_count)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(limit == 0 || out != NULL);
    if (limit > STORE_OUTBOX_LIST_MAX) {
        return TL_ERR_LIMIT;
    }
    return store->ops->outbox_list(store, after_seq, limit, out, out_count);
}

void store_outbox_rows_free(struct store_outbox_row *rows, uint32_t count)
{
    TL_ASSERT(count == 0 || rows != NULL);
    for (uint32_t i = 0; i < count; i++) {
        free(rows[i].data);
        rows[i].data = NULL;
    }
}
