/*
 * ledger.c - the double-entry ledger state machine (contract in ledger.h).
 *
 * Memory, all allocated in ledger_open and sized from the config and the batch limit:
 *   accounts       a dense array of every account; an account never moves, so pointers into it
 *                  stay valid, and the accounts a batch creates are the array's tail
 *   account_slots  open addressing with linear probing, power of two >= 2 * accounts_max,
 *                  mapping an id to its dense index (with hash bits to skip most compares)
 *   batch scratch  postings, the dirty-account list, hold status updates, an undo log and a
 *                  small hash of the ids this batch made or changed (new transfers and stored
 *                  holds it resolved), so duplicates and hold lookups see the batch's own work
 *
 * Every change a batch makes goes through the undo log (balances, created accounts, batch hash
 * inserts, status changes of holds made in the batch); the append-only lists (postings, dirty
 * accounts, hold updates) and the timestamp are restored from a mark. A linked chain rewinds
 * to the mark taken at its start, ledger_batch_rollback to the one taken at ledger_batch_begin.
 * Nothing is cleared with a large memset between batches: commit and rollback walk only what
 * the batch touched.
 *
 * A single event either fails before it changes anything or succeeds as a whole; only chains
 * need the undo log to fail after changes.
 */
#include "core/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "core/money.h"
#include "util/assert.h"
#include "util/limits.h"

/* Largest accounts_max accepted: keeps slot counts and indexes inside uint32_t. */
#define LEDGER_ACCOUNTS_LIMIT (1u << 30)
/* ISO 4217 numbers are 1..999; per-currency arrays are indexed by the number. */
#define CURRENCY_SLOTS 1000u
/* Batch hash entries: each event adds at most its own transfer and one stored hold. */
#define BATCH_ENTRIES_MAX (2u * LEDGER_BATCH_EVENTS_MAX)
/* Undo entries: each event logs at most two balances, two batch inserts or one status. */
#define UNDO_ENTRIES_MAX (4u * LEDGER_BATCH_EVENTS_MAX)
#define INDEX_NONE UINT32_MAX
#define NS_PER_S 1000000000ull
/* How many events ahead apply fetches an account's slot, and then the account itself. */
#define PREFETCH_SLOT_EVENTS 8u
#define PREFETCH_ACCOUNT_EVENTS 4u

#define TRANSFER_RESOLVING                                                                         \
    (LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING | LEDGER_TRANSFER_EXPIRE_PENDING)
#define TRANSFER_MODES (LEDGER_TRANSFER_PENDING | TRANSFER_RESOLVING)

static_assert(LEDGER_BATCH_EVENTS_MAX >= TL_BATCH_EVENTS_MAX, "a writer batch must fit");
static_assert(TL_PENDING_TIMEOUT_S_MAX <= UINT32_MAX, "timeouts are uint32_t");

struct account_slot {
    uint32_t index_plus_one; /* 0 = empty */
    uint32_t tag;            /* high hash bits */
};

/* A batch hash entry refers to a posting (a transfer made in this batch) or to a hold update
 * (a stored hold this batch resolved). ref = (index << 1 | kind) + 1, 0 = empty. */
enum batch_ref_kind {
    BATCH_REF_POSTING = 0,
    BATCH_REF_UPDATE = 1,
};

struct batch_slot {
    uint32_t ref;
    uint32_t tag;
};

enum undo_kind {
    UNDO_BALANCE = 1,        /* index = account; before, posting_last = its state */
    UNDO_ACCOUNT_CREATE = 2, /* index = account slot of the newest account */
    UNDO_BATCH_INSERT = 3,   /* index = batch slot */
    UNDO_HOLD_STATUS = 4,    /* index = posting of a hold made in this batch, was open */
};

struct undo_entry {
    uint32_t kind;
    uint32_t index;
    struct ledger_balance before;
    uint64_t posting_last; /* UNDO_BALANCE: the account's posting_last before */
};

/*
 * Running sums of every account's balances per currency. They wrap (uint64_t) on purpose: the
 * sum of many int64 balances may exceed int64, and equality modulo 2^64 still catches every
 * imbalance one event could make, since an event moves less than 2^63.
 */
struct currency_totals {
    uint64_t debits_pending;
    uint64_t debits_posted;
    uint64_t credits_pending;
    uint64_t credits_posted;
};

/* Sizes of everything a rewind restores without the undo log. */
struct ledger_mark {
    uint64_t timestamp_last;
    uint32_t undo_count;
    uint32_t posting_count;
    uint32_t dirty_count;
    uint32_t update_count;
    uint32_t account_count;
};

struct ledger {
    uint32_t accounts_max;
    uint32_t account_count;
    uint32_t account_mask;
    uint32_t batch_mask;
    struct ledger_account *accounts;
    struct account_slot *account_slots;
    uint8_t *account_dirty; /* per account: listed in dirty this batch */
    uint64_t timestamp_last;
    struct currency_totals totals[CURRENCY_SLOTS];
    bool currency_known[CURRENCY_SLOTS];

    bool batch_open;
    uint64_t now_ns;
    struct ledger_lookup lookup;
    struct ledger_mark begin;
    uint32_t event_count;
    uint32_t posting_count;
    uint32_t dirty_count;
    uint32_t update_count;
    uint32_t undo_count;
    struct ledger_posting *postings;
    const struct ledger_account **dirty;
    struct ledger_pending_update *updates;
    struct undo_entry *undo;
    struct batch_slot *batch_slots;
};

/* What validating a transfer resolved, for the commit step. */
struct transfer_plan {
    uint64_t timestamp;
    uint32_t debit_index;
    uint32_t credit_index;
    uint32_t slot; /* the empty batch slot for the new transfer's id */
    int64_t amount;
    struct ledger_balance debit_after;
    struct ledger_balance credit_after;
    /* Post, void and expire only. */
    struct ledger_transfer hold;
    uint32_t hold_posting; /* INDEX_NONE: the hold is in the store */
};

/* A transfer found in this batch or in the store. */
struct transfer_found {
    struct ledger_transfer transfer;
    enum ledger_pending_status status;
    uint32_t posting_index; /* INDEX_NONE: from the store */
};

static const char *const ledger_result_names[LEDGER_RESULT_COUNT] = {
#define LEDGER_RESULT_NAME(e, name) [e] = name,
    LEDGER_RESULT_TABLE(LEDGER_RESULT_NAME)
#undef LEDGER_RESULT_NAME
};

const char *ledger_result_name(enum ledger_result result)
{
    TL_ASSERT((unsigned)result < LEDGER_RESULT_COUNT);
    TL_ASSERT(ledger_result_names[result] != NULL);
    return ledger_result_names[result];
}

/* ---- Small helpers ---- */

static uint32_t pow2_at_least(uint64_t n)
{
    uint64_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    TL_ASSERT(p <= (1ull << 31));
    return (uint32_t)p;
}

static struct ledger_balance balance_of(const struct ledger_account *a)
{
    struct ledger_balance b = {a->debits_pending, a->debits_posted, a->credits_pending,
                               a->credits_posted};
    return b;
}

static bool currency_known(const struct ledger *ledger, uint16_t currency)
{
    return currency < CURRENCY_SLOTS && ledger->currency_known[currency];
}

/* Does the account keep its own flags' promise, with no negative or overflowing balance? */
static bool account_sound(const struct ledger_account *a)
{
    int64_t debits;
    int64_t credits;

    if (a->debits_pending < 0 || a->debits_posted < 0) {
        return false;
    }
    if (a->credits_pending < 0 || a->credits_posted < 0) {
        return false;
    }
    if (__builtin_add_overflow(a->debits_pending, a->debits_posted, &debits)) {
        return false;
    }
    if (__builtin_add_overflow(a->credits_pending, a->credits_posted, &credits)) {
        return false;
    }
    if ((a->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) && debits > a->credits_posted) {
        return false;
    }
    if ((a->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) && credits > a->debits_posted) {
        return false;
    }
    return true;
}

/* The timestamp the next successful event gets. */
static uint64_t timestamp_next(const struct ledger *ledger)
{
    TL_ASSERT(ledger->timestamp_last < UINT64_MAX);
    uint64_t next = ledger->timestamp_last + 1;
    return ledger->now_ns > next ? ledger->now_ns : next;
}

static void undo_push(struct ledger *ledger, uint32_t kind, uint32_t index)
{
    TL_ASSERT(ledger->undo_count < UNDO_ENTRIES_MAX);
    struct undo_entry *u = &ledger->undo[ledger->undo_count++];
    u->kind = kind;
    u->index = index;
}

/* ---- The account table ---- */

static uint32_t account_find(const struct ledger *ledger, struct id128 id)
{
    uint64_t hash = id128_hash(id);
    uint32_t tag = (uint32_t)(hash >> 32);
    uint32_t i = (uint32_t)hash & ledger->account_mask;

    for (;;) {
        const struct account_slot *s = &ledger->account_slots[i];
        if (s->index_plus_one == 0) {
            return INDEX_NONE;
        }
        if (s->tag == tag && id128_eq(ledger->accounts[s->index_plus_one - 1].id, id)) {
            return s->index_plus_one - 1;
        }
        i = (i + 1) & ledger->account_mask;
    }
}

/* Appends a new account (not in the table) and returns its slot. Cannot fail: the caller
 * checked the capacity, and the table is at most half full. */
static uint32_t account_insert(struct ledger *ledger, const struct ledger_account *account)
{
    uint64_t hash = id128_hash(account->id);
    uint32_t i = (uint32_t)hash & ledger->account_mask;

    TL_ASSERT(ledger->account_count < ledger->accounts_max);
    TL_ASSERT(!id128_is_zero(account->id));
    while (ledger->account_slots[i].index_plus_one != 0) {
        i = (i + 1) & ledger->account_mask;
    }
    ledger->accounts[ledger->account_count] = *account;
    ledger->account_count++;
    ledger->account_slots[i].index_plus_one = ledger->account_count;
    ledger->account_slots[i].tag = (uint32_t)(hash >> 32);
    return i;
}

static void totals_add(struct currency_totals *t, const struct ledger_balance *b)
{
    t->debits_pending += (uint64_t)b->debits_pending;
    t->debits_posted += (uint64_t)b->debits_posted;
    t->credits_pending += (uint64_t)b->credits_pending;
    t->credits_posted += (uint64_t)b->credits_posted;
}

static void totals_sub(struct currency_totals *t, const struct ledger_balance *b)
{
    t->debits_pending -= (uint64_t)b->debits_pending;
    t->debits_posted -= (uint64_t)b->debits_posted;
    t->credits_pending -= (uint64_t)b->credits_pending;
    t->credits_posted -= (uint64_t)b->credits_posted;
}

/* Sets an account's balances, keeping the currency totals in step. Logs nothing. */
static void account_balance_put(struct ledger *ledger, uint32_t index,
                                const struct ledger_balance *after)
{
    struct ledger_account *a = &ledger->accounts[index];
    struct ledger_balance before = balance_of(a);
    struct currency_totals *t = &ledger->totals[a->currency];

    TL_ASSERT(index < ledger->account_count);
    totals_sub(t, &before);
    totals_add(t, after);
    a->debits_pending = after->debits_pending;
    a->debits_posted = after->debits_posted;
    a->credits_pending = after->credits_pending;
    a->credits_posted = after->credits_posted;
    TL_ASSERT(account_sound(a));
}

static void account_dirty_mark(struct ledger *ledger, uint32_t index)
{
    if (ledger->account_dirty[index]) {
        return;
    }
    TL_ASSERT(ledger->dirty_count < LEDGER_BATCH_EVENTS_MAX * 2u);
    ledger->account_dirty[index] = 1;
    ledger->dirty[ledger->dirty_count++] = &ledger->accounts[index];
}

/* A batch change of balances by the posting at timestamp: logged for undo, listed for the
 * store. Returns the account's previous posting_last (the posting's link in its chain). */
static uint64_t account_balance_set(struct ledger *ledger, uint32_t index,
                                    const struct ledger_balance *after, uint64_t timestamp)
{
    struct ledger_account *a = &ledger->accounts[index];
    uint64_t prev = a->posting_last;
    TL_ASSERT(ledger->batch_open);
    TL_ASSERT(prev < timestamp);
    undo_push(ledger, UNDO_BALANCE, index);
    ledger->undo[ledger->undo_count - 1].before = balance_of(a);
    ledger->undo[ledger->undo_count - 1].posting_last = prev;
    account_balance_put(ledger, index, after);
    a->posting_last = timestamp;
    account_dirty_mark(ledger, index);
    return prev;
}

/* ---- The batch hash ---- */

static uint32_t batch_ref(uint32_t index, enum batch_ref_kind kind)
{
    return ((index << 1) | (uint32_t)kind) + 1;
}

static uint32_t batch_ref_index(uint32_t ref)
{
    return (ref - 1) >> 1;
}

static enum batch_ref_kind batch_ref_kind(uint32_t ref)
{
    return ((ref - 1) & 1u) ? BATCH_REF_UPDATE : BATCH_REF_POSTING;
}

static struct id128 batch_ref_id(const struct ledger *ledger, uint32_t ref)
{
    uint32_t index = batch_ref_index(ref);
    if (batch_ref_kind(ref) == BATCH_REF_POSTING) {
        TL_ASSERT(index < ledger->posting_count);
        return ledger->postings[index].transfer.id;
    }
    TL_ASSERT(index < ledger->update_count);
    return ledger->updates[index].pending_id;
}

/* The slot holding id, or the empty slot where it would go. */
static uint32_t batch_probe(const struct ledger *ledger, struct id128 id)
{
    uint64_t hash = id128_hash(id);
    uint32_t tag = (uint32_t)(hash >> 32);
    uint32_t i = (uint32_t)hash & ledger->batch_mask;

    for (;;) {
        const struct batch_slot *s = &ledger->batch_slots[i];
        if (s->ref == 0) {
            return i;
        }
        if (s->tag == tag && id128_eq(batch_ref_id(ledger, s->ref), id)) {
            return i;
        }
        i = (i + 1) & ledger->batch_mask;
    }
}

static void batch_insert(struct ledger *ledger, uint32_t slot, struct id128 id, uint32_t ref)
{
    TL_ASSERT(slot <= ledger->batch_mask);
    TL_ASSERT(ledger->batch_slots[slot].ref == 0);
    ledger->batch_slots[slot].ref = ref;
    ledger->batch_slots[slot].tag = (uint32_t)(id128_hash(id) >> 32);
    undo_push(ledger, UNDO_BATCH_INSERT, slot);
}

/* Looks a transfer up in this batch, then in the store. *slot_out is id's batch slot (empty
 * when the batch has not touched id). */
static bool transfer_find(const struct ledger *ledger, struct id128 id, struct transfer_found *out,
                          uint32_t *slot_out)
{
    uint32_t slot = batch_probe(ledger, id);
    uint32_t ref = ledger->batch_slots[slot].ref;

    *slot_out = slot;
    out->posting_index = INDEX_NONE;
    if (ref != 0 && batch_ref_kind(ref) == BATCH_REF_POSTING) {
        const struct ledger_posting *p = &ledger->postings[batch_ref_index(ref)];
        out->transfer = p->transfer;
        out->status = (enum ledger_pending_status)p->pending_status;
        out->posting_index = batch_ref_index(ref);
        return true;
    }
    if (ledger->lookup.transfer_get == NULL ||
        !ledger->lookup.transfer_get(ledger->lookup.ctx, id, &out->transfer, &out->status)) {
        /* A hold this batch resolved was found in the store once; it must be found again. */
        TL_ASSERT(ref == 0);
        return false;
    }
    TL_ASSERT(id128_eq(out->transfer.id, id));
    TL_ASSERT((unsigned)out->status <= LEDGER_PENDING_EXPIRED);
    if (ref != 0) {
        out->status = (enum ledger_pending_status)ledger->updates[batch_ref_index(ref)].status;
    }
    return true;
}

/* ---- Rewind: chains and batch rollback ---- */

static void ledger_mark_take(const struct ledger *ledger, struct ledger_mark *mark)
{
    mark->timestamp_last = ledger->timestamp_last;
    mark->undo_count = ledger->undo_count;
    mark->posting_count = ledger->posting_count;
    mark->dirty_count = ledger->dirty_count;
    mark->update_count = ledger->update_count;
    mark->account_count = ledger->account_count;
}

static void undo_apply(struct ledger *ledger, const struct undo_entry *u)
{
    switch (u->kind) {
    case UNDO_BALANCE:
        account_balance_put(ledger, u->index, &u->before);
        ledger->accounts[u->index].posting_last = u->posting_last;
        break;
    case UNDO_ACCOUNT_CREATE: {
        struct account_slot *s = &ledger->account_slots[u->index];
        /* Undone newest first, so the account is the array's tail and no later insert probed
         * past its slot: clearing the slot leaves every other probe sequence intact. */
        TL_ASSERT(s->index_plus_one == ledger->account_count);
        struct ledger_account *a = &ledger->accounts[ledger->account_count - 1];
        struct ledger_balance zero = {0, 0, 0, 0};
        struct ledger_balance left = balance_of(a);
        TL_ASSERT(memcmp(&left, &zero, sizeof(zero)) == 0);
        memset(a, 0, sizeof(*a));
        s->index_plus_one = 0;
        s->tag = 0;
        ledger->account_count--;
        break;
    }
    case UNDO_BATCH_INSERT:
        /* Same argument as for accounts: inserts are undone newest first. */
        TL_ASSERT(ledger->batch_slots[u->index].ref != 0);
        ledger->batch_slots[u->index].ref = 0;
        break;
    case UNDO_HOLD_STATUS:
        TL_ASSERT(u->index < ledger->posting_count);
        ledger->postings[u->index].pending_status = LEDGER_PENDING_OPEN;
        break;
    default:
        TL_UNREACHABLE();
    }
}

static void ledger_rewind(struct ledger *ledger, const struct ledger_mark *mark)
{
    TL_ASSERT(ledger->undo_count >= mark->undo_count);
    while (ledger->undo_count > mark->undo_count) {
        ledger->undo_count--;
        undo_apply(ledger, &ledger->undo[ledger->undo_count]);
    }
    while (ledger->dirty_count > mark->dirty_count) {
        ledger->dirty_count--;
        ptrdiff_t index = ledger->dirty[ledger->dirty_count] - ledger->accounts;
        ledger->account_dirty[index] = 0;
    }
    ledger->posting_count = mark->posting_count;
    ledger->update_count = mark->update_count;
    ledger->timestamp_last = mark->timestamp_last;
    TL_ASSERT(ledger->account_count == mark->account_count);
}

/* ---- Accounts ---- */

static enum ledger_result account_validate(const struct ledger *ledger,
                                           const struct ledger_account *a)
{
    if (id128_is_zero(a->id)) {
        return LEDGER_ID_MUST_NOT_BE_ZERO;
    }
    if ((a->flags & ~(uint32_t)LEDGER_ACCOUNT_FLAGS_KNOWN) != 0) {
        return LEDGER_FLAGS_UNKNOWN;
    }
    if ((a->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (a->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS)) {
        return LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (a->timestamp != 0 || a->posting_last != 0) {
        return LEDGER_TIMESTAMP_MUST_BE_ZERO;
    }
    if (a->debits_pending != 0 || a->debits_posted != 0 || a->credits_pending != 0 ||
        a->credits_posted != 0) {
        return LEDGER_BALANCES_MUST_BE_ZERO;
    }
    if (a->kind == 0 || a->kind > LEDGER_KIND_MAX) {
        return LEDGER_KIND_INVALID;
    }
    if (!currency_known(ledger, a->currency)) {
        return LEDGER_CURRENCY_INVALID;
    }
    return LEDGER_OK;
}

/* An account is the same when everything the request could set matches; LINKED belongs to
 * the request, and the balances were checked to be zero. */
static bool account_same(const struct ledger_account *request, const struct ledger_account *stored)
{
    uint32_t mask = ~(uint32_t)LEDGER_ACCOUNT_LINKED;
    return id128_eq(request->user_data, stored->user_data) &&
           request->currency == stored->currency && request->kind == stored->kind &&
           (request->flags & mask) == (stored->flags & mask);
}

static enum ledger_result account_create(struct ledger *ledger, const struct ledger_account *a,
                                         struct ledger_event_result *result)
{
    enum ledger_result r = account_validate(ledger, a);
    if (r != LEDGER_OK) {
        return r;
    }
    uint32_t index = account_find(ledger, a->id);
    if (index != INDEX_NONE) {
        const struct ledger_account *existing = &ledger->accounts[index];
        if (!account_same(a, existing)) {
            return LEDGER_EXISTS_WITH_DIFFERENT_FIELDS;
        }
        result->timestamp = existing->timestamp;
        result->debit_after = balance_of(existing);
        return LEDGER_EXISTS;
    }
    if (ledger->account_count == ledger->accounts_max) {
        return LEDGER_LEDGER_FULL;
    }

    struct ledger_account created = *a;
    created.flags &= ~(uint32_t)LEDGER_ACCOUNT_LINKED;
    created.timestamp = timestamp_next(ledger);
    uint32_t slot = account_insert(ledger, &created);
    undo_push(ledger, UNDO_ACCOUNT_CREATE, slot);
    account_dirty_mark(ledger, ledger->account_count - 1);
    ledger->timestamp_last = created.timestamp;
    result->timestamp = created.timestamp;
    TL_ASSERT(account_find(ledger, a->id) == ledger->account_count - 1);
    return LEDGER_OK;
}

/* ---- Transfers: validation ---- */

/* Checks that need nothing but the transfer itself (TigerBeetle's order: id, flags,
 * timestamp, pending id, timeout). */
static enum ledger_result transfer_validate(const struct ledger_transfer *t)
{
    uint32_t modes = t->flags & TRANSFER_MODES;

    if (id128_is_zero(t->id)) {
        return LEDGER_ID_MUST_NOT_BE_ZERO;
    }
    if ((t->flags & ~(uint32_t)LEDGER_TRANSFER_FLAGS_KNOWN) != 0) {
        return LEDGER_FLAGS_UNKNOWN;
    }
    if ((modes & (modes - 1)) != 0) {
        return LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (t->timestamp != 0) {
        return LEDGER_TIMESTAMP_MUST_BE_ZERO;
    }
    if (modes & TRANSFER_RESOLVING) {
        if (id128_is_zero(t->pending_id)) {
            return LEDGER_PENDING_ID_MUST_NOT_BE_ZERO;
        }
        if (id128_eq(t->pending_id, t->id)) {
            return LEDGER_PENDING_ID_MUST_DIFFER;
        }
    } else if (!id128_is_zero(t->pending_id)) {
        return LEDGER_PENDING_ID_MUST_BE_ZERO;
    }
    if (t->timeout_s != 0 && !(modes & LEDGER_TRANSFER_PENDING)) {
        return LEDGER_TIMEOUT_RESERVED_FOR_PENDING;
    }
    if (t->timeout_s > TL_PENDING_TIMEOUT_S_MAX) {
        return LEDGER_TIMEOUT_TOO_LONG;
    }
    return LEDGER_OK;
}

/*
 * When is a resubmitted transfer the same as the stored one? A retried request must get
 * LEDGER_EXISTS, and the stored transfer is resolved: a post, void or expire records the
 * hold's accounts, currency and amount even when the request left them zero. So:
 *   - debit and credit account, currency and amount: equal, except that on a post, void or
 *     expire a zero in the request means "taken from the hold" and matches what was recorded;
 *   - flags (without LINKED, which belongs to the request), pending_id, user_ref, code and
 *     timeout_s: always equal.
 */
static bool transfer_same(const struct ledger_transfer *request,
                          const struct ledger_transfer *stored)
{
    uint32_t mask = ~(uint32_t)LEDGER_TRANSFER_LINKED;
    bool inherits = (request->flags & TRANSFER_RESOLVING) != 0;

    if ((request->flags & mask) != (stored->flags & mask)) {
        return false;
    }
    if (!id128_eq(request->pending_id, stored->pending_id) ||
        !id128_eq(request->user_ref, stored->user_ref)) {
        return false;
    }
    if (request->code != stored->code || request->timeout_s != stored->timeout_s) {
        return false;
    }
    if (!(inherits && id128_is_zero(request->debit_account_id)) &&
        !id128_eq(request->debit_account_id, stored->debit_account_id)) {
        return false;
    }
    if (!(inherits && id128_is_zero(request->credit_account_id)) &&
        !id128_eq(request->credit_account_id, stored->credit_account_id)) {
        return false;
    }
    if (!(inherits && request->currency == 0) && request->currency != stored->currency) {
        return false;
    }
    return (inherits && request->amount == 0) || request->amount == stored->amount;
}

static void result_balances_current(const struct ledger *ledger, const struct ledger_transfer *t,
                                    struct ledger_event_result *result)
{
    uint32_t debit = account_find(ledger, t->debit_account_id);
    uint32_t credit = account_find(ledger, t->credit_account_id);
    if (debit != INDEX_NONE) {
        result->debit_after = balance_of(&ledger->accounts[debit]);
    }
    if (credit != INDEX_NONE) {
        result->credit_after = balance_of(&ledger->accounts[credit]);
    }
}

/* LEDGER_OK when no transfer has t's id yet; *slot is then where it goes in the batch hash. */
static enum ledger_result transfer_check_exists(const struct ledger *ledger,
                                                const struct ledger_transfer *t, uint32_t *slot,
                                                struct ledger_event_result *result)
{
    struct transfer_found found;

    if (!transfer_find(ledger, t->id, &found, slot)) {
        return LEDGER_OK;
    }
    if (!transfer_same(t, &found.transfer)) {
        return LEDGER_EXISTS_WITH_DIFFERENT_FIELDS;
    }
    TL_ASSERT(found.transfer.timestamp != 0);
    result->timestamp = found.transfer.timestamp;
    result_balances_current(ledger, &found.transfer, result);
    return LEDGER_EXISTS;
}

/*
 * Balances after moving pending_delta into *_pending and posted_delta into *_posted on both
 * sides. Overflow of any balance, or of a side's pending + posted, comes before the limits.
 */
static enum ledger_result transfer_plan_balances(const struct ledger *ledger,
                                                 struct transfer_plan *plan, int64_t pending_delta,
                                                 int64_t posted_delta)
{
    const struct ledger_account *debit = &ledger->accounts[plan->debit_index];
    const struct ledger_account *credit = &ledger->accounts[plan->credit_index];
    struct ledger_balance *d = &plan->debit_after;
    struct ledger_balance *c = &plan->credit_after;
    int64_t debits;
    int64_t credits;

    TL_ASSERT(posted_delta >= 0);
    /* Limits come before overflow: whether the debit account can cover a transfer must never
     * depend on the credit account's balance, or a payer could probe a payee's balance through
     * the answer. 128-bit sums of int64 values cannot overflow. */
    if ((debit->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (__int128)debit->debits_pending + pending_delta + debit->debits_posted + posted_delta >
            debit->credits_posted) {
        return LEDGER_EXCEEDS_CREDITS;
    }
    if ((credit->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        (__int128)credit->credits_pending + pending_delta + credit->credits_posted +
                posted_delta >
            credit->debits_posted) {
        return LEDGER_EXCEEDS_DEBITS;
    }
    *d = balance_of(debit);
    *c = balance_of(credit);
    if (__builtin_add_overflow(d->debits_pending, pending_delta, &d->debits_pending) ||
        __builtin_add_overflow(d->debits_posted, posted_delta, &d->debits_posted) ||
        __builtin_add_overflow(c->credits_pending, pending_delta, &c->credits_pending) ||
        __builtin_add_overflow(c->credits_posted, posted_delta, &c->credits_posted) ||
        __builtin_add_overflow(d->debits_pending, d->debits_posted, &debits) ||
        __builtin_add_overflow(c->credits_pending, c->credits_posted, &credits)) {
        return LEDGER_OVERFLOW;
    }
    TL_ASSERT(d->debits_pending >= 0);
    TL_ASSERT(c->credits_pending >= 0);
    TL_ASSERT(!(debit->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) ||
              debits <= d->credits_posted);
    TL_ASSERT(!(credit->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) ||
              credits <= c->debits_posted);
    return LEDGER_OK;
}

/* A plain transfer or a new hold. */
static enum ledger_result transfer_plan_move(const struct ledger *ledger,
                                             const struct ledger_transfer *t,
                                             struct transfer_plan *plan,
                                             struct ledger_event_result *result)
{
    if (!id128_is_zero(t->debit_account_id) &&
        id128_eq(t->debit_account_id, t->credit_account_id)) {
        return LEDGER_ACCOUNTS_MUST_DIFFER;
    }
    plan->debit_index = account_find(ledger, t->debit_account_id);
    if (plan->debit_index == INDEX_NONE) {
        return LEDGER_DEBIT_ACCOUNT_NOT_FOUND;
    }
    plan->credit_index = account_find(ledger, t->credit_account_id);
    if (plan->credit_index == INDEX_NONE) {
        return LEDGER_CREDIT_ACCOUNT_NOT_FOUND;
    }
    if (!currency_known(ledger, t->currency)) {
        return LEDGER_CURRENCY_INVALID;
    }
    if (ledger->accounts[plan->debit_index].currency != t->currency ||
        ledger->accounts[plan->credit_index].currency != t->currency) {
        return LEDGER_CURRENCY_MISMATCH;
    }
    if (t->amount <= 0) {
        return LEDGER_AMOUNT_MUST_BE_POSITIVE;
    }
    if (t->code == 0) {
        return LEDGER_CODE_MUST_NOT_BE_ZERO;
    }
    enum ledger_result r = transfer_check_exists(ledger, t, &plan->slot, result);
    if (r != LEDGER_OK) {
        return r;
    }
    plan->amount = t->amount;
    TL_ASSERT(plan->debit_index != plan->credit_index);
    if (t->flags & LEDGER_TRANSFER_PENDING) {
        return transfer_plan_balances(ledger, plan, t->amount, 0);
    }
    return transfer_plan_balances(ledger, plan, 0, t->amount);
}

static bool hold_expired(const struct ledger_transfer *hold, uint64_t timestamp)
{
    if (hold->timeout_s == 0) {
        return false;
    }
    uint64_t timeout_ns = (uint64_t)hold->timeout_s * NS_PER_S;
    uint64_t expires_ns =
        hold->timestamp > UINT64_MAX - timeout_ns ? UINT64_MAX : hold->timestamp + timeout_ns;
    return timestamp >= expires_ns;
}

/* The hold a post, void or expire names, checked against the request and its state. */
static enum ledger_result transfer_plan_hold(const struct ledger *ledger,
                                             const struct ledger_transfer *t,
                                             struct transfer_plan *plan)
{
    struct transfer_found found;
    uint32_t slot;

    if (!transfer_find(ledger, t->pending_id, &found, &slot)) {
        return LEDGER_PENDING_NOT_FOUND;
    }
    if (found.status == LEDGER_PENDING_NONE) {
        return LEDGER_PENDING_NOT_PENDING;
    }
    TL_ASSERT(found.transfer.flags & LEDGER_TRANSFER_PENDING);
    if ((!id128_is_zero(t->debit_account_id) &&
         !id128_eq(t->debit_account_id, found.transfer.debit_account_id)) ||
        (!id128_is_zero(t->credit_account_id) &&
         !id128_eq(t->credit_account_id, found.transfer.credit_account_id))) {
        return LEDGER_PENDING_HAS_DIFFERENT_ACCOUNTS;
    }
    if (t->currency != 0 && t->currency != found.transfer.currency) {
        return LEDGER_PENDING_HAS_DIFFERENT_CURRENCY;
    }
    switch (found.status) {
    case LEDGER_PENDING_POSTED:
        return LEDGER_PENDING_ALREADY_POSTED;
    case LEDGER_PENDING_VOIDED:
        return LEDGER_PENDING_ALREADY_VOIDED;
    case LEDGER_PENDING_EXPIRED:
        return LEDGER_PENDING_ALREADY_EXPIRED;
    default:
        TL_ASSERT(found.status == LEDGER_PENDING_OPEN);
    }
    /* Only the writer's expiry may release a hold once its time has come. */
    bool expired = hold_expired(&found.transfer, plan->timestamp);
    if (t->flags & LEDGER_TRANSFER_EXPIRE_PENDING) {
        if (!expired) {
            return LEDGER_PENDING_NOT_EXPIRED;
        }
    } else if (expired) {
        return LEDGER_PENDING_HAS_EXPIRED;
    }
    plan->hold = found.transfer;
    plan->hold_posting = found.posting_index;
    return LEDGER_OK;
}

/* A post, void or expire of a hold. */
static enum ledger_result transfer_plan_resolve(const struct ledger *ledger,
                                                const struct ledger_transfer *t,
                                                struct transfer_plan *plan,
                                                struct ledger_event_result *result)
{
    if (!id128_is_zero(t->debit_account_id) &&
        id128_eq(t->debit_account_id, t->credit_account_id)) {
        return LEDGER_ACCOUNTS_MUST_DIFFER;
    }
    if (t->currency != 0 && !currency_known(ledger, t->currency)) {
        return LEDGER_CURRENCY_INVALID;
    }
    if (t->amount < 0) {
        return LEDGER_AMOUNT_MUST_BE_POSITIVE;
    }
    if (t->code == 0) {
        return LEDGER_CODE_MUST_NOT_BE_ZERO;
    }
    enum ledger_result r = transfer_check_exists(ledger, t, &plan->slot, result);
    if (r == LEDGER_OK) {
        r = transfer_plan_hold(ledger, t, plan);
    }
    if (r != LEDGER_OK) {
        return r;
    }
    int64_t held = plan->hold.amount;
    TL_ASSERT(held > 0);
    if (t->flags & LEDGER_TRANSFER_POST_PENDING) {
        if (t->amount > held) {
            return LEDGER_EXCEEDS_PENDING_AMOUNT;
        }
        plan->amount = t->amount == 0 ? held : t->amount;
    } else {
        if (t->amount != 0 && t->amount != held) {
            return LEDGER_PENDING_AMOUNT_MUST_MATCH;
        }
        plan->amount = held;
    }
    plan->debit_index = account_find(ledger, plan->hold.debit_account_id);
    if (plan->debit_index == INDEX_NONE) {
        return LEDGER_DEBIT_ACCOUNT_NOT_FOUND;
    }
    plan->credit_index = account_find(ledger, plan->hold.credit_account_id);
    if (plan->credit_index == INDEX_NONE) {
        return LEDGER_CREDIT_ACCOUNT_NOT_FOUND;
    }
    TL_ASSERT(plan->amount > 0);
    TL_ASSERT(plan->amount <= held);
    int64_t posted = (t->flags & LEDGER_TRANSFER_POST_PENDING) ? plan->amount : 0;
    return transfer_plan_balances(ledger, plan, -held, posted);
}

/* ---- Transfers: commit ---- */

static uint8_t hold_status_after(uint32_t flags)
{
    if (flags & LEDGER_TRANSFER_POST_PENDING) {
        return LEDGER_PENDING_POSTED;
    }
    if (flags & LEDGER_TRANSFER_VOID_PENDING) {
        return LEDGER_PENDING_VOIDED;
    }
    TL_ASSERT(flags & LEDGER_TRANSFER_EXPIRE_PENDING);
    return LEDGER_PENDING_EXPIRED;
}

/* Records the hold's new state: in its posting when this batch made it, else as a batch hash
 * entry so later events see it; in both cases as one update for the store. */
static void hold_resolve(struct ledger *ledger, const struct transfer_plan *plan, uint8_t status)
{
    TL_ASSERT(ledger->update_count < LEDGER_BATCH_EVENTS_MAX);
    uint32_t update = ledger->update_count++;
    ledger->updates[update].pending_id = plan->hold.id;
    ledger->updates[update].status = status;
    if (plan->hold_posting != INDEX_NONE) {
        struct ledger_posting *p = &ledger->postings[plan->hold_posting];
        TL_ASSERT(p->pending_status == LEDGER_PENDING_OPEN);
        undo_push(ledger, UNDO_HOLD_STATUS, plan->hold_posting);
        p->pending_status = status;
        return;
    }
    uint32_t slot = batch_probe(ledger, plan->hold.id);
    batch_insert(ledger, slot, plan->hold.id, batch_ref(update, BATCH_REF_UPDATE));
}

static void transfer_commit(struct ledger *ledger, const struct ledger_transfer *t,
                            const struct transfer_plan *plan, struct ledger_event_result *result)
{
    const struct ledger_account *debit = &ledger->accounts[plan->debit_index];
    const struct ledger_account *credit = &ledger->accounts[plan->credit_index];
    struct currency_totals before = ledger->totals[debit->currency];

    TL_ASSERT(ledger->posting_count < LEDGER_BATCH_EVENTS_MAX);
    uint32_t index = ledger->posting_count++;
    struct ledger_posting *p = &ledger->postings[index];
    p->transfer = *t;
    p->transfer.flags = (uint16_t)(t->flags & ~LEDGER_TRANSFER_LINKED);
    p->transfer.debit_account_id = debit->id;
    p->transfer.credit_account_id = credit->id;
    p->transfer.currency = debit->currency;
    p->transfer.amount = plan->amount;
    p->transfer.timestamp = plan->timestamp;
    p->pending_status =
        (t->flags & LEDGER_TRANSFER_PENDING) ? LEDGER_PENDING_OPEN : LEDGER_PENDING_NONE;
    batch_insert(ledger, plan->slot, t->id, batch_ref(index, BATCH_REF_POSTING));
    if (t->flags & TRANSFER_RESOLVING) {
        hold_resolve(ledger, plan, hold_status_after(t->flags));
    }
    p->debit_prev = account_balance_set(ledger, plan->debit_index, &plan->debit_after, plan->timestamp);
    p->credit_prev =
        account_balance_set(ledger, plan->credit_index, &plan->credit_after, plan->timestamp);
    p->debit_after = plan->debit_after;
    p->credit_after = plan->credit_after;
    ledger->timestamp_last = plan->timestamp;

    result->timestamp = plan->timestamp;
    result->debit_after = plan->debit_after;
    result->credit_after = plan->credit_after;

    /* A transfer moves money between two accounts of one currency; it never creates any. */
    const struct currency_totals *after = &ledger->totals[debit->currency];
    TL_ASSERT(after->debits_posted - before.debits_posted ==
              after->credits_posted - before.credits_posted);
    TL_ASSERT(after->debits_pending - before.debits_pending ==
              after->credits_pending - before.credits_pending);
}

static enum ledger_result transfer_create(struct ledger *ledger, const struct ledger_transfer *t,
                                          struct ledger_event_result *result)
{
    struct transfer_plan plan;

    enum ledger_result r = transfer_validate(t);
    if (r != LEDGER_OK) {
        return r;
    }
    plan.timestamp = timestamp_next(ledger);
    plan.hold_posting = INDEX_NONE;
    if (t->flags & TRANSFER_RESOLVING) {
        r = transfer_plan_resolve(ledger, t, &plan, result);
    } else {
        r = transfer_plan_move(ledger, t, &plan, result);
    }
    if (r != LEDGER_OK) {
        return r;
    }
    transfer_commit(ledger, t, &plan, result);
    return LEDGER_OK;
}

/* ---- Events and chains ---- */

/*
 * The account table is far larger than the caches, so two random accounts per transfer would
 * stall on memory twice each (slot, then account). The events of a call are known up front:
 * PREFETCH_SLOT_EVENTS ahead the slot an id hashes to is fetched, PREFETCH_ACCOUNT_EVENTS
 * ahead the account that slot names (both of its cache lines). Prefetches change nothing.
 * The helpers are forced inline: GCC otherwise finds them free of side effects (a prefetch
 * has none it can see) and deletes the calls.
 */
#define PREFETCH_INLINE inline __attribute__((always_inline))

static PREFETCH_INLINE void account_prefetch(const struct ledger *ledger, struct id128 id,
                                             bool account)
{
    uint64_t hash = id128_hash(id);
    const struct account_slot *s = &ledger->account_slots[(uint32_t)hash & ledger->account_mask];
    if (!account) {
        __builtin_prefetch(s);
        return;
    }
    if (s->index_plus_one != 0 && s->tag == (uint32_t)(hash >> 32)) {
        const char *a = (const char *)&ledger->accounts[s->index_plus_one - 1];
        __builtin_prefetch(a);
        __builtin_prefetch(a + sizeof(struct ledger_account) - 1);
    }
}

static PREFETCH_INLINE void transfer_prefetch(const struct ledger *ledger,
                                              const struct ledger_event *event, bool account)
{
    if (event->kind == LEDGER_EVENT_TRANSFER) {
        account_prefetch(ledger, event->as.transfer.debit_account_id, account);
        account_prefetch(ledger, event->as.transfer.credit_account_id, account);
    }
}

static PREFETCH_INLINE void event_prefetch(const struct ledger *ledger,
                                           const struct ledger_event *events, uint32_t count,
                                           uint32_t index)
{
    if (index + PREFETCH_SLOT_EVENTS < count) {
        transfer_prefetch(ledger, &events[index + PREFETCH_SLOT_EVENTS], false);
    }
    if (index + PREFETCH_ACCOUNT_EVENTS < count) {
        transfer_prefetch(ledger, &events[index + PREFETCH_ACCOUNT_EVENTS], true);
    }
}

static bool event_linked(const struct ledger_event *event)
{
    if (event->kind == LEDGER_EVENT_ACCOUNT) {
        return (event->as.account.flags & LEDGER_ACCOUNT_LINKED) != 0;
    }
    TL_ASSERT(event->kind == LEDGER_EVENT_TRANSFER);
    return (event->as.transfer.flags & LEDGER_TRANSFER_LINKED) != 0;
}

static void result_fail(struct ledger_event_result *result, enum ledger_result r)
{
    memset(result, 0, sizeof(*result));
    result->result = r;
}

/* One event; on failure nothing changed and only exists fills more than the code. */
static enum ledger_result event_apply(struct ledger *ledger, const struct ledger_event *event,
                                      struct ledger_event_result *result)
{
    uint32_t undo_count = ledger->undo_count;
    enum ledger_result r;

    memset(result, 0, sizeof(*result));
    if (event->kind == LEDGER_EVENT_ACCOUNT) {
        r = account_create(ledger, &event->as.account, result);
    } else {
        TL_ASSERT(event->kind == LEDGER_EVENT_TRANSFER);
        r = transfer_create(ledger, &event->as.transfer, result);
    }
    result->result = r;
    TL_ASSERT(r == LEDGER_OK || ledger->undo_count == undo_count);
    TL_ASSERT(r != LEDGER_OK || ledger->undo_count > undo_count);
    return r;
}

/* events[first..last] form one chain: all succeed, or every change is undone. */
static void chain_apply(struct ledger *ledger, const struct ledger_event *events, uint32_t count,
                        uint32_t first, uint32_t last, struct ledger_event_result *results)
{
    struct ledger_mark mark;

    ledger_mark_take(ledger, &mark);
    for (uint32_t i = first; i <= last; i++) {
        event_prefetch(ledger, events, count, i);
        if (event_apply(ledger, &events[i], &results[i]) == LEDGER_OK) {
            continue;
        }
        ledger_rewind(ledger, &mark);
        for (uint32_t j = first; j <= last; j++) {
            if (j != i) {
                result_fail(&results[j], LEDGER_LINKED_EVENT_FAILED);
            }
        }
        return;
    }
}

void ledger_batch_apply(struct ledger *ledger, const struct ledger_event *events, uint32_t count,
                        struct ledger_event_result *results)
{
    TL_ASSERT(ledger->batch_open);
    TL_ASSERT(count <= LEDGER_BATCH_EVENTS_MAX - ledger->event_count);
    ledger->event_count += count;

    /* A chain still open at the end of the call is not run at all. */
    uint32_t open_from = count;
    while (open_from > 0 && event_linked(&events[open_from - 1])) {
        open_from--;
    }
    uint32_t i = 0;
    while (i < open_from) {
        uint32_t last = i;
        while (event_linked(&events[last])) {
            last++;
        }
        TL_ASSERT(last < open_from);
        if (last == i) {
            event_prefetch(ledger, events, count, i);
            event_apply(ledger, &events[i], &results[i]);
        } else {
            chain_apply(ledger, events, count, i, last, results);
        }
        i = last + 1;
    }
    for (uint32_t j = open_from; j < count; j++) {
        result_fail(&results[j], LEDGER_LINKED_EVENT_CHAIN_OPEN);
    }
}

/* ---- Batches ---- */

void ledger_batch_begin(struct ledger *ledger, uint64_t now_ns, const struct ledger_lookup *lookup)
{
    TL_ASSERT(!ledger->batch_open);
    TL_ASSERT(ledger->undo_count == 0);
    TL_ASSERT(ledger->posting_count == 0);
    TL_ASSERT(ledger->dirty_count == 0);
    TL_ASSERT(ledger->update_count == 0);
    ledger->batch_open = true;
    ledger->now_ns = now_ns;
    ledger->event_count = 0;
    if (lookup != NULL) {
        ledger->lookup = *lookup;
    } else {
        ledger->lookup.transfer_get = NULL;
        ledger->lookup.ctx = NULL;
    }
    ledger_mark_take(ledger, &ledger->begin);
}

void ledger_batch_output(const struct ledger *ledger, struct ledger_batch_out *out)
{
    TL_ASSERT(ledger->batch_open);
    out->postings = ledger->postings;
    out->posting_count = ledger->posting_count;
    out->accounts = ledger->dirty;
    out->account_count = ledger->dirty_count;
    out->pending_updates = ledger->updates;
    out->pending_update_count = ledger->update_count;
    TL_ASSERT(ledger->posting_count == 0 ||
              ledger->postings[ledger->posting_count - 1].transfer.timestamp <=
                  ledger->timestamp_last);
}

/* Clears the batch scratch by walking what the batch touched. */
static void batch_scratch_clear(struct ledger *ledger)
{
    for (uint32_t i = 0; i < ledger->undo_count; i++) {
        if (ledger->undo[i].kind == UNDO_BATCH_INSERT) {
            ledger->batch_slots[ledger->undo[i].index].ref = 0;
        }
    }
    for (uint32_t i = 0; i < ledger->dirty_count; i++) {
        ledger->account_dirty[ledger->dirty[i] - ledger->accounts] = 0;
    }
    ledger->undo_count = 0;
    ledger->posting_count = 0;
    ledger->dirty_count = 0;
    ledger->update_count = 0;
    ledger->event_count = 0;
    ledger->batch_open = false;
    TL_ASSERT(ledger->timestamp_last >= ledger->begin.timestamp_last);
}

void ledger_batch_commit(struct ledger *ledger)
{
    TL_ASSERT(ledger->batch_open);
    TL_ASSERT(ledger->timestamp_last >= ledger->begin.timestamp_last);
    batch_scratch_clear(ledger);
}

void ledger_batch_rollback(struct ledger *ledger)
{
    TL_ASSERT(ledger->batch_open);
    ledger_rewind(ledger, &ledger->begin);
    TL_ASSERT(ledger->undo_count == 0);
    TL_ASSERT(ledger->account_count == ledger->begin.account_count);
    batch_scratch_clear(ledger);
}

/* ---- Lifetime, loading, reads ---- */

static enum tl_err ledger_alloc(struct ledger *ledger, uint32_t accounts_max)
{
    uint32_t account_slots = pow2_at_least(2ull * accounts_max);
    uint32_t batch_slots = pow2_at_least(2ull * BATCH_ENTRIES_MAX);

    ledger->accounts = calloc(accounts_max, sizeof(*ledger->accounts));
    ledger->account_slots = calloc(account_slots, sizeof(*ledger->account_slots));
    ledger->account_dirty = calloc(accounts_max, sizeof(*ledger->account_dirty));
    ledger->postings = calloc(LEDGER_BATCH_EVENTS_MAX, sizeof(*ledger->postings));
    ledger->dirty = calloc(2u * LEDGER_BATCH_EVENTS_MAX, sizeof(*ledger->dirty));
    ledger->updates = calloc(LEDGER_BATCH_EVENTS_MAX, sizeof(*ledger->updates));
    ledger->undo = calloc(UNDO_ENTRIES_MAX, sizeof(*ledger->undo));
    ledger->batch_slots = calloc(batch_slots, sizeof(*ledger->batch_slots));
    if (ledger->accounts == NULL || ledger->account_slots == NULL ||
        ledger->account_dirty == NULL || ledger->postings == NULL || ledger->dirty == NULL ||
        ledger->updates == NULL || ledger->undo == NULL || ledger->batch_slots == NULL) {
        return TL_ERR_NOMEM;
    }
    ledger->accounts_max = accounts_max;
    ledger->account_mask = account_slots - 1;
    ledger->batch_mask = batch_slots - 1;
    return TL_OK;
}

enum tl_err ledger_open(const struct ledger_config *config, struct ledger **out)
{
    enum tl_err err = TL_ERR_INVALID_REQUEST;
    struct ledger *ledger = NULL;

    TL_ASSERT(config != NULL);
    TL_ASSERT(out != NULL);
    if (config->accounts_max == 0 || config->accounts_max > LEDGER_ACCOUNTS_LIMIT) {
        goto out;
    }
    err = TL_ERR_NOMEM;
    ledger = calloc(1, sizeof(*ledger));
    if (ledger == NULL) {
        goto out;
    }
    err = ledger_alloc(ledger, config->accounts_max);
    if (err != TL_OK) {
        goto out;
    }
    for (uint16_t c = 1; c < CURRENCY_SLOTS; c++) {
        ledger->currency_known[c] = money_currency_by_numeric(c) != NULL;
    }
    *out = ledger;
    ledger = NULL;
out:
    ledger_close(ledger);
    return err;
}

void ledger_close(struct ledger *ledger)
{
    if (ledger == NULL) {
        return;
    }
    free(ledger->accounts);
    free(ledger->account_slots);
    free(ledger->account_dirty);
    free(ledger->postings);
    free(ledger->dirty);
    free(ledger->updates);
    free(ledger->undo);
    free(ledger->batch_slots);
    free(ledger);
}

enum tl_err ledger_account_load(struct ledger *ledger, const struct ledger_account *account)
{
    TL_ASSERT(!ledger->batch_open);
    TL_ASSERT(account != NULL);
    if (id128_is_zero(account->id) || account->kind == 0 || account->kind > LEDGER_KIND_MAX ||
        !currency_known(ledger, account->currency) ||
        (account->flags & ~(uint32_t)LEDGER_ACCOUNT_FLAGS_KNOWN) != 0 || !account_sound(account) ||
        (account->posting_last != 0 && account->posting_last <= account->timestamp)) {
        return TL_ERR_CORRUPT;
    }
    uint32_t index = account_find(ledger, account->id);
    if (index == INDEX_NONE) {
        if (ledger->account_count == ledger->accounts_max) {
            return TL_ERR_LIMIT;
        }
        struct ledger_account empty = {.id = account->id, .currency = account->currency};
        account_insert(ledger, &empty);
        index = ledger->account_count - 1;
    }
    /* The currency totals lose the cached balances and gain the stored ones. */
    struct ledger_account *cached = &ledger->accounts[index];
    struct ledger_balance before = balance_of(cached);
    totals_sub(&ledger->totals[cached->currency], &before);
    *cached = *account;
    cached->flags &= ~(uint32_t)LEDGER_ACCOUNT_LINKED;
    struct ledger_balance after = balance_of(cached);
    totals_add(&ledger->totals[cached->currency], &after);
    TL_ASSERT(account_find(ledger, account->id) == index);
    /* Whatever this account has seen happened before anything this ledger assigns next,
     * including when another node wrote it (store_exclusive false). */
    if (account->posting_last > ledger->timestamp_last) {
        ledger->timestamp_last = account->posting_last;
    }
    if (account->timestamp > ledger->timestamp_last) {
        ledger->timestamp_last = account->timestamp;
    }
    return TL_OK;
}

void ledger_timestamp_load(struct ledger *ledger, uint64_t timestamp_last)
{
    TL_ASSERT(!ledger->batch_open);
    TL_ASSERT(timestamp_last < UINT64_MAX);
    ledger->timestamp_last = timestamp_last;
}

uint64_t ledger_timestamp_last(const struct ledger *ledger)
{
    return ledger->timestamp_last;
}

const struct ledger_account *ledger_account_get(const struct ledger *ledger, struct id128 id)
{
    uint32_t index = account_find(ledger, id);
    if (index == INDEX_NONE) {
        return NULL;
    }
    TL_ASSERT(id128_eq(ledger->accounts[index].id, id));
    return &ledger->accounts[index];
}

uint32_t ledger_account_count(const struct ledger *ledger)
{
    return ledger->account_count;
}

int64_t ledger_balance_available(const struct ledger_balance *balance)
{
    int64_t debits;

    TL_ASSERT(balance->debits_pending >= 0);
    TL_ASSERT(balance->debits_posted >= 0);
    TL_ASSERT(balance->credits_posted >= 0);
    /* The ledger never lets pending + posted debits pass int64 (LEDGER_OVERFLOW). */
    TL_ASSERT(!__builtin_add_overflow(balance->debits_pending, balance->debits_posted, &debits));
    return balance->credits_posted - debits;
}

/* ---- Full check ---- */

static void invariants_check_table(const struct ledger *ledger)
{
    uint64_t occupied = 0;

    for (uint64_t i = 0; i <= ledger->account_mask; i++) {
        const struct account_slot *s = &ledger->account_slots[i];
        if (s->index_plus_one == 0) {
            continue;
        }
        occupied++;
        TL_ASSERT(s->index_plus_one <= ledger->account_count);
        TL_ASSERT(account_find(ledger, ledger->accounts[s->index_plus_one - 1].id) ==
                  s->index_plus_one - 1);
    }
    TL_ASSERT(occupied == ledger->account_count);
}

void ledger_invariants_check(const struct ledger *ledger)
{
    struct currency_totals sums[CURRENCY_SLOTS];

    memset(sums, 0, sizeof(sums));
    TL_ASSERT(ledger->account_count <= ledger->accounts_max);
    for (uint32_t i = 0; i < ledger->account_count; i++) {
        const struct ledger_account *a = &ledger->accounts[i];
        TL_ASSERT(!id128_is_zero(a->id));
        TL_ASSERT(currency_known(ledger, a->currency));
        TL_ASSERT(a->kind >= 1 && a->kind <= LEDGER_KIND_MAX);
        TL_ASSERT((a->flags & ~(uint32_t)LEDGER_ACCOUNT_FLAGS_KNOWN) == 0);
        TL_ASSERT(account_sound(a));
        struct ledger_balance b = balance_of(a);
        totals_add(&sums[a->currency], &b);
    }
    for (uint32_t c = 0; c < CURRENCY_SLOTS; c++) {
        TL_ASSERT(memcmp(&sums[c], &ledger->totals[c], sizeof(sums[c])) == 0);
        TL_ASSERT(sums[c].debits_posted == sums[c].credits_posted);
        TL_ASSERT(sums[c].debits_pending == sums[c].credits_pending);
    }
    invariants_check_table(ledger);
    for (uint32_t i = 1; i < ledger->posting_count; i++) {
        TL_ASSERT(ledger->postings[i - 1].transfer.timestamp <
                  ledger->postings[i].transfer.timestamp);
    }
}
