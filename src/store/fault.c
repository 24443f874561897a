/*
 * fault.c - the fault-injecting backend (see fault.h).
 *
 * Each counted call first asks fault_hit(); a hit returns TL_ERR_STORAGE before the inner
 * backend sees the call. Calls go straight to the inner backend's vtable: store.c already
 * checked the arguments and keeps the batch state on the outer handle, so the inner handle's
 * own batch state stays unused.
 */
#include "store/fault.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/app_backend.h"
#include "store/backend.h"
#include "store/plans_backend.h"
#include "store/records_backend.h"
#include "store/stepup_backend.h"
#include "util/assert.h"

struct store_fault {
    struct store base; /* first: the handle callers hold */
    struct store *inner;
    uint64_t op_count;
    uint64_t fail_op; /* op_count value that fails; 0 = none armed */
};

static struct store_fault *fault_from(struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops == &store_fault_ops);
    return (struct store_fault *)store;
}

/* Counts one operation; true when it is the armed one (which disarms). */
static bool fault_hit(struct store_fault *f, const char *what)
{
    f->op_count++;
    TL_ASSERT(f->op_count != 0);
    if (f->op_count != f->fail_op) {
        return false;
    }
    f->fail_op = 0;
    fprintf(stderr, "store.fault: failing operation %llu (%s)\n", (unsigned long long)f->op_count,
            what);
    return true;
}

enum tl_err store_fault_open(const struct store_config *inner, struct store **out)
{
    struct store_fault *f;
    enum tl_err err;

    TL_ASSERT(inner != NULL);
    TL_ASSERT(out != NULL);
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_open(inner, &f->inner);
    if (err != TL_OK) {
        free(f);
        return err;
    }
    store_init(&f->base, &store_fault_ops, inner->read_only);
    TL_ASSERT(f->inner->read_only == inner->read_only);
    *out = &f->base;
    return TL_OK;
}

void store_fault_fail_at(struct store *store, uint64_t nth)
{
    struct store_fault *f = fault_from(store);
    f->fail_op = nth == 0 ? 0 : f->op_count + nth;
    TL_ASSERT(nth == 0 || f->fail_op > f->op_count);
}

uint64_t store_fault_op_count(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops == &store_fault_ops);
    return ((const struct store_fault *)store)->op_count;
}

/* The "fault" backend by name: wraps the default backend at the same path. */
static enum tl_err fault_open(const struct store_config *config, struct store **out)
{
    struct store_config inner = *config;
    inner.backend = NULL;
    return store_fault_open(&inner, out);
}

static void fault_close(struct store *store)
{
    struct store_fault *f = fault_from(store);
    store_close(f->inner);
    free(f);
}

/*
 * Every counted call below has the same shape: count it, fail it if it is the armed one,
 * else hand it to the inner backend's vtable.
 */

static enum tl_err fault_schema_version(struct store *store, uint32_t *out_version)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "schema_version")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->schema_version(f->inner, out_version);
}

/* Not counted: it cannot fail. */
static bool fault_exclusive(const struct store *store)
{
    const struct store_fault *f = (const struct store_fault *)store;
    TL_ASSERT(store->ops == &store_fault_ops);
    return f->inner->ops->exclusive(f->inner);
}

static enum tl_err fault_ping(struct store *store)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "ping")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->ping(f->inner);
}

static enum tl_err fault_accounts_scan(struct store *store,
                                       enum tl_err (*fn)(void *ctx, const struct ledger_account *a),
                                       void *ctx)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "accounts_scan")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->accounts_scan(f->inner, fn, ctx);
}

static enum tl_err fault_timestamp_last(struct store *store, uint64_t *out)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "timestamp_last")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->timestamp_last(f->inner, out);
}

static enum tl_err fault_batch_begin(struct store *store)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "batch_begin")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->batch_begin(f->inner);
}

static enum tl_err fault_accounts_get(struct store *store, const struct id128 *ids, uint32_t count,
                                      struct ledger_account *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "accounts_get")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->accounts_get(f->inner, ids, count, out, found);
}

static enum tl_err fault_transfers_get(struct store *store, const struct id128 *ids, uint32_t count,
                                       struct ledger_transfer *out,
                                       enum ledger_pending_status *status, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "transfers_get")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->transfers_get(f->inner, ids, count, out, status, found);
}

static enum tl_err fault_pending_expired(struct store *store, uint64_t now_ns, uint32_t limit,
                                         struct ledger_transfer *out, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "pending_expired")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->pending_expired(f->inner, now_ns, limit, out, out_count);
}

static enum tl_err fault_accounts_write(struct store *store,
                                        const struct ledger_account *const *accounts,
                                        uint32_t count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "accounts_write")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->accounts_write(f->inner, accounts, count);
}

static enum tl_err fault_postings_write(struct store *store, const struct ledger_posting *postings,
                                        uint32_t count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "postings_write")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->postings_write(f->inner, postings, count);
}

static enum tl_err fault_pending_write(struct store *store,
                                       const struct ledger_pending_update *updates, uint32_t count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "pending_write")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->pending_write(f->inner, updates, count);
}

static enum tl_err fault_records_write(struct store *store, const struct store_record *records,
                                       uint32_t count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "records_write")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->records_write(f->inner, records, count);
}

static enum tl_err fault_commit(struct store *store)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "commit")) {
        return TL_ERR_STORAGE; /* store.c then aborts: the inner transaction rolls back */
    }
    return f->inner->ops->commit(f->inner);
}

/* Not counted: abort cannot fail, and it must always reach the inner backend. */
static void fault_abort(struct store *store)
{
    struct store_fault *f = fault_from(store);
    f->inner->ops->abort(f->inner);
}

static enum tl_err fault_account_get(struct store *store, struct id128 id,
                                     struct ledger_account *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "account_get")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->account_get(f->inner, id, out, found);
}

static enum tl_err fault_transfer_get(struct store *store, struct id128 id,
                                      struct ledger_posting *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "transfer_get")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->transfer_get(f->inner, id, out, found);
}

static enum tl_err fault_history(struct store *store, struct id128 account_id,
                                 const struct store_page *page, struct ledger_posting *out,
                                 uint32_t *out_count, bool *has_more)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "history")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->history(f->inner, account_id, page, out, out_count, has_more);
}

static enum tl_err fault_outbox_list(struct store *store, uint64_t after_seq, uint32_t limit,
                                     struct store_outbox_row *out, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "outbox_list")) {
        return TL_ERR_STORAGE;
    }
    return f->inner->ops->outbox_list(f->inner, after_seq, limit, out, out_count);
}

/* ---- The application rows of app.h: counted and forwarded like the calls above ---- */

static const struct store_app_ops *fault_inner_app(const struct store_fault *f)
{
    TL_ASSERT(f->inner->ops->app != NULL);
    return f->inner->ops->app;
}

static enum tl_err fault_user_create(struct store *store, const struct store_user *user,
                                     const struct store_wallet *wallet,
                                     enum store_user_conflict *conflict)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "user_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->user_create(f->inner, user, wallet, conflict);
}

static enum tl_err fault_user_delete(struct store *store, struct id128 user_id)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "user_delete")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->user_delete(f->inner, user_id);
}

static enum tl_err fault_user_get(struct store *store, struct id128 id, struct store_user *out,
                                  bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "user_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->user_get(f->inner, id, out, found);
}

static enum tl_err fault_user_find(struct store *store, const char *handle, const char *email,
                                   const char *phone, struct store_user *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "user_find")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->user_find(f->inner, handle, email, phone, out, found);
}

static enum tl_err fault_wallet_open(struct store *store, const struct store_wallet *wallet,
                                     struct store_wallet *out, bool *created)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "wallet_open")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->wallet_open(f->inner, wallet, out, created);
}

static enum tl_err fault_wallet_get(struct store *store, struct id128 id, struct store_wallet *out,
                                    bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "wallet_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->wallet_get(f->inner, id, out, found);
}

static enum tl_err fault_wallet_find(struct store *store, struct id128 user_id, uint16_t currency,
                                     struct store_wallet *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "wallet_find")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->wallet_find(f->inner, user_id, currency, out, found);
}

static enum tl_err fault_wallets_list(struct store *store, struct id128 user_id,
                                      struct store_wallet *out, uint32_t max, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "wallets_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->wallets_list(f->inner, user_id, out, max, out_count);
}

static enum tl_err fault_session_create(struct store *store, const struct store_session *session)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "session_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->session_create(f->inner, session);
}

static enum tl_err fault_session_get(struct store *store,
                                     const uint8_t token_hash[STORE_HASH_BYTES],
                                     struct store_session *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "session_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->session_get(f->inner, token_hash, out, found);
}

static enum tl_err fault_session_revoke(struct store *store,
                                        const uint8_t token_hash[STORE_HASH_BYTES])
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "session_revoke")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->session_revoke(f->inner, token_hash);
}

static enum tl_err fault_payment_get(struct store *store, struct id128 id,
                                     struct store_payment *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "payment_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->payment_get(f->inner, id, out, found);
}

static enum tl_err fault_payments_list(struct store *store, struct id128 user_id,
                                       enum store_direction direction,
                                       const struct store_page *page, struct store_payment *out,
                                       uint32_t *out_count, bool *has_more)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "payments_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->payments_list(f->inner, user_id, direction, page, out, out_count,
                                             has_more);
}

static enum tl_err fault_idempotency_put(struct store *store, const struct store_idempotency *row)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "idempotency_put")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->idempotency_put(f->inner, row);
}

static enum tl_err fault_idempotency_get(struct store *store, const char *scope, const char *key,
                                         struct store_idempotency *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "idempotency_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->idempotency_get(f->inner, scope, key, out, found);
}

static enum tl_err fault_idempotency_prune(struct store *store, uint64_t before_ns,
                                           uint32_t *out_deleted)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "idempotency_prune")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->idempotency_prune(f->inner, before_ns, out_deleted);
}

static enum tl_err fault_idempotency_claim(struct store *store,
                                           const struct store_idempotency_claim *claim,
                                           uint64_t now_ns, enum store_claim_result *out)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "idempotency_claim")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->idempotency_claim(f->inner, claim, now_ns, out);
}

static enum tl_err fault_idempotency_claim_release(struct store *store, const char *scope,
                                                   const char *key, struct id128 owner)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "idempotency_claim_release")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->idempotency_claim_release(f->inner, scope, key, owner);
}

static enum tl_err fault_idempotency_claims_prune(struct store *store, uint64_t now_ns,
                                                  uint32_t *out_deleted)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "idempotency_claims_prune")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->idempotency_claims_prune(f->inner, now_ns, out_deleted);
}

static enum tl_err fault_outbox_list_range(struct store *store,
                                           const struct store_outbox_filter *filter,
                                           uint64_t after_seq, uint64_t upto_seq, uint32_t limit,
                                           struct store_outbox_row *out, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, filter->topic == NULL ? "outbox_list_key" : "outbox_list_topic")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->outbox_list_range(f->inner, filter, after_seq, upto_seq, limit,
                                                    out, out_count);
}

static enum tl_err fault_outbox_append(struct store *store, struct id128 key, const char *topic,
                                       const void *data, uint32_t data_bytes, uint64_t *out_seq)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "outbox_append")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->outbox_append(f->inner, key, topic, data, data_bytes, out_seq);
}

static enum tl_err fault_outbox_seq_last(struct store *store, uint64_t *out_seq)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "outbox_seq_last")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->outbox_seq_last(f->inner, out_seq);
}

static enum tl_err fault_quote_create(struct store *store, const struct store_quote *quote)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "quote_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->quote_create(f->inner, quote);
}

static enum tl_err fault_quote_get(struct store *store, struct id128 id, struct store_quote *out,
                                   bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "quote_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->quote_get(f->inner, id, out, found);
}

static enum tl_err fault_requests_create(struct store *store, const struct store_request *rows,
                                         uint32_t count, const struct store_outbox_new *events,
                                         uint32_t event_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "requests_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->requests_create(f->inner, rows, count, events, event_count);
}

static enum tl_err fault_request_get(struct store *store, struct id128 id,
                                     struct store_request *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "request_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->request_get(f->inner, id, out, found);
}

static enum tl_err fault_requests_list(struct store *store, struct id128 user_id,
                                       enum store_request_role role,
                                       const struct store_request_page *page,
                                       struct store_request *out, uint32_t *out_count,
                                       bool *has_more)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "requests_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->requests_list(f->inner, user_id, role, page, out, out_count,
                                             has_more);
}

static enum tl_err fault_request_claim(struct store *store, struct id128 id, struct id128 payer_id,
                                       uint64_t now_ns, bool *claimed)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "request_claim")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->request_claim(f->inner, id, payer_id, now_ns, claimed);
}

static enum tl_err fault_request_unclaim(struct store *store, struct id128 id, uint64_t claim_ns)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "request_unclaim")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->request_unclaim(f->inner, id, claim_ns);
}

static enum tl_err fault_request_close(struct store *store, struct id128 id, struct id128 actor_id,
                                       uint8_t status, uint64_t now_ns, uint64_t stale_before_ns,
                                       const struct store_outbox_new *events,
                                       uint32_t event_count, bool *closed)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "request_close")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->request_close(f->inner, id, actor_id, status, now_ns,
                                             stale_before_ns, events, event_count, closed);
}

/* Exchange rates (schema v5): counted and forwarded like the calls above. */
static enum tl_err fault_fx_rate_put(struct store *store, const struct store_fx_rate *rate,
                                     bool *applied)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "fx_rate_put")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->fx_rate_put(f->inner, rate, applied);
}

static enum tl_err fault_fx_rate_get(struct store *store, uint16_t base, uint16_t quote,
                                     struct store_fx_rate *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "fx_rate_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->fx_rate_get(f->inner, base, quote, out, found);
}

static enum tl_err fault_fx_rates_list(struct store *store, struct store_fx_rate *out,
                                       uint32_t max, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "fx_rates_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->fx_rates_list(f->inner, out, max, out_count);
}

/* Not counted: it runs inside the records_write phase, which counted already (the inner
 * backend's records_write calls its own record_write, so this one is for completeness). */
static enum tl_err fault_record_write(struct store *store, const struct store_record *record)
{
    struct store_fault *f = fault_from(store);
    return fault_inner_app(f)->record_write(f->inner, record);
}

/* Identity (schema v4): counted and forwarded like the calls above. */
static enum tl_err fault_totp_put(struct store *store, const struct store_totp *totp)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "totp_put")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->totp_put(f->inner, totp);
}

static enum tl_err fault_totp_get(struct store *store, struct id128 user_id, struct store_totp *out,
                                  bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "totp_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->totp_get(f->inner, user_id, out, found);
}

static enum tl_err fault_totp_activate(struct store *store, struct id128 user_id, uint64_t step,
                                       const uint8_t hashes[STORE_RECOVERY_CODES][STORE_HASH_BYTES])
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "totp_activate")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->totp_activate(f->inner, user_id, step, hashes);
}

static enum tl_err fault_totp_use_step(struct store *store, struct id128 user_id, uint64_t step)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "totp_use_step")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->totp_use_step(f->inner, user_id, step);
}

static enum tl_err fault_totp_delete(struct store *store, struct id128 user_id)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "totp_delete")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->totp_delete(f->inner, user_id);
}

static enum tl_err fault_recovery_code_use(struct store *store, struct id128 user_id,
                                           const uint8_t hash[STORE_HASH_BYTES], uint64_t now_ns)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "recovery_code_use")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->recovery_code_use(f->inner, user_id, hash, now_ns);
}

static enum tl_err fault_recovery_codes_left(struct store *store, struct id128 user_id,
                                             uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "recovery_codes_left")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->recovery_codes_left(f->inner, user_id, out_count);
}

static enum tl_err fault_mfa_challenge_create(struct store *store,
                                              const struct store_mfa_challenge *challenge)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "mfa_challenge_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->mfa_challenge_create(f->inner, challenge);
}

static enum tl_err fault_mfa_challenge_get(struct store *store,
                                           const uint8_t hash[STORE_HASH_BYTES],
                                           struct store_mfa_challenge *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "mfa_challenge_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->mfa_challenge_get(f->inner, hash, out, found);
}

static enum tl_err fault_mfa_challenge_consume(struct store *store,
                                               const uint8_t hash[STORE_HASH_BYTES],
                                               uint64_t now_ns)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "mfa_challenge_consume")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->mfa_challenge_consume(f->inner, hash, now_ns);
}

static enum tl_err fault_sessions_list(struct store *store, struct id128 user_id, uint64_t now_ns,
                                       struct store_session *out, uint32_t max, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "sessions_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->sessions_list(f->inner, user_id, now_ns, out, max, out_count);
}

static enum tl_err fault_session_revoke_id(struct store *store, struct id128 user_id,
                                           struct id128 session_id)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "session_revoke_id")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->session_revoke_id(f->inner, user_id, session_id);
}

static enum tl_err fault_sessions_revoke_others(struct store *store, struct id128 user_id,
                                                struct id128 keep_id, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "sessions_revoke_others")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->sessions_revoke_others(f->inner, user_id, keep_id, out_count);
}

static enum tl_err fault_user_password_set(struct store *store, struct id128 user_id,
                                           const char *password_hash, struct id128 keep_id)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "user_password_set")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->user_password_set(f->inner, user_id, password_hash, keep_id);
}

static enum tl_err fault_audit_append(struct store *store, const struct store_audit *entry,
                                      uint64_t *out_seq)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "audit_append")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->audit_append(f->inner, entry, out_seq);
}

static enum tl_err fault_audit_list(struct store *store, struct id128 user_id,
                                    const struct store_audit_page *page, struct store_audit *out,
                                    uint32_t *out_count, bool *has_more)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "audit_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->audit_list(f->inner, user_id, page, out, out_count, has_more);
}

/* The audit log (schema v5), continued. */
static enum tl_err fault_audit_scan(struct store *store, uint64_t after_seq, uint32_t limit,
                                    struct store_audit *out, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "audit_scan")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->audit_scan(f->inner, after_seq, limit, out, out_count);
}

static enum tl_err fault_audit_head(struct store *store, uint64_t *out_seq,
                                    uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "audit_head")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->audit_head(f->inner, out_seq, out_hash);
}

static enum tl_err fault_audit_checkpoint_put(struct store *store,
                                              const struct store_audit_checkpoint *checkpoint,
                                              bool *inserted)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "audit_checkpoint_put")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->audit_checkpoint_put(f->inner, checkpoint, inserted);
}

static enum tl_err fault_audit_checkpoints_list(struct store *store, uint64_t after_seq,
                                                uint32_t limit, struct store_audit_checkpoint *out,
                                                uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "audit_checkpoints_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->audit_checkpoints_list(f->inner, after_seq, limit, out, out_count);
}

/* The inner handle was sealed when store_fault_open opened it; this seals again (a no-op). */
static enum tl_err fault_audit_seal(struct store *store, uint32_t *out_sealed)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "audit_seal")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->audit_seal(f->inner, out_sealed);
}

/* Passkeys (schema v4). */
static enum tl_err fault_passkey_create(struct store *store, const struct store_passkey *passkey)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "passkey_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->passkey_create(f->inner, passkey);
}

static enum tl_err fault_passkey_find(struct store *store, const uint8_t *credential_id,
                                      uint32_t credential_id_bytes, struct store_passkey *out,
                                      bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "passkey_find")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->passkey_find(f->inner, credential_id, credential_id_bytes, out,
                                            found);
}

static enum tl_err fault_passkeys_list(struct store *store, struct id128 user_id,
                                       struct store_passkey *out, uint32_t max, uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "passkeys_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->passkeys_list(f->inner, user_id, out, max, out_count);
}

static enum tl_err fault_passkey_revoke(struct store *store, struct id128 user_id, struct id128 id,
                                        uint64_t now_ns)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "passkey_revoke")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->passkey_revoke(f->inner, user_id, id, now_ns);
}

static enum tl_err fault_passkey_use(struct store *store, struct id128 id, uint32_t sign_count,
                                     uint64_t now_ns)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "passkey_use")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->passkey_use(f->inner, id, sign_count, now_ns);
}

static enum tl_err fault_webauthn_challenge_create(struct store *store,
                                                   const struct store_webauthn_challenge *c)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "webauthn_challenge_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->webauthn_challenge_create(f->inner, c);
}

static enum tl_err fault_webauthn_challenge_consume(struct store *store,
                                                    const uint8_t hash[STORE_HASH_BYTES],
                                                    uint8_t kind, uint64_t now_ns,
                                                    struct id128 *out_user_id)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "webauthn_challenge_consume")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->webauthn_challenge_consume(f->inner, hash, kind, now_ns,
                                                          out_user_id);
}

/* ---- Escrows and scheduled payments (plans.h): each call counts and can fail ---- */

static const struct store_plans_ops *fault_inner_plans(const struct store_fault *f)
{
    TL_ASSERT(fault_inner_app(f)->plans != NULL);
    return fault_inner_app(f)->plans;
}

/* One wrapper per plans op: count the call, fail it when armed, else pass it on. */
#define FAULT_PLANS(name, params, args)                                                            \
    static enum tl_err fault_##name params                                                         \
    {                                                                                              \
        struct store_fault *f = fault_from(store);                                                 \
        if (fault_hit(f, #name)) {                                                                 \
            return TL_ERR_STORAGE;                                                                 \
        }                                                                                          \
        return fault_inner_plans(f)->name args;                                                    \
    }

FAULT_PLANS(escrow_create, (struct store * store, const struct store_escrow *e), (f->inner, e))
FAULT_PLANS(escrow_delete, (struct store * store, struct id128 id), (f->inner, id))
FAULT_PLANS(escrow_get,
            (struct store * store, struct id128 id, struct store_escrow *out, bool *found),
            (f->inner, id, out, found))
FAULT_PLANS(escrows_list,
            (struct store * store, struct id128 user_id, enum store_escrow_role role,
             const struct store_request_page *page, struct store_escrow *out, uint32_t *out_count,
             bool *has_more),
            (f->inner, user_id, role, page, out, out_count, has_more))
FAULT_PLANS(escrow_approve,
            (struct store * store, struct id128 id, struct id128 user_id, uint64_t now_ns,
             bool *changed),
            (f->inner, id, user_id, now_ns, changed))
FAULT_PLANS(escrows_due,
            (struct store * store, uint64_t now_ns, uint32_t limit, struct store_escrow *out,
             uint32_t *out_count),
            (f->inner, now_ns, limit, out, out_count))
FAULT_PLANS(schedule_create, (struct store * store, const struct store_schedule *s),
            (f->inner, s))
FAULT_PLANS(schedule_get,
            (struct store * store, struct id128 id, struct store_schedule *out, bool *found),
            (f->inner, id, out, found))
FAULT_PLANS(schedules_list,
            (struct store * store, struct id128 user_id, const struct store_request_page *page,
             struct store_schedule *out, uint32_t *out_count, bool *has_more),
            (f->inner, user_id, page, out, out_count, has_more))
FAULT_PLANS(schedule_cancel,
            (struct store * store, struct id128 id, struct id128 user_id, uint64_t now_ns,
             bool *canceled),
            (f->inner, id, user_id, now_ns, canceled))
FAULT_PLANS(schedules_due,
            (struct store * store, uint64_t now_ns, uint32_t limit, struct store_schedule *out,
             uint32_t *out_count),
            (f->inner, now_ns, limit, out, out_count))
FAULT_PLANS(schedule_claim,
            (struct store * store, const struct store_occurrence *o, uint64_t next_due_ns,
             bool *claimed),
            (f->inner, o, next_due_ns, claimed))
FAULT_PLANS(occurrence_finish,
            (struct store * store, struct id128 schedule_id, uint32_t index, uint8_t status,
             const char *reason, uint64_t done_ns),
            (f->inner, schedule_id, index, status, reason, done_ns))
FAULT_PLANS(occurrence_reclaim,
            (struct store * store, uint64_t stale_before_ns, uint64_t now_ns,
             struct store_occurrence *out, bool *found),
            (f->inner, stale_before_ns, now_ns, out, found))
FAULT_PLANS(occurrences_list,
            (struct store * store, struct id128 schedule_id, struct store_occurrence *out,
             uint32_t max, uint32_t *out_count),
            (f->inner, schedule_id, out, max, out_count))
#undef FAULT_PLANS

static const struct store_plans_ops fault_plans_ops = {
    .escrow_create = fault_escrow_create,
    .escrow_delete = fault_escrow_delete,
    .escrow_get = fault_escrow_get,
    .escrows_list = fault_escrows_list,
    .escrow_approve = fault_escrow_approve,
    .escrows_due = fault_escrows_due,
    .schedule_create = fault_schedule_create,
    .schedule_get = fault_schedule_get,
    .schedules_list = fault_schedules_list,
    .schedule_cancel = fault_schedule_cancel,
    .schedules_due = fault_schedules_due,
    .schedule_claim = fault_schedule_claim,
    .occurrence_finish = fault_occurrence_finish,
    .occurrence_reclaim = fault_occurrence_reclaim,
    .occurrences_list = fault_occurrences_list,
};
/* Notes and session last-seen (schema v5): counted and forwarded like the calls above. */
static enum tl_err fault_encryption_key_put(struct store *store,
                                            const struct store_encryption_key *key,
                                            struct store_encryption_key *out)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "encryption_key_put")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->encryption_key_put(f->inner, key, out);
}

static enum tl_err fault_encryption_key_get(struct store *store, struct id128 user_id,
                                            struct store_encryption_key *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "encryption_key_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->encryption_key_get(f->inner, user_id, out, found);
}

static enum tl_err fault_encryption_key_delete(struct store *store, struct id128 user_id)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "encryption_key_delete")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->encryption_key_delete(f->inner, user_id);
}

static enum tl_err fault_payment_notes_get(struct store *store, const struct id128 *ids,
                                           uint32_t count, struct store_payment_note *out,
                                           bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "payment_notes_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->payment_notes_get(f->inner, ids, count, out, found);
}

static enum tl_err fault_session_touch(struct store *store,
                                       const uint8_t token_hash[STORE_HASH_BYTES], uint64_t now_ns,
                                       uint64_t interval_ns)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "session_touch")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->session_touch(f->inner, token_hash, now_ns, interval_ns);
}

static enum tl_err fault_sessions_seen(struct store *store, struct id128 user_id, uint64_t now_ns,
                                       struct store_session_seen *out, uint32_t max,
                                       uint32_t *out_count)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "sessions_seen")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->sessions_seen(f->inner, user_id, now_ns, out, max, out_count);
}

/* Step-up and device keys (schema v5): counted and forwarded like the calls above. */
static const struct store_stepup_ops *fault_inner_stepup(const struct store_fault *f)
{
    TL_ASSERT(fault_inner_app(f)->stepup != NULL);
    return fault_inner_app(f)->stepup;
}

/* The body of a counted stepup call: fail when armed, else forward `call` to the inner ops. */
#define FAULT_STEPUP(name, call)                                                                   \
    struct store_fault *f = fault_from(store);                                                     \
    if (fault_hit(f, name)) {                                                                      \
        return TL_ERR_STORAGE;                                                                     \
    }                                                                                              \
    return fault_inner_stepup(f)->call

static enum tl_err fault_stepup_facts(struct store *store, struct id128 user_id,
                                      struct id128 session_id, struct id128 to_user,
                                      struct store_stepup_facts *out)
{
    FAULT_STEPUP("stepup_facts", facts(f->inner, user_id, session_id, to_user, out));
}

static enum tl_err fault_stepup_challenge_create(struct store *store,
                                                 const struct store_stepup_challenge *c)
{
    FAULT_STEPUP("stepup_challenge_create", challenge_create(f->inner, c));
}

static enum tl_err fault_stepup_challenge_get(struct store *store, struct id128 id,
                                              struct store_stepup_challenge *out, bool *found)
{
    FAULT_STEPUP("stepup_challenge_get", challenge_get(f->inner, id, out, found));
}

static enum tl_err fault_stepup_challenge_complete(struct store *store, struct id128 user_id,
                                                   struct id128 id, uint8_t method,
                                                   uint64_t now_ns)
{
    FAULT_STEPUP("stepup_challenge_complete",
                 challenge_complete(f->inner, user_id, id, method, now_ns));
}

static enum tl_err fault_stepup_grant_use(struct store *store, struct id128 user_id,
                                          const uint8_t binding[STORE_STEPUP_BINDING_BYTES],
                                          uint64_t now_ns, bool *used, struct id128 *out_id)
{
    FAULT_STEPUP("stepup_grant_use", grant_use(f->inner, user_id, binding, now_ns, used, out_id));
}

static enum tl_err fault_device_key_create(struct store *store, const struct store_device_key *k)
{
    FAULT_STEPUP("device_key_create", device_key_create(f->inner, k));
}

static enum tl_err fault_device_key_get(struct store *store, struct id128 id,
                                        struct store_device_key *out, bool *found)
{
    FAULT_STEPUP("device_key_get", device_key_get(f->inner, id, out, found));
}

static enum tl_err fault_device_keys_list(struct store *store, struct id128 user_id,
                                          struct store_device_key *out, uint32_t max,
                                          uint32_t *out_count)
{
    FAULT_STEPUP("device_keys_list", device_keys_list(f->inner, user_id, out, max, out_count));
}

static enum tl_err fault_device_key_revoke(struct store *store, struct id128 user_id,
                                           struct id128 id, uint64_t now_ns)
{
    FAULT_STEPUP("device_key_revoke", device_key_revoke(f->inner, user_id, id, now_ns));
}

static enum tl_err fault_signature_claim(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                         struct id128 key_id, uint64_t expires_ns,
                                         uint64_t now_ns, bool *claimed)
{
    FAULT_STEPUP("device_signature_claim",
                 signature_claim(f->inner, hash, key_id, expires_ns, now_ns, claimed));
}

static enum tl_err fault_payment_signature_get(struct store *store, struct id128 payment_id,
                                               struct store_payment_signature *out, bool *found)
{
    FAULT_STEPUP("payment_signature_get",
                 payment_signature_get(f->inner, payment_id, out, found));
}

/* Inside the batch: not counted, like fault_record_write (the records phase is). */
static enum tl_err fault_stepup_record_write(struct store *store,
                                             const struct store_record *record)
{
    struct store_fault *f = fault_from(store);
    return fault_inner_stepup(f)->record_write(f->inner, record);
}
#undef FAULT_STEPUP

static const struct store_stepup_ops fault_stepup_ops = {
    .facts = fault_stepup_facts,
    .challenge_create = fault_stepup_challenge_create,
    .challenge_get = fault_stepup_challenge_get,
    .challenge_complete = fault_stepup_challenge_complete,
    .grant_use = fault_stepup_grant_use,
    .device_key_create = fault_device_key_create,
    .device_key_get = fault_device_key_get,
    .device_keys_list = fault_device_keys_list,
    .device_key_revoke = fault_device_key_revoke,
    .signature_claim = fault_signature_claim,
    .payment_signature_get = fault_payment_signature_get,
    .record_write = fault_stepup_record_write,
};
static enum tl_err fault_limits_window(struct store *store, struct id128 user_id,
                                       enum store_direction direction, uint16_t currency,
                                       uint64_t after_ns, struct store_limits_window *out)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "limits_window")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->limits_window(f->inner, user_id, direction, currency, after_ns,
                                             out);
}

static enum tl_err fault_user_tier_set(struct store *store, struct id128 user_id, uint8_t tier,
                                       uint64_t updated_ns)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "user_tier_set")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->user_tier_set(f->inner, user_id, tier, updated_ns);
}

/* Refunds, reversals and disputes (schema v5). */
static enum tl_err fault_refund_put(struct store *store, const struct store_refund *row)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "refund_put")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->refund_put(f->inner, row);
}

static enum tl_err fault_refund_get(struct store *store, struct id128 id, struct store_refund *out,
                                    bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "refund_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->refund_get(f->inner, id, out, found);
}

static enum tl_err fault_refunds_list(struct store *store, struct id128 payment_id,
                                      const struct store_request_page *page,
                                      struct store_refund *out, uint32_t *out_count,
                                      bool *has_more)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "refunds_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->refunds_list(f->inner, payment_id, page, out, out_count, has_more);
}

static enum tl_err fault_refund_totals(struct store *store, struct id128 payment_id,
                                       int64_t *out_refunded, int64_t *out_reversed)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "refund_totals")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->refund_totals(f->inner, payment_id, out_refunded, out_reversed);
}

static enum tl_err fault_dispute_create(struct store *store, const struct store_dispute *dispute)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "dispute_create")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->dispute_create(f->inner, dispute);
}

static enum tl_err fault_dispute_get(struct store *store, struct id128 id,
                                     struct store_dispute *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "dispute_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->dispute_get(f->inner, id, out, found);
}

static enum tl_err fault_disputes_list(struct store *store, struct id128 payment_id,
                                       uint8_t status, const struct store_request_page *page,
                                       struct store_dispute *out, uint32_t *out_count,
                                       bool *has_more)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "disputes_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->disputes_list(f->inner, payment_id, status, page, out, out_count,
                                             has_more);
}

static enum tl_err fault_dispute_resolve(struct store *store, struct id128 id, uint8_t status,
                                         const char *note, struct id128 reversal_id,
                                         uint64_t now_ns, bool *resolved)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "dispute_resolve")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_app(f)->dispute_resolve(f->inner, id, status, note, reversal_id, now_ns,
                                               resolved);
}

/* ---- Conversion rows (records.h, schema v6): reads count and can fail ---- */

static const struct store_records_ops *fault_inner_records(const struct store_fault *f)
{
    TL_ASSERT(fault_inner_app(f)->records != NULL);
    return fault_inner_app(f)->records;
}

static enum tl_err fault_conversion_get(struct store *store, struct id128 id,
                                        struct store_conversion *out, bool *found)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "conversion_get")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_records(f)->conversion_get(f->inner, id, out, found);
}

static enum tl_err fault_conversions_list(struct store *store, struct id128 user_id,
                                          const struct store_page *page,
                                          struct store_conversion *out, uint32_t *out_count,
                                          bool *has_more)
{
    struct store_fault *f = fault_from(store);
    if (fault_hit(f, "conversions_list")) {
        return TL_ERR_STORAGE;
    }
    return fault_inner_records(f)->conversions_list(f->inner, user_id, page, out, out_count,
                                                     has_more);
}

/* Inside the batch: not counted, like fault_record_write (the records phase is). */
static enum tl_err fault_conversion_records_write(struct store *store,
                                                  const struct store_record *records,
                                                  uint32_t count)
{
    struct store_fault *f = fault_from(store);
    return fault_inner_records(f)->records_write(f->inner, records, count);
}

static const struct store_records_ops fault_records_ops = {
    .conversion_get = fault_conversion_get,
    .conversions_list = fault_conversions_list,
    .records_write = fault_conversion_records_write,
};

static const struct store_app_ops fault_app_ops = {
    .user_create = fault_user_create,
    .user_delete = fault_user_delete,
    .user_get = fault_user_get,
    .user_find = fault_user_find,
    .wallet_open = fault_wallet_open,
    .wallet_get = fault_wallet_get,
    .wallet_find = fault_wallet_find,
    .wallets_list = fault_wallets_list,
    .session_create = fault_session_create,
    .session_get = fault_session_get,
    .session_revoke = fault_session_revoke,
    .totp_put = fault_totp_put,
    .totp_get = fault_totp_get,
    .totp_activate = fault_totp_activate,
    .totp_use_step = fault_totp_use_step,
    .totp_delete = fault_totp_delete,
    .recovery_code_use = fault_recovery_code_use,
    .recovery_codes_left = fault_recovery_codes_left,
    .mfa_challenge_create = fault_mfa_challenge_create,
    .mfa_challenge_get = fault_mfa_challenge_get,
    .mfa_challenge_consume = fault_mfa_challenge_consume,
    .sessions_list = fault_sessions_list,
    .session_revoke_id = fault_session_revoke_id,
    .sessions_revoke_others = fault_sessions_revoke_others,
    .user_password_set = fault_user_password_set,
    .audit_append = fault_audit_append,
    .audit_list = fault_audit_list,
    .payment_get = fault_payment_get,
    .payments_list = fault_payments_list,
    .idempotency_put = fault_idempotency_put,
    .idempotency_get = fault_idempotency_get,
    .idempotency_prune = fault_idempotency_prune,
    .idempotency_claim = fault_idempotency_claim,
    .idempotency_claim_release = fault_idempotency_claim_release,
    .idempotency_claims_prune = fault_idempotency_claims_prune,
    .outbox_list_range = fault_outbox_list_range,
    .outbox_seq_last = fault_outbox_seq_last,
    .outbox_append = fault_outbox_append,
    .quote_create = fault_quote_create,
    .quote_get = fault_quote_get,
    .requests_create = fault_requests_create,
    .request_get = fault_request_get,
    .requests_list = fault_requests_list,
    .request_claim = fault_request_claim,
    .request_unclaim = fault_request_unclaim,
    .request_close = fault_request_close,
    .passkey_create = fault_passkey_create,
    .passkey_find = fault_passkey_find,
    .passkeys_list = fault_passkeys_list,
    .passkey_revoke = fault_passkey_revoke,
    .passkey_use = fault_passkey_use,
    .webauthn_challenge_create = fault_webauthn_challenge_create,
    .webauthn_challenge_consume = fault_webauthn_challenge_consume,
    .fx_rate_put = fault_fx_rate_put,
    .fx_rate_get = fault_fx_rate_get,
    .fx_rates_list = fault_fx_rates_list,
    .record_write = fault_record_write,
    .plans = &fault_plans_ops,
    .encryption_key_put = fault_encryption_key_put,
    .encryption_key_get = fault_encryption_key_get,
    .encryption_key_delete = fault_encryption_key_delete,
    .payment_notes_get = fault_payment_notes_get,
    .session_touch = fault_session_touch,
    .sessions_seen = fault_sessions_seen,
    .stepup = &fault_stepup_ops, /* schema v5 */
    .limits_window = fault_limits_window,
    .user_tier_set = fault_user_tier_set,
    .audit_scan = fault_audit_scan,
    .audit_head = fault_audit_head,
    .audit_checkpoint_put = fault_audit_checkpoint_put,
    .audit_checkpoints_list = fault_audit_checkpoints_list,
    .audit_seal = fault_audit_seal,
    .refund_put = fault_refund_put,
    .refund_get = fault_refund_get,
    .refunds_list = fault_refunds_list,
    .refund_totals = fault_refund_totals,
    .dispute_create = fault_dispute_create,
    .dispute_get = fault_dispute_get,
    .disputes_list = fault_disputes_list,
    .dispute_resolve = fault_dispute_resolve,
    .records = &fault_records_ops, /* schema v6 */
};

const struct store_ops store_fault_ops = {
    .name = "fault",
    .open = fault_open,
    .close = fault_close,
    .schema_version = fault_schema_version,
    .exclusive = fault_exclusive,
    .ping = fault_ping,
    .accounts_scan = fault_accounts_scan,
    .timestamp_last = fault_timestamp_last,
    .batch_begin = fault_batch_begin,
    .accounts_get = fault_accounts_get,
    .transfers_get = fault_transfers_get,
    .pending_expired = fault_pending_expired,
    .accounts_write = fault_accounts_write,
    .postings_write = fault_postings_write,
    .pending_write = fault_pending_write,
    .records_write = fault_records_write,
    .commit = fault_commit,
    .abort = fault_abort,
    .account_get = fault_account_get,
    .transfer_get = fault_transfer_get,
    .history = fault_history,
    .outbox_list = fault_outbox_list,
    .app = &fault_app_ops,
};
