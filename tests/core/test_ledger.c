/*
 * test_ledger.c - the ledger core, one behaviour at a time.
 *
 * Every ledger_result a caller can cause is produced by some test here; the last test checks
 * that against the result table, so a new result without a test fails the suite. Batches run
 * against a tiny "store": a map of every committed posting and hold status, which answers the
 * ledger's lookups the way the writer's prefetch would.
 */
#include "test.h"

#include <string.h>

#include "core/ledger.h"
#include "util/limits.h"

#define USD 840
#define EUR 978
#define CURRENCY_UNASSIGNED 1 /* no ISO 4217 currency has number 1 */
#define T0_NS 1700000000000000000ull
#define S_NS 1000000000ull

/* Account ids of the fixture. */
enum {
    FUND = 1,  /* sandbox funding, USD, no limits */
    ALICE = 2, /* wallet, USD, no overdraft; funded with 10000 */
    BOB = 3,   /* wallet, USD, no overdraft */
    BANK = 4,  /* bank funding, USD, credits must not exceed debits */
    EURO = 5,  /* wallet, EUR */
    FEE = 6,   /* fee revenue, USD, no limits */
};

/* ---- A store of committed transfers, answering lookups ---- */

#define MAP_MAX 1024

struct stored_transfer {
    struct ledger_transfer transfer;
    enum ledger_pending_status status;
};

static struct stored_transfer map[MAP_MAX];
static uint32_t map_count;
static struct ledger *ledger;
static uint64_t now_ns;
static bool results_seen[LEDGER_RESULT_COUNT];

static struct stored_transfer *map_find(struct id128 id)
{
    for (uint32_t i = 0; i < map_count; i++) {
        if (id128_eq(map[i].transfer.id, id)) {
            return &map[i];
        }
    }
    return NULL;
}

static bool map_get(void *ctx, struct id128 id, struct ledger_transfer *out,
                    enum ledger_pending_status *status)
{
    (void)ctx;
    struct stored_transfer *s = map_find(id);
    if (s == NULL) {
        return false;
    }
    *out = s->transfer;
    *status = s->status;
    return true;
}

static void map_store(const struct ledger_batch_out *out)
{
    for (uint32_t i = 0; i < out->posting_count; i++) {
        assert_null(map_find(out->postings[i].transfer.id));
        assert_true(map_count < MAP_MAX);
        map[map_count].transfer = out->postings[i].transfer;
        map[map_count].status = (enum ledger_pending_status)out->postings[i].pending_status;
        map_count++;
    }
    for (uint32_t i = 0; i < out->pending_update_count; i++) {
        struct stored_transfer *s = map_find(out->pending_updates[i].pending_id);
        assert_non_null(s);
        s->status = (enum ledger_pending_status)out->pending_updates[i].status;
    }
}

/* ---- Events ---- */

static struct id128 id_of(uint64_t n)
{
    return id128_make(0, n);
}

static struct ledger_event account(uint64_t id, uint16_t currency, uint16_t kind, uint32_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof(e));
    e.kind = LEDGER_EVENT_ACCOUNT;
    e.as.account.id = id_of(id);
    e.as.account.user_data = id_of(id + 1000);
    e.as.account.currency = currency;
    e.as.account.kind = kind;
    e.as.account.flags = flags;
    return e;
}

static struct ledger_event wallet(uint64_t id)
{
    return account(id, USD, LEDGER_KIND_WALLET, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
}

static struct ledger_event transfer(uint64_t id, uint64_t debit, uint64_t credit, int64_t amount,
                                    uint16_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof(e));
    e.kind = LEDGER_EVENT_TRANSFER;
    e.as.transfer.id = id_of(id);
    e.as.transfer.debit_account_id = id_of(debit);
    e.as.transfer.credit_account_id = id_of(credit);
    e.as.transfer.user_ref = id_of(id + 5000);
    e.as.transfer.amount = amount;
    e.as.transfer.currency = USD;
    e.as.transfer.code = LEDGER_CODE_PAYMENT;
    e.as.transfer.flags = flags;
    return e;
}

/* A post, void or expire naming only the hold. */
static struct ledger_event resolve(uint64_t id, uint64_t pending_id, int64_t amount, uint16_t flags)
{
    struct ledger_event e = transfer(id, 0, 0, amount, flags);
    e.as.transfer.currency = 0;
    e.as.transfer.pending_id = id_of(pending_id);
    return e;
}

static struct ledger_event hold(uint64_t id, uint64_t debit, uint64_t credit, int64_t amount,
                                uint32_t timeout_s)
{
    struct ledger_event e = transfer(id, debit, credit, amount, LEDGER_TRANSFER_PENDING);
    e.as.transfer.timeout_s = timeout_s;
    e.as.transfer.code = LEDGER_CODE_HOLD;
    return e;
}

static void linked(struct ledger_event *e)
{
    if (e->kind == LEDGER_EVENT_ACCOUNT) {
        e->as.account.flags |= LEDGER_ACCOUNT_LINKED;
    } else {
        e->as.transfer.flags |= LEDGER_TRANSFER_LINKED;
    }
}

/* ---- Running batches ---- */

static void results_note(const struct ledger_event_result *results, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        assert_true(results[i].result < LEDGER_RESULT_COUNT);
        results_seen[results[i].result] = true;
    }
}

static void batch_begin(void)
{
    static const struct ledger_lookup lookup = {map_get, NULL};
    ledger_batch_begin(ledger, now_ns, &lookup);
}

static void batch_commit(void)
{
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    map_store(&out);
    ledger_batch_commit(ledger);
    ledger_invariants_check(ledger);
}

/* One committed batch of one apply call. */
static void run(const struct ledger_event *events, uint32_t count,
                struct ledger_event_result *results)
{
    batch_begin();
    ledger_batch_apply(ledger, events, count, results);
    results_note(results, count);
    batch_commit();
}

static uint32_t run1(struct ledger_event e)
{
    struct ledger_event_result r;
    run(&e, 1, &r);
    return r.result;
}

static struct ledger_event_result run1_result(struct ledger_event e)
{
    struct ledger_event_result r;
    run(&e, 1, &r);
    return r;
}

static const struct ledger_account *acct(uint64_t id)
{
    const struct ledger_account *a = ledger_account_get(ledger, id_of(id));
    assert_non_null(a);
    return a;
}

static void assert_balance(uint64_t id, int64_t debits_pending, int64_t debits_posted,
                           int64_t credits_pending, int64_t credits_posted)
{
    const struct ledger_account *a = acct(id);
    assert_int_equal(a->debits_pending, debits_pending);
    assert_int_equal(a->debits_posted, debits_posted);
    assert_int_equal(a->credits_pending, credits_pending);
    assert_int_equal(a->credits_posted, credits_posted);
}

static void assert_same_balance(const struct ledger_balance *b, uint64_t id)
{
    const struct ledger_account *a = acct(id);
    assert_int_equal(b->debits_pending, a->debits_pending);
    assert_int_equal(b->debits_posted, a->debits_posted);
    assert_int_equal(b->credits_pending, a->credits_pending);
    assert_int_equal(b->credits_posted, a->credits_posted);
}

static enum ledger_pending_status stored_status(uint64_t id)
{
    struct stored_transfer *s = map_find(id_of(id));
    assert_non_null(s);
    return s->status;
}

static int fixture_open(uint32_t accounts_max)
{
    struct ledger_config config = {accounts_max};
    assert_int_equal(ledger_open(&config, &ledger), TL_OK);
    map_count = 0;
    now_ns = T0_NS;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    fixture_open(64);
    struct ledger_event events[] = {
        account(FUND, USD, LEDGER_KIND_SANDBOX_FUNDING, 0),
        wallet(ALICE),
        wallet(BOB),
        account(BANK, USD, LEDGER_KIND_BANK_FUNDING, LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS),
        account(EURO, EUR, LEDGER_KIND_WALLET, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
        account(FEE, USD, LEDGER_KIND_FEE_REVENUE, 0),
        transfer(100, FUND, ALICE, 10000, 0),
    };
    struct ledger_event_result results[7];
    run(events, 7, results);
    for (uint32_t i = 0; i < 7; i++) {
        assert_int_equal(results[i].result, LEDGER_OK);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ledger_close(ledger);
    ledger = NULL;
    return 0;
}

/* ---- Names and lifetime ---- */

static void test_result_names(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < LEDGER_RESULT_COUNT; i++) {
        const char *name = ledger_result_name((enum ledger_result)i);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (uint32_t j = 0; j < i; j++) {
            assert_string_not_equal(name, ledger_result_name((enum ledger_result)j));
        }
    }
    assert_string_equal(ledger_result_name(LEDGER_OK), "ok");
    assert_string_equal(ledger_result_name(LEDGER_PENDING_HAS_EXPIRED), "pending_expired");
    assert_string_equal(ledger_result_name(LEDGER_OVERFLOW), "overflow");
}

static void test_open_rejects_bad_config(void **state)
{
    (void)state;
    struct ledger *l = (struct ledger *)&l;
    struct ledger_config zero = {0};
    struct ledger_config huge = {(1u << 30) + 1};
    assert_int_equal(ledger_open(&zero, &l), TL_ERR_INVALID_REQUEST);
    assert_int_equal(ledger_open(&huge, &l), TL_ERR_INVALID_REQUEST);
    assert_ptr_equal(l, (struct ledger *)&l);
    ledger_close(NULL);
}

/* ---- Accounts ---- */

static void test_account_create(void **state)
{
    (void)state;
    uint64_t last = ledger_timestamp_last(ledger);
    struct ledger_event e = wallet(50);
    e.as.account.flags |= LEDGER_ACCOUNT_LINKED;
    struct ledger_event follow = transfer(51, FUND, 50, 7, 0);
    struct ledger_event events[] = {e, follow};
    struct ledger_event_result r[2];
    run(events, 2, r);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_OK);
    assert_true(r[0].timestamp > last);
    assert_int_equal(r[0].debit_after.credits_posted, 0);
    const struct ledger_account *a = acct(50);
    assert_int_equal(a->timestamp, r[0].timestamp);
    assert_int_equal(a->flags, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    assert_int_equal(a->kind, LEDGER_KIND_WALLET);
    assert_int_equal(a->currency, USD);
    assert_true(id128_eq(a->user_data, id_of(1050)));
    assert_int_equal(a->credits_posted, 7);
    assert_int_equal(ledger_account_count(ledger), 7);
    assert_null(ledger_account_get(ledger, id_of(999)));
}

static void test_account_validation(void **state)
{
    (void)state;
    uint64_t last = ledger_timestamp_last(ledger);
    struct ledger_event e;

    e = wallet(0);
    assert_int_equal(run1(e), LEDGER_ID_MUST_NOT_BE_ZERO);
    e = wallet(60);
    e.as.account.flags |= 1u << 3;
    assert_int_equal(run1(e), LEDGER_FLAGS_UNKNOWN);
    e = wallet(60);
    e.as.account.flags |= LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    assert_int_equal(run1(e), LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
    e = wallet(60);
    e.as.account.timestamp = 5;
    assert_int_equal(run1(e), LEDGER_TIMESTAMP_MUST_BE_ZERO);
    for (int field = 0; field < 4; field++) {
        e = wallet(60);
        int64_t *balances[] = {&e.as.account.debits_pending, &e.as.account.debits_posted,
                               &e.as.account.credits_pending, &e.as.account.credits_posted};
        *balances[field] = 1;
        assert_int_equal(run1(e), LEDGER_BALANCES_MUST_BE_ZERO);
    }
    e = account(60, USD, 0, 0);
    assert_int_equal(run1(e), LEDGER_KIND_INVALID);
    e = account(60, USD, LEDGER_KIND_MAX + 1, 0);
    assert_int_equal(run1(e), LEDGER_KIND_INVALID);
    e = account(60, 0, LEDGER_KIND_WALLET, 0);
    assert_int_equal(run1(e), LEDGER_CURRENCY_INVALID);
    e = account(60, CURRENCY_UNASSIGNED, LEDGER_KIND_WALLET, 0);
    assert_int_equal(run1(e), LEDGER_CURRENCY_INVALID);
    e = account(60, 1000, LEDGER_KIND_WALLET, 0);
    assert_int_equal(run1(e), LEDGER_CURRENCY_INVALID);
    /* Failures take no timestamp and create nothing. */
    assert_int_equal(ledger_timestamp_last(ledger), last);
    assert_null(ledger_account_get(ledger, id_of(60)));
    assert_int_equal(ledger_account_count(ledger), 6);
}

static void test_account_exists(void **state)
{
    (void)state;
    const struct ledger_account *alice = acct(ALICE);
    uint64_t created = alice->timestamp;

    struct ledger_event_result r = run1_result(wallet(ALICE));
    assert_int_equal(r.result, LEDGER_EXISTS);
    assert_int_equal(r.timestamp, created);
    assert_int_equal(r.debit_after.credits_posted, 10000);

    struct ledger_event e = wallet(ALICE);
    e.as.account.user_data = id_of(77);
    assert_int_equal(run1(e), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    e = account(ALICE, USD, LEDGER_KIND_ESCROW, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    assert_int_equal(run1(e), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    e = account(ALICE, USD, LEDGER_KIND_WALLET, 0);
    assert_int_equal(run1(e), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    e = account(ALICE, EUR, LEDGER_KIND_WALLET, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    assert_int_equal(run1(e), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);

    /* LINKED is ignored; exists still fails its chain. */
    struct ledger_event events[] = {wallet(ALICE), transfer(70, FUND, BOB, 5, 0)};
    linked(&events[0]);
    struct ledger_event_result rs[2];
    run(events, 2, rs);
    assert_int_equal(rs[0].result, LEDGER_EXISTS);
    assert_int_equal(rs[0].timestamp, created);
    assert_int_equal(rs[1].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(acct(BOB)->credits_posted, 0);
}

static void test_account_duplicate_in_batch(void **state)
{
    (void)state;
    struct ledger_event changed = wallet(61);
    changed.as.account.kind = LEDGER_KIND_ESCROW;
    struct ledger_event events[] = {wallet(61), wallet(61), changed};
    struct ledger_event_result r[3];
    run(events, 3, r);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_EXISTS);
    assert_int_equal(r[1].timestamp, r[0].timestamp);
    assert_int_equal(r[2].result, LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    assert_int_equal(r[2].timestamp, 0);
}

static void test_ledger_full(void **state)
{
    (void)state;
    teardown(NULL);
    fixture_open(2);
    assert_int_equal(run1(wallet(1)), LEDGER_OK);
    assert_int_equal(run1(wallet(2)), LEDGER_OK);
    assert_int_equal(run1(wallet(3)), LEDGER_LEDGER_FULL);
    assert_int_equal(run1(wallet(2)), LEDGER_EXISTS);
    assert_int_equal(ledger_account_count(ledger), 2);
    struct ledger_account a = wallet(9).as.account;
    assert_int_equal(ledger_account_load(ledger, &a), TL_ERR_LIMIT);
}

static void test_account_load(void **state)
{
    (void)state;
    struct ledger_account a = wallet(80).as.account;
    a.credits_posted = 500;
    a.debits_pending = 100;
    a.timestamp = 42;
    assert_int_equal(ledger_account_load(ledger, &a), TL_OK);
    /* Its counterpart, so the full check balances again. */
    struct ledger_account b = account(81, USD, LEDGER_KIND_SANDBOX_FUNDING, 0).as.account;
    b.debits_posted = 500;
    b.credits_pending = 100;
    assert_int_equal(ledger_account_load(ledger, &b), TL_OK);
    ledger_invariants_check(ledger);
    assert_int_equal(acct(80)->timestamp, 42);
    assert_int_equal(ledger_account_count(ledger), 8);

    /* Replacing keeps one copy and the totals follow. */
    a.credits_posted = 700;
    b.debits_posted = 700;
    assert_int_equal(ledger_account_load(ledger, &a), TL_OK);
    assert_int_equal(ledger_account_load(ledger, &b), TL_OK);
    ledger_invariants_check(ledger);
    assert_int_equal(ledger_account_count(ledger), 8);
    assert_int_equal(acct(80)->credits_posted, 700);

    struct ledger_account bad = a;
    bad.debits_posted = 701; /* 100 pending + 701 > 700 credits */
    assert_int_equal(ledger_account_load(ledger, &bad), TL_ERR_CORRUPT);
    bad = a;
    bad.credits_pending = -1;
    assert_int_equal(ledger_account_load(ledger, &bad), TL_ERR_CORRUPT);
    bad = a;
    bad.flags |= LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    assert_int_equal(ledger_account_load(ledger, &bad), TL_ERR_CORRUPT);
    bad = a;
    bad.id = id_of(0);
    assert_int_equal(ledger_account_load(ledger, &bad), TL_ERR_CORRUPT);
    bad = a;
    bad.currency = CURRENCY_UNASSIGNED;
    assert_int_equal(ledger_account_load(ledger, &bad), TL_ERR_CORRUPT);
    assert_int_equal(acct(80)->credits_posted, 700);
    ledger_invariants_check(ledger);

    ledger_timestamp_load(ledger, T0_NS + 100 * S_NS);
    assert_int_equal(ledger_timestamp_last(ledger), T0_NS + 100 * S_NS);
}

/* ---- Transfers ---- */

static void test_transfer_balances_in_result(void **state)
{
    (void)state;
    struct ledger_event_result r = run1_result(transfer(200, ALICE, BOB, 2500, 0));
    assert_int_equal(r.result, LEDGER_OK);
    assert_balance(ALICE, 0, 2500, 0, 10000);
    assert_balance(BOB, 0, 0, 0, 2500);
    assert_same_balance(&r.debit_after, ALICE);
    assert_same_balance(&r.credit_after, BOB);
    assert_int_equal(r.timestamp, ledger_timestamp_last(ledger));
    struct stored_transfer *s = map_find(id_of(200));
    assert_non_null(s);
    assert_int_equal(s->transfer.timestamp, r.timestamp);
    assert_int_equal(s->status, LEDGER_PENDING_NONE);

    struct ledger_balance b = {0, 2500, 0, 10000};
    assert_int_equal(ledger_balance_available(&b), 7500);
}

struct transfer_case {
    struct ledger_event event;
    enum ledger_result expect;
};

static void test_transfer_validation(void **state)
{
    (void)state;
    struct transfer_case cases[32];
    uint32_t n = 0;
    struct ledger_event e;

    e = transfer(0, ALICE, BOB, 1, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_ID_MUST_NOT_BE_ZERO};
    e = transfer(300, ALICE, BOB, 1, 1u << 5);
    cases[n++] = (struct transfer_case){e, LEDGER_FLAGS_UNKNOWN};
    e = transfer(300, ALICE, BOB, 1, LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_POST_PENDING);
    cases[n++] = (struct transfer_case){e, LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE};
    e = resolve(300, 100, 0, LEDGER_TRANSFER_VOID_PENDING | LEDGER_TRANSFER_EXPIRE_PENDING);
    cases[n++] = (struct transfer_case){e, LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE};
    e = transfer(300, ALICE, BOB, 1, 0);
    e.as.transfer.timestamp = 1;
    cases[n++] = (struct transfer_case){e, LEDGER_TIMESTAMP_MUST_BE_ZERO};
    e = transfer(300, ALICE, BOB, 1, 0);
    e.as.transfer.pending_id = id_of(100);
    cases[n++] = (struct transfer_case){e, LEDGER_PENDING_ID_MUST_BE_ZERO};
    e = resolve(300, 0, 0, LEDGER_TRANSFER_POST_PENDING);
    cases[n++] = (struct transfer_case){e, LEDGER_PENDING_ID_MUST_NOT_BE_ZERO};
    e = resolve(300, 300, 0, LEDGER_TRANSFER_VOID_PENDING);
    cases[n++] = (struct transfer_case){e, LEDGER_PENDING_ID_MUST_DIFFER};
    e = transfer(300, ALICE, BOB, 1, 0);
    e.as.transfer.timeout_s = 5;
    cases[n++] = (struct transfer_case){e, LEDGER_TIMEOUT_RESERVED_FOR_PENDING};
    e = resolve(300, 100, 0, LEDGER_TRANSFER_POST_PENDING);
    e.as.transfer.timeout_s = 5;
    cases[n++] = (struct transfer_case){e, LEDGER_TIMEOUT_RESERVED_FOR_PENDING};
    e = hold(300, ALICE, BOB, 1, TL_PENDING_TIMEOUT_S_MAX + 1);
    cases[n++] = (struct transfer_case){e, LEDGER_TIMEOUT_TOO_LONG};
    e = transfer(300, ALICE, ALICE, 1, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_ACCOUNTS_MUST_DIFFER};
    e = resolve(300, 100, 0, LEDGER_TRANSFER_POST_PENDING);
    e.as.transfer.debit_account_id = e.as.transfer.credit_account_id = id_of(BOB);
    cases[n++] = (struct transfer_case){e, LEDGER_ACCOUNTS_MUST_DIFFER};
    e = transfer(300, 0, BOB, 1, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_DEBIT_ACCOUNT_NOT_FOUND};
    e = transfer(300, 99, BOB, 1, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_DEBIT_ACCOUNT_NOT_FOUND};
    e = transfer(300, ALICE, 99, 1, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_CREDIT_ACCOUNT_NOT_FOUND};
    e = transfer(300, ALICE, BOB, 1, 0);
    e.as.transfer.currency = 0;
    cases[n++] = (struct transfer_case){e, LEDGER_CURRENCY_INVALID};
    e = transfer(300, ALICE, BOB, 1, 0);
    e.as.transfer.currency = CURRENCY_UNASSIGNED;
    cases[n++] = (struct transfer_case){e, LEDGER_CURRENCY_INVALID};
    e = resolve(300, 100, 0, LEDGER_TRANSFER_POST_PENDING);
    e.as.transfer.currency = CURRENCY_UNASSIGNED;
    cases[n++] = (struct transfer_case){e, LEDGER_CURRENCY_INVALID};
    e = transfer(300, ALICE, BOB, 1, 0);
    e.as.transfer.currency = EUR;
    cases[n++] = (struct transfer_case){e, LEDGER_CURRENCY_MISMATCH};
    e = transfer(300, ALICE, EURO, 1, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_CURRENCY_MISMATCH};
    e = transfer(300, ALICE, BOB, 0, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_AMOUNT_MUST_BE_POSITIVE};
    e = transfer(300, ALICE, BOB, -5, 0);
    cases[n++] = (struct transfer_case){e, LEDGER_AMOUNT_MUST_BE_POSITIVE};
    e = resolve(300, 100, -1, LEDGER_TRANSFER_POST_PENDING);
    cases[n++] = (struct transfer_case){e, LEDGER_AMOUNT_MUST_BE_POSITIVE};
    e = transfer(300, ALICE, BOB, 1, 0);
    e.as.transfer.code = 0;
    cases[n++] = (struct transfer_case){e, LEDGER_CODE_MUST_NOT_BE_ZERO};
    e = resolve(300, 100, 0, LEDGER_TRANSFER_VOID_PENDING);
    e.as.transfer.code = 0;
    cases[n++] = (struct transfer_case){e, LEDGER_CODE_MUST_NOT_BE_ZERO};

    uint64_t last = ledger_timestamp_last(ledger);
    for (uint32_t i = 0; i < n; i++) {
        struct ledger_event_result r = run1_result(cases[i].event);
        if (r.result != cases[i].expect) {
            fail_msg("case %u: got %s, want %s", i, ledger_result_name(r.result),
                     ledger_result_name(cases[i].expect));
        }
        assert_int_equal(r.timestamp, 0);
        assert_int_equal(r.debit_after.credits_posted, 0);
    }
    assert_int_equal(ledger_timestamp_last(ledger), last);
    assert_balance(ALICE, 0, 0, 0, 10000);
    assert_balance(BOB, 0, 0, 0, 0);
    assert_null(map_find(id_of(300)));
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(run1(transfer(400, ALICE, BOB, 10001, 0)), LEDGER_EXCEEDS_CREDITS);
    assert_int_equal(run1(transfer(401, ALICE, BOB, 10000, 0)), LEDGER_OK);
    assert_balance(ALICE, 0, 10000, 0, 10000);
    assert_int_equal(run1(transfer(402, ALICE, BOB, 1, 0)), LEDGER_EXCEEDS_CREDITS);

    /* BANK may only take back what it paid out. */
    assert_int_equal(run1(transfer(403, FUND, BANK, 1, 0)), LEDGER_EXCEEDS_DEBITS);
    assert_int_equal(run1(transfer(404, BANK, FUND, 300, 0)), LEDGER_OK);
    assert_int_equal(run1(transfer(405, FUND, BANK, 300, 0)), LEDGER_OK);
    assert_int_equal(run1(transfer(406, FUND, BANK, 1, 0)), LEDGER_EXCEEDS_DEBITS);
    /* Holds on the credit side count too. */
    assert_int_equal(run1(transfer(407, BANK, FUND, 50, 0)), LEDGER_OK);
    assert_int_equal(run1(hold(408, FUND, BANK, 30, 0)), LEDGER_OK);
    assert_int_equal(run1(transfer(409, FUND, BANK, 21, 0)), LEDGER_EXCEEDS_DEBITS);
    assert_int_equal(run1(transfer(410, FUND, BANK, 20, 0)), LEDGER_OK);
    assert_balance(BANK, 0, 350, 30, 320);
}

static void test_limits_count_holds(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(420, ALICE, BOB, 6000, 0)), LEDGER_OK);
    assert_int_equal(run1(transfer(421, ALICE, BOB, 4001, 0)), LEDGER_EXCEEDS_CREDITS);
    assert_int_equal(run1(hold(422, ALICE, BOB, 4001, 0)), LEDGER_EXCEEDS_CREDITS);
    assert_int_equal(run1(transfer(423, ALICE, BOB, 4000, 0)), LEDGER_OK);
    assert_balance(ALICE, 6000, 4000, 0, 10000);
    struct ledger_balance b = {6000, 4000, 0, 10000};
    assert_int_equal(ledger_balance_available(&b), 0);
}

static void test_overflow(void **state)
{
    (void)state;
    /* Up to INT64_MAX exactly is fine. */
    assert_int_equal(run1(transfer(500, FUND, ALICE, INT64_MAX - 10000, 0)), LEDGER_OK);
    assert_balance(ALICE, 0, 0, 0, INT64_MAX);
    assert_balance(FUND, 0, INT64_MAX, 0, 0);
    assert_int_equal(run1(transfer(501, FUND, BOB, 1, 0)), LEDGER_OVERFLOW);
    assert_int_equal(run1(transfer(502, FEE, ALICE, 1, 0)), LEDGER_OVERFLOW);
    assert_int_equal(run1(hold(503, FUND, BOB, 1, 0)), LEDGER_OVERFLOW);
    assert_int_equal(run1(hold(504, FEE, ALICE, 1, 0)), LEDGER_OVERFLOW);

    /* Pending + posted past INT64_MAX overflows even when neither does alone. */
    assert_int_equal(run1(hold(505, FEE, BOB, INT64_MAX, 0)), LEDGER_OK);
    assert_int_equal(run1(transfer(506, FEE, BOB, 1, 0)), LEDGER_OVERFLOW);
    assert_int_equal(run1(transfer(507, ALICE, FEE, 1, 0)), LEDGER_OK);
    assert_balance(FEE, INT64_MAX, 0, 0, 1);
    assert_balance(BOB, 0, 0, INT64_MAX, 0);
    /* A payer who cannot cover a transfer hears exceeds_credits even when the payee's balance
     * would overflow: the answer must not reveal anything about the payee. */
    assert_int_equal(run1(transfer(508, BOB, ALICE, 5, 0)), LEDGER_EXCEEDS_CREDITS);
    /* Per-currency sums pass int64 here; the totals still balance. */
    ledger_invariants_check(ledger);
}

/* ---- Holds ---- */

static void test_hold_full_post(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(600, ALICE, BOB, 3000, 0)), LEDGER_OK);
    assert_balance(ALICE, 3000, 0, 0, 10000);
    assert_balance(BOB, 0, 0, 3000, 0);
    assert_int_equal(stored_status(600), LEDGER_PENDING_OPEN);

    batch_begin();
    struct ledger_event e = resolve(601, 600, 0, LEDGER_TRANSFER_POST_PENDING);
    struct ledger_event_result r;
    ledger_batch_apply(ledger, &e, 1, &r);
    assert_int_equal(r.result, LEDGER_OK);
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, 1);
    const struct ledger_transfer *p = &out.postings[0].transfer;
    assert_true(id128_eq(p->debit_account_id, id_of(ALICE)));
    assert_true(id128_eq(p->credit_account_id, id_of(BOB)));
    assert_int_equal(p->currency, USD);
    assert_int_equal(p->amount, 3000);
    assert_int_equal(p->flags, LEDGER_TRANSFER_POST_PENDING);
    assert_int_equal(out.postings[0].pending_status, LEDGER_PENDING_NONE);
    assert_int_equal(out.pending_update_count, 1);
    assert_true(id128_eq(out.pending_updates[0].pending_id, id_of(600)));
    assert_int_equal(out.pending_updates[0].status, LEDGER_PENDING_POSTED);
    assert_int_equal(out.account_count, 2);
    batch_commit();
    results_note(&r, 1);

    assert_balance(ALICE, 0, 3000, 0, 10000);
    assert_balance(BOB, 0, 0, 0, 3000);
    assert_same_balance(&r.debit_after, ALICE);
    assert_same_balance(&r.credit_after, BOB);
    assert_int_equal(stored_status(600), LEDGER_PENDING_POSTED);
}

static void test_hold_partial_post(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(610, ALICE, BOB, 3000, 0)), LEDGER_OK);
    assert_int_equal(run1(resolve(611, 610, 3001, LEDGER_TRANSFER_POST_PENDING)),
                     LEDGER_EXCEEDS_PENDING_AMOUNT);
    struct ledger_event_result r =
        run1_result(resolve(612, 610, 1200, LEDGER_TRANSFER_POST_PENDING));
    assert_int_equal(r.result, LEDGER_OK);
    /* 1200 moved, the other 1800 released. */
    assert_balance(ALICE, 0, 1200, 0, 10000);
    assert_balance(BOB, 0, 0, 0, 1200);
    assert_int_equal(map_find(id_of(612))->transfer.amount, 1200);
    assert_int_equal(stored_status(610), LEDGER_PENDING_POSTED);
    assert_int_equal(r.debit_after.debits_pending, 0);
    assert_int_equal(r.credit_after.credits_posted, 1200);
}

static void test_hold_void(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(620, ALICE, BOB, 3000, 0)), LEDGER_OK);
    assert_int_equal(run1(resolve(621, 620, 2999, LEDGER_TRANSFER_VOID_PENDING)),
                     LEDGER_PENDING_AMOUNT_MUST_MATCH);
    assert_int_equal(run1(resolve(622, 620, 3000, LEDGER_TRANSFER_VOID_PENDING)), LEDGER_OK);
    assert_balance(ALICE, 0, 0, 0, 10000);
    assert_balance(BOB, 0, 0, 0, 0);
    assert_int_equal(stored_status(620), LEDGER_PENDING_VOIDED);
    assert_int_equal(map_find(id_of(622))->transfer.amount, 3000);

    /* amount 0 voids the whole hold as well. */
    assert_int_equal(run1(hold(623, ALICE, BOB, 40, 0)), LEDGER_OK);
    assert_int_equal(run1(resolve(624, 623, 0, LEDGER_TRANSFER_VOID_PENDING)), LEDGER_OK);
    assert_balance(ALICE, 0, 0, 0, 10000);
}

static void test_hold_already_resolved(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(630, ALICE, BOB, 100, 0)), LEDGER_OK);
    assert_int_equal(run1(hold(631, ALICE, BOB, 100, 0)), LEDGER_OK);
    assert_int_equal(run1(hold(632, ALICE, BOB, 100, 10)), LEDGER_OK);
    assert_int_equal(run1(resolve(633, 630, 0, LEDGER_TRANSFER_POST_PENDING)), LEDGER_OK);
    assert_int_equal(run1(resolve(634, 631, 0, LEDGER_TRANSFER_VOID_PENDING)), LEDGER_OK);
    now_ns += 20 * S_NS;
    assert_int_equal(run1(resolve(635, 632, 0, LEDGER_TRANSFER_EXPIRE_PENDING)), LEDGER_OK);

    uint16_t modes[] = {LEDGER_TRANSFER_POST_PENDING, LEDGER_TRANSFER_VOID_PENDING,
                        LEDGER_TRANSFER_EXPIRE_PENDING};
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(run1(resolve(640 + i, 630, 0, modes[i])), LEDGER_PENDING_ALREADY_POSTED);
        assert_int_equal(run1(resolve(640 + i, 631, 0, modes[i])), LEDGER_PENDING_ALREADY_VOIDED);
        assert_int_equal(run1(resolve(640 + i, 632, 0, modes[i])), LEDGER_PENDING_ALREADY_EXPIRED);
    }
    assert_balance(ALICE, 0, 100, 0, 10000);
}

static void test_hold_expiry(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(650, ALICE, BOB, 500, 10)), LEDGER_OK);
    uint64_t created = map_find(id_of(650))->transfer.timestamp;
    assert_int_equal(created, T0_NS + 7); /* the fixture's 7 events came first */

    now_ns = created + 10 * S_NS - 1; /* the next event's timestamp is the last before expiry */
    assert_int_equal(run1(resolve(651, 650, 0, LEDGER_TRANSFER_EXPIRE_PENDING)),
                     LEDGER_PENDING_NOT_EXPIRED);
    assert_int_equal(run1(transfer(652, FUND, FEE, 1, 0)), LEDGER_OK);
    /* The clock stands still but timestamps move on: this event is at the expiry. */
    assert_int_equal(run1(resolve(653, 650, 0, LEDGER_TRANSFER_POST_PENDING)),
                     LEDGER_PENDING_HAS_EXPIRED);
    assert_int_equal(run1(resolve(654, 650, 0, LEDGER_TRANSFER_VOID_PENDING)),
                     LEDGER_PENDING_HAS_EXPIRED);
    assert_int_equal(run1(resolve(655, 650, 499, LEDGER_TRANSFER_EXPIRE_PENDING)),
                     LEDGER_PENDING_AMOUNT_MUST_MATCH);
    struct ledger_event e = resolve(656, 650, 500, LEDGER_TRANSFER_EXPIRE_PENDING);
    e.as.transfer.code = LEDGER_CODE_HOLD_EXPIRY;
    assert_int_equal(run1(e), LEDGER_OK);
    assert_balance(ALICE, 0, 0, 0, 10000);
    assert_balance(BOB, 0, 0, 0, 0);
    assert_int_equal(stored_status(650), LEDGER_PENDING_EXPIRED);
    assert_int_equal(run1(resolve(657, 650, 0, LEDGER_TRANSFER_POST_PENDING)),
                     LEDGER_PENDING_ALREADY_EXPIRED);

    /* A hold without a timeout never expires. */
    assert_int_equal(run1(hold(658, ALICE, BOB, 5, 0)), LEDGER_OK);
    now_ns += 400ull * 24 * 3600 * S_NS;
    assert_int_equal(run1(resolve(659, 658, 0, LEDGER_TRANSFER_EXPIRE_PENDING)),
                     LEDGER_PENDING_NOT_EXPIRED);
    assert_int_equal(run1(hold(660, ALICE, BOB, 5, TL_PENDING_TIMEOUT_S_MAX)), LEDGER_OK);
}

static void test_hold_lookup_failures(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(670, ALICE, BOB, 100, 0)), LEDGER_OK);
    assert_int_equal(run1(resolve(671, 999, 0, LEDGER_TRANSFER_POST_PENDING)),
                     LEDGER_PENDING_NOT_FOUND);
    assert_int_equal(run1(resolve(671, 100, 0, LEDGER_TRANSFER_POST_PENDING)),
                     LEDGER_PENDING_NOT_PENDING);

    struct ledger_event e = resolve(671, 670, 0, LEDGER_TRANSFER_POST_PENDING);
    e.as.transfer.debit_account_id = id_of(BOB);
    assert_int_equal(run1(e), LEDGER_PENDING_HAS_DIFFERENT_ACCOUNTS);
    e = resolve(671, 670, 0, LEDGER_TRANSFER_POST_PENDING);
    e.as.transfer.credit_account_id = id_of(FEE);
    assert_int_equal(run1(e), LEDGER_PENDING_HAS_DIFFERENT_ACCOUNTS);
    e = resolve(671, 670, 0, LEDGER_TRANSFER_VOID_PENDING);
    e.as.transfer.currency = EUR;
    assert_int_equal(run1(e), LEDGER_PENDING_HAS_DIFFERENT_CURRENCY);

    /* Naming the hold's own accounts and currency is fine. */
    e = resolve(671, 670, 60, LEDGER_TRANSFER_POST_PENDING);
    e.as.transfer.debit_account_id = id_of(ALICE);
    e.as.transfer.credit_account_id = id_of(BOB);
    e.as.transfer.currency = USD;
    assert_int_equal(run1(e), LEDGER_OK);
    assert_balance(BOB, 0, 0, 0, 60);
}

static void test_hold_resolved_in_same_batch(void **state)
{
    (void)state;
    struct ledger_event events[] = {
        hold(680, ALICE, BOB, 700, 0),
        resolve(681, 680, 200, LEDGER_TRANSFER_POST_PENDING),
        resolve(682, 680, 0, LEDGER_TRANSFER_VOID_PENDING),
        hold(683, ALICE, BOB, 50, 0),
    };
    struct ledger_event_result r[4];
    batch_begin();
    ledger_batch_apply(ledger, events, 4, r);
    results_note(r, 4);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_OK);
    assert_int_equal(r[2].result, LEDGER_PENDING_ALREADY_POSTED);
    assert_int_equal(r[3].result, LEDGER_OK);
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, 3);
    assert_int_equal(out.postings[0].pending_status, LEDGER_PENDING_POSTED);
    assert_int_equal(out.postings[2].pending_status, LEDGER_PENDING_OPEN);
    assert_int_equal(out.pending_update_count, 1);
    assert_int_equal(out.pending_updates[0].status, LEDGER_PENDING_POSTED);
    assert_int_equal(out.account_count, 2);
    batch_commit();
    assert_balance(ALICE, 50, 200, 0, 10000);
    assert_int_equal(stored_status(680), LEDGER_PENDING_POSTED);

    /* A stored hold resolved twice in one batch: the second sees the first. */
    struct ledger_event again[] = {
        resolve(684, 683, 0, LEDGER_TRANSFER_VOID_PENDING),
        resolve(685, 683, 0, LEDGER_TRANSFER_POST_PENDING),
    };
    run(again, 2, r);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_PENDING_ALREADY_VOIDED);
    assert_int_equal(stored_status(683), LEDGER_PENDING_VOIDED);
}

/* ---- Duplicates ---- */

static void test_transfer_exists_across_batches(void **state)
{
    (void)state;
    struct ledger_event t = transfer(700, ALICE, BOB, 900, 0);
    struct ledger_event_result first = run1_result(t);
    assert_int_equal(first.result, LEDGER_OK);
    assert_int_equal(run1(transfer(701, ALICE, BOB, 100, 0)), LEDGER_OK);

    /* exists: the original timestamp, the accounts' balances now. */
    struct ledger_event_result again = run1_result(t);
    assert_int_equal(again.result, LEDGER_EXISTS);
    assert_int_equal(again.timestamp, first.timestamp);
    assert_int_equal(again.debit_after.debits_posted, 1000);
    assert_int_equal(again.credit_after.credits_posted, 1000);
    assert_balance(ALICE, 0, 1000, 0, 10000);

    struct ledger_event d = t;
    d.as.transfer.amount = 901;
    assert_int_equal(run1(d), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    d = t;
    d.as.transfer.user_ref = id_of(1);
    assert_int_equal(run1(d), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    d = t;
    d.as.transfer.code = LEDGER_CODE_FEE;
    assert_int_equal(run1(d), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    d = transfer(700, ALICE, FEE, 900, 0);
    assert_int_equal(run1(d), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    d = transfer(700, ALICE, BOB, 900, LEDGER_TRANSFER_PENDING);
    assert_int_equal(run1(d), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    assert_balance(ALICE, 0, 1000, 0, 10000);
    assert_int_equal(map_count, 3);
}

static void test_transfer_exists_in_batch(void **state)
{
    (void)state;
    struct ledger_event t = transfer(710, ALICE, BOB, 10, 0);
    struct ledger_event other = transfer(710, ALICE, BOB, 11, 0);
    struct ledger_event events[] = {t, t, other};
    struct ledger_event_result r[3];
    run(events, 3, r);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_EXISTS);
    assert_int_equal(r[1].timestamp, r[0].timestamp);
    assert_same_balance(&r[1].debit_after, ALICE);
    assert_int_equal(r[2].result, LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    assert_balance(ALICE, 0, 10, 0, 10000);
}

static void test_resolve_exists(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(720, ALICE, BOB, 300, 0)), LEDGER_OK);
    struct ledger_event post = resolve(721, 720, 0, LEDGER_TRANSFER_POST_PENDING);
    struct ledger_event events[] = {post, post};
    struct ledger_event_result r[2];
    run(events, 2, r);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_EXISTS);

    /* Retried after the hold was posted: still exists, not pending_already_posted. */
    struct ledger_event_result again = run1_result(post);
    assert_int_equal(again.result, LEDGER_EXISTS);
    assert_int_equal(again.timestamp, r[0].timestamp);
    assert_same_balance(&again.credit_after, BOB);
    /* Spelling out what was inherited is the same request. */
    struct ledger_event spelled = post;
    spelled.as.transfer.debit_account_id = id_of(ALICE);
    spelled.as.transfer.credit_account_id = id_of(BOB);
    spelled.as.transfer.currency = USD;
    spelled.as.transfer.amount = 300;
    assert_int_equal(run1(spelled), LEDGER_EXISTS);
    struct ledger_event changed = post;
    changed.as.transfer.amount = 299;
    assert_int_equal(run1(changed), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    changed = post;
    changed.as.transfer.flags = LEDGER_TRANSFER_VOID_PENDING;
    assert_int_equal(run1(changed), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    changed = post;
    changed.as.transfer.debit_account_id = id_of(FEE);
    assert_int_equal(run1(changed), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
    /* A plain transfer reusing the post's id differs. */
    assert_int_equal(run1(transfer(721, ALICE, BOB, 300, 0)), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);
}

/* ---- Linked chains ---- */

static void test_chain_rolls_back(void **state)
{
    (void)state;
    uint64_t last = ledger_timestamp_last(ledger);
    struct ledger_event events[] = {
        transfer(800, ALICE, BOB, 100, 0),
        hold(801, ALICE, FEE, 100, 0),
        transfer(802, ALICE, BOB, 9900, 0), /* 100 + 100 + 9900 > 10000 */
        transfer(803, BOB, FEE, 1, 0),
    };
    linked(&events[0]);
    linked(&events[1]);
    linked(&events[2]);
    struct ledger_event_result r[4];
    batch_begin();
    ledger_batch_apply(ledger, events, 4, r);
    results_note(r, 4);
    assert_int_equal(r[0].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[1].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[2].result, LEDGER_EXCEEDS_CREDITS);
    assert_int_equal(r[3].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[0].timestamp, 0);
    assert_int_equal(r[0].debit_after.debits_posted, 0);
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, 0);
    assert_int_equal(out.account_count, 0);
    assert_int_equal(out.pending_update_count, 0);
    batch_commit();
    assert_int_equal(ledger_timestamp_last(ledger), last);
    assert_balance(ALICE, 0, 0, 0, 10000);
    assert_balance(BOB, 0, 0, 0, 0);
    assert_balance(FEE, 0, 0, 0, 0);
    assert_null(map_find(id_of(800)));

    /* The ids are free again. */
    assert_int_equal(run1(transfer(800, ALICE, BOB, 100, 0)), LEDGER_OK);
    assert_int_equal(run1(hold(801, ALICE, FEE, 100, 0)), LEDGER_OK);
}

/* Every posting links to the previous posting of each of its accounts, and posting_last is
 * each account's newest; a chain that fails leaves both as they were. */
static void test_history_links(void **state)
{
    (void)state;
    struct ledger_event_result r1 = run1_result(transfer(850, ALICE, BOB, 10, 0));
    assert_int_equal(r1.result, LEDGER_OK);
    assert_int_equal(acct(ALICE)->posting_last, r1.timestamp);
    assert_int_equal(acct(BOB)->posting_last, r1.timestamp);

    struct ledger_event_result r2 = run1_result(transfer(851, BOB, FEE, 1, 0));
    assert_int_equal(r2.result, LEDGER_OK);
    assert_int_equal(acct(BOB)->posting_last, r2.timestamp);
    assert_int_equal(acct(FEE)->posting_last, r2.timestamp);
    assert_int_equal(acct(ALICE)->posting_last, r1.timestamp);

    /* The links, as the batch output gives them to the store. */
    struct ledger_event events[] = {transfer(852, ALICE, FEE, 2, 0),
                                    transfer(853, BOB, ALICE, 1, 0)};
    struct ledger_event_result r[2];
    batch_begin();
    ledger_batch_apply(ledger, events, 2, r);
    results_note(r, 2);
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, 2);
    assert_int_equal(out.postings[0].debit_prev, r1.timestamp);    /* alice's newest: 850 */
    assert_int_equal(out.postings[0].credit_prev, r2.timestamp);   /* the fee's: 851 */
    assert_int_equal(out.postings[1].debit_prev, r2.timestamp);    /* bob's: 851 */
    assert_int_equal(out.postings[1].credit_prev, r[0].timestamp); /* alice's: 852, this batch */
    batch_commit();
    assert_int_equal(acct(ALICE)->posting_last, r[1].timestamp);

    /* A failed chain moves no head. */
    uint64_t alice = acct(ALICE)->posting_last, bob = acct(BOB)->posting_last;
    struct ledger_event chain[] = {transfer(854, ALICE, BOB, 1, 0),
                                   transfer(855, BOB, ALICE, INT64_MAX, 0)};
    linked(&chain[0]);
    run(chain, 2, r);
    assert_int_equal(r[0].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(acct(ALICE)->posting_last, alice);
    assert_int_equal(acct(BOB)->posting_last, bob);

    /* posting_last is the ledger's to assign. */
    struct ledger_event e = wallet(856);
    e.as.account.posting_last = 1;
    assert_int_equal(run1(e), LEDGER_TIMESTAMP_MUST_BE_ZERO);
}

static void test_chain_with_created_account_rolls_back(void **state)
{
    (void)state;
    uint32_t count = ledger_account_count(ledger);
    struct ledger_event events[] = {
        transfer(810, FUND, FEE, 5, 0),   /* before the chain: stays */
        wallet(90),                       /* the recipient's new wallet */
        transfer(811, ALICE, 90, 400, 0), /* pay into it */
        transfer(812, 90, BOB, 401, 0),   /* more than it has */
        transfer(813, FUND, FEE, 6, 0),   /* after the chain: stays */
    };
    linked(&events[1]);
    linked(&events[2]);
    struct ledger_event_result r[5];
    batch_begin();
    ledger_batch_apply(ledger, events, 5, r);
    results_note(r, 5);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[2].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[3].result, LEDGER_EXCEEDS_CREDITS);
    assert_int_equal(r[4].result, LEDGER_OK);
    assert_int_equal(r[4].timestamp, r[0].timestamp + 1);
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, 2);
    assert_int_equal(out.account_count, 2); /* FUND and FEE */
    batch_commit();
    assert_null(ledger_account_get(ledger, id_of(90)));
    assert_int_equal(ledger_account_count(ledger), count);
    assert_balance(ALICE, 0, 0, 0, 10000);
    assert_balance(FEE, 0, 0, 0, 11);

    /* The same chain with the right amount opens the wallet and pays in one go. */
    events[3] = transfer(812, 90, BOB, 400, 0);
    batch_begin();
    ledger_batch_apply(ledger, &events[1], 3, r);
    results_note(r, 3);
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.account_count, 3); /* 90, ALICE, BOB: nothing left from the rollback */
    batch_commit();
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_OK);
    assert_int_equal(r[2].result, LEDGER_OK);
    assert_true(r[0].timestamp < r[1].timestamp);
    assert_true(r[1].timestamp < r[2].timestamp);
    assert_balance(90, 0, 400, 0, 400);
    assert_balance(BOB, 0, 0, 0, 400);
    assert_int_equal(ledger_account_count(ledger), count + 1);
}

static void test_chain_open_at_end(void **state)
{
    (void)state;
    struct ledger_event events[] = {
        transfer(820, ALICE, BOB, 1, 0),
        transfer(821, ALICE, BOB, 2, 0),
        wallet(91),
    };
    linked(&events[1]);
    linked(&events[2]);
    struct ledger_event_result r[3];
    run(events, 3, r);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_LINKED_EVENT_CHAIN_OPEN);
    assert_int_equal(r[2].result, LEDGER_LINKED_EVENT_CHAIN_OPEN);
    assert_int_equal(r[1].timestamp, 0);
    assert_null(ledger_account_get(ledger, id_of(91)));
    assert_balance(BOB, 0, 0, 0, 1);
    assert_int_equal(ledger_timestamp_last(ledger), r[0].timestamp);
}

static void test_chains_side_by_side(void **state)
{
    (void)state;
    struct ledger_event events[] = {
        transfer(830, ALICE, BOB, 1, 0), transfer(831, ALICE, BOB, 0, 0), /* fails */
        transfer(832, ALICE, BOB, 2, 0), transfer(833, ALICE, BOB, 3, 0),
        transfer(834, ALICE, BOB, 4, 0),
    };
    linked(&events[0]);
    linked(&events[2]);
    struct ledger_event_result r[5];
    run(events, 5, r);
    assert_int_equal(r[0].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[1].result, LEDGER_AMOUNT_MUST_BE_POSITIVE);
    assert_int_equal(r[2].result, LEDGER_OK);
    assert_int_equal(r[3].result, LEDGER_OK);
    assert_int_equal(r[4].result, LEDGER_OK);
    assert_balance(BOB, 0, 0, 0, 9);
}

static void test_chain_restores_hold_status(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(840, ALICE, BOB, 100, 0)), LEDGER_OK);
    struct ledger_event events[] = {
        hold(841, ALICE, BOB, 200, 0),
        resolve(842, 840, 0, LEDGER_TRANSFER_POST_PENDING), /* a stored hold */
        resolve(843, 841, 0, LEDGER_TRANSFER_VOID_PENDING), /* this batch's hold */
        transfer(844, ALICE, BOB, 10, 0),
        transfer(845, ALICE, BOB, 10, 0),
    };
    struct ledger_event_result r[5];
    batch_begin();
    ledger_batch_apply(ledger, events, 1, r);
    linked(&events[1]);
    linked(&events[2]);
    linked(&events[3]);
    events[4].as.transfer.amount = 100000;
    ledger_batch_apply(ledger, &events[1], 4, &r[1]);
    results_note(r, 5);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[2].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[3].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(r[4].result, LEDGER_EXCEEDS_CREDITS);
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, 1);
    assert_int_equal(out.postings[0].pending_status, LEDGER_PENDING_OPEN);
    assert_int_equal(out.pending_update_count, 0);
    /* Both holds are open again for the rest of the batch. */
    struct ledger_event retry[] = {
        resolve(846, 840, 0, LEDGER_TRANSFER_VOID_PENDING),
        resolve(847, 841, 50, LEDGER_TRANSFER_POST_PENDING),
    };
    ledger_batch_apply(ledger, retry, 2, r);
    results_note(r, 2);
    assert_int_equal(r[0].result, LEDGER_OK);
    assert_int_equal(r[1].result, LEDGER_OK);
    batch_commit();
    assert_int_equal(stored_status(840), LEDGER_PENDING_VOIDED);
    assert_int_equal(stored_status(841), LEDGER_PENDING_POSTED);
    assert_balance(ALICE, 0, 50, 0, 10000);
}

/* ---- Batches ---- */

struct snapshot {
    struct ledger_account accounts[16];
    bool present[16];
    uint32_t account_count;
    uint64_t timestamp_last;
};

static void snapshot_take(struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    for (uint64_t id = 0; id < 16; id++) {
        const struct ledger_account *a = ledger_account_get(ledger, id_of(id + 1));
        s->present[id] = a != NULL;
        if (a != NULL) {
            s->accounts[id] = *a;
        }
    }
    s->account_count = ledger_account_count(ledger);
    s->timestamp_last = ledger_timestamp_last(ledger);
}

static void test_batch_rollback(void **state)
{
    (void)state;
    assert_int_equal(run1(hold(900, ALICE, BOB, 100, 0)), LEDGER_OK);
    struct snapshot before;
    snapshot_take(&before);

    struct ledger_event events[] = {
        wallet(10),
        transfer(901, ALICE, 10, 500, 0),
        hold(902, 10, BOB, 200, 0),
        resolve(903, 902, 0, LEDGER_TRANSFER_POST_PENDING),
        resolve(904, 900, 0, LEDGER_TRANSFER_VOID_PENDING),
        account(11, EUR, LEDGER_KIND_FX_POOL, 0),
        transfer(905, 11, EURO, 70, 0),
    };
    linked(&events[0]);
    events[6].as.transfer.currency = EUR;
    struct ledger_event_result first[7];
    struct ledger_event_result second[7];
    uint64_t batch_now = now_ns + 5 * S_NS;
    const struct ledger_lookup lookup = {map_get, NULL};
    ledger_batch_begin(ledger, batch_now, &lookup);
    ledger_batch_apply(ledger, events, 3, first);
    ledger_batch_apply(ledger, &events[3], 4, &first[3]);
    results_note(first, 7);
    for (uint32_t i = 0; i < 7; i++) {
        assert_int_equal(first[i].result, LEDGER_OK);
    }
    ledger_batch_rollback(ledger);
    ledger_invariants_check(ledger);

    struct snapshot after;
    snapshot_take(&after);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_null(ledger_account_get(ledger, id_of(10)));

    /* The same batch again gives the same results, byte for byte. */
    ledger_batch_begin(ledger, batch_now, &lookup);
    ledger_batch_apply(ledger, events, 7, second);
    batch_commit();
    assert_memory_equal(first, second, sizeof(first));
    assert_int_equal(stored_status(900), LEDGER_PENDING_VOIDED);
    assert_int_equal(stored_status(902), LEDGER_PENDING_POSTED);
}

static void test_timestamps(void **state)
{
    (void)state;
    uint64_t last = ledger_timestamp_last(ledger);
    now_ns = 5; /* a clock far behind: timestamps still increase */
    struct ledger_event events[] = {
        transfer(950, ALICE, BOB, 1, 0),
        transfer(951, ALICE, BOB, 0, 0), /* fails, takes no timestamp */
        wallet(12),
        transfer(952, ALICE, BOB, 1, 0),
    };
    struct ledger_event_result r[4];
    run(events, 4, r);
    assert_int_equal(r[0].timestamp, last + 1);
    assert_int_equal(r[1].timestamp, 0);
    assert_int_equal(r[2].timestamp, last + 2);
    assert_int_equal(r[3].timestamp, last + 3);
    assert_int_equal(acct(12)->timestamp, last + 2);

    now_ns = T0_NS + 3600 * S_NS; /* a clock ahead wins */
    struct ledger_event_result a = run1_result(transfer(953, ALICE, BOB, 1, 0));
    struct ledger_event_result b = run1_result(transfer(954, ALICE, BOB, 1, 0));
    assert_int_equal(a.timestamp, now_ns);
    assert_int_equal(b.timestamp, now_ns + 1);
    assert_int_equal(ledger_timestamp_last(ledger), now_ns + 1);
}

static void test_output_lists_each_account_once(void **state)
{
    (void)state;
    struct ledger_event events[] = {
        transfer(960, ALICE, BOB, 1, 0), transfer(961, BOB, FEE, 1, 0),
        transfer(962, ALICE, FEE, 1, 0), wallet(13),
        transfer(963, ALICE, 13, 5, 0),
    };
    struct ledger_event_result r[5];
    batch_begin();
    ledger_batch_apply(ledger, events, 5, r);
    results_note(r, 5);
    struct ledger_batch_out out;
    ledger_batch_output(ledger, &out);
    assert_int_equal(out.posting_count, 4);
    for (uint32_t i = 1; i < out.posting_count; i++) {
        assert_true(out.postings[i - 1].transfer.timestamp < out.postings[i].transfer.timestamp);
    }
    assert_int_equal(out.account_count, 4); /* ALICE, BOB, FEE, 13 */
    for (uint32_t i = 0; i < out.account_count; i++) {
        for (uint32_t j = 0; j < i; j++) {
            assert_false(id128_eq(out.accounts[i]->id, out.accounts[j]->id));
        }
        assert_ptr_equal(out.accounts[i], ledger_account_get(ledger, out.accounts[i]->id));
    }
    assert_int_equal(out.postings[3].debit_after.debits_posted, 7);
    batch_commit();
    assert_balance(ALICE, 0, 7, 0, 10000);
}

static void test_lookup_may_be_null(void **state)
{
    (void)state;
    ledger_batch_begin(ledger, now_ns, NULL);
    struct ledger_event e = transfer(100, ALICE, BOB, 1, 0); /* stored, but nobody asks */
    struct ledger_event_result r;
    ledger_batch_apply(ledger, &e, 1, &r);
    assert_int_equal(r.result, LEDGER_OK);
    ledger_batch_rollback(ledger);
}

/* Runs last: every result a caller can cause was produced by some test above. */
static void test_every_result_reached(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < LEDGER_RESULT_COUNT; i++) {
        if (!results_seen[i]) {
            fail_msg("no test produces %s", ledger_result_name((enum ledger_result)i));
        }
    }
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_result_names),
    cmocka_unit_test(test_open_rejects_bad_config),
    TEST(test_account_create),
    TEST(test_account_validation),
    TEST(test_account_exists),
    TEST(test_account_duplicate_in_batch),
    TEST(test_ledger_full),
    TEST(test_account_load),
    TEST(test_transfer_balances_in_result),
    TEST(test_transfer_validation),
    TEST(test_limits),
    TEST(test_limits_count_holds),
    TEST(test_overflow),
    TEST(test_hold_full_post),
    TEST(test_hold_partial_post),
    TEST(test_hold_void),
    TEST(test_hold_already_resolved),
    TEST(test_hold_expiry),
    TEST(test_hold_lookup_failures),
    TEST(test_hold_resolved_in_same_batch),
    TEST(test_transfer_exists_across_batches),
    TEST(test_transfer_exists_in_batch),
    TEST(test_resolve_exists),
    TEST(test_chain_rolls_back),
    TEST(test_history_links),
    TEST(test_chain_with_created_account_rolls_back),
    TEST(test_chain_open_at_end),
    TEST(test_chains_side_by_side),
    TEST(test_chain_restores_hold_status),
    TEST(test_batch_rollback),
    TEST(test_timestamps),
    TEST(test_output_lists_each_account_once),
    TEST(test_lookup_may_be_null),
    cmocka_unit_test(test_every_result_reached),
};

TL_TEST_MAIN(tests)
