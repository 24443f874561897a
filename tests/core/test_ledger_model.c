/*
 * test_ledger_model.c - the ledger core against a naive reference model.
 *
 * Thousands of random batches (plain transfers, holds, posts, voids, expiries, linked chains,
 * duplicates, bad input, several apply calls per batch, a clock that sometimes runs backwards,
 * the odd batch rolled back) go through the real core and through the model below. Every
 * result code, timestamp and balance must match, and so must each batch's output (postings,
 * changed accounts, hold updates). The full invariant check runs after every batch.
 *
 * The model is written to be obviously right rather than fast: accounts in an array searched
 * linearly, 128-bit arithmetic instead of overflow checks, and a chain or batch rolled back by
 * restoring a copy of the whole batch state. Committed transfers are indexed by the number the
 * generator put in their id. The core's lookups are answered by a separate map of the core's
 * own committed output, as the store would hold it.
 *
 * The PRNG seed is printed; LEDGER_MODEL_SEED=<n> replays one.
 */
#include "test.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "core/money.h"
#include "util/limits.h"

#define POOL_MAX 64u          /* account ids the generator uses: 1..pool */
#define BATCH_EVENTS_MAX 256u /* events one model batch may hold */
#define RECENT_MAX 512u       /* recent holds and transfers kept for reuse */
#define T0_NS 1700000000000000000ull
#define S_NS 1000000000ull
#define TRANSFER_MODES 0x1eu /* PENDING | POST | VOID | EXPIRE */
#define TRANSFER_RESOLVING 0x1cu

static const uint16_t currencies[3] = {840, 978, 392};

struct model_config {
    uint64_t seed;
    uint32_t batches;
    uint32_t events_max; /* per batch */
    uint32_t pool;       /* account ids 1..pool */
    uint32_t accounts_max;
};

/* ---- PRNG (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint64_t rng_below(uint64_t n)
{
    return n == 0 ? 0 : rng_next() % n;
}

static bool rng_percent(uint32_t percent)
{
    return rng_below(100) < percent;
}

/* ---- Ids: the generator's numbers, spread over both halves ---- */

#define TRANSFER_ID_MIX 0x9e3779b97f4a7c15ull
#define ACCOUNT_ID_TAG 0xacc0000000000000ull

static struct id128 transfer_id(uint64_t n)
{
    return n == 0 ? id128_make(0, 0) : id128_make(n * TRANSFER_ID_MIX, n);
}

static struct id128 account_id(uint64_t n)
{
    return n == 0 ? id128_make(0, 0) : id128_make(ACCOUNT_ID_TAG | n, n * 7919);
}

/* The generator number of a transfer id, or 0 when it is not one of ours. */
static uint64_t transfer_number(struct id128 id, uint64_t capacity)
{
    if (id.lo == 0 || id.lo >= capacity || id.hi != id.lo * TRANSFER_ID_MIX) {
        return 0;
    }
    return id.lo;
}

/* ---- The store the core talks to: its own committed output ---- */

struct stored {
    bool present;
    struct ledger_transfer transfer;
    enum ledger_pending_status status;
};

static struct stored *store;
static uint64_t transfer_capacity;
static uint64_t result_counts[LEDGER_RESULT_COUNT];

static bool store_get(void *ctx, struct id128 id, struct ledger_transfer *out,
                      enum ledger_pending_status *status)
{
    (void)ctx;
    uint64_t n = transfer_number(id, transfer_capacity);
    if (n == 0 || !store[n].present) {
        return false;
    }
    *out = store[n].transfer;
    *status = store[n].status;
    return true;
}

static void store_commit(const struct ledger_batch_out *out)
{
    for (uint32_t i = 0; i < out->posting_count; i++) {
        uint64_t n = transfer_number(out->postings[i].transfer.id, transfer_capacity);
        assert_true(n != 0);
        assert_false(store[n].present);
        store[n].present = true;
        store[n].transfer = out->postings[i].transfer;
        store[n].status = (enum ledger_pending_status)out->postings[i].pending_status;
    }
    for (uint32_t i = 0; i < out->pending_update_count; i++) {
        uint64_t n = transfer_number(out->pending_updates[i].pending_id, transfer_capacity);
        assert_true(n != 0);
        assert_true(store[n].present);
        store[n].status = (enum ledger_pending_status)out->pending_updates[i].status;
    }
}

/* ---- The reference model ---- */

/* Everything a chain or batch rollback restores, copied whole. */
struct model_state {
    struct ledger_account accounts[POOL_MAX];
    uint32_t account_count;
    struct ledger_posting created[BATCH_EVENTS_MAX]; /* this batch's transfers */
    uint32_t created_count;
    struct ledger_pending_update resolved[BATCH_EVENTS_MAX]; /* holds resolved this batch */
    uint32_t resolved_count;
    struct id128 touched[BATCH_EVENTS_MAX * 2]; /* accounts created or changed this batch */
    uint32_t touched_count;
    uint64_t timestamp_last;
};

static struct model_state model;
static struct ledger_posting *committed; /* by transfer number; timestamp 0 = absent */
static uint64_t model_now_ns;
static uint32_t model_accounts_max;

static struct ledger_account *model_account(struct id128 id)
{
    for (uint32_t i = 0; i < model.account_count; i++) {
        if (id128_eq(model.accounts[i].id, id)) {
            return &model.accounts[i];
        }
    }
    return NULL;
}

static void model_touch(struct id128 id)
{
    for (uint32_t i = 0; i < model.touched_count; i++) {
        if (id128_eq(model.touched[i], id)) {
            return;
        }
    }
    model.touched[model.touched_count++] = id;
}

/* The transfer with this id as of now, with its hold status; NULL when there is none. */
static struct ledger_posting *model_transfer_find(struct id128 id, uint8_t *status)
{
    for (uint32_t i = 0; i < model.created_count; i++) {
        if (id128_eq(model.created[i].transfer.id, id)) {
            *status = model.created[i].pending_status;
            return &model.created[i];
        }
    }
    uint64_t n = transfer_number(id, transfer_capacity);
    if (n == 0 || committed[n].transfer.timestamp == 0) {
        return NULL;
    }
    *status = committed[n].pending_status;
    for (uint32_t i = 0; i < model.resolved_count; i++) {
        if (id128_eq(model.resolved[i].pending_id, id)) {
            *status = model.resolved[i].status;
        }
    }
    return &committed[n];
}

static bool model_currency_known(uint16_t currency)
{
    return currency != 0 && money_currency_by_numeric(currency) != NULL;
}

static uint64_t model_timestamp(void)
{
    return model_now_ns > model.timestamp_last + 1 ? model_now_ns : model.timestamp_last + 1;
}

static struct ledger_balance model_balance(const struct ledger_account *a)
{
    struct ledger_balance b = {a->debits_pending, a->debits_posted, a->credits_pending,
                               a->credits_posted};
    return b;
}

static uint32_t model_account_create(const struct ledger_account *a, struct ledger_event_result *r)
{
    if (id128_is_zero(a->id)) {
        return LEDGER_ID_MUST_NOT_BE_ZERO;
    }
    if (a->flags > 7) {
        return LEDGER_FLAGS_UNKNOWN;
    }
    if ((a->flags & 6) == 6) {
        return LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (a->timestamp != 0) {
        return LEDGER_TIMESTAMP_MUST_BE_ZERO;
    }
    if (a->debits_pending != 0 || a->debits_posted != 0 || a->credits_pending != 0 ||
        a->credits_posted != 0) {
        return LEDGER_BALANCES_MUST_BE_ZERO;
    }
    if (a->kind < 1 || a->kind > LEDGER_KIND_MAX) {
        return LEDGER_KIND_INVALID;
    }
    if (!model_currency_known(a->currency)) {
        return LEDGER_CURRENCY_INVALID;
    }
    struct ledger_account *existing = model_account(a->id);
    if (existing != NULL) {
        if (!id128_eq(existing->user_data, a->user_data) || existing->kind != a->kind ||
            existing->currency != a->currency || (existing->flags & ~1u) != (a->flags & ~1u)) {
            return LEDGER_EXISTS_WITH_DIFFERENT_FIELDS;
        }
        r->timestamp = existing->timestamp;
        r->debit_after = model_balance(existing);
        return LEDGER_EXISTS;
    }
    if (model.account_count == model_accounts_max) {
        return LEDGER_LEDGER_FULL;
    }
    struct ledger_account *created = &model.accounts[model.account_count++];
    *created = *a;
    created->flags &= ~1u;
    created->timestamp = model_timestamp();
    model.timestamp_last = created->timestamp;
    model_touch(a->id);
    r->timestamp = created->timestamp;
    return LEDGER_OK;
}

/* Same request as the stored transfer? Zero accounts, currency and amount of a post, void or
 * expire stand for what the hold had; LINKED is not part of the transfer. */
static bool model_transfer_same(const struct ledger_transfer *t, const struct ledger_transfer *s)
{
    bool inherit = (t->flags & TRANSFER_RESOLVING) != 0;
    return (t->flags & ~1u) == (s->flags & ~1u) && id128_eq(t->pending_id, s->pending_id) &&
           id128_eq(t->user_ref, s->user_ref) && t->code == s->code &&
           t->timeout_s == s->timeout_s &&
           ((inherit && id128_is_zero(t->debit_account_id)) ||
            id128_eq(t->debit_account_id, s->debit_account_id)) &&
           ((inherit && id128_is_zero(t->credit_account_id)) ||
            id128_eq(t->credit_account_id, s->credit_account_id)) &&
           ((inherit && t->currency == 0) || t->currency == s->currency) &&
           ((inherit && t->amount == 0) || t->amount == s->amount);
}

/* LEDGER_OK when the id is new. */
static uint32_t model_exists(const struct ledger_transfer *t, struct ledger_event_result *r)
{
    uint8_t status;
    struct ledger_posting *existing = model_transfer_find(t->id, &status);
    if (existing == NULL) {
        return LEDGER_OK;
    }
    if (!model_transfer_same(t, &existing->transfer)) {
        return LEDGER_EXISTS_WITH_DIFFERENT_FIELDS;
    }
    r->timestamp = existing->transfer.timestamp;
    r->debit_after = model_balance(model_account(existing->transfer.debit_account_id));
    r->credit_after = model_balance(model_account(existing->transfer.credit_account_id));
    return LEDGER_EXISTS;
}

/* Moves money in 128 bits, then checks what int64 and the flags allow, and applies it. */
static uint32_t model_move(struct ledger_account *d, struct ledger_account *c,
                           __int128 pending_change, __int128 posted_change,
                           struct ledger_posting *posting)
{
    __int128 d_pending = (__int128)d->debits_pending + pending_change;
    __int128 d_posted = (__int128)d->debits_posted + posted_change;
    __int128 c_pending = (__int128)c->credits_pending + pending_change;
    __int128 c_posted = (__int128)c->credits_posted + posted_change;
    /* Limits first: the payer's answer never depends on the payee's balance. */
    if ((d->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        d_pending + d_posted > d->credits_posted) {
        return LEDGER_EXCEEDS_CREDITS;
    }
    if ((c->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        c_pending + c_posted > c->debits_posted) {
        return LEDGER_EXCEEDS_DEBITS;
    }
    if (d_pending > INT64_MAX || d_posted > INT64_MAX || c_pending > INT64_MAX ||
        c_posted > INT64_MAX || d_pending + d_posted > INT64_MAX ||
        c_pending + c_posted > INT64_MAX) {
        return LEDGER_OVERFLOW;
    }
    assert_true(d_pending >= 0);
    assert_true(c_pending >= 0);
    d->debits_pending = (int64_t)d_pending;
    d->debits_posted = (int64_t)d_posted;
    c->credits_pending = (int64_t)c_pending;
    c->credits_posted = (int64_t)c_posted;
    /* The history chains: each side links to its account's previous posting. */
    posting->debit_prev = d->posting_last;
    posting->credit_prev = c->posting_last;
    d->posting_last = posting->transfer.timestamp;
    c->posting_last = posting->transfer.timestamp;
    model_touch(d->id);
    model_touch(c->id);
    posting->debit_after = model_balance(d);
    posting->credit_after = model_balance(c);
    return LEDGER_OK;
}

static uint32_t model_plain(const struct ledger_transfer *t, struct ledger_posting *p,
                            struct ledger_event_result *r)
{
    if (!id128_is_zero(t->debit_account_id) &&
        id128_eq(t->debit_account_id, t->credit_account_id)) {
        return LEDGER_ACCOUNTS_MUST_DIFFER;
    }
    struct ledger_account *d = model_account(t->debit_account_id);
    if (d == NULL) {
        return LEDGER_DEBIT_ACCOUNT_NOT_FOUND;
    }
    struct ledger_account *c = model_account(t->credit_account_id);
    if (c == NULL) {
        return LEDGER_CREDIT_ACCOUNT_NOT_FOUND;
    }
    if (!model_currency_known(t->currency)) {
        return LEDGER_CURRENCY_INVALID;
    }
    if (d->currency != t->currency || c->currency != t->currency) {
        return LEDGER_CURRENCY_MISMATCH;
    }
    if (t->amount <= 0) {
        return LEDGER_AMOUNT_MUST_BE_POSITIVE;
    }
    if (t->code == 0) {
        return LEDGER_CODE_MUST_NOT_BE_ZERO;
    }
    uint32_t result = model_exists(t, r);
    if (result != LEDGER_OK) {
        return result;
    }
    p->pending_status = (t->flags & LEDGER_TRANSFER_PENDING) ? LEDGER_PENDING_OPEN : 0;
    if (t->flags & LEDGER_TRANSFER_PENDING) {
        return model_move(d, c, t->amount, 0, p);
    }
    return model_move(d, c, 0, t->amount, p);
}

/* The hold's state, as a result: ok when the request may resolve it now. */
static uint32_t model_hold_check(const struct ledger_transfer *t, const struct ledger_transfer *h,
                                 uint8_t status, uint64_t timestamp)
{
    if ((!id128_is_zero(t->debit_account_id) &&
         !id128_eq(t->debit_account_id, h->debit_account_id)) ||
        (!id128_is_zero(t->credit_account_id) &&
         !id128_eq(t->credit_account_id, h->credit_account_id))) {
        return LEDGER_PENDING_HAS_DIFFERENT_ACCOUNTS;
    }
    if (t->currency != 0 && t->currency != h->currency) {
        return LEDGER_PENDING_HAS_DIFFERENT_CURRENCY;
    }
    if (status == LEDGER_PENDING_POSTED) {
        return LEDGER_PENDING_ALREADY_POSTED;
    }
    if (status == LEDGER_PENDING_VOIDED) {
        return LEDGER_PENDING_ALREADY_VOIDED;
    }
    if (status == LEDGER_PENDING_EXPIRED) {
        return LEDGER_PENDING_ALREADY_EXPIRED;
    }
    bool expired = h->timeout_s != 0 &&
                   (__int128)timestamp >= (__int128)h->timestamp + (__int128)h->timeout_s * S_NS;
    if ((t->flags & LEDGER_TRANSFER_EXPIRE_PENDING) && !expired) {
        return LEDGER_PENDING_NOT_EXPIRED;
    }
    if (!(t->flags & LEDGER_TRANSFER_EXPIRE_PENDING) && expired) {
        return LEDGER_PENDING_HAS_EXPIRED;
    }
    return LEDGER_OK;
}

static uint32_t model_resolve(const struct ledger_transfer *t, struct ledger_posting *p,
                              struct ledger_event_result *r)
{
    if (!id128_is_zero(t->debit_account_id) &&
        id128_eq(t->debit_account_id, t->credit_account_id)) {
        return LEDGER_ACCOUNTS_MUST_DIFFER;
    }
    if (t->currency != 0 && !model_currency_known(t->currency)) {
        return LEDGER_CURRENCY_INVALID;
    }
    if (t->amount < 0) {
        return LEDGER_AMOUNT_MUST_BE_POSITIVE;
    }
    if (t->code == 0) {
        return LEDGER_CODE_MUST_NOT_BE_ZERO;
    }
    uint32_t result = model_exists(t, r);
    if (result != LEDGER_OK) {
        return result;
    }
    uint8_t status = 0;
    struct ledger_posting *hold = model_transfer_find(t->pending_id, &status);
    if (hold == NULL) {
        return LEDGER_PENDING_NOT_FOUND;
    }
    if (status == LEDGER_PENDING_NONE) {
        return LEDGER_PENDING_NOT_PENDING;
    }
    const struct ledger_transfer *h = &hold->transfer;
    result = model_hold_check(t, h, status, p->transfer.timestamp);
    if (result != LEDGER_OK) {
        return result;
    }
    bool post = (t->flags & LEDGER_TRANSFER_POST_PENDING) != 0;
    if (post && t->amount > h->amount) {
        return LEDGER_EXCEEDS_PENDING_AMOUNT;
    }
    if (!post && t->amount != 0 && t->amount != h->amount) {
        return LEDGER_PENDING_AMOUNT_MUST_MATCH;
    }
    p->transfer.amount = post && t->amount != 0 ? t->amount : h->amount;
    struct ledger_account *d = model_account(h->debit_account_id);
    struct ledger_account *c = model_account(h->credit_account_id);
    assert_non_null(d);
    assert_non_null(c);
    result = model_move(d, c, -(__int128)h->amount, post ? p->transfer.amount : 0, p);
    if (result != LEDGER_OK) {
        return result;
    }
    uint8_t after = post                                        ? LEDGER_PENDING_POSTED
                    : (t->flags & LEDGER_TRANSFER_VOID_PENDING) ? LEDGER_PENDING_VOIDED
                                                                : LEDGER_PENDING_EXPIRED;
    struct ledger_pending_update *u = &model.resolved[model.resolved_count++];
    u->pending_id = h->id;
    u->status = after;
    for (uint32_t i = 0; i < model.created_count; i++) {
        if (id128_eq(model.created[i].transfer.id, h->id)) {
            model.created[i].pending_status = after;
        }
    }
    return LEDGER_OK;
}

static uint32_t model_transfer_create(const struct ledger_transfer *t,
                                      struct ledger_event_result *r)
{
    uint32_t modes = t->flags & TRANSFER_MODES;
    bool resolving = (modes & TRANSFER_RESOLVING) != 0;
    if (id128_is_zero(t->id)) {
        return LEDGER_ID_MUST_NOT_BE_ZERO;
    }
    if (t->flags > 0x1f) {
        return LEDGER_FLAGS_UNKNOWN;
    }
    if (__builtin_popcount(modes) > 1) {
        return LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (t->timestamp != 0) {
        return LEDGER_TIMESTAMP_MUST_BE_ZERO;
    }
    if (resolving && id128_is_zero(t->pending_id)) {
        return LEDGER_PENDING_ID_MUST_NOT_BE_ZERO;
    }
    if (resolving && id128_eq(t->pending_id, t->id)) {
        return LEDGER_PENDING_ID_MUST_DIFFER;
    }
    if (!resolving && !id128_is_zero(t->pending_id)) {
        return LEDGER_PENDING_ID_MUST_BE_ZERO;
    }
    if (t->timeout_s != 0 && !(t->flags & LEDGER_TRANSFER_PENDING)) {
        return LEDGER_TIMEOUT_RESERVED_FOR_PENDING;
    }
    if (t->timeout_s > TL_PENDING_TIMEOUT_S_MAX) {
        return LEDGER_TIMEOUT_TOO_LONG;
    }
    struct ledger_posting p;
    memset(&p, 0, sizeof(p));
    p.transfer = *t;
    p.transfer.flags = (uint16_t)(t->flags & ~1u);
    p.transfer.timestamp = model_timestamp();
    uint32_t result = resolving ? model_resolve(t, &p, r) : model_plain(t, &p, r);
    if (result != LEDGER_OK) {
        return result;
    }
    if (resolving) {
        uint8_t ignored;
        const struct ledger_posting *h = model_transfer_find(t->pending_id, &ignored);
        p.transfer.debit_account_id = h->transfer.debit_account_id;
        p.transfer.credit_account_id = h->transfer.credit_account_id;
        p.transfer.currency = h->transfer.currency;
    } else {
        p.transfer.amount = t->amount;
    }
    model.created[model.created_count++] = p;
    model.timestamp_last = p.transfer.timestamp;
    r->timestamp = p.transfer.timestamp;
    r->debit_after = p.debit_after;
    r->credit_after = p.credit_after;
    return LEDGER_OK;
}

static uint32_t model_event(const struct ledger_event *e, struct ledger_event_result *r)
{
    memset(r, 0, sizeof(*r));
    uint32_t result = e->kind == LEDGER_EVENT_ACCOUNT ? model_account_create(&e->as.account, r)
                                                      : model_transfer_create(&e->as.transfer, r);
    if (result != LEDGER_OK && result != LEDGER_EXISTS) {
        memset(r, 0, sizeof(*r));
    }
    r->result = result;
    return result;
}

static bool event_is_linked(const struct ledger_event *e)
{
    return e->kind == LEDGER_EVENT_ACCOUNT ? (e->as.account.flags & 1u) != 0
                                           : (e->as.transfer.flags & 1u) != 0;
}

static void result_only(struct ledger_event_result *r, uint32_t result)
{
    memset(r, 0, sizeof(*r));
    r->result = result;
}

/* One apply call. A chain runs from an event to the first one without LINKED. */
static void model_apply(const struct ledger_event *events, uint32_t count,
                        struct ledger_event_result *results)
{
    static struct model_state saved;
    uint32_t i = 0;
    while (i < count) {
        uint32_t end = i;
        while (end < count && event_is_linked(&events[end])) {
            end++;
        }
        if (end == count) {
            for (uint32_t j = i; j < count; j++) {
                result_only(&results[j], LEDGER_LINKED_EVENT_CHAIN_OPEN);
            }
            return;
        }
        saved = model;
        for (uint32_t j = i; j <= end; j++) {
            if (model_event(&events[j], &results[j]) == LEDGER_OK) {
                continue;
            }
            model = saved;
            for (uint32_t k = i; k <= end; k++) {
                if (k != j) {
                    result_only(&results[k], LEDGER_LINKED_EVENT_FAILED);
                }
            }
            break;
        }
        i = end + 1;
    }
}

static void model_commit(void)
{
    for (uint32_t i = 0; i < model.created_count; i++) {
        uint64_t n = transfer_number(model.created[i].transfer.id, transfer_capacity);
        committed[n] = model.created[i];
    }
    for (uint32_t i = 0; i < model.resolved_count; i++) {
        uint64_t n = transfer_number(model.resolved[i].pending_id, transfer_capacity);
        committed[n].pending_status = model.resolved[i].status;
    }
}

static void model_batch_clear(void)
{
    model.created_count = 0;
    model.resolved_count = 0;
    model.touched_count = 0;
}

/* ---- Comparing core and model ---- */

static void balance_compare(const struct ledger_balance *a, const struct ledger_balance *b)
{
    assert_int_equal(a->debits_pending, b->debits_pending);
    assert_int_equal(a->debits_posted, b->debits_posted);
    assert_int_equal(a->credits_pending, b->credits_pending);
    assert_int_equal(a->credits_posted, b->credits_posted);
}

static void account_compare(const struct ledger_account *a, const struct ledger_account *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_memory_equal(a, b, sizeof(*a));
}

static void result_compare(const struct ledger_event *e, const struct ledger_event_result *core,
                           const struct ledger_event_result *ref, uint32_t batch, uint32_t index)
{
    if (core->result != ref->result || core->timestamp != ref->timestamp) {
        fail_msg("batch %u event %u (kind %u): core %s ts %" PRIu64 ", model %s ts %" PRIu64, batch,
                 index, e->kind, ledger_result_name(core->result), core->timestamp,
                 ledger_result_name(ref->result), ref->timestamp);
    }
    balance_compare(&core->debit_after, &ref->debit_after);
    balance_compare(&core->credit_after, &ref->credit_after);
}

static void transfer_compare(const struct ledger_transfer *a, const struct ledger_transfer *b)
{
    assert_true(id128_eq(a->id, b->id));
    assert_true(id128_eq(a->debit_account_id, b->debit_account_id));
    assert_true(id128_eq(a->credit_account_id, b->credit_account_id));
    assert_true(id128_eq(a->pending_id, b->pending_id));
    assert_true(id128_eq(a->user_ref, b->user_ref));
    assert_int_equal(a->amount, b->amount);
    assert_int_equal(a->timestamp, b->timestamp);
    assert_int_equal(a->timeout_s, b->timeout_s);
    assert_int_equal(a->currency, b->currency);
    assert_int_equal(a->code, b->code);
    assert_int_equal(a->flags, b->flags);
}

static void output_compare(const struct ledger *ledger)
{
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, model.created_count);
    for (uint32_t i = 0; i < out.posting_count; i++) {
        transfer_compare(&out.postings[i].transfer, &model.created[i].transfer);
        balance_compare(&out.postings[i].debit_after, &model.created[i].debit_after);
        balance_compare(&out.postings[i].credit_after, &model.created[i].credit_after);
        assert_int_equal(out.postings[i].pending_status, model.created[i].pending_status);
        assert_int_equal(out.postings[i].debit_prev, model.created[i].debit_prev);
        assert_int_equal(out.postings[i].credit_prev, model.created[i].credit_prev);
    }
    assert_int_equal(out.pending_update_count, model.resolved_count);
    for (uint32_t i = 0; i < out.pending_update_count; i++) {
        assert_true(id128_eq(out.pending_updates[i].pending_id, model.resolved[i].pending_id));
        assert_int_equal(out.pending_updates[i].status, model.resolved[i].status);
    }
    assert_int_equal(out.account_count, model.touched_count);
    for (uint32_t i = 0; i < out.account_count; i++) {
        bool listed = false;
        for (uint32_t j = 0; j < model.touched_count; j++) {
            listed = listed || id128_eq(model.touched[j], out.accounts[i]->id);
        }
        assert_true(listed);
        account_compare(out.accounts[i], model_account(out.accounts[i]->id));
    }
}

static void state_compare(const struct ledger *ledger)
{
    assert_int_equal(ledger_account_count(ledger), model.account_count);
    assert_int_equal(ledger_timestamp_last(ledger), model.timestamp_last);
    for (uint32_t i = 0; i < model.account_count; i++) {
        account_compare(ledger_account_get(ledger, model.accounts[i].id), &model.accounts[i]);
    }
    /* The model's own bookkeeping: per currency, debits equal credits. */
    for (uint32_t c = 0; c < 3; c++) {
        __int128 sums[4] = {0, 0, 0, 0};
        for (uint32_t i = 0; i < model.account_count; i++) {
            const struct ledger_account *a = &model.accounts[i];
            if (a->currency == currencies[c]) {
                sums[0] += a->debits_pending;
                sums[1] += a->debits_posted;
                sums[2] += a->credits_pending;
                sums[3] += a->credits_posted;
            }
        }
        assert_true(sums[0] == sums[2]);
        assert_true(sums[1] == sums[3]);
    }
}

/* ---- The generator ---- */

struct generator {
    const struct model_config *config;
    uint64_t transfer_next;
    uint64_t account_next;
    uint64_t focus_hold; /* resolved by the batch's first event, 0 = none */
    uint64_t holds[RECENT_MAX];
    uint32_t hold_count;
    struct ledger_event recent[RECENT_MAX];
    uint32_t recent_count;
    uint32_t batch;
};

static uint16_t pool_currency(uint64_t n)
{
    return currencies[n % 3];
}

static uint32_t pool_flags(uint64_t n)
{
    static const uint32_t flags[5] = {0, 0, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS,
                                      LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS,
                                      LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS};
    return flags[(n / 3) % 5];
}

static uint64_t gen_account_number(const struct generator *g)
{
    if (rng_percent(2)) {
        return rng_percent(50) ? 0 : g->config->pool + 1 + rng_below(4); /* none or unknown */
    }
    return 1 + rng_below(g->config->pool);
}

/* Another account, of the same currency most of the time. */
static uint64_t gen_counterparty(const struct generator *g, uint64_t debit)
{
    uint64_t n = gen_account_number(g);
    for (uint32_t tries = 0; tries < 8 && !rng_percent(5); tries++) {
        if (n % 3 == debit % 3) {
            break;
        }
        n = gen_account_number(g);
    }
    return n;
}

static int64_t gen_amount(void)
{
    uint64_t roll = rng_below(100);
    if (roll < 55) {
        return (int64_t)(1 + rng_below(100));
    }
    if (roll < 85) {
        return (int64_t)(1 + rng_below(10000));
    }
    if (roll < 90) {
        return -(int64_t)rng_below(3); /* 0, -1, -2 */
    }
    if (roll < 96) {
        return (int64_t)(INT64_MAX / 4 + rng_below(INT64_MAX / 2));
    }
    return INT64_MAX - (int64_t)rng_below(3);
}

static struct ledger_event gen_account(struct generator *g)
{
    /* The first batch opens the pool in order; later ones pick at random. */
    uint64_t n = g->batch == 0 ? g->account_next++ : gen_account_number(g);
    struct ledger_event e;
    memset(&e, 0, sizeof(e));
    e.kind = LEDGER_EVENT_ACCOUNT;
    struct ledger_account *a = &e.as.account;
    a->id = account_id(n);
    a->user_data = id128_make(n, 1);
    a->currency = pool_currency(n);
    a->flags = pool_flags(n);
    a->kind = a->flags == LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS ? LEDGER_KIND_WALLET
                                                                        : LEDGER_KIND_OPERATING;
    if (g->batch == 0 || !rng_percent(15)) {
        return e;
    }
    switch (rng_below(9)) {
    case 0:
        a->flags |= 1u << (3 + rng_below(8));
        break;
    case 1:
        a->flags |= 6;
        break;
    case 2:
        a->timestamp = 1 + rng_below(5);
        break;
    case 3:
        a->credits_posted = 1;
        break;
    case 4:
        a->kind = rng_percent(50) ? 0 : LEDGER_KIND_MAX + 1;
        break;
    case 5:
        a->currency = rng_percent(50) ? 0 : 1;
        break;
    case 6:
        a->user_data = id128_make(n, 2);
        break;
    case 7:
        a->kind = LEDGER_KIND_ESCROW;
        break;
    default:
        a->currency = pool_currency(n + 1);
        break;
    }
    return e;
}

static struct ledger_event gen_transfer_base(struct generator *g, uint16_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof(e));
    e.kind = LEDGER_EVENT_TRANSFER;
    struct ledger_transfer *t = &e.as.transfer;
    uint64_t debit = gen_account_number(g);
    t->id = transfer_id(g->transfer_next++);
    t->debit_account_id = account_id(debit);
    t->credit_account_id = account_id(gen_counterparty(g, debit));
    t->user_ref = id128_make(rng_below(4), 0);
    t->amount = gen_amount();
    t->currency = rng_percent(97) ? pool_currency(debit) : (uint16_t)rng_below(3);
    t->code = (uint16_t)(rng_percent(98) ? 1 + rng_below(10) : 0);
    t->flags = flags;
    return e;
}

static struct ledger_event gen_hold(struct generator *g)
{
    struct ledger_event e = gen_transfer_base(g, LEDGER_TRANSFER_PENDING);
    uint64_t roll = rng_below(100);
    e.as.transfer.timeout_s = roll < 55   ? 0
                              : roll < 97 ? (uint32_t)(1 + rng_below(3))
                                          : TL_PENDING_TIMEOUT_S_MAX + 1;
    if (g->hold_count < RECENT_MAX) {
        g->holds[g->hold_count++] = e.as.transfer.id.lo;
    } else {
        g->holds[rng_below(RECENT_MAX)] = e.as.transfer.id.lo;
    }
    return e;
}

/* Mostly a hold that exists (its status may be anything), sometimes anything else. */
static struct id128 gen_pending_id(struct generator *g, const struct ledger_event *e)
{
    uint64_t roll = rng_below(100);
    if (roll < 85 && g->hold_count > 0) {
        struct id128 id = transfer_id(g->holds[rng_below(g->hold_count)]);
        uint8_t status;
        for (uint32_t tries = 0; tries < 4 && model_transfer_find(id, &status) == NULL; tries++) {
            id = transfer_id(g->holds[rng_below(g->hold_count)]);
        }
        return id;
    }
    if (roll < 92 && g->transfer_next > 1) {
        return transfer_id(1 + rng_below(g->transfer_next - 1)); /* any transfer */
    }
    if (roll < 95) {
        return transfer_id(g->config->batches * g->config->events_max + 7); /* unknown */
    }
    return roll < 98 ? transfer_id(0) : e->as.transfer.id;
}

static struct ledger_event gen_resolve(struct generator *g)
{
    static const uint16_t modes[3] = {LEDGER_TRANSFER_POST_PENDING, LEDGER_TRANSFER_VOID_PENDING,
                                      LEDGER_TRANSFER_EXPIRE_PENDING};
    uint64_t mode = rng_below(100);
    struct ledger_event e = gen_transfer_base(g, modes[mode < 45 ? 0 : mode < 75 ? 1 : 2]);
    struct ledger_transfer *t = &e.as.transfer;
    t->pending_id = gen_pending_id(g, &e);
    uint8_t status;
    const struct ledger_posting *h = model_transfer_find(t->pending_id, &status);
    int64_t held = h != NULL ? h->transfer.amount : 100;
    uint64_t roll = rng_below(100);
    if (roll < 50) {
        t->amount = 0;
    } else if (roll < 70) {
        t->amount = held;
    } else if (roll < 90) {
        t->amount = (int64_t)(1 + rng_below((uint64_t)held));
    } else {
        t->amount = held < INT64_MAX ? held + 1 : held;
    }
    roll = rng_below(100);
    if (roll < 70 || h == NULL) {
        t->debit_account_id = id128_make(0, 0);
        t->credit_account_id = id128_make(0, 0);
    } else if (roll < 90) {
        t->debit_account_id = h->transfer.debit_account_id;
        t->credit_account_id = h->transfer.credit_account_id;
    }
    roll = rng_below(100);
    t->currency = roll < 70 || h == NULL ? 0 : roll < 92 ? h->transfer.currency : t->currency;
    return e;
}

static struct ledger_event gen_duplicate(struct generator *g)
{
    struct ledger_event e = g->recent[rng_below(g->recent_count)];
    e.as.transfer.flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
    switch (rng_below(6)) {
    case 0:
        e.as.transfer.amount ^= 1;
        break;
    case 1:
        e.as.transfer.code = (uint16_t)(1 + e.as.transfer.code % 10);
        break;
    case 2:
        e.as.transfer.user_ref.hi ^= 1;
        break;
    default:
        break; /* the same request again */
    }
    return e;
}

static void gen_corrupt(struct ledger_event *e)
{
    struct ledger_transfer *t = &e->as.transfer;
    switch (rng_below(7)) {
    case 0:
        t->id = id128_make(0, 0);
        break;
    case 1:
        t->flags |= (uint16_t)(1u << (5 + rng_below(11)));
        break;
    case 2:
        t->flags |= LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING;
        break;
    case 3:
        t->timestamp = 1;
        break;
    case 4:
        t->pending_id = transfer_id(1);
        break;
    case 5:
        t->timeout_s = 1;
        break;
    default:
        t->debit_account_id = t->credit_account_id;
        break;
    }
}

static struct ledger_event gen_event(struct generator *g)
{
    if (g->account_next <= g->config->pool || rng_percent(4)) {
        return gen_account(g);
    }
    uint64_t roll = rng_below(100);
    struct ledger_event e;
    if (roll < 10 && g->recent_count > 0) {
        e = gen_duplicate(g);
    } else if (roll < 35) {
        e = gen_resolve(g);
    } else if (roll < 55) {
        e = gen_hold(g);
    } else {
        e = gen_transfer_base(g, 0);
        if (rng_percent(6)) {
            gen_corrupt(&e);
        }
    }
    if (g->recent_count < RECENT_MAX) {
        g->recent[g->recent_count++] = e;
    } else {
        g->recent[rng_below(RECENT_MAX)] = e;
    }
    return e;
}

/* ---- Driving both ---- */

static void batch_run(struct ledger *ledger, struct generator *g, uint64_t now_ns)
{
    static struct ledger_event events[BATCH_EVENTS_MAX];
    static struct ledger_event_result core[BATCH_EVENTS_MAX];
    static struct ledger_event_result ref[BATCH_EVENTS_MAX];
    static struct model_state begin;
    const struct ledger_lookup lookup = {store_get, NULL};

    uint32_t count = (uint32_t)(1 + rng_below(g->config->events_max));
    if (g->batch == 0) {
        count = g->config->pool;
    }
    for (uint32_t i = 0; i < count; i++) {
        events[i] = gen_event(g);
        if (i == 0 && g->focus_hold != 0) {
            events[i] = gen_resolve(g);
            events[i].as.transfer.pending_id = transfer_id(g->focus_hold);
        }
        if (g->batch > 0 && rng_percent(15)) {
            struct ledger_event *e = &events[i];
            if (e->kind == LEDGER_EVENT_ACCOUNT) {
                e->as.account.flags |= LEDGER_ACCOUNT_LINKED;
            } else {
                e->as.transfer.flags |= LEDGER_TRANSFER_LINKED;
            }
        }
    }
    begin = model;
    model_now_ns = now_ns;
    ledger_batch_begin(ledger, now_ns, &lookup);
    /* Up to three apply calls; a chain cut by a call boundary is open at its end. */
    uint32_t start = 0;
    while (start < count) {
        uint32_t part = rng_percent(70) ? count - start : (uint32_t)(1 + rng_below(count - start));
        ledger_batch_apply(ledger, &events[start], part, &core[start]);
        model_apply(&events[start], part, &ref[start]);
        for (uint32_t i = start; i < start + part; i++) {
            result_compare(&events[i], &core[i], &ref[i], g->batch, i);
            result_counts[core[i].result]++;
        }
        start += part;
    }
    output_compare(ledger);
    if (rng_percent(4)) {
        ledger_batch_rollback(ledger);
        model = begin;
    } else {
        struct ledger_batch_out out;
        ledger_batch_output(ledger, &out);
        store_commit(&out);
        ledger_batch_commit(ledger);
        model_commit();
    }
    model_batch_clear();
    ledger_invariants_check(ledger);
    state_compare(ledger);
}

/* The batch clock: usually forward, sometimes back, sometimes right at a hold's expiry (the
 * first event of the batch then lands a nanosecond or two around it). */
static uint64_t gen_now(struct generator *g, uint64_t now_ns)
{
    now_ns += rng_below(600) * 1000000ull;
    if (rng_percent(5)) {
        now_ns -= rng_below(2000) * 1000000ull;
    }
    g->focus_hold = 0;
    if (rng_percent(10) && g->hold_count > 0) {
        uint8_t status;
        uint64_t n = g->holds[rng_below(g->hold_count)];
        const struct ledger_posting *h = model_transfer_find(transfer_id(n), &status);
        if (h != NULL && h->transfer.timeout_s != 0) {
            now_ns = h->transfer.timestamp + h->transfer.timeout_s * S_NS - rng_below(3);
            g->focus_hold = n;
        }
    }
    return now_ns;
}

static uint64_t seed_from_env(uint64_t fallback)
{
    const char *s = getenv("LEDGER_MODEL_SEED");
    if (s == NULL || *s == '\0') {
        return fallback;
    }
    return strtoull(s, NULL, 0);
}

static void model_run(const struct model_config *config)
{
    struct ledger *ledger = NULL;
    struct ledger_config lc = {config->accounts_max};
    struct generator g;

    assert_true(config->pool < POOL_MAX);
    assert_true(config->events_max <= BATCH_EVENTS_MAX);
    printf("model: seed %" PRIu64 ", %u batches of up to %u events\n", config->seed,
           config->batches, config->events_max);
    rng_state = config->seed;
    transfer_capacity = (uint64_t)config->batches * config->events_max + 16;
    store = calloc(transfer_capacity, sizeof(*store));
    committed = calloc(transfer_capacity, sizeof(*committed));
    assert_non_null(store);
    assert_non_null(committed);
    memset(&model, 0, sizeof(model));
    memset(&g, 0, sizeof(g));
    g.config = config;
    g.transfer_next = 1;
    g.account_next = 1;
    model_accounts_max = config->accounts_max;
    assert_int_equal(ledger_open(&lc, &ledger), TL_OK);

    uint64_t now_ns = T0_NS;
    for (g.batch = 0; g.batch < config->batches; g.batch++) {
        now_ns = gen_now(&g, now_ns);
        batch_run(ledger, &g, now_ns);
        if (g.batch % 100 == 99) {
            /* The writer's refresh path: reloading what is there changes nothing. */
            for (uint32_t i = 0; i < model.account_count; i++) {
                assert_int_equal(ledger_account_load(ledger, &model.accounts[i]), TL_OK);
            }
            ledger_invariants_check(ledger);
            state_compare(ledger);
        }
    }
    ledger_close(ledger);
    free(store);
    free(committed);
}

/* The generator must keep reaching every outcome, or the comparison proves little. */
static void result_counts_check(void)
{
    for (uint32_t i = 0; i < LEDGER_RESULT_COUNT; i++) {
        printf("  %-32s %8" PRIu64 "\n", ledger_result_name((enum ledger_result)i),
               result_counts[i]);
    }
    for (uint32_t i = 0; i < LEDGER_RESULT_COUNT; i++) {
        if (result_counts[i] == 0) {
            fail_msg("the model test never produced %s", ledger_result_name((enum ledger_result)i));
        }
    }
}

static void test_model_wide(void **state)
{
    (void)state;
    struct model_config config = {seed_from_env(20240601), 2000, 200, 56, 48};
    model_run(&config);
}

/* Few accounts, small batches: more duplicates, more collisions on the same holds. */
static void test_model_narrow(void **state)
{
    (void)state;
    struct model_config config = {seed_from_env(777) ^ 0x5555, 1500, 24, 9, 8};
    model_run(&config);
    result_counts_check();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_model_wide),
    cmocka_unit_test(test_model_narrow),
};

TL_TEST_MAIN(tests)
