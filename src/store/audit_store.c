/*
 * audit_store.c - the audit log's functions of app.h (schema v5): argument checks, then the
 * backend's app ops; the audit record's layout; sealing copied entries at open.
 *
 * Like app.c: what a client could have sent (a kind too long or empty) is an error code,
 * anything else wrong with the arguments is our bug and asserts. Nothing here knows SQL.
 */
#include <stdio.h>
#include <string.h>

#include "store/app.h"
#include "store/app_backend.h"
#include "store/audit_backend.h"
#include "store/backend.h"
#include "util/assert.h"
#include "util/limits.h"

#define AUDIT_RECORD_TOPIC "audit"

static_assert(STORE_RECORD_AUDIT_BYTES <= TL_RECORD_BYTES_MAX, "an audit record fits a record");

#define ASSERT_TERMINATED(array) TL_ASSERT(memchr((array), '\0', sizeof(array)) != NULL)

static const struct store_app_ops *audit_ops(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops->app != NULL);
    return store->ops->app;
}

/* What an entry to append must hold, except the kind a caller may have got wrong. */
static void audit_check_entry(const struct store_audit *e)
{
    TL_ASSERT(e != NULL);
    TL_ASSERT(!id128_is_zero(e->user_id));
    TL_ASSERT(e->created_ns != 0);
    TL_ASSERT(e->created_ns <= (uint64_t)INT64_MAX);
    TL_ASSERT(e->amount == 0 || e->currency != 0);
    ASSERT_TERMINATED(e->kind);
    ASSERT_TERMINATED(e->subject);
    ASSERT_TERMINATED(e->request_id);
    ASSERT_TERMINATED(e->ip);
}

enum tl_err store_audit_append(struct store *store, const struct store_audit *entry,
                               uint64_t *out_seq)
{
    uint64_t seq = 0;
    TL_ASSERT(store != NULL);
    TL_ASSERT(!store->read_only);
    TL_ASSERT(!store->in_batch);
    audit_check_entry(entry);
    if (entry->kind[0] == '\0') {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err = audit_ops(store)->audit_append(store, entry, &seq);
    if (err == TL_OK) {
        TL_ASSERT(seq > 0);
        if (out_seq != NULL) {
            *out_seq = seq;
        }
    }
    return err;
}

enum tl_err store_audit_list(struct store *store, struct id128 user_id,
                             const struct store_audit_page *page, struct store_audit *out,
                             uint32_t *out_count, bool *has_more)
{
    TL_ASSERT(page != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    if (page->limit == 0 || page->limit > TL_PAGE_LIMIT_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    if (page->starting_after_seq != 0 && page->ending_before_seq != 0) {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err = audit_ops(store)->audit_list(store, user_id, page, out, out_count, has_more);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= page->limit);
        for (uint32_t i = 0; i < *out_count; i++) {
            TL_ASSERT(id128_eq(out[i].user_id, user_id) ||
                      id128_eq(out[i].counterparty_id, user_id));
            TL_ASSERT(i == 0 || out[i - 1].seq > out[i].seq);
        }
    }
    return err;
}

enum tl_err store_audit_scan(struct store *store, uint64_t after_seq, uint32_t limit,
                             struct store_audit *out, uint32_t *out_count)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    if (limit == 0 || limit > STORE_AUDIT_SCAN_MAX) {
        return TL_ERR_LIMIT;
    }
    enum tl_err err = audit_ops(store)->audit_scan(store, after_seq, limit, out, out_count);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= limit);
        for (uint32_t i = 0; i < *out_count; i++) {
            TL_ASSERT(out[i].seq > (i == 0 ? after_seq : out[i - 1].seq));
        }
    }
    return err;
}

enum tl_err store_audit_head(struct store *store, uint64_t *out_seq,
                             uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out_seq != NULL);
    TL_ASSERT(out_hash != NULL);
    return audit_ops(store)->audit_head(store, out_seq, out_hash);
}

enum tl_err store_audit_checkpoint_put(struct store *store,
                                       const struct store_audit_checkpoint *checkpoint,
                                       bool *inserted)
{
    bool ignored = false;
    TL_ASSERT(store != NULL);
    TL_ASSERT(!store->read_only);
    TL_ASSERT(!store->in_batch);
    TL_ASSERT(checkpoint != NULL);
    TL_ASSERT(checkpoint->seq > 0);
    TL_ASSERT(checkpoint->seq <= (uint64_t)INT64_MAX);
    TL_ASSERT(checkpoint->created_ns > 0);
    TL_ASSERT(checkpoint->created_ns <= (uint64_t)INT64_MAX);
    return audit_ops(store)->audit_checkpoint_put(store, checkpoint,
                                                  inserted != NULL ? inserted : &ignored);
}

enum tl_err store_audit_checkpoints_list(struct store *store, uint64_t after_seq, uint32_t limit,
                                         struct store_audit_checkpoint *out, uint32_t *out_count)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    if (limit == 0 || limit > STORE_AUDIT_SCAN_MAX) {
        return TL_ERR_LIMIT;
    }
    enum tl_err err =
        audit_ops(store)->audit_checkpoints_list(store, after_seq, limit, out, out_count);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= limit);
        for (uint32_t i = 0; i < *out_count; i++) {
            TL_ASSERT(out[i].seq > (i == 0 ? after_seq : out[i - 1].seq));
        }
    }
    return err;
}

/* ---- The record: the entry's bytes, copied (records live only in this process) ---- */

void store_record_audit(const struct store_audit *entry, void *buf, struct store_record *out)
{
    struct store_audit copy;
    TL_ASSERT(buf != NULL);
    TL_ASSERT(out != NULL);
    audit_check_entry(entry);
    TL_ASSERT(entry->kind[0] != '\0');
    memset(&copy, 0, sizeof(copy)); /* no uninitialised padding travels in the record */
    copy.created_ns = entry->created_ns;
    copy.user_id = entry->user_id;
    copy.counterparty_id = entry->counterparty_id;
    copy.amount = entry->amount;
    copy.currency = entry->currency;
    memcpy(copy.kind, entry->kind, sizeof(copy.kind));
    memcpy(copy.subject, entry->subject, sizeof(copy.subject));
    memcpy(copy.request_id, entry->request_id, sizeof(copy.request_id));
    memcpy(copy.ip, entry->ip, sizeof(copy.ip));
    memcpy(buf, &copy, sizeof(copy));
    memset(out, 0, sizeof(*out));
    out->kind = STORE_RECORD_AUDIT;
    out->key = entry->user_id;
    memcpy(out->topic, AUDIT_RECORD_TOPIC, sizeof(AUDIT_RECORD_TOPIC));
    out->data = buf;
    out->data_bytes = (uint32_t)sizeof(copy);
}

void store_record_audit_decode(const struct store_record *record, struct store_audit *out)
{
    TL_ASSERT(record != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_AUDIT);
    TL_ASSERT(record->data_bytes == sizeof(*out));
    memcpy(out, record->data, sizeof(*out));
    audit_check_entry(out);
    TL_ASSERT(out->seq == 0);
}

/* ---- Sealing at open ---- */

enum tl_err store_audit_seal_at_open(struct store *store)
{
    uint32_t sealed = 0;
    TL_ASSERT(store != NULL);
    TL_ASSERT(!store->read_only);
    if (store->ops->app == NULL || store->ops->app->audit_seal == NULL) {
        return TL_OK;
    }
    enum tl_err err = store->ops->app->audit_seal(store, &sealed);
    if (err == TL_OK && sealed > 0) {
        fprintf(stderr,
                "store.%s: audit_log: sealed %u entries of schema version 4 into the "
                "chain\n",
                store->ops->name, sealed);
    }
    return err;
}
