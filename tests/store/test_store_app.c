/*
 * test_store_app.c - the store suite for the application rows of app.h, run per backend.
 *
 * Like test_store.c, each test runs once per backend named in TALLY_STORE_BACKENDS
 * (comma-separated; default "sqlite"), each time on a fresh, empty store. Payment and
 * idempotency records go through real batches (store_batch_begin, store_batch_commit), and
 * payments_list is compared page by page with a naive model of the same rows.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/app.h"
#include "store/audit_chain.h"
#include "store/app_backend.h"
#include "store/backend.h"
#include "store/fault.h"
#include "store/stepup.h"
#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/limits.h"

/* ---- Rows ---- */

#define EUR 978
#define USD 840
#define T0 1700000000000000000ull

static struct id128 user_id(uint64_t n)
{
    return id128_make(0x0190000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

static struct id128 wallet_id(uint64_t n)
{
    return id128_make(0x0192000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

static struct id128 payment_id(uint64_t n)
{
    return id128_make(0x0193000000007000ull, 0x9000000000000000ull | n);
}

static void text_set(char *out, size_t out_bytes, const char *text)
{
    size_t bytes = strlen(text) + 1;
    assert_true(bytes <= out_bytes);
    memcpy(out, text, bytes);
}

/* User n with its first wallet (wallet n, EUR). phone may be "". */
static void user_make(uint64_t n, const char *handle, const char *email, const char *phone,
                      struct store_user *user, struct store_wallet *wallet)
{
    memset(user, 0, sizeof(*user));
    user->id = user_id(n);
    text_set(user->handle, sizeof(user->handle), handle);
    text_set(user->email, sizeof(user->email), email);
    text_set(user->phone, sizeof(user->phone), phone);
    snprintf(user->display_name, sizeof(user->display_name), "User %llu \xc3\xa9",
             (unsigned long long)n);
    snprintf(user->password_hash, sizeof(user->password_hash),
             "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$%llu", (unsigned long long)n);
    user->created_ns = T0 + n;
    memset(wallet, 0, sizeof(*wallet));
    wallet->id = wallet_id(n);
    wallet->user_id = user->id;
    wallet->currency = EUR;
    wallet->created_ns = T0 + n;
}

static void user_create_ok(struct store *store, const struct store_user *user,
                           const struct store_wallet *wallet)
{
    enum store_user_conflict conflict = STORE_USER_CONFLICT_HANDLE;
    assert_int_equal(store_user_create(store, user, wallet, &conflict), TL_OK);
    assert_int_equal(conflict, STORE_USER_CONFLICT_NONE);
}

static void assert_user_eq(const struct store_user *a, const struct store_user *b)
{
    fixture_assert_id_eq(a->id, b->id);
    assert_string_equal(a->handle, b->handle);
    assert_string_equal(a->email, b->email);
    assert_string_equal(a->phone, b->phone);
    assert_string_equal(a->display_name, b->display_name);
    assert_string_equal(a->password_hash, b->password_hash);
    assert_int_equal(a->created_ns, b->created_ns);
}

static void assert_wallet_eq(const struct store_wallet *a, const struct store_wallet *b)
{
    fixture_assert_id_eq(a->id, b->id);
    fixture_assert_id_eq(a->user_id, b->user_id);
    assert_int_equal(a->currency, b->currency);
    assert_int_equal(a->created_ns, b->created_ns);
}

static void assert_payment_eq(const struct store_payment *a, const struct store_payment *b)
{
    fixture_assert_id_eq(a->id, b->id);
    fixture_assert_id_eq(a->from_user, b->from_user);
    fixture_assert_id_eq(a->to_user, b->to_user);
    fixture_assert_id_eq(a->from_wallet, b->from_wallet);
    fixture_assert_id_eq(a->to_wallet, b->to_wallet);
    assert_int_equal(a->amount, b->amount);
    assert_int_equal(a->fee, b->fee);
    assert_int_equal(a->currency, b->currency);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->created_ns, b->created_ns);
    assert_int_equal(a->sender_available_after, b->sender_available_after);
    assert_int_equal(a->recipient_available_after, b->recipient_available_after);
    assert_string_equal(a->to_text, b->to_text);
    assert_string_equal(a->note, b->note);
}

static void assert_user_absent(struct store *store, struct id128 id)
{
    struct store_user got;
    bool found = true;
    assert_int_equal(store_user_get(store, id, &got, &found), TL_OK);
    assert_false(found);
}

static void assert_wallet_absent(struct store *store, struct id128 id)
{
    struct store_wallet got;
    bool found = true;
    assert_int_equal(store_wallet_get(store, id, &got, &found), TL_OK);
    assert_false(found);
}

/* Payment n from one user (and their wallet) to another at created_ns. */
static struct store_payment payment_make(uint64_t n, uint64_t from, uint64_t to,
                                         uint64_t created_ns)
{
    struct store_payment p;
    memset(&p, 0, sizeof(p));
    p.id = payment_id(n);
    p.from_user = user_id(from);
    p.to_user = user_id(to);
    p.from_wallet = wallet_id(from);
    p.to_wallet = wallet_id(to);
    p.amount = (int64_t)(100 + n);
    p.fee = (int64_t)(n % 3);
    p.currency = EUR;
    p.status = STORE_PAYMENT_SUCCEEDED;
    p.created_ns = created_ns;
    p.sender_available_after = 5000 - (int64_t)n;
    p.recipient_available_after = 7000 + (int64_t)n;
    snprintf(p.to_text, sizeof(p.to_text), "@user%llu", (unsigned long long)to);
    if (n % 2 == 0) {
        snprintf(p.note, sizeof(p.note), "note %llu: caf\xc3\xa9", (unsigned long long)n);
    }
    return p;
}

/* ---- Batches of records ---- */

#define RECORDS_MAX 8

/* Serialized records of one batch with the buffers they point into. */
struct record_batch {
    struct store_record records[RECORDS_MAX];
    struct store_payment payment_bufs[RECORDS_MAX];
    uint8_t idempotency_bufs[RECORDS_MAX][2048];
    struct store_quote quote_bufs[RECORDS_MAX]; /* STORE_RECORD_QUOTE_BYTES each */
    uint32_t count;
};

static void record_batch_payment(struct record_batch *b, const struct store_payment *p)
{
    assert_true(b->count < RECORDS_MAX);
    store_record_payment(p, &b->payment_bufs[b->count], &b->records[b->count]);
    assert_int_equal(b->records[b->count].kind, STORE_RECORD_PAYMENT);
    b->count++;
}

static void record_batch_idempotency(struct record_batch *b, const struct store_idempotency *row)
{
    assert_true(b->count < RECORDS_MAX);
    assert_int_equal(store_record_idempotency(row, b->idempotency_bufs[b->count],
                                              sizeof(b->idempotency_bufs[b->count]),
                                              &b->records[b->count]),
                     TL_OK);
    assert_int_equal(b->records[b->count].kind, STORE_RECORD_IDEMPOTENCY);
    b->count++;
}

static void record_batch_quote(struct record_batch *b, const struct store_quote *q)
{
    assert_true(b->count < RECORDS_MAX);
    store_record_quote(q, &b->quote_bufs[b->count], &b->records[b->count]);
    assert_int_equal(b->records[b->count].kind, STORE_RECORD_QUOTE);
    assert_true(id128_eq(b->records[b->count].key, q->id));
    b->count++;
}

/* A batch of records only: no accounts, postings or hold updates. */
static enum tl_err record_batch_commit(struct store *store, const struct record_batch *b)
{
    struct store_batch batch;
    enum tl_err err;

    memset(&batch, 0, sizeof(batch));
    batch.records = b->records;
    batch.record_count = b->count;
    err = store_batch_begin(store);
    if (err != TL_OK) {
        return err;
    }
    return store_batch_commit(store, &batch);
}

/* ---- The ledger under the payments ----
 *
 * A payments row's main transfer (id = the payment id, timestamp = created_ns) debits
 * from_wallet and credits to_wallet, and the lists of SQLite find payments through those
 * wallets' history chains (sqlite_paylists.c). So the payments these tests list commit with
 * their transfers, linked as the ledger links them, in a world of accounts: the wallets of
 * users 1..WORLD_USERS in EUR (wallet_id) and USD (usd_wallet_id), and one system account per
 * currency that deposits come from and fees go to.
 */

#define WORLD_USERS 5
#define WORLD_ACCOUNTS_MAX (2 * WORLD_USERS + 2)
#define WORLD_POSTINGS_MAX 64

static struct id128 usd_wallet_id(uint64_t n)
{
    return id128_make(0x0195000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

static struct id128 system_account_id(uint16_t currency)
{
    return id128_make(0x0196000000007000ull, 0x8000000000000000ull | currency);
}

struct world {
    struct ledger_account accounts[WORLD_ACCOUNTS_MAX];
    uint32_t account_count;
};

struct world_batch {
    struct ledger_posting postings[WORLD_POSTINGS_MAX];
    uint32_t posting_count;
    const struct ledger_account *accounts[WORLD_ACCOUNTS_MAX];
    uint32_t account_count;
    struct record_batch records;
};

static struct ledger_account *world_find(struct world *w, struct id128 id)
{
    for (uint32_t i = 0; i < w->account_count; i++) {
        if (id128_eq(w->accounts[i].id, id)) {
            return &w->accounts[i];
        }
    }
    fail_msg("no such account in the world");
    return NULL;
}

static void world_touch(struct world_batch *b, const struct ledger_account *a)
{
    for (uint32_t i = 0; i < b->account_count; i++) {
        if (b->accounts[i] == a) {
            return;
        }
    }
    assert_true(b->account_count < WORLD_ACCOUNTS_MAX);
    b->accounts[b->account_count++] = a;
}

static enum tl_err world_batch_commit(struct store *store, struct world_batch *b)
{
    struct store_batch batch;
    memset(&batch, 0, sizeof(batch));
    batch.ledger.postings = b->postings;
    batch.ledger.posting_count = b->posting_count;
    batch.ledger.accounts = b->accounts;
    batch.ledger.account_count = b->account_count;
    batch.records = b->records.records;
    batch.record_count = b->records.count;
    enum tl_err err = store_batch_begin(store);
    if (err == TL_OK) {
        err = store_batch_commit(store, &batch);
    }
    memset(b, 0, sizeof(*b));
    return err;
}

static void world_account(struct world *w, struct world_batch *b, struct id128 id,
                          struct id128 user, uint16_t currency, uint16_t kind)
{
    assert_true(w->account_count < WORLD_ACCOUNTS_MAX);
    struct ledger_account *a = &w->accounts[w->account_count++];
    memset(a, 0, sizeof(*a));
    a->id = id;
    a->user_data = user;
    a->timestamp = T0 + w->account_count; /* before every posting of these tests */
    a->currency = currency;
    a->kind = kind;
    world_touch(b, a);
}

/* Every account of the world, committed in one batch. */
static void world_open(struct store *store, struct world *w)
{
    struct world_batch b;
    memset(w, 0, sizeof(*w));
    memset(&b, 0, sizeof(b));
    for (uint64_t n = 1; n <= WORLD_USERS; n++) {
        world_account(w, &b, wallet_id(n), user_id(n), EUR, LEDGER_KIND_WALLET);
        world_account(w, &b, usd_wallet_id(n), user_id(n), USD, LEDGER_KIND_WALLET);
    }
    world_account(w, &b, system_account_id(EUR), id128_make(0, 1), EUR,
                  LEDGER_KIND_SANDBOX_FUNDING);
    world_account(w, &b, system_account_id(USD), id128_make(0, 1), USD,
                  LEDGER_KIND_SANDBOX_FUNDING);
    assert_int_equal(world_batch_commit(store, &b), TL_OK);
}

/* A posting at ts, linked into its accounts' chains (one account on both sides: both links
 * are its previous posting, as a store must take what it is handed). */
static void world_post(struct world *w, struct world_batch *b, struct id128 id,
                       struct id128 debit_id, struct id128 credit_id, int64_t amount, uint64_t ts,
                       uint16_t code)
{
    struct ledger_account *debit = world_find(w, debit_id);
    struct ledger_account *credit = world_find(w, credit_id);
    assert_true(b->posting_count < WORLD_POSTINGS_MAX);
    assert_int_equal(debit->currency, credit->currency);
    assert_true(ts > debit->posting_last);
    assert_true(ts > credit->posting_last);
    struct ledger_posting *p = &b->postings[b->posting_count++];
    memset(p, 0, sizeof(*p));
    p->transfer.id = id;
    p->transfer.debit_account_id = debit->id;
    p->transfer.credit_account_id = credit->id;
    p->transfer.amount = amount;
    p->transfer.timestamp = ts;
    p->transfer.currency = debit->currency;
    p->transfer.code = code;
    p->debit_prev = debit->posting_last;
    p->credit_prev = credit->posting_last;
    debit->debits_posted += amount;
    credit->credits_posted += amount;
    debit->posting_last = ts;
    credit->posting_last = ts;
    p->debit_after = (struct ledger_balance){debit->debits_pending, debit->debits_posted,
                                             debit->credits_pending, debit->credits_posted};
    p->credit_after = (struct ledger_balance){credit->debits_pending, credit->debits_posted,
                                              credit->credits_pending, credit->credits_posted};
    world_touch(b, debit);
    world_touch(b, credit);
}

/* Deposits from the system account into wallet, at ts, ts + 1, ... (ids from id_base). */
static void world_deposits(struct store *store, struct world *w, struct id128 wallet, uint64_t ts,
                           uint32_t count, uint64_t id_base)
{
    struct world_batch b;
    uint16_t currency = world_find(w, wallet)->currency;
    memset(&b, 0, sizeof(b));
    for (uint32_t i = 0; i < count; i++) {
        if (b.posting_count == WORLD_POSTINGS_MAX) {
            assert_int_equal(world_batch_commit(store, &b), TL_OK);
        }
        world_post(w, &b, id128_make(0x0197000000007000ull, id_base + i),
                   system_account_id(currency), wallet, 1, ts + i, LEDGER_CODE_DEPOSIT);
    }
    assert_int_equal(world_batch_commit(store, &b), TL_OK);
}

/* Commits payments (in time order) with their main transfers, RECORDS_MAX a batch. With
 * extras, each also gets a deposit into the payer's wallet at created_ns - 1 and, when it has
 * a fee, the fee's transfer at created_ns + 1: postings a list walks past. */
static void payments_commit(struct store *store, struct world *w,
                            const struct store_payment *payments, uint32_t count, bool extras)
{
    struct world_batch b;
    memset(&b, 0, sizeof(b));
    for (uint32_t i = 0; i < count; i++) {
        const struct store_payment *p = &payments[i];
        uint16_t currency = world_find(w, p->from_wallet)->currency;
        if (extras) {
            world_post(w, &b, id128_make(0x0198000000007000ull, p->created_ns),
                       system_account_id(currency), p->from_wallet, p->amount + p->fee,
                       p->created_ns - 1, LEDGER_CODE_DEPOSIT);
        }
        world_post(w, &b, p->id, p->from_wallet, p->to_wallet, p->amount, p->created_ns,
                   LEDGER_CODE_PAYMENT);
        if (extras && p->fee > 0) {
            world_post(w, &b, id128_make(0x0199000000007000ull, p->created_ns), p->from_wallet,
                       system_account_id(currency), p->fee, p->created_ns + 1, LEDGER_CODE_FEE);
        }
        record_batch_payment(&b.records, p);
        if (b.records.count == RECORDS_MAX || i + 1 == count) {
            assert_int_equal(world_batch_commit(store, &b), TL_OK);
        }
    }
}

/* Users 1..WORLD_USERS, each with a EUR and a USD wallet row, and the world's accounts. */
static void world_users(struct store *store, struct world *w)
{
    for (uint64_t n = 1; n <= WORLD_USERS; n++) {
        struct store_user user;
        struct store_wallet wallet;
        struct store_wallet usd;
        struct store_wallet got;
        bool created = false;
        char handle[32];
        char email[64];
        snprintf(handle, sizeof(handle), "user%llu", (unsigned long long)n);
        snprintf(email, sizeof(email), "user%llu@example.com", (unsigned long long)n);
        user_make(n, handle, email, "", &user, &wallet);
        user_create_ok(store, &user, &wallet);
        usd = wallet;
        usd.id = usd_wallet_id(n);
        usd.currency = USD;
        assert_int_equal(store_wallet_open(store, &usd, &got, &created), TL_OK);
        assert_true(created);
    }
    world_open(store, w);
}

static struct store_idempotency idempotency_make(const char *scope, const char *key,
                                                 uint8_t hash_byte, uint16_t status,
                                                 uint64_t created_ns, const char *body)
{
    struct store_idempotency row;
    memset(&row, 0, sizeof(row));
    text_set(row.scope, sizeof(row.scope), scope);
    text_set(row.key, sizeof(row.key), key);
    memset(row.request_hash, hash_byte, sizeof(row.request_hash));
    row.status = status;
    row.created_ns = created_ns;
    row.body = body;
    row.body_bytes = (uint32_t)strlen(body);
    return row;
}

/* The stored row for scope and key must be expected (its body compared as text). */
static void assert_idempotency_stored(struct store *store, const struct store_idempotency *expected)
{
    struct store_idempotency got;
    bool found = false;
    assert_int_equal(store_idempotency_get(store, expected->scope, expected->key, &got, &found),
                     TL_OK);
    assert_true(found);
    assert_string_equal(got.scope, expected->scope);
    assert_string_equal(got.key, expected->key);
    assert_memory_equal(got.request_hash, expected->request_hash, STORE_HASH_BYTES);
    assert_int_equal(got.status, expected->status);
    assert_int_equal(got.created_ns, expected->created_ns);
    assert_int_equal(got.body_bytes, expected->body_bytes);
    assert_non_null(got.body);
    assert_memory_equal(got.body, expected->body, expected->body_bytes);
    assert_int_equal(got.body[got.body_bytes], '\0');
    free((void *)got.body);
}

static void assert_idempotency_absent(struct store *store, const char *scope, const char *key)
{
    struct store_idempotency got;
    bool found = true;
    assert_int_equal(store_idempotency_get(store, scope, key, &got, &found), TL_OK);
    assert_false(found);
}

/* ---- Users ---- */

static void body_user_create_find(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_user alice, got;
    struct store_wallet wallet, wallet_got;
    bool found = false;

    user_make(1, "alice", "Alice.Smith@Example.COM", "+15550001", &alice, &wallet);
    user_create_ok(store, &alice, &wallet);
    text_set(alice.email, sizeof(alice.email), "alice.smith@example.com"); /* stored lower */

    assert_int_equal(store_user_get(store, alice.id, &got, &found), TL_OK);
    assert_true(found);
    assert_user_eq(&got, &alice);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_user_find(store, "alice", NULL, NULL, &got, &found), TL_OK);
    assert_true(found);
    assert_user_eq(&got, &alice);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_user_find(store, NULL, "ALICE.smith@example.com", NULL, &got, &found),
                     TL_OK);
    assert_true(found);
    assert_user_eq(&got, &alice);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_user_find(store, NULL, NULL, "+15550001", &got, &found), TL_OK);
    assert_true(found);
    assert_user_eq(&got, &alice);

    assert_int_equal(store_user_find(store, "bob", NULL, NULL, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_user_find(store, NULL, "bob@example.com", NULL, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_user_find(store, NULL, NULL, "+15550002", &got, &found), TL_OK);
    assert_false(found);
    assert_user_absent(store, user_id(2));

    /* The first wallet came with the user. */
    assert_int_equal(store_wallet_get(store, wallet.id, &wallet_got, &found), TL_OK);
    assert_true(found);
    assert_wallet_eq(&wallet_got, &wallet);

    /* Survives a reopen. */
    store_close(store);
    store = fixture_open_writer(f);
    assert_int_equal(store_user_get(store, alice.id, &got, &found), TL_OK);
    assert_true(found);
    assert_user_eq(&got, &alice);
    store_close(store);
}

static void test_user_create_find(void **state)
{
    (void)state;
    fixture_each_backend(body_user_create_find);
}

/* A conflicting create names the field and writes nothing: neither user nor wallet. */
static void expect_conflict(struct store *store, const struct store_user *user,
                            const struct store_wallet *wallet, enum store_user_conflict expected)
{
    enum store_user_conflict conflict = STORE_USER_CONFLICT_NONE;
    assert_int_equal(store_user_create(store, user, wallet, &conflict), TL_ERR_CONFLICT);
    assert_int_equal(conflict, expected);
    assert_user_absent(store, user->id);
    assert_wallet_absent(store, wallet->id);
}

static void body_user_conflicts(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_user alice, other, got;
    struct store_wallet wallet, other_wallet;
    bool found = false;

    user_make(1, "alice", "alice@example.com", "+15550001", &alice, &wallet);
    user_create_ok(store, &alice, &wallet);

    user_make(2, "alice", "other@example.com", "+15550002", &other, &other_wallet);
    expect_conflict(store, &other, &other_wallet, STORE_USER_CONFLICT_HANDLE);
    user_make(2, "ALICE", "other@example.com", "+15550002", &other, &other_wallet);
    expect_conflict(store, &other, &other_wallet, STORE_USER_CONFLICT_HANDLE);
    user_make(2, "other", "Alice@Example.com", "+15550002", &other, &other_wallet);
    expect_conflict(store, &other, &other_wallet, STORE_USER_CONFLICT_EMAIL);
    user_make(2, "other", "other@example.com", "+15550001", &other, &other_wallet);
    expect_conflict(store, &other, &other_wallet, STORE_USER_CONFLICT_PHONE);
    /* Several fields taken: the handle is named first. */
    user_make(2, "alice", "alice@example.com", "+15550001", &other, &other_wallet);
    expect_conflict(store, &other, &other_wallet, STORE_USER_CONFLICT_HANDLE);
    /* The same id again is not a field conflict, and nothing changes. */
    user_make(1, "third", "third@example.com", "", &other, &other_wallet);
    other_wallet.id = wallet_id(3);
    enum store_user_conflict conflict = STORE_USER_CONFLICT_NONE;
    assert_int_equal(store_user_create(store, &other, &other_wallet, &conflict), TL_ERR_STORAGE);
    assert_int_equal(conflict, STORE_USER_CONFLICT_NONE);
    assert_wallet_absent(store, wallet_id(3));

    /* The original is untouched and the free values still work. */
    assert_int_equal(store_user_get(store, alice.id, &got, &found), TL_OK);
    assert_true(found);
    assert_user_eq(&got, &alice);
    user_make(2, "other", "other@example.com", "+15550002", &other, &other_wallet);
    user_create_ok(store, &other, &other_wallet);

    /* Empty required fields are refused before the backend. */
    user_make(4, "", "four@example.com", "", &other, &other_wallet);
    assert_int_equal(store_user_create(store, &other, &other_wallet, &conflict),
                     TL_ERR_INVALID_REQUEST);
    user_make(4, "four", "", "", &other, &other_wallet);
    assert_int_equal(store_user_create(store, &other, &other_wallet, &conflict),
                     TL_ERR_INVALID_REQUEST);
    assert_user_absent(store, user_id(4));
    store_close(store);
}

static void test_user_conflicts(void **state)
{
    (void)state;
    fixture_each_backend(body_user_conflicts);
}

static void body_users_without_phone(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_user a, b, got;
    struct store_wallet wa, wb;
    bool found = false;

    user_make(1, "nophone1", "np1@example.com", "", &a, &wa);
    user_make(2, "nophone2", "np2@example.com", "", &b, &wb);
    user_create_ok(store, &a, &wa);
    user_create_ok(store, &b, &wb);
    assert_int_equal(store_user_get(store, b.id, &got, &found), TL_OK);
    assert_true(found);
    assert_user_eq(&got, &b);
    assert_string_equal(got.phone, "");
    /* "" names no phone: not a lookup a caller may make. */
    assert_int_equal(store_user_find(store, NULL, NULL, "", &got, &found), TL_ERR_INVALID_REQUEST);
    store_close(store);
}

static void test_users_without_phone(void **state)
{
    (void)state;
    fixture_each_backend(body_users_without_phone);
}

static void body_user_find_lengths(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    char long_text[STORE_EMAIL_BYTES_MAX + 8];
    struct store_user got;
    bool found = false;

    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    assert_int_equal(store_user_find(store, long_text, NULL, NULL, &got, &found),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_user_find(store, NULL, long_text, NULL, &got, &found),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_user_find(store, NULL, NULL, long_text, &got, &found),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_user_find(store, "", NULL, NULL, &got, &found), TL_ERR_INVALID_REQUEST);
    /* The longest handle that fits is a lookup like any other. */
    long_text[STORE_HANDLE_BYTES_MAX - 1] = '\0';
    assert_int_equal(store_user_find(store, long_text, NULL, NULL, &got, &found), TL_OK);
    assert_false(found);
    store_close(store);
}

static void test_user_find_lengths(void **state)
{
    (void)state;
    fixture_each_backend(body_user_find_lengths);
}

static void session_make(uint8_t hash_byte, uint64_t n, uint64_t user, struct store_session *out)
{
    memset(out, 0, sizeof(*out));
    memset(out->token_hash, hash_byte, sizeof(out->token_hash));
    out->id = id128_make(0x0194000000007000ull, n);
    out->user_id = user_id(user);
    out->created_ns = T0 + n;
    out->expires_ns = T0 + n + 3600ull * 1000000000ull;
}

static void body_user_delete(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_user alice, bob, got;
    struct store_wallet wa, wb, usd, out[4];
    struct store_session sa, sb, session_got;
    uint32_t count = 0;
    bool created = false;
    bool found = false;

    user_make(1, "alice", "alice@example.com", "+15550001", &alice, &wa);
    user_make(2, "bob", "bob@example.com", "+15550002", &bob, &wb);
    user_create_ok(store, &alice, &wa);
    user_create_ok(store, &bob, &wb);
    usd = wa;
    usd.id = wallet_id(11);
    usd.currency = USD;
    assert_int_equal(store_wallet_open(store, &usd, &out[0], &created), TL_OK);
    assert_true(created);
    session_make(0xa1, 1, 1, &sa);
    session_make(0xb2, 2, 2, &sb);
    assert_int_equal(store_session_create(store, &sa), TL_OK);
    assert_int_equal(store_session_create(store, &sb), TL_OK);

    assert_int_equal(store_user_delete(store, alice.id), TL_OK);
    assert_user_absent(store, alice.id);
    assert_wallet_absent(store, wa.id);
    assert_wallet_absent(store, usd.id);
    assert_int_equal(store_wallets_list(store, alice.id, out, 4, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_session_get(store, sa.token_hash, &session_got, &found), TL_OK);
    assert_false(found);
    /* Its handle, email and phone are free again. */
    assert_int_equal(store_user_find(store, "alice", NULL, NULL, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_user_find(store, NULL, NULL, "+15550001", &got, &found), TL_OK);
    assert_false(found);

    /* Bob is untouched. */
    assert_int_equal(store_user_get(store, bob.id, &got, &found), TL_OK);
    assert_true(found);
    assert_user_eq(&got, &bob);
    assert_int_equal(store_wallets_list(store, bob.id, out, 4, &count), TL_OK);
    assert_int_equal(count, 1);
    assert_wallet_eq(&out[0], &wb);
    assert_int_equal(store_session_get(store, sb.token_hash, &session_got, &found), TL_OK);
    assert_true(found);

    /* Compensation may run twice. */
    assert_int_equal(store_user_delete(store, alice.id), TL_OK);
    user_create_ok(store, &alice, &wa);
    store_close(store);
}

static void test_user_delete(void **state)
{
    (void)state;
    fixture_each_backend(body_user_delete);
}

/* ---- Wallets ---- */

static void body_wallets(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_user alice;
    struct store_wallet first, w, got, list[4];
    uint16_t currencies[3] = {USD, 826, 392};
    uint32_t count = 99;
    bool created = false;
    bool found = false;

    user_make(1, "alice", "alice@example.com", "", &alice, &first);
    first.created_ns = T0 + 500; /* the EUR wallet is not the oldest */
    user_create_ok(store, &alice, &first);

    /* Opened newest id first but with older times: the list follows created_ns. */
    for (uint32_t i = 0; i < 3; i++) {
        w = first;
        w.id = wallet_id(20 - i);
        w.currency = currencies[i];
        w.created_ns = T0 + 100 + i;
        assert_int_equal(store_wallet_open(store, &w, &got, &created), TL_OK);
        assert_true(created);
        assert_wallet_eq(&got, &w);
    }
    /* An existing currency answers with the stored row, whatever id was offered. */
    w = first;
    w.id = wallet_id(30);
    w.created_ns = T0 + 900;
    assert_int_equal(store_wallet_open(store, &w, &got, &created), TL_OK);
    assert_false(created);
    assert_wallet_eq(&got, &first);
    assert_wallet_absent(store, wallet_id(30));

    assert_int_equal(store_wallet_find(store, alice.id, 826, &got, &found), TL_OK);
    assert_true(found);
    fixture_assert_id_eq(got.id, wallet_id(19));
    assert_int_equal(store_wallet_find(store, alice.id, 36, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_wallet_find(store, user_id(2), EUR, &got, &found), TL_OK);
    assert_false(found);

    assert_int_equal(store_wallets_list(store, alice.id, list, 4, &count), TL_OK);
    assert_int_equal(count, 4);
    fixture_assert_id_eq(list[0].id, wallet_id(20));
    fixture_assert_id_eq(list[1].id, wallet_id(19));
    fixture_assert_id_eq(list[2].id, wallet_id(18));
    assert_wallet_eq(&list[3], &first);
    count = 99;
    assert_int_equal(store_wallets_list(store, alice.id, list, 3, &count), TL_ERR_LIMIT);
    assert_int_equal(count, 99); /* not filled on error */
    assert_int_equal(store_wallets_list(store, alice.id, NULL, 0, &count), TL_ERR_LIMIT);
    assert_int_equal(store_wallets_list(store, user_id(2), NULL, 0, &count), TL_OK);
    assert_int_equal(count, 0);
    store_close(store);
}

static void test_wallets(void **state)
{
    (void)state;
    fixture_each_backend(body_wallets);
}

/* ---- Sessions ---- */

static void body_sessions(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_session s, other, got;
    uint8_t unknown[STORE_HASH_BYTES];
    bool found = false;

    session_make(0x11, 1, 1, &s);
    session_make(0x22, 2, 1, &other);
    assert_int_equal(store_session_create(store, &s), TL_OK);
    assert_int_equal(store_session_create(store, &other), TL_OK);
    assert_int_equal(store_session_get(store, s.token_hash, &got, &found), TL_OK);
    assert_true(found);
    assert_memory_equal(got.token_hash, s.token_hash, STORE_HASH_BYTES);
    fixture_assert_id_eq(got.id, s.id);
    fixture_assert_id_eq(got.user_id, s.user_id);
    assert_int_equal(got.created_ns, s.created_ns);
    assert_int_equal(got.expires_ns, s.expires_ns);
    assert_false(got.revoked);

    assert_int_equal(store_session_revoke(store, s.token_hash), TL_OK);
    assert_int_equal(store_session_get(store, s.token_hash, &got, &found), TL_OK);
    assert_true(found);
    assert_true(got.revoked);
    assert_int_equal(store_session_revoke(store, s.token_hash), TL_OK); /* again: still there */
    assert_int_equal(store_session_get(store, other.token_hash, &got, &found), TL_OK);
    assert_true(found);
    assert_false(got.revoked);

    memset(unknown, 0x33, sizeof(unknown));
    assert_int_equal(store_session_revoke(store, unknown), TL_ERR_NOT_FOUND);
    assert_int_equal(store_session_get(store, unknown, &got, &found), TL_OK);
    assert_false(found);
    store_close(store);
}

static void test_sessions(void **state)
{
    (void)state;
    fixture_each_backend(body_sessions);
}

/* ---- Payments ---- */

/* A payment record committed with real ledger rows in the same batch. */
static void body_payment_with_ledger(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store *reader;
    struct ledger_account accounts[2];
    const struct ledger_account *changed[2] = {&accounts[0], &accounts[1]};
    struct ledger_posting posting;
    struct store_payment p = payment_make(1, 1, 2, T0 + 3), got;
    struct record_batch records;
    struct store_batch batch;
    bool found = false;

    memset(accounts, 0, sizeof(accounts));
    for (int i = 0; i < 2; i++) {
        accounts[i].id = wallet_id((uint64_t)i + 1);
        accounts[i].user_data = user_id((uint64_t)i + 1);
        accounts[i].timestamp = T0 + 1 + (uint64_t)i;
        accounts[i].currency = EUR;
        accounts[i].kind = LEDGER_KIND_WALLET;
    }
    accounts[0].credits_posted = 1000; /* as if funded */
    accounts[0].debits_posted = p.amount;
    accounts[1].credits_posted = p.amount;
    memset(&posting, 0, sizeof(posting));
    posting.transfer.id = p.id;
    posting.transfer.debit_account_id = accounts[0].id;
    posting.transfer.credit_account_id = accounts[1].id;
    posting.transfer.user_ref = p.id;
    posting.transfer.amount = p.amount;
    posting.transfer.timestamp = p.created_ns;
    posting.transfer.currency = EUR;
    posting.transfer.code = LEDGER_CODE_PAYMENT;
    posting.debit_after.credits_posted = 1000;
    posting.debit_after.debits_posted = p.amount;
    posting.credit_after.credits_posted = p.amount;

    memset(&records, 0, sizeof(records));
    record_batch_payment(&records, &p);
    memset(&batch, 0, sizeof(batch));
    batch.ledger.postings = &posting;
    batch.ledger.posting_count = 1;
    batch.ledger.accounts = changed;
    batch.ledger.account_count = 2;
    batch.records = records.records;
    batch.record_count = records.count;

    reader = fixture_open_reader(f);
    assert_int_equal(store_batch_begin(store), TL_OK);
    assert_int_equal(store_payment_get(reader, p.id, &got, &found), TL_OK);
    assert_false(found); /* not before the commit */
    assert_int_equal(store_batch_commit(store, &batch), TL_OK);
    assert_int_equal(store_payment_get(reader, p.id, &got, &found), TL_OK);
    assert_true(found);
    assert_payment_eq(&got, &p);
    struct ledger_posting stored;
    assert_int_equal(store_transfer_get(reader, p.id, &stored, &found), TL_OK);
    assert_true(found);
    assert_int_equal(stored.transfer.timestamp, got.created_ns);
    store_close(reader);
    store_close(store);
}

static void test_payment_with_ledger(void **state)
{
    (void)state;
    fixture_each_backend(body_payment_with_ledger);
}

/* Extreme values come back exactly; a duplicate id or time fails its whole batch. */
static void body_payment_records(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_payment big = payment_make(1, 1, 2, T0 + 10), dup, got;
    struct store_idempotency row = idempotency_make("user:1", "k-1", 1, 201, T0, "{}");
    struct record_batch b;
    bool found = false;

    big.amount = INT64_MAX;
    big.fee = INT64_MAX;
    big.sender_available_after = INT64_MIN;
    big.recipient_available_after = INT64_MAX;
    big.currency = UINT16_MAX;
    memset(big.to_text, 't', sizeof(big.to_text) - 1);
    memset(big.note, 'n', sizeof(big.note) - 1);
    memset(&b, 0, sizeof(b));
    record_batch_payment(&b, &big);
    assert_true(b.records[0].data_bytes <= STORE_RECORD_PAYMENT_BYTES);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    assert_int_equal(store_payment_get(store, big.id, &got, &found), TL_OK);
    assert_true(found);
    assert_payment_eq(&got, &big);

    /* The same id at another time, with an idempotency row: nothing of the batch stays. */
    dup = payment_make(1, 2, 1, T0 + 11);
    memset(&b, 0, sizeof(b));
    record_batch_idempotency(&b, &row);
    record_batch_payment(&b, &dup);
    assert_int_equal(record_batch_commit(store, &b), TL_ERR_STORAGE);
    assert_idempotency_absent(store, "user:1", "k-1");
    /* Another id at the same time. */
    dup = payment_make(2, 2, 1, T0 + 10);
    memset(&b, 0, sizeof(b));
    record_batch_payment(&b, &dup);
    assert_int_equal(record_batch_commit(store, &b), TL_ERR_STORAGE);
    assert_int_equal(store_payment_get(store, dup.id, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_payment_get(store, big.id, &got, &found), TL_OK);
    assert_true(found);
    assert_payment_eq(&got, &big);
    store_close(store);
}

static void test_payment_records(void **state)
{
    (void)state;
    fixture_each_backend(body_payment_records);
}

/* The record layout round-trips without a store. */
static void test_record_payment_layout(void **state)
{
    struct store_payment p = payment_make(7, 1, 2, T0 + 1), back;
    struct store_payment buf;
    struct store_record r;

    (void)state;
    memset(p.note, 'x', sizeof(p.note) - 1);
    store_record_payment(&p, &buf, &r);
    assert_int_equal(r.kind, STORE_RECORD_PAYMENT);
    fixture_assert_id_eq(r.key, p.id);
    assert_ptr_equal(r.data, &buf);
    assert_true(r.data_bytes <= STORE_RECORD_PAYMENT_BYTES);
    store_record_payment_decode(&r, &back);
    assert_payment_eq(&back, &p);
}

#define MODEL_PAYMENTS_MAX 64

/* The naive answer: every payment involving user in direction, newest first. */
static uint32_t model_list(const struct store_payment *all, uint32_t count, uint64_t user,
                           enum store_direction direction, struct store_payment *out)
{
    uint32_t n = 0;
    for (uint32_t i = count; i-- > 0;) {
        bool sent = id128_eq(all[i].from_user, user_id(user));
        bool received = id128_eq(all[i].to_user, user_id(user));
        bool match = direction == STORE_DIRECTION_SENT       ? sent
                     : direction == STORE_DIRECTION_RECEIVED ? received
                                                             : sent || received;
        if (match) {
            out[n++] = all[i];
        }
    }
    return n;
}

/* Walks every page older, then every page newer from the oldest, against the model. */
static void check_pages(struct store *store, uint64_t user, enum store_direction direction,
                        uint32_t limit, const struct store_payment *expected, uint32_t total)
{
    struct store_payment page[TL_PAGE_LIMIT_MAX];
    struct store_page cursor = {0, 0, limit};
    uint32_t seen = 0;
    uint32_t count = 0;
    bool more = true;

    while (more) {
        assert_int_equal(
            store_payments_list(store, user_id(user), direction, &cursor, page, &count, &more),
            TL_OK);
        assert_true(count <= limit);
        for (uint32_t i = 0; i < count; i++) {
            assert_true(seen + i < total);
            assert_payment_eq(&page[i], &expected[seen + i]);
        }
        seen += count;
        assert_int_equal(more, seen < total);
        assert_true(count == limit || !more);
        if (count > 0) {
            cursor.starting_after_ts = page[count - 1].created_ns;
        }
    }
    assert_int_equal(seen, total);
    if (total == 0) {
        return;
    }
    /* Back up from the oldest: each page is the limit entries just newer, newest first. */
    cursor.starting_after_ts = 0;
    cursor.ending_before_ts = expected[total - 1].created_ns;
    seen = 1; /* entries at or after the cursor, counted from the oldest */
    more = true;
    while (more) {
        assert_int_equal(
            store_payments_list(store, user_id(user), direction, &cursor, page, &count, &more),
            TL_OK);
        uint32_t newest = total - seen - count; /* index of page[0] in expected */
        for (uint32_t i = 0; i < count; i++) {
            assert_payment_eq(&page[i], &expected[newest + i]);
        }
        seen += count;
        assert_int_equal(more, seen < total);
        if (count > 0) {
            cursor.ending_before_ts = page[0].created_ns;
        }
    }
    assert_int_equal(seen, total);
}

static void body_payments_list(struct store_fixture *f)
{
    static const enum store_direction directions[] = {STORE_DIRECTION_ANY, STORE_DIRECTION_SENT,
                                                      STORE_DIRECTION_RECEIVED};
    struct store *store = fixture_open_writer(f);
    struct store_payment all[MODEL_PAYMENTS_MAX];
    struct store_payment expected[MODEL_PAYMENTS_MAX];
    struct store_payment page[TL_PAGE_LIMIT_MAX];
    struct store_page cursor = {0, 0, 10};
    struct world world;
    uint32_t count = 0;
    bool more = false;

    /* Users 1..4 paying each other in a fixed pseudo-random pattern, a self-payment too (one
     * wallet on both sides: the ledger refuses that, but the store lists what it holds once).
     * Users 1 and 2 pay each other in both their wallets, so lists merge two chains; every
     * payment comes with a deposit and, when it has a fee, a fee transfer, which lists skip. */
    world_users(store, &world);
    for (uint32_t i = 0; i < MODEL_PAYMENTS_MAX; i++) {
        uint64_t from = 1 + (i * 7u) % 4u;
        uint64_t to = i % 13u == 5u ? from : 1 + (i * 5u + 1u) % 4u;
        all[i] = payment_make(i + 1, from, to, T0 + 1000 + (uint64_t)i * 3);
        if (from <= 2 && to <= 2 && from != to && i % 2 == 0) {
            all[i].currency = USD;
            all[i].from_wallet = usd_wallet_id(from);
            all[i].to_wallet = usd_wallet_id(to);
        }
    }
    payments_commit(store, &world, all, MODEL_PAYMENTS_MAX, true);

    for (uint64_t user = 1; user <= 5; user++) {
        for (size_t d = 0; d < sizeof(directions) / sizeof(directions[0]); d++) {
            uint32_t total = model_list(all, MODEL_PAYMENTS_MAX, user, directions[d], expected);
            assert_true(user == 5 || total > 0);
            for (uint32_t limit = 1; limit <= 9; limit++) {
                check_pages(store, user, directions[d], limit, expected, total);
            }
            check_pages(store, user, directions[d], TL_PAGE_LIMIT_MAX, expected, total);
        }
    }

    /* A cursor between stored times and one past every time. */
    cursor.starting_after_ts = T0 + 1000 + 3 * 10 + 1; /* just after payment 11 */
    assert_int_equal(
        store_payments_list(store, user_id(1), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_OK);
    assert_true(count > 0);
    assert_true(page[0].created_ns <= T0 + 1000 + 3 * 10);
    cursor.starting_after_ts = UINT64_MAX;
    assert_int_equal(
        store_payments_list(store, user_id(1), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_OK);
    assert_int_equal(count, 10);
    cursor.starting_after_ts = 0;
    cursor.ending_before_ts = UINT64_MAX;
    assert_int_equal(
        store_payments_list(store, user_id(1), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_OK);
    assert_int_equal(count, 0);
    assert_false(more);

    /* Bad pages. */
    cursor.ending_before_ts = 0;
    cursor.limit = 0;
    assert_int_equal(
        store_payments_list(store, user_id(1), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_ERR_INVALID_REQUEST);
    cursor.limit = TL_PAGE_LIMIT_MAX + 1;
    assert_int_equal(
        store_payments_list(store, user_id(1), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_ERR_INVALID_REQUEST);
    cursor.limit = 5;
    cursor.starting_after_ts = T0 + 2000;
    cursor.ending_before_ts = T0 + 1000;
    assert_int_equal(
        store_payments_list(store, user_id(1), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_ERR_INVALID_REQUEST);
    store_close(store);
}

static void test_payments_list(void **state)
{
    (void)state;
    fixture_each_backend(body_payments_list);
}

/* Pages that walk past hundreds of postings that are not payments (more than one read round
 * of the SQLite walk), with cursors on one wallet while the other has newer postings. */
static void body_payments_list_gaps(struct store_fixture *f)
{
    static const enum store_direction directions[] = {STORE_DIRECTION_ANY, STORE_DIRECTION_SENT,
                                                      STORE_DIRECTION_RECEIVED};
    struct store *store = fixture_open_writer(f);
    struct store *reader = fixture_open_reader(f);
    struct store_payment all[5];
    struct store_payment expected[5];
    struct world world;

    world_users(store, &world);
    all[0] = payment_make(1, 1, 2, T0 + 1000);
    all[1] = payment_make(2, 2, 1, T0 + 5000);
    all[2] = payment_make(3, 1, 3, T0 + 9000);
    all[2].currency = USD;
    all[2].from_wallet = usd_wallet_id(1);
    all[2].to_wallet = usd_wallet_id(3);
    all[3] = payment_make(4, 3, 1, T0 + 12000);
    all[4] = payment_make(5, 1, 2, T0 + 12001);
    payments_commit(store, &world, &all[0], 1, false);
    world_deposits(store, &world, wallet_id(1), T0 + 2000, 700, 0);
    payments_commit(store, &world, &all[1], 1, false);
    world_deposits(store, &world, usd_wallet_id(1), T0 + 6000, 300, 1000);
    payments_commit(store, &world, &all[2], 1, false);
    world_deposits(store, &world, wallet_id(1), T0 + 10000, 600, 2000);
    world_deposits(store, &world, usd_wallet_id(1), T0 + 11000, 20, 3000);
    payments_commit(store, &world, &all[3], 2, false);
    world_deposits(store, &world, wallet_id(2), T0 + 13000, 400, 4000);

    for (uint64_t user = 1; user <= 4; user++) {
        for (size_t d = 0; d < sizeof(directions) / sizeof(directions[0]); d++) {
            uint32_t total = model_list(all, 5, user, directions[d], expected);
            for (uint32_t limit = 1; limit <= 3; limit++) {
                check_pages(reader, user, directions[d], limit, expected, total);
            }
            check_pages(store, user, directions[d], 2, expected, total);
        }
    }
    /* With no writing handle in the process, the heads come from the rows. */
    store_close(store);
    for (size_t d = 0; d < sizeof(directions) / sizeof(directions[0]); d++) {
        uint32_t total = model_list(all, 5, 1, directions[d], expected);
        check_pages(reader, 1, directions[d], 1, expected, total);
    }
    store_close(reader);
}

static void test_payments_list_gaps(void **state)
{
    (void)state;
    fixture_each_backend(body_payments_list_gaps);
}

/* SQLite finds payments through their transfers, so a payments row that disagrees with its
 * transfer, or a chain that breaks, is corruption it reports instead of a shorter list. */
static void test_payments_list_corrupt_sqlite(void **state)
{
    char dir[] = "/tmp/tally-paylists-XXXXXX";
    char path[96];
    struct store_payment p[2];
    struct store_payment page[4];
    struct store_page cursor = {0, 0, 4};
    struct store *store = NULL;
    struct world world;
    sqlite3 *db = NULL;
    uint32_t count = 0;
    bool more = false;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.db", dir);
    struct store_config config = {.backend = "sqlite", .path = path};
    assert_int_equal(store_open(&config, &store), TL_OK);
    world_users(store, &world);
    p[0] = payment_make(1, 1, 2, T0 + 100);
    p[1] = payment_make(2, 3, 4, T0 + 200);
    payments_commit(store, &world, p, 2, false);
    assert_int_equal(
        store_payments_list(store, user_id(4), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_OK);
    assert_int_equal(count, 1);
    store_close(store);

    /* Payment 1's row names wallet 5 as the payee's; its transfer credits wallet 2. */
    char sql[256];
    uint8_t bytes[ID128_BYTES];
    char hex[2 * ID128_BYTES + 1];
    id128_to_bytes(wallet_id(5), bytes);
    for (int b = 0; b < ID128_BYTES; b++) {
        snprintf(hex + 2 * b, 3, "%02x", bytes[b]);
    }
    snprintf(sql, sizeof(sql), "UPDATE payments SET to_wallet = x'%s' WHERE created_ns = %llu", hex,
             (unsigned long long)(T0 + 100));
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    /* Payment 2's transfer links wallet 4's chain to a time where nothing was posted. */
    snprintf(sql, sizeof(sql), "UPDATE transfers SET credit_prev = %llu WHERE timestamp = %llu",
             (unsigned long long)(T0 + 150), (unsigned long long)(T0 + 200));
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_open(&config, &store), TL_OK);
    assert_int_equal(
        store_payments_list(store, user_id(2), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_ERR_CORRUPT);
    assert_int_equal(store_payments_list(store, user_id(4), STORE_DIRECTION_RECEIVED, &cursor, page,
                                         &count, &more),
                     TL_ERR_CORRUPT);
    /* The payer's side of payment 2 still reads: its chain is whole. */
    assert_int_equal(
        store_payments_list(store, user_id(3), STORE_DIRECTION_ANY, &cursor, page, &count, &more),
        TL_OK);
    assert_int_equal(count, 1);
    assert_payment_eq(&page[0], &p[1]);
    store_close(store);
    static const char *const suffixes[] = {"", "-wal", "-shm", "-writer.lock"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s/t.db%s", dir, suffixes[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Step-up's new-recipient fact: one way, from the pair's first payment on. */
static void body_paid_before(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store *reader = fixture_open_reader(f);
    struct store_payment p[3];
    struct store_stepup_facts facts;
    struct world world;
    struct id128 session = id128_make(0x77, 1);

    world_users(store, &world);
    assert_int_equal(store_stepup_facts(reader, user_id(1), session, user_id(2), &facts), TL_OK);
    assert_false(facts.paid_before);
    p[0] = payment_make(1, 1, 2, T0 + 100);
    p[1] = payment_make(2, 1, 2, T0 + 200);
    p[2] = payment_make(3, 3, 1, T0 + 300);
    payments_commit(store, &world, &p[0], 1, false);
    assert_int_equal(store_stepup_facts(reader, user_id(1), session, user_id(2), &facts), TL_OK);
    assert_true(facts.paid_before);
    assert_int_equal(store_stepup_facts(reader, user_id(2), session, user_id(1), &facts), TL_OK);
    assert_false(facts.paid_before);
    payments_commit(store, &world, &p[1], 2, false); /* a pair that is there already */
    assert_int_equal(store_stepup_facts(reader, user_id(1), session, user_id(2), &facts), TL_OK);
    assert_true(facts.paid_before);
    assert_int_equal(store_stepup_facts(reader, user_id(3), session, user_id(1), &facts), TL_OK);
    assert_true(facts.paid_before);
    assert_int_equal(store_stepup_facts(reader, user_id(1), session, user_id(3), &facts), TL_OK);
    assert_false(facts.paid_before);
    assert_int_equal(store_stepup_facts(reader, user_id(1), session, id128_make(0, 0), &facts),
                     TL_OK);
    assert_false(facts.paid_before);
    store_close(reader);
    store_close(store);
}

static void test_paid_before(void **state)
{
    (void)state;
    fixture_each_backend(body_paid_before);
}

/* ---- Idempotency ---- */

static void body_idempotency(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_idempotency a =
        idempotency_make("user:1", "key-a", 0xaa, 201, T0 + 10, "{\"id\":\"a\"}");
    struct store_idempotency again =
        idempotency_make("user:1", "key-a", 0xbb, 500, T0 + 11, "other");
    struct store_idempotency other_scope =
        idempotency_make("ip:192.0.2.1", "key-a", 0xcc, 200, T0 + 20, "");
    struct store_idempotency late = idempotency_make("user:2", "key-b", 0xdd, 202, T0 + 30, "late");
    char long_key[STORE_IDEMPOTENCY_KEY_BYTES_MAX + 1];
    struct store_idempotency got;
    uint32_t deleted = 99;
    bool found = false;

    assert_int_equal(store_idempotency_put(store, &a), TL_OK);
    assert_idempotency_stored(store, &a);
    assert_int_equal(store_idempotency_put(store, &again), TL_ERR_CONFLICT);
    assert_idempotency_stored(store, &a); /* the first row stays */
    assert_int_equal(store_idempotency_put(store, &other_scope), TL_OK);
    assert_idempotency_stored(store, &other_scope); /* an empty body comes back as "" */
    assert_int_equal(store_idempotency_put(store, &late), TL_OK);
    assert_idempotency_absent(store, "user:2", "key-a");
    assert_idempotency_absent(store, "user:1", "key-b");

    /* Lengths a client could send. */
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_int_equal(store_idempotency_get(store, "user:1", long_key, &got, &found),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_idempotency_get(store, "user:1", "", &got, &found),
                     TL_ERR_INVALID_REQUEST);
    long_key[STORE_IDEMPOTENCY_KEY_BYTES_MAX - 1] = '\0';
    assert_int_equal(store_idempotency_get(store, "user:1", long_key, &got, &found), TL_OK);
    assert_false(found);
    struct store_idempotency empty_key = a;
    empty_key.key[0] = '\0';
    assert_int_equal(store_idempotency_put(store, &empty_key), TL_ERR_INVALID_REQUEST);
    struct store_idempotency huge = a;
    huge.body_bytes = TL_RECORD_BYTES_MAX + 1;
    assert_int_equal(store_idempotency_put(store, &huge), TL_ERR_LIMIT);

    /* Prune: strictly before. */
    assert_int_equal(store_idempotency_prune(store, T0 + 10, &deleted), TL_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(store_idempotency_prune(store, T0 + 21, &deleted), TL_OK);
    assert_int_equal(deleted, 2);
    assert_idempotency_absent(store, "user:1", "key-a");
    assert_idempotency_absent(store, "ip:192.0.2.1", "key-a");
    assert_idempotency_stored(store, &late);
    assert_int_equal(store_idempotency_put(store, &again), TL_OK); /* the key is free again */
    assert_int_equal(store_idempotency_prune(store, UINT64_MAX, &deleted), TL_OK);
    assert_int_equal(deleted, 2);
    store_close(store);
}

static void test_idempotency(void **state)
{
    (void)state;
    fixture_each_backend(body_idempotency);
}

/* Pruning more rows than one chunk deletes them all. */
static void body_idempotency_prune_many(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    uint32_t deleted = 0;
    char key[32];

    for (uint32_t i = 0; i < 2500; i++) {
        snprintf(key, sizeof(key), "k%u", i);
        struct store_idempotency row = idempotency_make("user:1", key, 1, 200, T0 + i, "x");
        assert_int_equal(store_idempotency_put(store, &row), TL_OK);
    }
    assert_int_equal(store_idempotency_prune(store, T0 + 2100, &deleted), TL_OK);
    assert_int_equal(deleted, 2100);
    assert_int_equal(store_idempotency_prune(store, T0 + 2100, &deleted), TL_OK);
    assert_int_equal(deleted, 0);
    assert_idempotency_absent(store, "user:1", "k2099");
    assert_int_equal(store_idempotency_prune(store, T0 + 5000, &deleted), TL_OK);
    assert_int_equal(deleted, 400);
    store_close(store);
}

static void test_idempotency_prune_many(void **state)
{
    (void)state;
    fixture_each_backend(body_idempotency_prune_many);
}

/* Records: the first row for a key wins, within a batch, across batches and over a put. */
static void body_idempotency_records(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_idempotency first =
        idempotency_make("user:1", "r-1", 0x01, 201, T0 + 1, "{\"first\":true}");
    struct store_idempotency second =
        idempotency_make("user:1", "r-1", 0x02, 409, T0 + 2, "second");
    struct store_idempotency put = idempotency_make("user:1", "r-2", 0x03, 200, T0 + 3, "put");
    struct store_idempotency over_put =
        idempotency_make("user:1", "r-2", 0x04, 201, T0 + 4, "record");
    struct store_idempotency empty = idempotency_make("user:2", "r-1", 0x05, 204, T0 + 5, "");
    struct record_batch b;

    memset(&b, 0, sizeof(b));
    record_batch_idempotency(&b, &first);
    record_batch_idempotency(&b, &second);
    record_batch_idempotency(&b, &empty);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    assert_idempotency_stored(store, &first);
    assert_idempotency_stored(store, &empty);

    memset(&b, 0, sizeof(b));
    record_batch_idempotency(&b, &second);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    assert_idempotency_stored(store, &first);

    assert_int_equal(store_idempotency_put(store, &put), TL_OK);
    memset(&b, 0, sizeof(b));
    record_batch_idempotency(&b, &over_put);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    assert_idempotency_stored(store, &put);
    assert_int_equal(store_idempotency_put(store, &first), TL_ERR_CONFLICT);
    store_close(store);
}

static void test_idempotency_records(void **state)
{
    (void)state;
    fixture_each_backend(body_idempotency_records);
}

/* The serializer refuses what does not fit, in the buffer or in a batch record. */
static void test_record_idempotency_limits(void **state)
{
    static char body[TL_RECORD_BYTES_MAX + 1];
    static uint8_t buf[TL_RECORD_BYTES_MAX + 4096];
    struct store_idempotency row = idempotency_make("user:1", "key", 1, 200, T0, "");
    struct store_idempotency back;
    struct store_record r;

    (void)state;
    memset(body, 'b', sizeof(body) - 1);
    row.body = body;
    row.body_bytes = 100;
    assert_int_equal(store_record_idempotency(&row, buf, 64, &r), TL_ERR_LIMIT);
    assert_int_equal(store_record_idempotency(&row, buf, 200, &r), TL_OK);
    assert_true(r.data_bytes <= 200);
    store_record_idempotency_decode(&r, &back);
    assert_string_equal(back.scope, "user:1");
    assert_string_equal(back.key, "key");
    assert_int_equal(back.body_bytes, 100);
    assert_memory_equal(back.body, body, 100);
    /* A bigger buffer does not lift the batch record limit. */
    row.body_bytes = TL_RECORD_BYTES_MAX;
    assert_int_equal(store_record_idempotency(&row, buf, sizeof(buf), &r), TL_ERR_LIMIT);
    row.body_bytes = TL_RECORD_BYTES_MAX - 1024;
    assert_int_equal(store_record_idempotency(&row, buf, sizeof(buf), &r), TL_OK);
    assert_true(r.data_bytes <= TL_RECORD_BYTES_MAX);
}

/* ---- Readers, migrations, the fault backend ---- */

static void body_reader_sees_all(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store *reader = fixture_open_reader(f);
    struct store_user alice, got_user;
    struct store_wallet wallet, wallets[2];
    struct store_session session, got_session;
    struct store_payment p = payment_make(1, 1, 2, T0 + 50), page[2];
    struct store_idempotency row = idempotency_make("user:1", "k", 9, 201, T0 + 60, "body");
    struct store_page cursor = {0, 0, 2};
    struct world world;
    uint32_t count = 0;
    bool found = false;
    bool more = true;

    user_make(1, "alice", "alice@example.com", "+15550001", &alice, &wallet);
    user_create_ok(store, &alice, &wallet);
    session_make(0x44, 1, 1, &session);
    assert_int_equal(store_session_create(store, &session), TL_OK);
    world_open(store, &world);
    payments_commit(store, &world, &p, 1, false);
    assert_int_equal(store_idempotency_put(store, &row), TL_OK);

    assert_int_equal(store_user_find(reader, NULL, "alice@example.com", NULL, &got_user, &found),
                     TL_OK);
    assert_true(found);
    assert_user_eq(&got_user, &alice);
    assert_int_equal(store_wallets_list(reader, alice.id, wallets, 2, &count), TL_OK);
    assert_int_equal(count, 1);
    assert_wallet_eq(&wallets[0], &wallet);
    assert_int_equal(store_session_get(reader, session.token_hash, &got_session, &found), TL_OK);
    assert_true(found);
    assert_int_equal(
        store_payments_list(reader, alice.id, STORE_DIRECTION_SENT, &cursor, page, &count, &more),
        TL_OK);
    assert_int_equal(count, 1);
    assert_false(more);
    assert_payment_eq(&page[0], &p);
    assert_idempotency_stored(reader, &row);
    store_close(reader);
    store_close(store);
}

static void test_reader_sees_all(void **state)
{
    (void)state;
    fixture_each_backend(body_reader_sees_all);
}

/* A database at schema version 1 (ledger only) gains the app tables on open, data kept. */
static void body_migrate_from_v1(struct store_fixture *f)
{
    struct store *store;
    struct store_user alice, got;
    struct store_wallet wallet;
    struct ledger_account account;
    sqlite3 *db = NULL;
    uint32_t version = 0;
    bool found = false;

    if (strcmp(f->backend->name, "sqlite") != 0) {
        return;
    }
    assert_true(store_sqlite_migration_count >= 2);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, store_sqlite_migrations[0].sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO accounts VALUES (1, x'00000000000000000000000000"
                                  "000001', x'00000000000000000000000000000000', 0, 0, 0, 0, "
                                  "978, 1, 0); PRAGMA user_version = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);

    store = fixture_open_writer(f);
    assert_int_equal(store_schema_version(store, &version), TL_OK);
    assert_int_equal(version, STORE_SCHEMA_VERSION);
    assert_int_equal(store_account_get(store, id128_make(0, 1), &account, &found), TL_OK);
    assert_true(found);
    user_make(1, "alice", "alice@example.com", "", &alice, &wallet);
    user_create_ok(store, &alice, &wallet);
    assert_int_equal(store_user_get(store, alice.id, &got, &found), TL_OK);
    assert_true(found);
    store_close(store);
}

static void test_migrate_from_v1(void **state)
{
    (void)state;
    fixture_each_backend(body_migrate_from_v1);
}

/* Through the fault backend every app call counts as one operation and can fail. */
static void body_fault_app(struct store_fixture *f)
{
    struct store_config config = f->config;
    struct store *store = NULL;
    struct store_user alice, got;
    struct store_wallet wallet;
    struct store_session session;
    enum store_user_conflict conflict = STORE_USER_CONFLICT_NONE;
    uint64_t ops;
    bool found = true;

    if (strcmp(f->backend->name, "sqlite") != 0) {
        return; /* "fault" by name always wraps sqlite */
    }
    config.backend = "fault";
    assert_int_equal(store_open(&config, &store), TL_OK);
    user_make(1, "alice", "alice@example.com", "", &alice, &wallet);

    ops = store_fault_op_count(store);
    store_fault_fail_at(store, 1);
    assert_int_equal(store_user_create(store, &alice, &wallet, &conflict), TL_ERR_STORAGE);
    assert_int_equal(conflict, STORE_USER_CONFLICT_NONE);
    assert_int_equal(store_user_get(store, alice.id, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_fault_op_count(store), ops + 2);
    user_create_ok(store, &alice, &wallet);

    session_make(0x55, 1, 1, &session);
    store_fault_fail_at(store, 1);
    assert_int_equal(store_session_create(store, &session), TL_ERR_STORAGE);
    assert_int_equal(store_session_create(store, &session), TL_OK);
    store_fault_fail_at(store, 1);
    assert_int_equal(store_user_find(store, "alice", NULL, NULL, &got, &found), TL_ERR_STORAGE);
    assert_int_equal(store_user_find(store, "alice", NULL, NULL, &got, &found), TL_OK);
    assert_true(found);
    assert_int_equal(store_fault_op_count(store), ops + 7);
    store_close(store);
}

static void test_fault_app(void **state)
{
    (void)state;
    fixture_each_backend(body_fault_app);
}

/* ---- Identity (schema v4) ---- */

static void totp_make(uint64_t user, uint8_t fill, struct store_totp *out)
{
    memset(out, 0, sizeof(*out));
    out->user_id = user_id(user);
    memset(out->sealed, fill, 60);
    out->sealed_bytes = 60;
    out->created_ns = T0 + fill;
}

static void codes_make(uint8_t base, uint8_t out[STORE_RECOVERY_CODES][STORE_HASH_BYTES])
{
    for (int i = 0; i < STORE_RECOVERY_CODES; i++) {
        memset(out[i], base + i, STORE_HASH_BYTES);
    }
}

static void body_totp(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_totp t, again, got;
    uint8_t codes[STORE_RECOVERY_CODES][STORE_HASH_BYTES];
    uint32_t left = 99;
    bool found = true;

    assert_int_equal(store_totp_get(store, user_id(1), &got, &found), TL_OK);
    assert_false(found);
    totp_make(1, 0x41, &t);
    assert_int_equal(store_totp_put(store, &t), TL_OK);
    /* A second enrolment before confirming replaces the pending secret. */
    totp_make(1, 0x42, &again);
    assert_int_equal(store_totp_put(store, &again), TL_OK);
    assert_int_equal(store_totp_get(store, user_id(1), &got, &found), TL_OK);
    assert_true(found);
    assert_false(got.active);
    assert_int_equal(got.sealed_bytes, 60);
    assert_memory_equal(got.sealed, again.sealed, 60);
    assert_int_equal(got.last_step, 0);
    /* Not active yet: no step can be used. */
    assert_int_equal(store_totp_use_step(store, user_id(1), 5), TL_ERR_NOT_FOUND);
    codes_make(0x10, codes);
    assert_int_equal(store_totp_activate(store, user_id(1), 100, codes), TL_OK);
    assert_int_equal(store_totp_activate(store, user_id(1), 101, codes), TL_ERR_NOT_FOUND);
    assert_int_equal(store_totp_get(store, user_id(1), &got, &found), TL_OK);
    assert_true(got.active);
    assert_int_equal(got.last_step, 100);
    assert_int_equal(store_totp_put(store, &t), TL_ERR_CONFLICT); /* active: kept */
    /* Steps only move forward: the same or an older step is a replay. */
    assert_int_equal(store_totp_use_step(store, user_id(1), 100), TL_ERR_CONFLICT);
    assert_int_equal(store_totp_use_step(store, user_id(1), 99), TL_ERR_CONFLICT);
    assert_int_equal(store_totp_use_step(store, user_id(1), 101), TL_OK);
    assert_int_equal(store_totp_use_step(store, user_id(1), 101), TL_ERR_CONFLICT);
    /* Recovery codes: each once, only for their user. */
    assert_int_equal(store_recovery_codes_left(store, user_id(1), &left), TL_OK);
    assert_int_equal(left, STORE_RECOVERY_CODES);
    assert_int_equal(store_recovery_code_use(store, user_id(2), codes[3], T0), TL_ERR_NOT_FOUND);
    assert_int_equal(store_recovery_code_use(store, user_id(1), codes[3], T0), TL_OK);
    assert_int_equal(store_recovery_code_use(store, user_id(1), codes[3], T0), TL_ERR_NOT_FOUND);
    assert_int_equal(store_recovery_codes_left(store, user_id(1), &left), TL_OK);
    assert_int_equal(left, STORE_RECOVERY_CODES - 1);
    /* Disable: row and codes gone; a second delete finds nothing. */
    assert_int_equal(store_totp_delete(store, user_id(1)), TL_OK);
    assert_int_equal(store_totp_delete(store, user_id(1)), TL_ERR_NOT_FOUND);
    assert_int_equal(store_totp_get(store, user_id(1), &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_recovery_codes_left(store, user_id(1), &left), TL_OK);
    assert_int_equal(left, 0);
    assert_int_equal(store_recovery_code_use(store, user_id(1), codes[4], T0), TL_ERR_NOT_FOUND);
    store_close(store);
}

static void test_totp(void **state)
{
    (void)state;
    fixture_each_backend(body_totp);
}

static void body_mfa_challenges(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_mfa_challenge c, old, got;
    bool found = false;

    memset(&old, 0, sizeof(old));
    memset(old.hash, 0x61, STORE_HASH_BYTES);
    old.user_id = user_id(1);
    old.created_ns = T0;
    old.expires_ns = T0 + 100;
    assert_int_equal(store_mfa_challenge_create(store, &old), TL_OK);
    c = old;
    memset(c.hash, 0x62, STORE_HASH_BYTES);
    c.created_ns = T0 + 200; /* the old one expired before: deleted now */
    c.expires_ns = T0 + 300;
    assert_int_equal(store_mfa_challenge_create(store, &c), TL_OK);
    assert_int_equal(store_mfa_challenge_get(store, old.hash, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_mfa_challenge_get(store, c.hash, &got, &found), TL_OK);
    assert_true(found);
    fixture_assert_id_eq(got.user_id, c.user_id);
    assert_int_equal(got.expires_ns, c.expires_ns);
    assert_false(got.used);
    /* Expired: not consumed; then once only. */
    assert_int_equal(store_mfa_challenge_consume(store, c.hash, T0 + 300), TL_ERR_NOT_FOUND);
    assert_int_equal(store_mfa_challenge_consume(store, c.hash, T0 + 250), TL_OK);
    assert_int_equal(store_mfa_challenge_consume(store, c.hash, T0 + 250), TL_ERR_NOT_FOUND);
    assert_int_equal(store_mfa_challenge_get(store, c.hash, &got, &found), TL_OK);
    assert_true(got.used);
    store_close(store);
}

static void test_mfa_challenges(void **state)
{
    (void)state;
    fixture_each_backend(body_mfa_challenges);
}

static void body_user_sessions(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_user alice, got_user;
    struct store_wallet wallet;
    struct store_session s[4], list[STORE_SESSIONS_LIST_MAX], got;
    uint32_t count = 0;
    bool found = false;

    user_make(1, "alice", "alice@example.com", "", &alice, &wallet);
    user_create_ok(store, &alice, &wallet);
    for (int i = 0; i < 3; i++) {
        session_make((uint8_t)(0x70 + i), (uint64_t)i + 1, 1, &s[i]);
        snprintf(s[i].user_agent, sizeof(s[i].user_agent), "curl/8.%d", i);
        assert_int_equal(store_session_create(store, &s[i]), TL_OK);
    }
    session_make(0x7f, 9, 2, &s[3]); /* bob's */
    assert_int_equal(store_session_create(store, &s[3]), TL_OK);
    assert_int_equal(store_sessions_list(store, user_id(1), T0, list, 10, &count), TL_OK);
    assert_int_equal(count, 3);
    fixture_assert_id_eq(list[0].id, s[2].id); /* newest first */
    fixture_assert_id_eq(list[2].id, s[0].id);
    assert_string_equal(list[0].user_agent, "curl/8.2");
    assert_int_equal(store_sessions_list(store, user_id(1), T0, list, 2, &count), TL_OK);
    assert_int_equal(count, 2);
    /* Expired sessions are not listed. */
    assert_int_equal(store_sessions_list(store, user_id(1), s[0].expires_ns, list, 10, &count),
                     TL_OK);
    assert_int_equal(count, 2);
    /* Revoke by id: only the owner's, only once. */
    assert_int_equal(store_session_revoke_id(store, user_id(2), s[0].id), TL_ERR_NOT_FOUND);
    assert_int_equal(store_session_revoke_id(store, user_id(1), s[0].id), TL_OK);
    assert_int_equal(store_session_revoke_id(store, user_id(1), s[0].id), TL_ERR_NOT_FOUND);
    assert_int_equal(store_session_get(store, s[0].token_hash, &got, &found), TL_OK);
    assert_true(got.revoked);
    /* Password change keeps only the given session. */
    assert_int_equal(store_user_password_set(store, user_id(1), "$argon2id$new", s[2].id), TL_OK);
    assert_int_equal(store_user_get(store, user_id(1), &got_user, &found), TL_OK);
    assert_string_equal(got_user.password_hash, "$argon2id$new");
    assert_int_equal(store_sessions_list(store, user_id(1), T0, list, 10, &count), TL_OK);
    assert_int_equal(count, 1);
    fixture_assert_id_eq(list[0].id, s[2].id);
    assert_int_equal(store_user_password_set(store, user_id(7), "$argon2id$x", s[2].id),
                     TL_ERR_NOT_FOUND);
    /* Revoke all but none: everything of alice; bob's stays. */
    assert_int_equal(store_sessions_revoke_others(store, user_id(1), id128_make(0, 0), &count),
                     TL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(store_sessions_list(store, user_id(1), T0, list, 10, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_sessions_list(store, user_id(2), T0, list, 10, &count), TL_OK);
    assert_int_equal(count, 1);
    store_close(store);
}

static void test_user_sessions(void **state)
{
    (void)state;
    fixture_each_backend(body_user_sessions);
}

static void audit_make(uint64_t n, uint64_t user, struct store_audit *out)
{
    memset(out, 0, sizeof(*out));
    out->user_id = user_id(user);
    out->created_ns = T0 + n;
    snprintf(out->kind, sizeof(out->kind), "login.succeeded");
    snprintf(out->subject, sizeof(out->subject), "sess_%llu", (unsigned long long)n);
    snprintf(out->request_id, sizeof(out->request_id), "req_%llu", (unsigned long long)n);
    snprintf(out->ip, sizeof(out->ip), "127.0.0.1");
}

static void body_audit(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_audit e, page_rows[TL_PAGE_LIMIT_MAX];
    struct store_audit_page page = {.limit = 2};
    uint32_t count = 0;
    bool more = false;

    uint64_t seq = 0;

    for (uint64_t n = 1; n <= 5; n++) {
        audit_make(n, 1, &e);
        assert_int_equal(store_audit_append(store, &e, &seq), TL_OK);
        assert_int_equal(seq, n); /* global and gap-free */
    }
    audit_make(6, 2, &e);
    assert_int_equal(store_audit_append(store, &e, NULL), TL_OK);
    audit_make(7, 1, &e);
    e.kind[0] = '\0';
    assert_int_equal(store_audit_append(store, &e, &seq), TL_ERR_INVALID_REQUEST);
    /* Newest first, two at a time, then the rest. */
    assert_int_equal(store_audit_list(store, user_id(1), &page, page_rows, &count, &more), TL_OK);
    assert_int_equal(count, 2);
    assert_true(more);
    assert_int_equal(page_rows[0].seq, 5);
    assert_true(page_rows[0].sealed);
    assert_memory_equal(page_rows[1].hash, page_rows[0].prev_hash, STORE_AUDIT_HASH_BYTES);
    assert_string_equal(page_rows[0].subject, "sess_5");
    assert_string_equal(page_rows[0].request_id, "req_5");
    assert_string_equal(page_rows[0].ip, "127.0.0.1");
    assert_string_equal(page_rows[0].kind, "login.succeeded");
    page.starting_after_seq = page_rows[1].seq; /* entry 4 */
    page.limit = 10;
    assert_int_equal(store_audit_list(store, user_id(1), &page, page_rows, &count, &more), TL_OK);
    assert_int_equal(count, 3);
    assert_false(more);
    assert_string_equal(page_rows[0].subject, "sess_3");
    assert_string_equal(page_rows[2].subject, "sess_1");
    /* Newer than entry 2, limit 2: entries 4 and 3 (newest first), more beyond. */
    memset(&page, 0, sizeof(page));
    page.limit = 2;
    page.ending_before_seq = page_rows[1].seq;
    assert_int_equal(store_audit_list(store, user_id(1), &page, page_rows, &count, &more), TL_OK);
    assert_int_equal(count, 2);
    assert_true(more);
    assert_string_equal(page_rows[0].subject, "sess_4");
    assert_string_equal(page_rows[1].subject, "sess_3");
    page.starting_after_seq = page.ending_before_seq;
    assert_int_equal(store_audit_list(store, user_id(1), &page, page_rows, &count, &more),
                     TL_ERR_INVALID_REQUEST);
    /* A counterparty lists the entry too. */
    audit_make(8, 1, &e);
    e.counterparty_id = user_id(2);
    e.amount = 250;
    e.currency = 840;
    assert_int_equal(store_audit_append(store, &e, &seq), TL_OK);
    assert_int_equal(seq, 7);
    memset(&page, 0, sizeof(page));
    page.limit = 10;
    assert_int_equal(store_audit_list(store, user_id(2), &page, page_rows, &count, &more), TL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(page_rows[0].seq, 7);
    assert_int_equal(page_rows[0].amount, 250);
    assert_int_equal(page_rows[0].currency, 840);
    assert_int_equal(page_rows[1].seq, 6);
    /* The whole chain verifies, and a signed checkpoint of its head is kept once. */
    uint8_t key[STORE_AUDIT_KEY_BYTES];
    struct store_audit_report report;
    memset(key, 7, sizeof(key));
    assert_int_equal(store_audit_checkpoint_head(store, key, T0 + 100, &seq), TL_OK);
    assert_int_equal(seq, 7);
    assert_int_equal(store_audit_checkpoint_head(store, key, T0 + 101, &seq), TL_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(store_audit_verify(store, key, &report), TL_OK);
    assert_true(report.ok);
    assert_int_equal(report.entry_count, 7);
    assert_int_equal(report.head_seq, 7);
    assert_int_equal(report.checkpoint_count, 1);
    assert_memory_equal(report.head_hash, page_rows[0].hash, STORE_AUDIT_HASH_BYTES);
    /* Another key: the checkpoint's signature does not verify. */
    key[0] ^= 1;
    assert_int_equal(store_audit_verify(store, key, &report), TL_OK);
    assert_false(report.ok);
    assert_int_equal(report.bad_seq, 7);
    store_close(store);
}

static void test_audit(void **state)
{
    (void)state;
    fixture_each_backend(body_audit);
}

/* A version 4 database migrates to 5: its audit entries are copied in id order and sealed
 * into the chain at the first writable open; new entries chain after them. */
static void test_audit_migrates_v4_sqlite(void **state)
{
    (void)state;
    char path[] = "/tmp/tally-audit-v4-XXXXXX";
    char db_path[64];
    char sql[512];
    struct store *store = NULL;
    struct store_audit e;
    struct store_audit rows[TL_PAGE_LIMIT_MAX];
    struct store_audit_page page = {.limit = 10};
    struct store_audit_report report;
    uint8_t key[STORE_AUDIT_KEY_BYTES];
    uint32_t count = 0;
    uint64_t seq = 0;
    bool more = false;
    sqlite3 *db = NULL;
    assert_non_null(mkdtemp(path));
    snprintf(db_path, sizeof(db_path), "%s/t.db", path);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(store_sqlite_migrations[i].version, i + 1);
        assert_int_equal(sqlite3_exec(db, store_sqlite_migrations[i].sql, NULL, NULL, NULL),
                         SQLITE_OK);
    }
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 4", NULL, NULL, NULL), SQLITE_OK);
    /* Three entries of two users, inserted out of id order. */
    static const unsigned ids[] = {2, 1, 3};
    for (int i = 0; i < 3; i++) {
        uint8_t user[ID128_BYTES];
        char user_hex[2 * ID128_BYTES + 1];
        id128_to_bytes(user_id(ids[i] == 3 ? 2u : 1u), user);
        for (int b = 0; b < ID128_BYTES; b++) {
            snprintf(user_hex + 2 * b, 3, "%02x", user[b]);
        }
        snprintf(sql, sizeof(sql),
                 "INSERT INTO audit_log VALUES (x'0195000000007000800000000000000%u', "
                 "x'%s', %llu, 'login.succeeded', 'sess_%u', 'req_%u', '127.0.0.1')",
                 ids[i], user_hex, (unsigned long long)(T0 + ids[i]), ids[i], ids[i]);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    sqlite3_close(db);
    struct store_config config = {.backend = "sqlite", .path = db_path};
    assert_int_equal(store_open(&config, &store), TL_OK);
    memset(key, 3, sizeof(key));
    assert_int_equal(store_audit_verify(store, key, &report), TL_OK);
    assert_true(report.ok);
    assert_int_equal(report.entry_count, 3);
    assert_int_equal(store_audit_list(store, user_id(1), &page, rows, &count, &more), TL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(rows[0].seq, 2);
    assert_string_equal(rows[0].subject, "sess_2");
    assert_string_equal(rows[1].subject, "sess_1");
    assert_true(rows[1].sealed);
    audit_make(9, 1, &e);
    assert_int_equal(store_audit_append(store, &e, &seq), TL_OK);
    assert_int_equal(seq, 4);
    assert_int_equal(store_audit_verify(store, key, &report), TL_OK);
    assert_true(report.ok);
    assert_int_equal(report.head_seq, 4);
    store_close(store);
    /* Opening again seals nothing more and the chain still verifies. */
    assert_int_equal(store_open(&config, &store), TL_OK);
    assert_int_equal(store_audit_verify(store, NULL, &report), TL_OK);
    assert_true(report.ok);
    store_close(store);
}

/* Removes an SQLite test database made under dir, with its side files, and dir. */
static void fixture_rm_sqlite(const char *dir, const char *db_path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-writer.lock"};
    char name[128];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(name, sizeof(name), "%s%s", db_path, suffixes[i]);
        unlink(name);
    }
    rmdir(dir);
}

/* The audit log is append-only in the schema itself: UPDATE and DELETE are refused. */
static void test_audit_append_only_sqlite(void **state)
{
    (void)state;
    char path[] = "/tmp/tally-audit-XXXXXX";
    char db_path[64];
    struct store *store = NULL;
    struct store_audit e;
    sqlite3 *db = NULL;
    assert_non_null(mkdtemp(path));
    snprintf(db_path, sizeof(db_path), "%s/t.db", path);
    struct store_config config = {.backend = "sqlite", .path = db_path};
    assert_int_equal(store_open(&config, &store), TL_OK);
    audit_make(1, 1, &e);
    assert_int_equal(store_audit_append(store, &e, NULL), TL_OK);
    store_close(store);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE audit_log SET kind = 'x'", NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit_log", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    unlink(db_path);
    char wal[80];
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", db_path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-writer.lock", db_path);
    unlink(wal);
    rmdir(path);
}

/* ---- Users' audit chains (schema v7 on SQLite: links and lazily written heads) ---- */

#define CHAIN_USERS 7u
#define CHAIN_ENTRIES_MAX 4096u
/* The users audit_chain_fill picks from: CHAIN_USERS, or many with few entries each (so that
 * many lagging heads are their user's newest entry). */
static uint64_t chain_users = CHAIN_USERS;
#define CHAIN_BATCH_MAX 5u

/* Appends count entries of random users, directly and in writer batches of 1..5 records; a
 * third have no counterparty, a few name their user as counterparty. */
static void audit_chain_fill(struct store *store, uint64_t *prng, uint32_t count)
{
    static struct store_audit bufs[CHAIN_BATCH_MAX];
    struct store_record records[CHAIN_BATCH_MAX];
    struct store_audit e;
    uint32_t done = 0;
    while (done < count) {
        uint64_t r = fixture_prng_next(prng);
        uint32_t n = r % 3 == 0 ? 1 : 1 + (uint32_t)(r >> 8) % CHAIN_BATCH_MAX;
        n = n > count - done ? count - done : n;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t q = fixture_prng_next(prng);
            uint64_t user = 1 + q % chain_users;
            audit_make(done + i + 1, user, &e);
            if (q >> 32 & 1) {
                e.counterparty_id =
                    user_id((q >> 40) % 16 == 0 ? user : 1 + (q >> 8) % chain_users);
                e.amount = 5;
                e.currency = EUR;
            }
            if (r % 3 == 0) {
                assert_int_equal(store_audit_append(store, &e, NULL), TL_OK);
            } else {
                store_record_audit(&e, &bufs[i], &records[i]);
            }
        }
        if (r % 3 != 0) {
            struct store_batch batch;
            memset(&batch, 0, sizeof(batch));
            batch.records = records;
            batch.record_count = n;
            assert_int_equal(store_batch_begin(store), TL_OK);
            assert_int_equal(store_batch_commit(store, &batch), TL_OK);
        }
        done += n;
    }
}

/* The whole chain, in seq order. */
static uint32_t audit_chain_all(struct store *store, struct store_audit *all)
{
    uint32_t total = 0, n = 0;
    do {
        assert_true(total + STORE_AUDIT_SCAN_MAX <= CHAIN_ENTRIES_MAX);
        assert_int_equal(store_audit_scan(store, total == 0 ? 0 : all[total - 1].seq,
                                          STORE_AUDIT_SCAN_MAX, all + total, &n),
                         TL_OK);
        total += n;
    } while (n == STORE_AUDIT_SCAN_MAX);
    return total;
}

/* Every user's listing, paged older three at a time and newer from a cursor, equals the
 * entries the whole chain names the user in, newest first. */
static void audit_chain_check(struct store *store)
{
    static struct store_audit all[CHAIN_ENTRIES_MAX];
    static uint64_t want[CHAIN_ENTRIES_MAX];
    struct store_audit rows[3];
    uint32_t total = audit_chain_all(store, all), count = 0;
    bool more = false;
    for (uint64_t u = 1; u <= chain_users + 1; u++) {
        uint32_t want_count = 0;
        for (uint32_t i = total; i-- > 0;) {
            if (id128_eq(all[i].user_id, user_id(u)) ||
                id128_eq(all[i].counterparty_id, user_id(u))) {
                want[want_count++] = all[i].seq;
            }
        }
        struct store_audit_page page = {.limit = 3};
        uint32_t got = 0;
        do {
            assert_int_equal(store_audit_list(store, user_id(u), &page, rows, &count, &more),
                             TL_OK);
            for (uint32_t i = 0; i < count; i++) {
                assert_true(got < want_count);
                assert_int_equal(rows[i].seq, want[got++]);
            }
            assert_int_equal(more, got < want_count);
            page.starting_after_seq = count > 0 ? rows[count - 1].seq : 0;
        } while (more);
        assert_int_equal(got, want_count);
        if (want_count < 4) {
            continue;
        }
        /* Newer than the user's fourth newest, two of them: the third and second newest. */
        memset(&page, 0, sizeof(page));
        page.limit = 2;
        page.ending_before_seq = want[3];
        assert_int_equal(store_audit_list(store, user_id(u), &page, rows, &count, &more), TL_OK);
        assert_int_equal(count, 2);
        assert_true(more);
        assert_int_equal(rows[0].seq, want[1]);
        assert_int_equal(rows[1].seq, want[2]);
        /* Older than a seq that is not the user's: the user's entries below it. */
        memset(&page, 0, sizeof(page));
        page.limit = 1;
        page.starting_after_seq = want[1] + 1 == want[0] ? want[1] : want[1] + 1;
        assert_int_equal(store_audit_list(store, user_id(u), &page, rows, &count, &more), TL_OK);
        assert_int_equal(count, 1);
        assert_int_equal(rows[0].seq, page.starting_after_seq == want[1] ? want[2] : want[1]);
    }
}

static void body_audit_chains(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_audit_report report;
    uint64_t prng = 42;
    audit_chain_fill(store, &prng, 300);
    audit_chain_check(store);
    struct store *reader = fixture_open_reader(f);
    audit_chain_check(reader);
    store_close(store);
    /* No writer in this process any more: the reader reads the stored heads. */
    audit_chain_check(reader);
    assert_int_equal(store_audit_verify(reader, NULL, &report), TL_OK);
    assert_true(report.ok);
    assert_int_equal(report.entry_count, 300);
    store_close(reader);
}

static void test_audit_chains(void **state)
{
    (void)state;
    fixture_each_backend(body_audit_chains);
}

static uint64_t sqlite_meta(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    uint64_t v = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

#define AUDIT_MARK_SQL "SELECT value FROM store_meta WHERE name = 'audit_replay_after'"
/* The parties whose audit_heads row misses one of their entries at or below the mark (the
 * invariant the mark promises; a row may be newer than the mark). */
#define AUDIT_HEADS_BEHIND_SQL                                                                     \
    "WITH mark (m) AS (" AUDIT_MARK_SQL "), parties (seq, party) AS (SELECT seq, user_id FROM "    \
    "audit_log, mark WHERE seq <= m UNION SELECT seq, counterparty_id FROM audit_log, mark "       \
    "WHERE seq <= m AND counterparty_id IS NOT NULL) SELECT count(*) FROM (SELECT party, "         \
    "max(seq) AS newest FROM parties GROUP BY party) x LEFT JOIN audit_heads h ON h.user_id = "    \
    "x.party WHERE h.seq IS NULL OR h.seq < x.newest"

/* A writer killed after many appends leaves audit_heads behind the chain (TALLY_SQLITE_FLUSH_MIN=1:
 * a batch writes one lagging head): a reader in another process lists right from the heads and
 * the entries after the mark, and the next writer replays them. */
static void test_audit_chains_restart_sqlite(void **state)
{
    (void)state;
    char dir[] = "/tmp/tally-audit-restart-XXXXXX";
    char db_path[80];
    struct store *store = NULL, *reader = NULL;
    uint64_t prng = 7;
    assert_non_null(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/t.db", dir);
    struct store_config config = {.backend = "sqlite", .path = db_path};
    struct store_config reader_config = {.backend = "sqlite", .path = db_path, .read_only = true};
    assert_int_equal(setenv("TALLY_SQLITE_FLUSH_MIN", "1", 1), 0);
    chain_users = 200;
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (store_open(&config, &store) != TL_OK) {
                _exit(2);
            }
            audit_chain_fill(store, &prng, 400);
            _exit(0); /* no close: the lagging heads are never written */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        prng += 1000;
        assert_true(sqlite_meta(db_path, AUDIT_MARK_SQL) <
                    sqlite_meta(db_path, "SELECT max(seq) FROM audit_log"));
        assert_int_equal(sqlite_meta(db_path, AUDIT_HEADS_BEHIND_SQL), 0);
        assert_int_equal(store_open(&reader_config, &reader), TL_OK);
        audit_chain_check(reader);
        store_close(reader);
    }
    /* The writer replays the entries after the mark, appends more, and a clean close writes
     * every head. */
    assert_int_equal(store_open(&config, &store), TL_OK);
    audit_chain_check(store);
    audit_chain_fill(store, &prng, 100);
    audit_chain_check(store);
    store_close(store);
    assert_int_equal(sqlite_meta(db_path, AUDIT_MARK_SQL),
                     sqlite_meta(db_path, "SELECT max(seq) FROM audit_log"));
    assert_int_equal(sqlite_meta(db_path, "SELECT count(*) FROM audit_heads"),
                     sqlite_meta(db_path, "SELECT count(*) FROM (SELECT user_id FROM audit_log "
                                          "UNION SELECT counterparty_id FROM audit_log WHERE "
                                          "counterparty_id IS NOT NULL)"));
    assert_int_equal(store_open(&reader_config, &reader), TL_OK);
    audit_chain_check(reader);
    store_close(reader);
    chain_users = CHAIN_USERS;
    assert_int_equal(unsetenv("TALLY_SQLITE_FLUSH_MIN"), 0);
    fixture_rm_sqlite(dir, db_path);
}

/* Two writable handles of one process append at once: each write transaction first applies
 * what the other committed and has not published yet, so the links stay right. */
struct chain_thread {
    struct store *store;
    uint64_t prng;
};

static void *chain_thread_main(void *arg)
{
    struct chain_thread *t = arg;
    audit_chain_fill(t->store, &t->prng, 300);
    return NULL;
}

static void test_audit_chains_threads_sqlite(void **state)
{
    (void)state;
    char dir[] = "/tmp/tally-audit-threads-XXXXXX";
    char db_path[80];
    struct chain_thread threads[2];
    pthread_t ids[2];
    assert_non_null(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/t.db", dir);
    struct store_config config = {.backend = "sqlite", .path = db_path};
    assert_int_equal(setenv("TALLY_SQLITE_FLUSH_MIN", "1", 1), 0);
    for (int i = 0; i < 2; i++) {
        threads[i].prng = 100 + (uint64_t)i;
        assert_int_equal(store_open(&config, &threads[i].store), TL_OK);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&ids[i], NULL, chain_thread_main, &threads[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(ids[i], NULL), 0);
    }
    audit_chain_check(threads[0].store);
    store_close(threads[0].store);
    store_close(threads[1].store);
    assert_int_equal(unsetenv("TALLY_SQLITE_FLUSH_MIN"), 0);
    struct store *store = NULL;
    assert_int_equal(store_open(&config, &store), TL_OK);
    audit_chain_check(store);
    store_close(store);
    fixture_rm_sqlite(dir, db_path);
}

/* A version 6 database (two audit indexes, no links) migrates to 7: every entry gains its
 * links, audit_heads every party's newest entry, the mark the chain's head; the indexes go, the
 * hash chain still verifies and the links can never change. */
static void test_audit_migrates_v6_sqlite(void **state)
{
    (void)state;
    char dir[] = "/tmp/tally-audit-v6-XXXXXX";
    char db_path[80];
    uint8_t prev[STORE_AUDIT_HASH_BYTES];
    uint64_t prng = 99;
    sqlite3 *db = NULL;
    sqlite3_stmt *insert = NULL;
    assert_non_null(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/t.db", dir);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(store_sqlite_migrations[i].version, i + 1);
        assert_int_equal(sqlite3_exec(db, store_sqlite_migrations[i].sql, NULL, NULL, NULL),
                         SQLITE_OK);
    }
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 6", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO audit_log VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                        "?7, ?8, ?9, '127.0.0.1', ?10, ?11)",
                                        -1, &insert, NULL),
                     SQLITE_OK);
    memset(prev, 0, sizeof(prev));
    for (uint64_t seq = 1; seq <= 60; seq++) {
        struct store_audit e;
        uint8_t user[ID128_BYTES], other[ID128_BYTES];
        uint64_t q = fixture_prng_next(&prng);
        audit_make(seq, 1 + q % CHAIN_USERS, &e);
        if (q >> 32 & 1) {
            e.counterparty_id = user_id((q >> 40) % 8 == 0 ? 1 + q % CHAIN_USERS
                                                           : 1 + (q >> 8) % CHAIN_USERS);
            e.amount = 7;
            e.currency = EUR;
        }
        store_audit_chain(&e, seq, prev);
        memcpy(prev, e.hash, sizeof(prev));
        id128_to_bytes(e.user_id, user);
        id128_to_bytes(e.counterparty_id, other);
        sqlite3_bind_int64(insert, 1, (int64_t)seq);
        sqlite3_bind_int64(insert, 2, (int64_t)e.created_ns);
        sqlite3_bind_blob(insert, 3, user, ID128_BYTES, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 4, e.kind, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 5, e.subject, -1, SQLITE_TRANSIENT);
        if (id128_is_zero(e.counterparty_id)) {
            sqlite3_bind_null(insert, 6);
        } else {
            sqlite3_bind_blob(insert, 6, other, ID128_BYTES, SQLITE_TRANSIENT);
        }
        sqlite3_bind_int64(insert, 7, e.amount);
        sqlite3_bind_int64(insert, 8, e.currency);
        sqlite3_bind_text(insert, 9, e.request_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(insert, 10, e.prev_hash, STORE_AUDIT_HASH_BYTES, SQLITE_TRANSIENT);
        sqlite3_bind_blob(insert, 11, e.hash, STORE_AUDIT_HASH_BYTES, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(insert), SQLITE_DONE);
        sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);

    struct store_config config = {.backend = "sqlite", .path = db_path};
    struct store *store = NULL;
    struct store_audit_report report;
    assert_int_equal(store_open(&config, &store), TL_OK);
    assert_int_equal(store_audit_verify(store, NULL, &report), TL_OK);
    assert_true(report.ok);
    assert_int_equal(report.entry_count, 60);
    audit_chain_check(store);
    assert_int_equal(sqlite_meta(db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(sqlite_meta(db_path, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                          "('audit_log_user', 'audit_log_counterparty')"),
                     0);
    assert_int_equal(sqlite_meta(db_path, AUDIT_MARK_SQL), 60);
    assert_int_equal(sqlite_meta(db_path, "SELECT count(*) FROM audit_heads"), CHAIN_USERS);
    /* Each head is its party's newest entry. */
    assert_int_equal(sqlite_meta(db_path, "SELECT count(*) FROM audit_heads h WHERE seq != "
                                          "(SELECT max(seq) FROM audit_log WHERE user_id = "
                                          "h.user_id OR counterparty_id = h.user_id)"),
                     0);
    audit_chain_fill(store, &prng, 40);
    audit_chain_check(store);
    store_close(store);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE audit_log SET user_prev = 0 WHERE seq = 60",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE audit_log SET counterparty_prev = counterparty_prev + 1", NULL,
                     NULL, NULL),
        SQLITE_OK);
    /* An insert must name its links, and they must point back. */
    assert_int_not_equal(
        sqlite3_exec(db,
                     "INSERT INTO audit_log (seq, created_ns, user_id, kind, subject, amount, "
                     "currency, request_id, ip) VALUES (1000, 1, x'00000000000000000000000000000001'"
                     ", 'k', '', 0, 0, '', '')",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db,
                     "INSERT INTO audit_log (seq, created_ns, user_id, kind, subject, amount, "
                     "currency, request_id, ip, user_prev, counterparty_prev) VALUES (1000, 1, "
                     "x'00000000000000000000000000000001', 'k', '', 0, 0, '', '', 1000, 0)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(&config, &store), TL_OK);
    assert_int_equal(store_audit_verify(store, NULL, &report), TL_OK);
    assert_true(report.ok);
    assert_int_equal(report.entry_count, 100);
    audit_chain_check(store);
    store_close(store);
    fixture_rm_sqlite(dir, db_path);
}

/* ---- Quotes and payment requests (schema v4) ---- */

static struct store_quote quote_make(uint64_t n, uint64_t user, uint64_t pay_n)
{
    struct store_quote q;
    memset(&q, 0, sizeof(q));
    q.id = id128_make(0x0194000000007000ull, 0x8000000000000000ull | n);
    q.user_id = user_id(user);
    q.payment_id = payment_id(pay_n);
    q.operation = 1;
    q.send_currency = USD;
    q.receive_currency = USD;
    q.amount = INT64_MAX - 7;
    q.fee = 7;
    q.sent = INT64_MAX;
    q.rate_num = 1;
    q.rate_den = 1;
    q.created_ns = T0;
    q.expires_ns = T0 + 60000000000ull;
    return q;
}

static struct store_request request_make(uint64_t n, uint64_t requester, uint64_t payer,
                                         uint64_t pay_n)
{
    struct store_request r;
    memset(&r, 0, sizeof(r));
    r.id = id128_make(0x0195000000007000ull, 0x8000000000000000ull | n);
    r.requester_id = user_id(requester);
    r.payer_id = user_id(payer);
    r.payment_id = payment_id(pay_n);
    r.amount = 100 + (int64_t)n;
    r.currency = USD;
    r.status = STORE_REQUEST_OPEN;
    r.created_ns = T0 + n;
    r.expires_ns = T0 + 1000;
    text_set(r.from_text, sizeof(r.from_text), "@payer");
    text_set(r.note, sizeof(r.note), n % 2 == 0 ? "" : "dinner \xc3\xa9");
    return r;
}

static void assert_request_eq(const struct store_request *got, const struct store_request *want)
{
    assert_true(id128_eq(got->id, want->id));
    assert_true(id128_eq(got->requester_id, want->requester_id));
    assert_true(id128_eq(got->payer_id, want->payer_id));
    assert_true(id128_eq(got->payment_id, want->payment_id));
    assert_true(id128_eq(got->split_id, want->split_id));
    assert_int_equal(got->amount, want->amount);
    assert_int_equal(got->currency, want->currency);
    assert_int_equal(got->created_ns, want->created_ns);
    assert_int_equal(got->expires_ns, want->expires_ns);
    assert_string_equal(got->from_text, want->from_text);
    assert_string_equal(got->note, want->note);
}

static void body_quotes(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_quote q = quote_make(1, 1, 50), named = quote_make(2, 1, 51), got;
    struct record_batch b;
    bool found = true;

    named.recipient_id = user_id(2);
    named.amount = 1000;
    named.fee = 0;
    named.sent = 1000;
    assert_int_equal(store_quote_create(store, &q), TL_OK);
    assert_int_equal(store_quote_create(store, &named), TL_OK);
    assert_int_equal(store_quote_create(store, &q), TL_ERR_STORAGE); /* same id */
    assert_int_equal(store_quote_get(store, id128_make(1, 1), &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_quote_get(store, q.id, &got, &found), TL_OK);
    assert_true(found);
    assert_memory_equal(&got, &q, sizeof(q)); /* every field, recipient NULL as zero */
    assert_false(got.used);
    assert_int_equal(store_quote_get(store, named.id, &got, &found), TL_OK);
    assert_true(id128_eq(got.recipient_id, user_id(2)));
    /* Used exactly when the payment with its reserved id exists. */
    struct store_payment p = payment_make(50, 1, 2, T0 + 5);
    memset(&b, 0, sizeof(b));
    record_batch_payment(&b, &p);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    assert_int_equal(store_quote_get(store, q.id, &got, &found), TL_OK);
    assert_true(got.used);
    assert_int_equal(store_quote_get(store, named.id, &got, &found), TL_OK);
    assert_false(got.used);
    store_close(store);
}

static void test_quotes(void **state)
{
    (void)state;
    fixture_each_backend(body_quotes);
}

/* Quotes as writer-batch records (STORE_RECORD_QUOTE): inserted at commit with the batch's
 * other records, all or nothing. */
static void body_quote_records(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_quote q = quote_make(11, 1, 61), named = quote_make(12, 2, 62);
    struct store_quote fx = quote_make(13, 1, 63), late = quote_make(14, 1, 64), got;
    struct record_batch b;
    bool found = false;

    named.recipient_id = user_id(3);
    fx.send_currency = EUR;
    fx.receive_currency = USD;
    fx.amount = 1000;
    fx.fee = 9;
    fx.sent = 931;
    fx.rate_num = 1086;
    fx.rate_den = 1000;
    memset(&b, 0, sizeof(b));
    record_batch_quote(&b, &q);
    record_batch_quote(&b, &named);
    struct store_payment p = payment_make(70, 1, 2, T0 + 9);
    record_batch_payment(&b, &p);
    record_batch_quote(&b, &fx);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    const struct store_quote *want[3] = {&q, &named, &fx};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_quote_get(store, want[i]->id, &got, &found), TL_OK);
        assert_true(found);
        assert_memory_equal(&got, want[i], sizeof(got)); /* every field; used false */
    }
    /* A quote id that exists fails the whole batch: the new quote beside it is not stored. */
    memset(&b, 0, sizeof(b));
    record_batch_quote(&b, &late);
    record_batch_quote(&b, &named);
    assert_int_equal(record_batch_commit(store, &b), TL_ERR_STORAGE);
    assert_int_equal(store_quote_get(store, late.id, &got, &found), TL_OK);
    assert_false(found);
    /* And the store is usable after the failed batch. */
    memset(&b, 0, sizeof(b));
    record_batch_quote(&b, &late);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    assert_int_equal(store_quote_get(store, late.id, &got, &found), TL_OK);
    assert_true(found);
    store_close(store);
}

static void test_quote_records(void **state)
{
    (void)state;
    fixture_each_backend(body_quote_records);
}

static void body_requests(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_request rows[3], got, page_rows[3];
    struct store_request_page page;
    struct id128 split = id128_make(0x0196000000007000ull, 0x8000000000000001ull);
    uint32_t count = 0;
    bool found = false, more = false, done = false;
    uint64_t seq = 0, seq_before = 0;
    /* Notifications commit with the change, and only with it. */
    static const char payload[] = "{\"type\":\"payment_request.created\"}";
    const struct store_outbox_new note[2] = {
        {user_id(2), "payment_request.created", payload, sizeof(payload) - 1},
        {user_id(1), "payment_request.created", payload, sizeof(payload) - 1},
    };

    for (uint64_t i = 0; i < 3; i++) {
        rows[i] = request_make(i + 1, 1, i + 2, 60 + i); /* payers 2, 3, 4 */
        rows[i].split_id = split;
    }
    assert_int_equal(store_outbox_seq_last(store, &seq_before), TL_OK);
    assert_int_equal(store_requests_create(store, rows, 3, note, 2), TL_OK);
    assert_int_equal(store_outbox_seq_last(store, &seq), TL_OK);
    assert_int_equal(seq, seq_before + 2);
    /* An event that cannot be stored refuses the whole change. */
    const struct store_outbox_new bad = {user_id(2), "", payload, sizeof(payload) - 1};
    struct store_request other = request_make(8, 1, 2, 68);
    assert_int_equal(store_requests_create(store, &other, 1, &bad, 1), TL_ERR_INVALID_REQUEST);
    /* A batch with an id that exists writes nothing, its events neither. */
    struct store_request again[2] = {request_make(9, 1, 2, 69), rows[0]};
    assert_int_equal(store_requests_create(store, again, 2, note, 2), TL_ERR_STORAGE);
    assert_int_equal(store_outbox_seq_last(store, &seq_before), TL_OK);
    assert_int_equal(seq_before, seq);
    assert_int_equal(store_request_get(store, other.id, &got, &found), TL_OK);
    assert_false(found);
    assert_int_equal(store_request_get(store, again[0].id, &got, &found), TL_OK);
    assert_false(found);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_request_get(store, rows[i].id, &got, &found), TL_OK);
        assert_true(found);
        assert_request_eq(&got, &rows[i]);
        assert_int_equal(got.status, STORE_REQUEST_OPEN);
        assert_false(got.paid);
    }

    /* Lists: the requester sees three, newest (largest id) first; a payer sees one. */
    memset(&page, 0, sizeof(page));
    page.limit = 2;
    assert_int_equal(store_requests_list(store, user_id(1), STORE_REQUEST_ROLE_REQUESTER, &page,
                                         page_rows, &count, &more),
                     TL_OK);
    assert_int_equal(count, 2);
    assert_true(more);
    assert_true(id128_eq(page_rows[0].id, rows[2].id));
    page.starting_after = page_rows[1].id;
    assert_int_equal(store_requests_list(store, user_id(1), STORE_REQUEST_ROLE_ANY, &page,
                                         page_rows, &count, &more),
                     TL_OK);
    assert_int_equal(count, 1);
    assert_false(more);
    assert_true(id128_eq(page_rows[0].id, rows[0].id));
    memset(&page, 0, sizeof(page));
    page.limit = 3;
    page.ending_before = rows[0].id;
    assert_int_equal(store_requests_list(store, user_id(1), STORE_REQUEST_ROLE_ANY, &page,
                                         page_rows, &count, &more),
                     TL_OK);
    assert_int_equal(count, 2);
    assert_true(id128_eq(page_rows[0].id, rows[2].id)); /* still newest first */
    memset(&page, 0, sizeof(page));
    page.limit = 3;
    assert_int_equal(store_requests_list(store, user_id(1), STORE_REQUEST_ROLE_PAYER, &page,
                                         page_rows, &count, &more),
                     TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_requests_list(store, user_id(3), STORE_REQUEST_ROLE_PAYER, &page,
                                         page_rows, &count, &more),
                     TL_OK);
    assert_int_equal(count, 1);
    assert_request_eq(&page_rows[0], &rows[1]);

    /* Claims: only the payer, only while open and unexpired; a fresh claim holds off close. */
    assert_int_equal(store_request_claim(store, rows[0].id, user_id(3), T0 + 10, &done), TL_OK);
    assert_false(done);
    assert_int_equal(store_request_claim(store, rows[0].id, user_id(2), T0 + 1000, &done), TL_OK);
    assert_false(done); /* expired */
    assert_int_equal(store_request_claim(store, rows[0].id, user_id(2), T0 + 10, &done), TL_OK);
    assert_true(done);
    assert_int_equal(store_request_close(store, rows[0].id, user_id(2), STORE_REQUEST_DECLINED,
                                         T0 + 20, T0 + 5, note, 1, &done),
                     TL_OK);
    assert_false(done); /* claimed at T0 + 10, after the stale line */
    assert_int_equal(store_request_unclaim(store, rows[0].id, T0 + 9), TL_OK); /* not ours */
    assert_int_equal(store_request_close(store, rows[0].id, user_id(2), STORE_REQUEST_DECLINED,
                                         T0 + 20, T0 + 5, note, 1, &done),
                     TL_OK);
    assert_false(done);
    assert_int_equal(store_request_unclaim(store, rows[0].id, T0 + 10), TL_OK);
    /* Only the payer declines, only the requester cancels. */
    assert_int_equal(store_request_close(store, rows[0].id, user_id(1), STORE_REQUEST_DECLINED,
                                         T0 + 20, T0 + 5, note, 1, &done),
                     TL_OK);
    assert_false(done);
    assert_int_equal(store_request_close(store, rows[0].id, user_id(2), STORE_REQUEST_CANCELED,
                                         T0 + 20, T0 + 5, note, 1, &done),
                     TL_OK);
    assert_false(done);
    assert_int_equal(store_request_close(store, rows[0].id, user_id(2), STORE_REQUEST_DECLINED,
                                         T0 + 20, T0 + 5, note, 1, &done),
                     TL_OK);
    assert_true(done);
    /* Of the five closes so far only the last happened, and only it wrote its event (one
     * row; PostgreSQL's sequence may skip the seqs of a failed insert). */
    struct store_outbox_row outbox[4];
    uint32_t outbox_count = 0;
    assert_int_equal(store_outbox_seq_last(store, &seq_before), TL_OK);
    assert_true(seq_before > seq);
    assert_int_equal(store_outbox_list_key(store, user_id(2), seq, seq_before, 4, outbox,
                                           &outbox_count),
                     TL_OK);
    assert_int_equal(outbox_count, 1);
    assert_string_equal(outbox[0].topic, "payment_request.created");
    store_outbox_rows_free(outbox, outbox_count);
    assert_int_equal(store_request_get(store, rows[0].id, &got, &found), TL_OK);
    assert_int_equal(got.status, STORE_REQUEST_DECLINED);
    assert_int_equal(got.closed_ns, T0 + 20);
    assert_int_equal(store_request_claim(store, rows[0].id, user_id(2), T0 + 30, &done), TL_OK);
    assert_false(done);
    /* A stale claim does not hold off a cancel. */
    assert_int_equal(store_request_claim(store, rows[1].id, user_id(3), T0 + 10, &done), TL_OK);
    assert_true(done);
    assert_int_equal(store_request_close(store, rows[1].id, user_id(1), STORE_REQUEST_CANCELED,
                                         T0 + 50, T0 + 40, note, 1, &done),
                     TL_OK);
    assert_true(done);

    /* Paid exactly when the payment with the reserved id exists; then nothing else applies. */
    struct store_payment p = payment_make(62, 4, 1, T0 + 77);
    struct record_batch b;
    memset(&b, 0, sizeof(b));
    record_batch_payment(&b, &p);
    assert_int_equal(record_batch_commit(store, &b), TL_OK);
    assert_int_equal(store_request_get(store, rows[2].id, &got, &found), TL_OK);
    assert_true(got.paid);
    assert_int_equal(got.paid_ns, T0 + 77);
    assert_int_equal(store_request_claim(store, rows[2].id, user_id(4), T0 + 80, &done), TL_OK);
    assert_false(done);
    assert_int_equal(store_request_close(store, rows[2].id, user_id(1), STORE_REQUEST_CANCELED,
                                         T0 + 80, T0 + 80, note, 1, &done),
                     TL_OK);
    assert_false(done);
    store_close(store);
}

static void test_requests(void **state)
{
    (void)state;
    fixture_each_backend(body_requests);
}

/* ---- Passkeys (schema v4) ---- */

static void passkey_make(struct store_passkey *pk, uint64_t n, uint64_t user, int32_t alg)
{
    memset(pk, 0, sizeof(*pk));
    pk->id = id128_make(0x0191000000000000ull | n, n);
    pk->user_id = user_id(user);
    pk->credential_id_bytes = (uint32_t)(16 + n % 5);
    memset(pk->credential_id, (int)(0x30 + n), pk->credential_id_bytes);
    pk->algorithm = alg;
    pk->public_key_bytes = alg == STORE_PASSKEY_ALG_ES256 ? 65u : 32u;
    memset(pk->public_key, (int)(0x40 + n), pk->public_key_bytes);
    pk->sign_count = (uint32_t)n;
    memset(pk->aaguid, (int)n, sizeof(pk->aaguid));
    snprintf(pk->name, sizeof(pk->name), "key %llu", (unsigned long long)n);
    pk->created_ns = T0 + n;
}

static void assert_passkey_eq(const struct store_passkey *a, const struct store_passkey *b)
{
    fixture_assert_id_eq(a->id, b->id);
    fixture_assert_id_eq(a->user_id, b->user_id);
    assert_int_equal(a->credential_id_bytes, b->credential_id_bytes);
    assert_memory_equal(a->credential_id, b->credential_id, a->credential_id_bytes);
    assert_int_equal(a->algorithm, b->algorithm);
    assert_int_equal(a->public_key_bytes, b->public_key_bytes);
    assert_memory_equal(a->public_key, b->public_key, a->public_key_bytes);
    assert_int_equal(a->sign_count, b->sign_count);
    assert_memory_equal(a->aaguid, b->aaguid, sizeof(a->aaguid));
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->created_ns, b->created_ns);
    assert_int_equal(a->last_used_ns, b->last_used_ns);
    assert_int_equal(a->revoked_ns, b->revoked_ns);
}

static void body_passkeys(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_passkey a, b, c, got;
    struct store_passkey *list = calloc(STORE_PASSKEYS_USER_MAX, sizeof(*list));
    uint32_t count = 0;
    bool found = false;

    assert_non_null(list);
    passkey_make(&a, 1, 1, STORE_PASSKEY_ALG_ES256);
    passkey_make(&b, 2, 1, STORE_PASSKEY_ALG_EDDSA);
    passkey_make(&c, 3, 2, STORE_PASSKEY_ALG_ES256);
    a.credential_id_bytes = STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX; /* the longest id */
    memset(a.credential_id, 0x31, a.credential_id_bytes);
    a.sign_count = UINT32_MAX;
    assert_int_equal(store_passkey_create(store, &a), TL_OK);
    assert_int_equal(store_passkey_create(store, &b), TL_OK);
    assert_int_equal(store_passkey_create(store, &c), TL_OK);
    /* The same credential id again (another user, another row id): a conflict. */
    struct store_passkey dup = c;
    dup.id = id128_make(0x0191000000000000ull | 99, 99);
    dup.user_id = user_id(3);
    assert_int_equal(store_passkey_create(store, &dup), TL_ERR_CONFLICT);
    dup.name[0] = '\0';
    assert_int_equal(store_passkey_create(store, &dup), TL_ERR_INVALID_REQUEST);

    assert_int_equal(store_passkey_find(store, a.credential_id, a.credential_id_bytes, &got,
                                        &found),
                     TL_OK);
    assert_true(found);
    assert_passkey_eq(&got, &a);
    assert_int_equal(store_passkey_find(store, b.credential_id, b.credential_id_bytes - 1, &got,
                                        &found),
                     TL_OK);
    assert_false(found);
    assert_int_equal(store_passkey_find(store, b.credential_id, 0, &got, &found),
                     TL_ERR_INVALID_REQUEST);

    assert_int_equal(store_passkeys_list(store, user_id(1), list, STORE_PASSKEYS_USER_MAX,
                                         &count),
                     TL_OK);
    assert_int_equal(count, 2);
    assert_passkey_eq(&list[0], &a); /* oldest first */
    assert_passkey_eq(&list[1], &b);
    assert_int_equal(store_passkeys_list(store, user_id(1), list, 1, &count), TL_OK);
    assert_int_equal(count, 1);

    /* Sign count: greater only; both zero allowed; never back. */
    assert_int_equal(store_passkey_use(store, b.id, 2, T0 + 10), TL_ERR_CONFLICT);
    assert_int_equal(store_passkey_use(store, b.id, 1, T0 + 10), TL_ERR_CONFLICT);
    assert_int_equal(store_passkey_use(store, b.id, 3, T0 + 10), TL_OK);
    assert_int_equal(store_passkey_use(store, b.id, 3, T0 + 11), TL_ERR_CONFLICT);
    assert_int_equal(store_passkey_use(store, a.id, 0, T0 + 11), TL_ERR_CONFLICT);
    struct store_passkey zero;
    passkey_make(&zero, 4, 2, STORE_PASSKEY_ALG_EDDSA);
    zero.sign_count = 0;
    assert_int_equal(store_passkey_create(store, &zero), TL_OK);
    assert_int_equal(store_passkey_use(store, zero.id, 0, T0 + 12), TL_OK);
    assert_int_equal(store_passkey_use(store, zero.id, 0, T0 + 13), TL_OK);
    assert_int_equal(store_passkey_find(store, b.credential_id, b.credential_id_bytes, &got,
                                        &found),
                     TL_OK);
    assert_int_equal(got.sign_count, 3);
    assert_int_equal(got.last_used_ns, T0 + 10);

    /* Revoke: only the owner, once; a revoked passkey is listed nowhere and signs nothing. */
    assert_int_equal(store_passkey_revoke(store, user_id(2), b.id, T0 + 20), TL_ERR_NOT_FOUND);
    assert_int_equal(store_passkey_revoke(store, user_id(1), b.id, T0 + 20), TL_OK);
    assert_int_equal(store_passkey_revoke(store, user_id(1), b.id, T0 + 21), TL_ERR_NOT_FOUND);
    assert_int_equal(store_passkey_use(store, b.id, 100, T0 + 22), TL_ERR_CONFLICT);
    assert_int_equal(store_passkeys_list(store, user_id(1), list, STORE_PASSKEYS_USER_MAX,
                                         &count),
                     TL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(store_passkey_find(store, b.credential_id, b.credential_id_bytes, &got,
                                        &found),
                     TL_OK);
    assert_true(found);
    assert_int_equal(got.revoked_ns, T0 + 20);

    /* At most STORE_PASSKEYS_USER_MAX live passkeys per user (revoked ones do not count). */
    for (uint64_t n = 0; n < STORE_PASSKEYS_USER_MAX - 1; n++) {
        struct store_passkey more;
        passkey_make(&more, 10 + n, 1, STORE_PASSKEY_ALG_EDDSA);
        more.credential_id[0] = (uint8_t)(0x80 + n);
        assert_int_equal(store_passkey_create(store, &more), TL_OK);
    }
    struct store_passkey over;
    passkey_make(&over, 50, 1, STORE_PASSKEY_ALG_EDDSA);
    over.credential_id[0] = 0xfe;
    assert_int_equal(store_passkey_create(store, &over), TL_ERR_LIMIT);
    assert_int_equal(store_passkeys_list(store, user_id(1), list, STORE_PASSKEYS_USER_MAX,
                                         &count),
                     TL_OK);
    assert_int_equal(count, STORE_PASSKEYS_USER_MAX);
    free(list);
    store_close(store);
}

static void test_passkeys(void **state)
{
    (void)state;
    fixture_each_backend(body_passkeys);
}

static void body_webauthn_challenges(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_webauthn_challenge reg, login, old;
    struct id128 who;

    memset(&old, 0, sizeof(old));
    memset(old.hash, 0x71, STORE_HASH_BYTES);
    old.kind = STORE_WEBAUTHN_REGISTER;
    old.user_id = user_id(1);
    old.created_ns = T0;
    old.expires_ns = T0 + 100;
    assert_int_equal(store_webauthn_challenge_create(store, &old), TL_OK);
    reg = old;
    memset(reg.hash, 0x72, STORE_HASH_BYTES);
    reg.created_ns = T0 + 200; /* the old one expired before: deleted now */
    reg.expires_ns = T0 + 300;
    assert_int_equal(store_webauthn_challenge_create(store, &reg), TL_OK);
    login = reg;
    memset(login.hash, 0x73, STORE_HASH_BYTES);
    login.kind = STORE_WEBAUTHN_LOGIN;
    login.user_id = id128_make(0, 0); /* unbound */
    assert_int_equal(store_webauthn_challenge_create(store, &login), TL_OK);

    assert_int_equal(store_webauthn_challenge_consume(store, old.hash, STORE_WEBAUTHN_REGISTER,
                                                      T0 + 50, &who),
                     TL_ERR_NOT_FOUND);
    /* Wrong kind, expired: not consumed; then once only. */
    assert_int_equal(store_webauthn_challenge_consume(store, reg.hash, STORE_WEBAUTHN_LOGIN,
                                                      T0 + 250, &who),
                     TL_ERR_NOT_FOUND);
    assert_int_equal(store_webauthn_challenge_consume(store, reg.hash, STORE_WEBAUTHN_REGISTER,
                                                      T0 + 300, &who),
                     TL_ERR_NOT_FOUND);
    assert_int_equal(store_webauthn_challenge_consume(store, reg.hash, STORE_WEBAUTHN_REGISTER,
                                                      T0 + 250, &who),
                     TL_OK);
    fixture_assert_id_eq(who, user_id(1));
    assert_int_equal(store_webauthn_challenge_consume(store, reg.hash, STORE_WEBAUTHN_REGISTER,
                                                      T0 + 250, &who),
                     TL_ERR_NOT_FOUND);
    assert_int_equal(store_webauthn_challenge_consume(store, login.hash, STORE_WEBAUTHN_LOGIN,
                                                      T0 + 250, &who),
                     TL_OK);
    assert_true(id128_is_zero(who));
    store_close(store);
}

static void test_webauthn_challenges(void **state)
{
    (void)state;
    fixture_each_backend(body_webauthn_challenges);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_user_create_find),
    cmocka_unit_test(test_user_conflicts),
    cmocka_unit_test(test_users_without_phone),
    cmocka_unit_test(test_user_find_lengths),
    cmocka_unit_test(test_user_delete),
    cmocka_unit_test(test_wallets),
    cmocka_unit_test(test_sessions),
    cmocka_unit_test(test_payment_with_ledger),
    cmocka_unit_test(test_payment_records),
    cmocka_unit_test(test_record_payment_layout),
    cmocka_unit_test(test_payments_list),
    cmocka_unit_test(test_payments_list_gaps),
    cmocka_unit_test(test_paid_before),
    cmocka_unit_test(test_payments_list_corrupt_sqlite),
    cmocka_unit_test(test_idempotency),
    cmocka_unit_test(test_idempotency_prune_many),
    cmocka_unit_test(test_idempotency_records),
    cmocka_unit_test(test_record_idempotency_limits),
    cmocka_unit_test(test_reader_sees_all),
    cmocka_unit_test(test_migrate_from_v1),
    cmocka_unit_test(test_fault_app),
    cmocka_unit_test(test_totp),
    cmocka_unit_test(test_mfa_challenges),
    cmocka_unit_test(test_user_sessions),
    cmocka_unit_test(test_audit),
    cmocka_unit_test(test_audit_append_only_sqlite),
    cmocka_unit_test(test_audit_migrates_v4_sqlite),
    cmocka_unit_test(test_audit_chains),
    cmocka_unit_test(test_audit_chains_restart_sqlite),
    cmocka_unit_test(test_audit_chains_threads_sqlite),
    cmocka_unit_test(test_audit_migrates_v6_sqlite),
    cmocka_unit_test(test_quotes),
    cmocka_unit_test(test_quote_records),
    cmocka_unit_test(test_requests),
    cmocka_unit_test(test_passkeys),
    cmocka_unit_test(test_webauthn_challenges),
};

TL_TEST_MAIN(tests)
