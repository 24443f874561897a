/*
 * test_store.c - the store suite: one set of tests, run against every backend.
 *
 * Each test runs once per backend named in TALLY_STORE_BACKENDS (comma-separated; default
 * "sqlite"), each time on a fresh, empty store. Batches are built by hand from arrays, with a
 * small model of balances below, so the suite does not depend on the ledger core. The fault
 * backend wraps each backend to fail every operation of a batch in turn.
 *
 * Adding a backend (postgres): a row in test_backends of store_fixture.c with functions that make
 * a fresh, empty store for one test and remove it afterwards.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/fault.h"
#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/limits.h"

/* ---- A tiny model: accounts, transfers and the batches that record them ---- */

#define WORLD_ACCOUNTS_MAX 16
#define BATCH_POSTINGS_MAX 64
#define BATCH_UPDATES_MAX 8
#define BATCH_RECORDS_MAX 8
#define EUR 978
#define USD 840

struct world {
    struct ledger_account accounts[WORLD_ACCOUNTS_MAX];
    uint32_t account_count;
    uint64_t ts; /* the last timestamp handed out */
};

struct test_batch {
    struct ledger_posting postings[BATCH_POSTINGS_MAX];
    uint32_t posting_count;
    const struct ledger_account *accounts[WORLD_ACCOUNTS_MAX];
    uint32_t account_count;
    struct ledger_pending_update updates[BATCH_UPDATES_MAX];
    uint32_t update_count;
    struct store_record records[BATCH_RECORDS_MAX];
    uint32_t record_count;
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->ts = 1700000000000000000ull;
}

static struct id128 account_id(uint64_t n)
{
    return id128_make(0x0190000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

static struct id128 transfer_id(uint64_t n)
{
    return id128_make(0x0191000000007000ull, 0x9000000000000000ull | n);
}

/* Lists an account as changed by the batch, once. */
static void batch_touch(struct test_batch *b, const struct ledger_account *a)
{
    for (uint32_t i = 0; i < b->account_count; i++) {
        if (b->accounts[i] == a) {
            return;
        }
    }
    assert_true(b->account_count < WORLD_ACCOUNTS_MAX);
    b->accounts[b->account_count++] = a;
}

static struct ledger_account *world_account(struct world *w, struct test_batch *b, uint64_t n,
                                            uint16_t currency)
{
    struct ledger_account *a;
    assert_true(w->account_count < WORLD_ACCOUNTS_MAX);
    a = &w->accounts[w->account_count++];
    memset(a, 0, sizeof(*a));
    a->id = account_id(n);
    a->user_data = id128_make(0xabcdef, n);
    a->timestamp = ++w->ts;
    a->currency = currency;
    a->kind = LEDGER_KIND_WALLET;
    a->flags = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    batch_touch(b, a);
    return a;
}

static struct ledger_balance balance_of(const struct ledger_account *a)
{
    struct ledger_balance balance = {a->debits_pending, a->debits_posted, a->credits_pending,
                                     a->credits_posted};
    return balance;
}

/* Records a transfer (a hold when timeout_s or flags say so) and moves the model's money. */
static struct ledger_posting *world_transfer(struct world *w, struct test_batch *b, uint64_t n,
                                             struct ledger_account *debit,
                                             struct ledger_account *credit, int64_t amount,
                                             uint16_t flags, uint32_t timeout_s)
{
    struct ledger_posting *p;
    assert_true(b->posting_count < BATCH_POSTINGS_MAX);
    p = &b->postings[b->posting_count++];
    memset(p, 0, sizeof(*p));
    p->transfer.id = transfer_id(n);
    p->transfer.debit_account_id = debit->id;
    p->transfer.credit_account_id = credit->id;
    p->transfer.user_ref = n % 2 ? id128_make(0x5a, n) : id128_make(0, 0);
    p->transfer.amount = amount;
    p->transfer.timestamp = ++w->ts;
    p->transfer.timeout_s = timeout_s;
    p->transfer.currency = debit->currency;
    p->transfer.code = LEDGER_CODE_PAYMENT;
    p->transfer.flags = flags;
    if (flags & LEDGER_TRANSFER_PENDING) {
        debit->debits_pending += amount;
        credit->credits_pending += amount;
        p->pending_status = LEDGER_PENDING_OPEN;
    } else {
        debit->debits_posted += amount;
        credit->credits_posted += amount;
    }
    /* The history chains, linked as the ledger links them. */
    p->debit_prev = debit->posting_last;
    p->credit_prev = credit->posting_last;
    debit->posting_last = p->transfer.timestamp;
    credit->posting_last = p->transfer.timestamp;
    p->debit_after = balance_of(debit);
    p->credit_after = balance_of(credit);
    batch_touch(b, debit);
    batch_touch(b, credit);
    return p;
}

static struct ledger_account *world_find(struct world *w, struct id128 id)
{
    for (uint32_t i = 0; i < w->account_count; i++) {
        if (id128_eq(w->accounts[i].id, id)) {
            return &w->accounts[i];
        }
    }
    fail_msg("no such account in the model");
    return NULL;
}

/* Posts (status POSTED) or voids (VOIDED) a hold in full: a new posting plus a status change. */
static struct ledger_posting *world_resolve(struct world *w, struct test_batch *b, uint64_t n,
                                            const struct ledger_posting *hold, uint8_t status)
{
    struct ledger_account *debit = world_find(w, hold->transfer.debit_account_id);
    struct ledger_account *credit = world_find(w, hold->transfer.credit_account_id);
    int64_t amount = hold->transfer.amount;
    uint16_t flags = status == LEDGER_PENDING_POSTED ? LEDGER_TRANSFER_POST_PENDING
                                                     : LEDGER_TRANSFER_VOID_PENDING;
    struct ledger_posting *p = world_transfer(w, b, n, debit, credit, amount, flags, 0);

    p->transfer.pending_id = hold->transfer.id;
    debit->debits_pending -= amount;
    credit->credits_pending -= amount;
    if (status == LEDGER_PENDING_VOIDED) {
        debit->debits_posted -= amount;
        credit->credits_posted -= amount;
    }
    p->debit_after = balance_of(debit);
    p->credit_after = balance_of(credit);
    assert_true(b->update_count < BATCH_UPDATES_MAX);
    b->updates[b->update_count].pending_id = hold->transfer.id;
    b->updates[b->update_count].status = status;
    b->update_count++;
    return p;
}

static void batch_record(struct test_batch *b, uint64_t n, const char *topic, const char *data)
{
    struct store_record *r;
    assert_true(b->record_count < BATCH_RECORDS_MAX);
    r = &b->records[b->record_count++];
    memset(r, 0, sizeof(*r));
    r->kind = STORE_RECORD_OUTBOX;
    r->key = id128_make(0xe7e7, n);
    assert_true(strlen(topic) < sizeof(r->topic));
    memcpy(r->topic, topic, strlen(topic) + 1);
    r->data = data;
    r->data_bytes = (uint32_t)strlen(data);
}

static struct store_batch batch_view(const struct test_batch *b)
{
    struct store_batch batch;
    memset(&batch, 0, sizeof(batch));
    batch.ledger.postings = b->postings;
    batch.ledger.posting_count = b->posting_count;
    batch.ledger.accounts = b->accounts;
    batch.ledger.account_count = b->account_count;
    batch.ledger.pending_updates = b->updates;
    batch.ledger.pending_update_count = b->update_count;
    batch.records = b->records;
    batch.record_count = b->record_count;
    return batch;
}

static enum tl_err batch_commit(struct store *store, const struct test_batch *b)
{
    struct store_batch batch = batch_view(b);
    enum tl_err err = store_batch_begin(store);
    if (err != TL_OK) {
        return err;
    }
    return store_batch_commit(store, &batch);
}

/* Commits and starts the next batch empty. */
static void batch_commit_ok(struct store *store, struct test_batch *b)
{
    assert_int_equal(batch_commit(store, b), TL_OK);
    memset(b, 0, sizeof(*b));
}

/* ---- Exact comparisons ---- */

static void assert_account_eq(const struct ledger_account *a, const struct ledger_account *b)
{
    fixture_assert_id_eq(a->id, b->id);
    fixture_assert_id_eq(a->user_data, b->user_data);
    assert_int_equal(a->debits_pending, b->debits_pending);
    assert_int_equal(a->debits_posted, b->debits_posted);
    assert_int_equal(a->credits_pending, b->credits_pending);
    assert_int_equal(a->credits_posted, b->credits_posted);
    assert_int_equal(a->timestamp, b->timestamp);
    assert_int_equal(a->currency, b->currency);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->posting_last, b->posting_last);
}

static void assert_posting_eq(const struct ledger_posting *a, const struct ledger_posting *b)
{
    fixture_assert_transfer_eq(&a->transfer, &b->transfer);
    fixture_assert_balance_eq(&a->debit_after, &b->debit_after);
    fixture_assert_balance_eq(&a->credit_after, &b->credit_after);
    assert_int_equal(a->pending_status, b->pending_status);
    assert_int_equal(a->debit_prev, b->debit_prev);
    assert_int_equal(a->credit_prev, b->credit_prev);
}

static void assert_stored_account(struct store *store, const struct ledger_account *expected)
{
    struct ledger_account got;
    bool found = false;
    assert_int_equal(store_account_get(store, expected->id, &got, &found), TL_OK);
    assert_true(found);
    assert_account_eq(&got, expected);
}

static void assert_stored_posting(struct store *store, const struct ledger_posting *expected)
{
    struct ledger_posting got;
    bool found = false;
    assert_int_equal(store_transfer_get(store, expected->transfer.id, &got, &found), TL_OK);
    assert_true(found);
    assert_posting_eq(&got, expected);
}

static void assert_no_transfer(struct store *store, struct id128 id)
{
    struct ledger_posting got;
    bool found = true;
    assert_int_equal(store_transfer_get(store, id, &got, &found), TL_OK);
    assert_false(found);
}

/* ---- Dumps: everything a test can observe, as text, to compare whole states ---- */

struct dump {
    char *text;
    size_t bytes;
    size_t capacity;
};

static void dump_add(struct dump *d, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void dump_add(struct dump *d, const char *format, ...)
{
    va_list args;
    int n;
    if (d->capacity - d->bytes < 512) {
        d->capacity = d->capacity * 2 + 4096;
        d->text = realloc(d->text, d->capacity);
        assert_non_null(d->text);
    }
    va_start(args, format);
    n = vsnprintf(d->text + d->bytes, d->capacity - d->bytes, format, args);
    va_end(args);
    assert_true(n >= 0 && (size_t)n < d->capacity - d->bytes);
    d->bytes += (size_t)n;
}

static enum tl_err dump_account(void *ctx, const struct ledger_account *a)
{
    dump_add(ctx, "account %016llx%016llx %016llx%016llx %lld %lld %lld %lld %llu %u %u %u\n",
             (unsigned long long)a->id.hi, (unsigned long long)a->id.lo,
             (unsigned long long)a->user_data.hi, (unsigned long long)a->user_data.lo,
             (long long)a->debits_pending, (long long)a->debits_posted,
             (long long)a->credits_pending, (long long)a->credits_posted,
             (unsigned long long)a->timestamp, a->currency, a->kind, a->flags);
    return TL_OK;
}

static void dump_posting(struct dump *d, const struct ledger_posting *p)
{
    const struct ledger_transfer *t = &p->transfer;
    dump_add(d, "  %llx.%llx %llx.%llx %llx.%llx %llx.%llx %lld %llu %u %u %u %u %u\n",
             (unsigned long long)t->debit_account_id.hi, (unsigned long long)t->debit_account_id.lo,
             (unsigned long long)t->credit_account_id.hi,
             (unsigned long long)t->credit_account_id.lo, (unsigned long long)t->pending_id.hi,
             (unsigned long long)t->pending_id.lo, (unsigned long long)t->user_ref.hi,
             (unsigned long long)t->user_ref.lo, (long long)t->amount,
             (unsigned long long)t->timestamp, t->timeout_s, t->currency, t->code, t->flags,
             p->pending_status);
    dump_add(d, "  %lld %lld %lld %lld / %lld %lld %lld %lld\n",
             (long long)p->debit_after.debits_pending, (long long)p->debit_after.debits_posted,
             (long long)p->debit_after.credits_pending, (long long)p->debit_after.credits_posted,
             (long long)p->credit_after.debits_pending, (long long)p->credit_after.debits_posted,
             (long long)p->credit_after.credits_pending, (long long)p->credit_after.credits_posted);
}

/* Accounts, the last timestamp, the transfers named 1..transfer_max, open holds due by the
 * end of time, the history of account 1 and the outbox. Caller frees the text. */
static char *dump_store(struct store *store, uint64_t transfer_max)
{
    struct dump d = {NULL, 0, 0};
    struct ledger_posting posting;
    struct ledger_posting page[TL_PAGE_LIMIT_MAX];
    struct ledger_transfer expired[16];
    struct store_outbox_row rows[16];
    struct store_page cursor = {0, 0, TL_PAGE_LIMIT_MAX};
    uint64_t last = 0;
    uint32_t count = 0;
    bool found = false;
    bool more = false;

    assert_int_equal(store_accounts_scan(store, dump_account, &d), TL_OK);
    assert_int_equal(store_timestamp_last(store, &last), TL_OK);
    dump_add(&d, "timestamp_last %llu\n", (unsigned long long)last);
    for (uint64_t n = 1; n <= transfer_max; n++) {
        assert_int_equal(store_transfer_get(store, transfer_id(n), &posting, &found), TL_OK);
        dump_add(&d, "transfer %llu %s\n", (unsigned long long)n, found ? "found" : "absent");
        if (found) {
            dump_posting(&d, &posting);
        }
    }
    assert_int_equal(store_pending_expired(store, INT64_MAX, 16, expired, &count), TL_OK);
    for (uint32_t i = 0; i < count; i++) {
        dump_add(&d, "expired %llu\n", (unsigned long long)expired[i].timestamp);
    }
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    for (uint32_t i = 0; i < count; i++) {
        dump_add(&d, "history %llu\n", (unsigned long long)page[i].transfer.timestamp);
    }
    assert_int_equal(store_outbox_list(store, 0, 16, rows, &count), TL_OK);
    for (uint32_t i = 0; i < count; i++) {
        dump_add(&d, "outbox %llu %llx %s %s\n", (unsigned long long)rows[i].seq,
                 (unsigned long long)rows[i].key.lo, rows[i].topic, rows[i].data);
    }
    store_outbox_rows_free(rows, count);
    return d.text;
}

/* ---- Tests ---- */

static void body_open_and_migrations(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    uint32_t version = 0;
    struct test_batch batch;
    struct world w;

    assert_int_equal(store_schema_version(store, &version), TL_OK);
    assert_int_equal(version, STORE_SCHEMA_VERSION);
    assert_int_equal(store_ping(store), TL_OK);
    assert_int_equal(store_exclusive(store), f->backend->exclusive);
    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    world_account(&w, &batch, 1, EUR);
    batch_commit_ok(store, &batch);
    store_close(store);

    /* Reopening applies nothing twice and keeps the data. */
    for (int i = 0; i < 2; i++) {
        store = fixture_open_writer(f);
        version = 0;
        assert_int_equal(store_schema_version(store, &version), TL_OK);
        assert_int_equal(version, STORE_SCHEMA_VERSION);
        assert_stored_account(store, &w.accounts[0]);
        store_close(store);
    }
    store = fixture_open_reader(f);
    assert_int_equal(store_schema_version(store, &version), TL_OK);
    assert_int_equal(version, STORE_SCHEMA_VERSION);
    store_close(store);
}

static void test_open_and_migrations(void **state)
{
    (void)state;
    fixture_each_backend(body_open_and_migrations);
}

static void body_open_errors(struct store_fixture *f)
{
    struct store_config config = f->config;
    struct store *store = NULL;

    config.backend = "no-such-backend";
    assert_int_equal(store_open(&config, &store), TL_ERR_INVALID_REQUEST);
    config = f->config;
    config.path = "";
    assert_int_equal(store_open(&config, &store), TL_ERR_INVALID_REQUEST);
    /* A reader never creates a store: there is nothing at this path yet. */
    config = f->config;
    config.read_only = true;
    assert_int_equal(store_open(&config, &store), TL_ERR_STORAGE);
    assert_null(store);
}

static void test_open_errors(void **state)
{
    (void)state;
    fixture_each_backend(body_open_errors);
}

/* Every kind of field, extreme values included, comes back exactly after a reopen. */
static void body_round_trip(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct test_batch batch;
    struct ledger_posting expected[4];
    struct ledger_account *a, *b, *c;
    struct world w;

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(&w, &batch, 1, EUR);
    b = world_account(&w, &batch, 2, EUR);
    c = world_account(&w, &batch, 3, USD);
    c->kind = LEDGER_KIND_FX_POOL;
    c->flags = LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    c->user_data = id128_make(UINT64_MAX, UINT64_MAX);
    a->credits_posted = INT64_MAX - 10; /* as if funded earlier */
    expected[0] = *world_transfer(&w, &batch, 1, a, b, 7, 0, 0);
    expected[1] =
        *world_transfer(&w, &batch, 2, a, b, 3, LEDGER_TRANSFER_PENDING, TL_PENDING_TIMEOUT_S_MAX);
    expected[2] = *world_resolve(&w, &batch, 3, &expected[1], LEDGER_PENDING_POSTED);
    batch.postings[1].pending_status = LEDGER_PENDING_POSTED; /* final status, as the ledger */
    expected[1].pending_status = LEDGER_PENDING_POSTED;
    batch.postings[0].transfer.code = UINT16_MAX;
    batch.postings[0].transfer.flags = LEDGER_TRANSFER_FLAGS_KNOWN & ~LEDGER_TRANSFER_LINKED;
    expected[0] = batch.postings[0];
    batch_commit_ok(store, &batch);
    store_close(store);

    store = fixture_open_writer(f);
    for (uint32_t i = 0; i < w.account_count; i++) {
        assert_stored_account(store, &w.accounts[i]);
    }
    for (uint32_t i = 0; i < 3; i++) {
        assert_stored_posting(store, &expected[i]);
    }
    assert_no_transfer(store, transfer_id(4));
    store_close(store);
}

static void test_round_trip(void **state)
{
    (void)state;
    fixture_each_backend(body_round_trip);
}

struct scan_ctx {
    struct ledger_account seen[WORLD_ACCOUNTS_MAX];
    uint32_t count;
    uint32_t fail_after; /* 0 = never */
};

static enum tl_err scan_collect(void *ctx, const struct ledger_account *a)
{
    struct scan_ctx *scan = ctx;
    if (scan->fail_after != 0 && scan->count == scan->fail_after) {
        return TL_ERR_INTERNAL;
    }
    assert_true(scan->count < WORLD_ACCOUNTS_MAX);
    scan->seen[scan->count++] = *a;
    return TL_OK;
}

static void body_accounts_scan(struct store_fixture *f)
{
    static const uint64_t order[] = {7, 3, 9, 1, 5};
    struct store *store = fixture_open_writer(f);
    struct scan_ctx scan;
    struct test_batch batch;
    struct world w;
    uint64_t last = 1;

    memset(&scan, 0, sizeof(scan));
    assert_int_equal(store_accounts_scan(store, scan_collect, &scan), TL_OK);
    assert_int_equal(scan.count, 0);
    assert_int_equal(store_timestamp_last(store, &last), TL_OK);
    assert_int_equal(last, 0);

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        world_account(&w, &batch, order[i], EUR);
        if (i == 2) {
            batch_commit_ok(store, &batch); /* accounts arrive over two batches */
        }
    }
    batch_commit_ok(store, &batch);
    assert_int_equal(store_timestamp_last(store, &last), TL_OK);
    assert_int_equal(last, w.ts);

    assert_int_equal(store_accounts_scan(store, scan_collect, &scan), TL_OK);
    assert_int_equal(scan.count, w.account_count);
    for (uint32_t i = 1; i < scan.count; i++) {
        assert_true(id128_cmp(scan.seen[i - 1].id, scan.seen[i].id) < 0);
    }
    assert_account_eq(&scan.seen[0], world_find(&w, account_id(1)));

    /* The callback's error stops the scan and comes back unchanged. */
    memset(&scan, 0, sizeof(scan));
    scan.fail_after = 2;
    assert_int_equal(store_accounts_scan(store, scan_collect, &scan), TL_ERR_INTERNAL);
    assert_int_equal(scan.count, 2);
    store_close(store);
}

static void test_accounts_scan(void **state)
{
    (void)state;
    fixture_each_backend(body_accounts_scan);
}

static void body_timestamp_last(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct ledger_account *a, *b;
    struct test_batch batch;
    struct world w;
    uint64_t last = 0;

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(&w, &batch, 1, EUR);
    b = world_account(&w, &batch, 2, EUR);
    world_transfer(&w, &batch, 1, a, b, 5, 0, 0);
    batch_commit_ok(store, &batch);
    assert_int_equal(store_timestamp_last(store, &last), TL_OK);
    assert_int_equal(last, w.ts); /* a transfer's */
    world_account(&w, &batch, 3, EUR);
    batch_commit_ok(store, &batch);
    assert_int_equal(store_timestamp_last(store, &last), TL_OK);
    assert_int_equal(last, w.ts); /* an account's */
    store_close(store);
}

static void test_timestamp_last(void **state)
{
    (void)state;
    fixture_each_backend(body_timestamp_last);
}

static void body_transfers_get(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct ledger_posting hold, plain;
    struct ledger_account *a, *b;
    struct ledger_transfer out[5];
    enum ledger_pending_status status[5];
    bool found[5];
    struct test_batch batch;
    struct world w;
    struct id128 ids[5];

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(&w, &batch, 1, EUR);
    b = world_account(&w, &batch, 2, EUR);
    plain = *world_transfer(&w, &batch, 1, a, b, 5, 0, 0);
    hold = *world_transfer(&w, &batch, 2, a, b, 9, LEDGER_TRANSFER_PENDING, 60);
    batch_commit_ok(store, &batch);

    ids[0] = transfer_id(99); /* absent */
    ids[1] = transfer_id(2);
    ids[2] = transfer_id(1);
    ids[3] = transfer_id(2); /* asked twice */
    ids[4] = id128_make(0, 0);
    memset(found, 1, sizeof(found));
    assert_int_equal(store_batch_begin(store), TL_OK);
    assert_int_equal(store_transfers_get(store, ids, 5, out, status, found), TL_OK);
    store_batch_abort(store);
    assert_false(found[0]);
    assert_false(found[4]);
    assert_true(found[1]);
    assert_true(found[2]);
    assert_true(found[3]);
    fixture_assert_transfer_eq(&out[1], &hold.transfer);
    fixture_assert_transfer_eq(&out[3], &hold.transfer);
    fixture_assert_transfer_eq(&out[2], &plain.transfer);
    assert_int_equal(status[1], LEDGER_PENDING_OPEN);
    assert_int_equal(status[2], LEDGER_PENDING_NONE);

    /* Outside a batch too, and with nothing to look up. */
    assert_int_equal(store_transfers_get(store, ids, 2, out, status, found), TL_OK);
    assert_true(found[1]);
    assert_int_equal(store_transfers_get(store, ids, 0, out, status, found), TL_OK);
    store_close(store);
}

static void test_transfers_get(void **state)
{
    (void)state;
    fixture_each_backend(body_transfers_get);
}

static void body_accounts_get(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct ledger_account out[3];
    struct test_batch batch;
    struct world w;
    bool found[3];
    struct id128 ids[3] = {account_id(1), account_id(8), account_id(2)};

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    world_account(&w, &batch, 1, EUR);
    world_account(&w, &batch, 2, USD);
    batch_commit_ok(store, &batch);

    assert_int_equal(store_batch_begin(store), TL_OK);
    assert_int_equal(store_accounts_get(store, ids, 3, out, found), TL_OK);
    store_batch_abort(store);
    assert_true(found[0]);
    assert_false(found[1]);
    assert_true(found[2]);
    assert_account_eq(&out[0], &w.accounts[0]);
    assert_account_eq(&out[2], &w.accounts[1]);
    store_close(store);
}

static void test_accounts_get(void **state)
{
    (void)state;
    fixture_each_backend(body_accounts_get);
}

static void body_pending_updates(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct ledger_posting hold, posted;
    struct ledger_account *a, *b;
    struct test_batch batch;
    struct world w;

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(&w, &batch, 1, EUR);
    b = world_account(&w, &batch, 2, EUR);
    a->credits_posted = 1000;
    hold = *world_transfer(&w, &batch, 1, a, b, 40, LEDGER_TRANSFER_PENDING, 30);
    batch_commit_ok(store, &batch);
    assert_stored_posting(store, &hold);

    posted = *world_resolve(&w, &batch, 2, &hold, LEDGER_PENDING_POSTED);
    batch_commit_ok(store, &batch);
    hold.pending_status = LEDGER_PENDING_POSTED;
    assert_stored_posting(store, &hold);
    assert_stored_posting(store, &posted);
    assert_stored_account(store, a);
    assert_stored_account(store, b);

    /* A hold that is already resolved, or that does not exist, cannot change: the whole
     * batch fails and nothing of it stays. */
    char *before = dump_store(store, 4);
    world_resolve(&w, &batch, 3, &hold, LEDGER_PENDING_VOIDED);
    assert_int_equal(batch_commit(store, &batch), TL_ERR_CORRUPT);
    memset(&batch, 0, sizeof(batch));
    batch.updates[0].pending_id = transfer_id(77);
    batch.updates[0].status = LEDGER_PENDING_VOIDED;
    batch.update_count = 1;
    assert_int_equal(batch_commit(store, &batch), TL_ERR_CORRUPT);
    char *after = dump_store(store, 4);
    assert_string_equal(before, after);
    free(before);
    free(after);
    store_close(store);
}

static void test_pending_updates(void **state)
{
    (void)state;
    fixture_each_backend(body_pending_updates);
}

static void body_pending_expired(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct ledger_posting holds[5];
    struct ledger_transfer out[8];
    struct ledger_account *a, *b;
    struct test_batch batch;
    struct world w;
    uint32_t count = 99;
    /* timeouts by hold: expiry = its timestamp + timeout, so hold 2 expires first */
    static const uint32_t timeouts[5] = {100, 10, 0, 100, 50};

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(&w, &batch, 1, EUR);
    b = world_account(&w, &batch, 2, EUR);
    a->credits_posted = 1000;
    for (uint32_t i = 0; i < 5; i++) {
        holds[i] =
            *world_transfer(&w, &batch, i + 1, a, b, 1, LEDGER_TRANSFER_PENDING, timeouts[i]);
    }
    world_transfer(&w, &batch, 6, a, b, 1, 0, 0); /* not a hold */
    batch_commit_ok(store, &batch);
    world_resolve(&w, &batch, 7, &holds[4], LEDGER_PENDING_VOIDED); /* resolved: not due */
    batch_commit_ok(store, &batch);

    uint64_t base = holds[0].transfer.timestamp;
    const uint64_t s = 1000000000ull;
    assert_int_equal(store_pending_expired(store, base, 8, out, &count), TL_OK);
    assert_int_equal(count, 0);
    /* At or before now: hold 2 expires at its timestamp + 10 s exactly. */
    uint64_t due2 = holds[1].transfer.timestamp + 10 * s;
    assert_int_equal(store_pending_expired(store, due2 - 1, 8, out, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_pending_expired(store, due2, 8, out, &count), TL_OK);
    assert_int_equal(count, 1);
    fixture_assert_transfer_eq(&out[0], &holds[1].transfer);
    /* Everything due, earliest expiry first (holds 1 and 4 have the same timeout: the older
     * one expires first); hold 3 never expires and hold 5 was voided. */
    assert_int_equal(store_pending_expired(store, base + 1000 * s, 8, out, &count), TL_OK);
    assert_int_equal(count, 3);
    fixture_assert_transfer_eq(&out[0], &holds[1].transfer);
    fixture_assert_transfer_eq(&out[1], &holds[0].transfer);
    fixture_assert_transfer_eq(&out[2], &holds[3].transfer);
    assert_int_equal(store_pending_expired(store, UINT64_MAX, 2, out, &count), TL_OK);
    assert_int_equal(count, 2);
    fixture_assert_transfer_eq(&out[1], &holds[0].transfer);
    assert_int_equal(store_pending_expired(store, UINT64_MAX, 0, out, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_pending_expired(store, UINT64_MAX, TL_EXPIRE_SWEEP_MAX + 1, out, &count),
                     TL_ERR_LIMIT);
    store_close(store);
}

static void test_pending_expired(void **state)
{
    (void)state;
    fixture_each_backend(body_pending_expired);
}

/* Account 1 gets 25 transfers on either side, between transfers of other accounts. */
#define HISTORY_COUNT 25

static void history_setup(struct store *store, struct world *w, struct ledger_posting *mine)
{
    struct ledger_account *a, *b, *c;
    struct test_batch batch;
    uint32_t mine_count = 0;

    world_init(w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(w, &batch, 1, EUR);
    b = world_account(w, &batch, 2, EUR);
    c = world_account(w, &batch, 3, EUR);
    a->credits_posted = 1000000;
    b->credits_posted = 1000000;
    world_account(w, &batch, 4, EUR); /* never moves money */
    for (uint64_t n = 1; mine_count < HISTORY_COUNT; n++) {
        if (n % 3 == 0) {
            world_transfer(w, &batch, n, b, c, 1, 0, 0);
        } else {
            bool debit = n % 2 == 0;
            mine[mine_count++] =
                *world_transfer(w, &batch, n, debit ? a : b, debit ? b : a, (int64_t)n, 0, 0);
        }
        if (n % 10 == 0) {
            batch_commit_ok(store, &batch);
        }
    }
    batch_commit_ok(store, &batch);
}

/* The page must be mine[from], mine[from - 1], ... (newest first), count entries. */
static void assert_page(const struct ledger_posting *page, uint32_t count,
                        const struct ledger_posting *mine, int from, uint32_t expected_count)
{
    assert_int_equal(count, expected_count);
    for (uint32_t i = 0; i < count; i++) {
        assert_posting_eq(&page[i], &mine[from - (int)i]);
    }
}

static void body_history(struct store_fixture *f)
{
    struct ledger_posting mine[HISTORY_COUNT];
    struct ledger_posting page[TL_PAGE_LIMIT_MAX];
    struct store *store = fixture_open_writer(f);
    struct store_page cursor = {0, 0, 10};
    struct world w;
    uint32_t count = 0;
    bool more = false;

    history_setup(store, &w, mine);
    /* Older pages: 24..15, 14..5, 4..0. */
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 24, 10);
    assert_true(more);
    cursor.starting_after_ts = page[count - 1].transfer.timestamp;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 14, 10);
    assert_true(more);
    cursor.starting_after_ts = page[count - 1].transfer.timestamp;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 4, 5);
    assert_false(more);

    /* And back: newer than mine[4] is 14..5 (has more), newer than mine[15] is 24..16. */
    cursor.starting_after_ts = 0;
    cursor.ending_before_ts = mine[4].transfer.timestamp;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 14, 10);
    assert_true(more);
    cursor.ending_before_ts = mine[15].transfer.timestamp;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 24, 9);
    assert_false(more);
    cursor.ending_before_ts = mine[24].transfer.timestamp;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_int_equal(count, 0);
    assert_false(more);
    store_close(store);
}

static void test_history(void **state)
{
    (void)state;
    fixture_each_backend(body_history);
}

static void body_history_bounds(struct store_fixture *f)
{
    struct ledger_posting mine[HISTORY_COUNT];
    struct ledger_posting page[TL_PAGE_LIMIT_MAX];
    struct store *store = fixture_open_writer(f);
    struct store_page cursor = {0, 0, 1};
    struct world w;
    uint32_t count = 0;
    bool more = false;

    history_setup(store, &w, mine);
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 24, 1);
    assert_true(more);
    cursor.limit = TL_PAGE_LIMIT_MAX;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 24, HISTORY_COUNT);
    assert_false(more);
    /* A cursor need not be one of this account's transfers: older than a transfer of
     * accounts 2 and 3 (n = 3, between mine[1] and mine[2]). */
    struct ledger_posting other;
    bool found = false;
    assert_int_equal(store_transfer_get(store, transfer_id(3), &other, &found), TL_OK);
    assert_true(found);
    cursor.starting_after_ts = other.transfer.timestamp;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_page(page, count, mine, 1, 2);
    assert_false(more);
    cursor.starting_after_ts = UINT64_MAX;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more), TL_OK);
    assert_int_equal(count, HISTORY_COUNT);
    /* An account with no transfers, or none at all. */
    cursor.starting_after_ts = 0;
    assert_int_equal(store_history(store, account_id(4), &cursor, page, &count, &more), TL_OK);
    assert_int_equal(count, 0);
    assert_false(more);
    assert_int_equal(store_history(store, account_id(12), &cursor, page, &count, &more), TL_OK);
    assert_int_equal(count, 0);

    cursor.limit = 0;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more),
                     TL_ERR_INVALID_REQUEST);
    cursor.limit = TL_PAGE_LIMIT_MAX + 1;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more),
                     TL_ERR_INVALID_REQUEST);
    cursor.limit = 10;
    cursor.starting_after_ts = mine[10].transfer.timestamp;
    cursor.ending_before_ts = mine[5].transfer.timestamp;
    assert_int_equal(store_history(store, account_id(1), &cursor, page, &count, &more),
                     TL_ERR_INVALID_REQUEST);
    store_close(store);
}

static void test_history_bounds(void **state)
{
    (void)state;
    fixture_each_backend(body_history_bounds);
}

static void body_outbox(struct store_fixture *f)
{
    static const char *const payloads[] = {"{\"a\":1}", "", "{\"b\":\"\\u00e9\"}", "[]"};
    struct store *store = fixture_open_writer(f);
    struct store_outbox_row rows[8];
    struct test_batch batch;
    struct world w;
    uint32_t count = 99;

    assert_int_equal(store_outbox_list(store, 0, 8, rows, &count), TL_OK);
    assert_int_equal(count, 0);
    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    world_account(&w, &batch, 1, EUR);
    batch_record(&batch, 1, "payment.created", payloads[0]);
    batch_record(&batch, 2, "payment.updated", payloads[1]);
    batch_commit_ok(store, &batch);
    batch_record(&batch, 3, "payment.created", payloads[2]); /* a batch of records only */
    batch_record(&batch, 4, "x", payloads[3]);
    batch_commit_ok(store, &batch);

    assert_int_equal(store_outbox_list(store, 0, 8, rows, &count), TL_OK);
    assert_int_equal(count, 4);
    for (uint32_t i = 0; i < count; i++) {
        assert_true(i == 0 || rows[i].seq > rows[i - 1].seq);
        assert_int_equal(rows[i].key.lo, i + 1);
        assert_int_equal(rows[i].data_bytes, strlen(payloads[i]));
        assert_string_equal(rows[i].data, payloads[i]);
    }
    assert_string_equal(rows[0].topic, "payment.created");
    assert_string_equal(rows[3].topic, "x");
    uint64_t second = rows[1].seq;
    uint64_t last = rows[3].seq;
    store_outbox_rows_free(rows, count);

    assert_int_equal(store_outbox_list(store, second, 1, rows, &count), TL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(rows[0].key.lo, 3);
    store_outbox_rows_free(rows, count);
    assert_int_equal(store_outbox_list(store, last, 8, rows, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_outbox_list(store, 0, STORE_OUTBOX_LIST_MAX + 1, rows, &count),
                     TL_ERR_LIMIT);
    store_close(store);
    store_close(NULL);
}

static void test_outbox(void **state)
{
    (void)state;
    fixture_each_backend(body_outbox);
}

static void body_abort(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct test_batch batch;
    struct world w;
    char *before, *after;

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    world_account(&w, &batch, 1, EUR);
    batch_commit_ok(store, &batch);
    before = dump_store(store, 2);

    store_batch_abort(store); /* nothing open: nothing happens */
    assert_int_equal(store_batch_begin(store), TL_OK);
    store_batch_abort(store);
    assert_int_equal(store_batch_begin(store), TL_OK); /* the first left nothing open */
    store_batch_abort(store);
    after = dump_store(store, 2);
    assert_string_equal(before, after);
    free(after);

    /* A batch that never commits leaves nothing behind for a reopen either. */
    world_transfer(&w, &batch, 1, &w.accounts[0], world_account(&w, &batch, 2, EUR), 1, 0, 0);
    assert_int_equal(store_batch_begin(store), TL_OK);
    store_batch_abort(store);
    store_close(store);
    store = fixture_open_writer(f);
    after = dump_store(store, 2);
    assert_string_equal(before, after);
    free(before);
    free(after);
    store_close(store);
}

static void test_abort(void **state)
{
    (void)state;
    fixture_each_backend(body_abort);
}

/* The batch the fault test replays: every commit phase has something to write. */
static void fault_batch(struct world *w, struct test_batch *batch,
                        const struct ledger_posting *hold)
{
    struct ledger_account *a = world_find(w, account_id(1));
    struct ledger_account *c = world_account(w, batch, 3, EUR);
    world_transfer(w, batch, 3, a, c, 11, 0, 0);
    world_resolve(w, batch, 4, hold, LEDGER_PENDING_POSTED);
    batch_record(batch, 2, "payment.created", "{\"n\":2}");
}

/* What the writer does for one batch: begin, prefetch, load, commit. */
static enum tl_err fault_sequence(struct store *store, const struct test_batch *batch)
{
    struct store_batch view = batch_view(batch);
    struct id128 ids[2] = {transfer_id(3), transfer_id(2)};
    struct id128 account_ids[2] = {account_id(1), account_id(3)};
    struct ledger_transfer transfers[2];
    enum ledger_pending_status status[2];
    struct ledger_account accounts[2];
    bool found[2];
    enum tl_err err;

    err = store_batch_begin(store);
    if (err != TL_OK) {
        return err;
    }
    err = store_transfers_get(store, ids, 2, transfers, status, found);
    err = err == TL_OK ? store_accounts_get(store, account_ids, 2, accounts, found) : err;
    if (err != TL_OK) {
        store_batch_abort(store);
        return err;
    }
    return store_batch_commit(store, &view);
}

/*
 * Fails operation k of one batch for k = 1, 2, ... until the batch goes through: every failure
 * returns TL_ERR_STORAGE and leaves the store exactly as before, and the handle stays usable.
 */
static void body_fault_every_operation(struct store_fixture *f)
{
    struct store *store = NULL;
    struct store *reader;
    struct test_batch batch;
    struct ledger_posting hold;
    struct world w, w_before;
    char *before, *after;
    uint64_t k;

    assert_int_equal(store_fault_open(&f->config, &store), TL_OK);
    reader = fixture_open_reader(f);
    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    world_account(&w, &batch, 1, EUR)->credits_posted = 100;
    world_account(&w, &batch, 2, EUR);
    hold = *world_transfer(&w, &batch, 2, &w.accounts[0], &w.accounts[1], 5,
                           LEDGER_TRANSFER_PENDING, 0);
    batch_record(&batch, 1, "payment.created", "{\"n\":1}");
    batch_commit_ok(store, &batch);
    before = dump_store(reader, 4);
    w_before = w;

    for (k = 1;; k++) {
        w = w_before;
        memset(&batch, 0, sizeof(batch));
        fault_batch(&w, &batch, &hold);
        store_fault_fail_at(store, k);
        uint64_t ops_before = store_fault_op_count(store);
        enum tl_err err = fault_sequence(store, &batch);
        if (err == TL_OK) {
            assert_true(store_fault_op_count(store) - ops_before < k);
            break;
        }
        assert_int_equal(err, TL_ERR_STORAGE);
        after = dump_store(reader, 4);
        assert_string_equal(before, after);
        free(after);
    }
    store_fault_fail_at(store, 0);
    /* begin, prefetch, load, then accounts, postings, holds, records and COMMIT. */
    assert_int_equal(k, 9);
    after = dump_store(reader, 4);
    assert_string_not_equal(before, after);
    free(after);
    for (uint32_t i = 0; i < w.account_count; i++) {
        assert_stored_account(reader, &w.accounts[i]);
    }
    free(before);
    store_close(reader);
    store_close(store);
}

static void test_fault_every_operation(void **state)
{
    (void)state;
    fixture_each_backend(body_fault_every_operation);
}

/* Backend "fault" by name wraps the default backend; a failure fires once. */
static void body_fault_by_name(struct store_fixture *f)
{
    struct store_config config = f->config;
    struct store *store = NULL;
    uint64_t ops;

    if (strcmp(f->backend->name, "sqlite") != 0) {
        return; /* "fault" by name always wraps sqlite */
    }
    config.backend = "fault";
    assert_int_equal(store_open(&config, &store), TL_OK);
    ops = store_fault_op_count(store);
    assert_int_equal(store_ping(store), TL_OK);
    assert_int_equal(store_fault_op_count(store), ops + 1);
    store_fault_fail_at(store, 2);
    assert_int_equal(store_ping(store), TL_OK);
    assert_int_equal(store_ping(store), TL_ERR_STORAGE);
    assert_int_equal(store_ping(store), TL_OK);
    assert_int_equal(store_fault_op_count(store), ops + 4);
    store_close(store);
}

static void test_fault_by_name(void **state)
{
    (void)state;
    fixture_each_backend(body_fault_by_name);
}

static void body_reader(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store *reader = fixture_open_reader(f);
    struct ledger_account *a, *b;
    struct test_batch batch;
    struct ledger_posting p;
    struct world w;
    bool found = true;
    struct ledger_account got;

    assert_int_equal(store_account_get(reader, account_id(1), &got, &found), TL_OK);
    assert_false(found);
    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(&w, &batch, 1, EUR);
    b = world_account(&w, &batch, 2, EUR);
    p = *world_transfer(&w, &batch, 1, a, b, 3, 0, 0);
    /* Not visible while the batch is open. */
    struct store_batch view = batch_view(&batch);
    assert_int_equal(store_batch_begin(store), TL_OK);
    assert_int_equal(store_account_get(reader, account_id(1), &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_batch_commit(store, &view), TL_OK);
    assert_stored_account(reader, a);
    assert_stored_account(reader, b);
    assert_stored_posting(reader, &p);
    assert_int_equal(store_ping(reader), TL_OK);
    store_close(reader);
    store_close(store);
}

static void test_reader(void **state)
{
    (void)state;
    fixture_each_backend(body_reader);
}

/* A transfer id twice in one batch, or one already stored: the batch fails as a whole. */
static void body_duplicate_transfer(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct ledger_account *a, *b;
    struct test_batch batch;
    struct world w, w_before;
    char *before, *after;

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    a = world_account(&w, &batch, 1, EUR);
    b = world_account(&w, &batch, 2, EUR);
    world_transfer(&w, &batch, 1, a, b, 3, 0, 0);
    batch_record(&batch, 1, "payment.created", "{}");
    batch_commit_ok(store, &batch);
    before = dump_store(store, 4);
    w_before = w;

    world_transfer(&w, &batch, 2, a, b, 4, 0, 0);
    world_transfer(&w, &batch, 2, b, a, 1, 0, 0);
    batch_record(&batch, 2, "payment.created", "{}");
    assert_int_equal(batch_commit(store, &batch), TL_ERR_STORAGE);
    memset(&batch, 0, sizeof(batch));
    w = w_before;
    world_transfer(&w, &batch, 3, a, b, 4, 0, 0);
    world_transfer(&w, &batch, 1, a, b, 1, 0, 0);
    assert_int_equal(batch_commit(store, &batch), TL_ERR_STORAGE);
    after = dump_store(store, 4);
    assert_string_equal(before, after);
    free(after);

    /* The handle is fine afterwards. */
    memset(&batch, 0, sizeof(batch));
    w = w_before;
    world_transfer(&w, &batch, 3, a, b, 4, 0, 0);
    batch_commit_ok(store, &batch);
    assert_stored_account(store, a);
    free(before);
    store_close(store);
}

static void test_duplicate_transfer(void **state)
{
    (void)state;
    fixture_each_backend(body_duplicate_transfer);
}

/* An account id stored under another key, or a key taken by another account, fails the
 * batch as a whole. */
static void body_account_conflict(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct ledger_account moved, impostor;
    struct test_batch batch;
    struct world w;
    char *before, *after;

    world_init(&w);
    memset(&batch, 0, sizeof(batch));
    world_account(&w, &batch, 1, EUR);
    world_account(&w, &batch, 2, EUR);
    batch_commit_ok(store, &batch);
    before = dump_store(store, 1);

    moved = w.accounts[0];
    moved.timestamp = ++w.ts;
    batch_touch(&batch, &w.accounts[1]);
    batch_touch(&batch, &moved);
    assert_int_equal(batch_commit(store, &batch), TL_ERR_STORAGE);
    memset(&batch, 0, sizeof(batch));
    impostor = w.accounts[0];
    impostor.id = account_id(3);
    batch_touch(&batch, &impostor);
    assert_int_equal(batch_commit(store, &batch), TL_ERR_STORAGE);
    after = dump_store(store, 1);
    assert_string_equal(before, after);
    free(before);
    free(after);
    store_close(store);
}

static void test_account_conflict(void **state)
{
    (void)state;
    fixture_each_backend(body_account_conflict);
}

/* A larger batch, as the writer sends them: many postings over many accounts. */
static void body_large_batch(struct store_fixture *f)
{
    enum { ACCOUNTS = 2000, TRANSFERS = 5000 };
    struct store *store = fixture_open_writer(f);
    struct ledger_account *accounts = calloc(ACCOUNTS, sizeof(*accounts));
    const struct ledger_account **changed = calloc(ACCOUNTS, sizeof(*changed));
    struct ledger_posting *postings = calloc(TRANSFERS, sizeof(*postings));
    struct store_batch batch;
    uint64_t ts = 1000;

    assert_non_null(accounts);
    assert_non_null(changed);
    assert_non_null(postings);
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        accounts[i].id = account_id(i + 1);
        accounts[i].timestamp = ++ts;
        accounts[i].currency = EUR;
        accounts[i].kind = LEDGER_KIND_WALLET;
        accounts[i].credits_posted = 1000000;
        changed[i] = &accounts[i];
    }
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        struct ledger_account *d = &accounts[(i * 7) % ACCOUNTS];
        struct ledger_account *c = &accounts[(i * 13 + 1) % ACCOUNTS];
        postings[i].transfer.id = transfer_id(i + 1);
        postings[i].transfer.debit_account_id = d->id;
        postings[i].transfer.credit_account_id = c->id;
        postings[i].transfer.amount = 1;
        postings[i].transfer.timestamp = ++ts;
        postings[i].transfer.currency = EUR;
        postings[i].transfer.code = LEDGER_CODE_PAYMENT;
        d->debits_posted++;
        c->credits_posted++;
        postings[i].debit_after = balance_of(d);
        postings[i].credit_after = balance_of(c);
    }
    memset(&batch, 0, sizeof(batch));
    batch.ledger.postings = postings;
    batch.ledger.posting_count = TRANSFERS;
    batch.ledger.accounts = changed;
    batch.ledger.account_count = ACCOUNTS;
    assert_int_equal(store_batch_begin(store), TL_OK);
    assert_int_equal(store_batch_commit(store, &batch), TL_OK);
    for (uint32_t i = 0; i < ACCOUNTS; i += 97) {
        assert_stored_account(store, &accounts[i]);
    }
    assert_stored_posting(store, &postings[TRANSFERS - 1]);
    free(accounts);
    free(changed);
    free(postings);
    store_close(store);
}

static void test_large_batch(void **state)
{
    (void)state;
    fixture_each_backend(body_large_batch);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_open_and_migrations),
    cmocka_unit_test(test_open_errors),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_accounts_scan),
    cmocka_unit_test(test_timestamp_last),
    cmocka_unit_test(test_transfers_get),
    cmocka_unit_test(test_accounts_get),
    cmocka_unit_test(test_pending_updates),
    cmocka_unit_test(test_pending_expired),
    cmocka_unit_test(test_history),
    cmocka_unit_test(test_history_bounds),
    cmocka_unit_test(test_outbox),
    cmocka_unit_test(test_abort),
    cmocka_unit_test(test_fault_every_operation),
    cmocka_unit_test(test_fault_by_name),
    cmocka_unit_test(test_reader),
    cmocka_unit_test(test_duplicate_transfer),
    cmocka_unit_test(test_account_conflict),
    cmocka_unit_test(test_large_batch),
};

TL_TEST_MAIN(tests)
