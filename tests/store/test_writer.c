/*
 * test_writer.c - the single writer with group commit, over a real SQLite file.
 *
 * Concurrency (many submitters against one writer, checked against a serial replay),
 * group commit, prefetch of stored transfers, hold expiry on a fake clock, records committed
 * with the money, record-only commands (a quote) in the same batches, every storage failure
 * point of a batch through the "fault" backend, the queue's edges: full, stopping, draining,
 * and asynchronous submission with callbacks.
 */
#include "store_fixture.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "store/app.h"
#include "store/backend.h"
#include "store/fault.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/clock.h"
#include "util/limits.h"

#define WALLET_FLAGS LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS

/* ---- Fixture: a fresh store of the backend under test, a ledger, a writer ---- */

struct fixture {
    struct store_fixture store_fixture; /* the first backend of TALLY_STORE_BACKENDS */
    const char *backend;
    struct store *store;
    struct ledger *ledger;
    struct writer *writer;
};

static _Atomic uint64_t fake_now_ns;

static uint64_t fake_clock_ns(void)
{
    return atomic_load(&fake_now_ns);
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void fixture_dir(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    fixture_fresh(&f->store_fixture);
}

/* backend "sqlite" is the backend under test, "fault" wraps it. */
static void fixture_start(struct fixture *f, const char *backend,
                          const struct writer_config *config)
{
    struct store_config store_config = f->store_fixture.config;
    struct ledger_config ledger_config = {.accounts_max = 1u << 12};
    f->backend = backend;
    if (strcmp(backend, "fault") == 0) {
        assert_int_equal(store_fault_open(&store_config, &f->store), TL_OK);
    } else {
        assert_string_equal(backend, "sqlite");
        assert_int_equal(store_open(&store_config, &f->store), TL_OK);
    }
    assert_int_equal(ledger_open(&ledger_config, &f->ledger), TL_OK);
    assert_int_equal(writer_start(config, f->store, f->ledger, &f->writer), TL_OK);
}

static void fixture_stop(struct fixture *f)
{
    writer_stop(f->writer);
    f->writer = NULL;
    store_close(f->store);
    f->store = NULL;
    ledger_close(f->ledger);
    f->ledger = NULL;
}

static void fixture_remove(struct fixture *f)
{
    fixture_remove_store(&f->store_fixture);
}

static struct store *store_reopen(const struct fixture *f)
{
    struct store_config config = f->store_fixture.config;
    struct store *store = NULL;
    config.read_only = true;
    assert_int_equal(store_open(&config, &store), TL_OK);
    return store;
}

/* ---- Events ---- */

static _Atomic uint64_t transfer_counter;

static struct id128 transfer_id_next(void)
{
    return id128_make(0x7f00000000000000ull, atomic_fetch_add(&transfer_counter, 1) + 1);
}

static struct ledger_event hold_event(struct id128 id, struct id128 debit, struct id128 credit,
                                      int64_t amount, uint32_t timeout_s)
{
    struct ledger_event e =
        fixture_transfer_event(id, debit, credit, amount, LEDGER_TRANSFER_PENDING);
    e.as.transfer.code = LEDGER_CODE_HOLD;
    e.as.transfer.timeout_s = timeout_s;
    return e;
}

static struct ledger_event resolve_event(struct id128 id, struct id128 pending_id, uint16_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof e);
    e.kind = LEDGER_EVENT_TRANSFER;
    e.as.transfer.id = id;
    e.as.transfer.pending_id = pending_id;
    e.as.transfer.code = LEDGER_CODE_PAYMENT;
    e.as.transfer.flags = flags;
    return e;
}

static enum tl_err submit(struct writer *writer, const struct ledger_event *events, uint32_t count,
                          struct ledger_event_result *results)
{
    struct writer_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.events = events;
    cmd.event_count = count;
    cmd.results = results;
    return writer_submit(writer, &cmd);
}

static uint32_t submit_one(struct writer *writer, const struct ledger_event *event)
{
    struct ledger_event_result result;
    assert_int_equal(submit(writer, event, 1, &result), TL_OK);
    return result.result;
}

/* Account 0 funds wallets 1..wallet_count with amount each. */
static void accounts_setup(struct writer *writer, uint32_t wallet_count, int64_t amount)
{
    struct ledger_event events[TL_COMMAND_EVENTS_MAX];
    struct ledger_event_result results[TL_COMMAND_EVENTS_MAX];
    events[0] = fixture_account_event(0, LEDGER_KIND_SANDBOX_FUNDING, 0);
    assert_int_equal(submit_one(writer, &events[0]), LEDGER_OK);
    for (uint32_t first = 1; first <= wallet_count; first += TL_COMMAND_EVENTS_MAX / 2) {
        uint32_t count = 0;
        for (uint32_t n = first; n <= wallet_count && n < first + TL_COMMAND_EVENTS_MAX / 2; n++) {
            events[count++] = fixture_account_event(n, LEDGER_KIND_WALLET, WALLET_FLAGS);
            events[count++] = fixture_transfer_event(transfer_id_next(), fixture_account_id(0),
                                                     fixture_account_id(n), amount, 0);
            events[count - 1].as.transfer.code = LEDGER_CODE_DEPOSIT;
        }
        assert_int_equal(submit(writer, events, count, results), TL_OK);
        for (uint32_t i = 0; i < count; i++) {
            assert_int_equal(results[i].result, LEDGER_OK);
        }
    }
}

/* Every account of the in-memory ledger equals its stored row after reopening. */
static void ledger_matches_store(const struct fixture *f, struct ledger *ledger,
                                 uint32_t wallet_count)
{
    struct store *store = store_reopen(f);
    for (uint32_t n = 0; n <= wallet_count; n++) {
        struct ledger_account stored;
        bool found = false;
        assert_int_equal(store_account_get(store, fixture_account_id(n), &stored, &found), TL_OK);
        const struct ledger_account *memory = ledger_account_get(ledger, fixture_account_id(n));
        assert_true(found);
        assert_non_null(memory);
        assert_memory_equal(&stored, memory, sizeof stored);
    }
    store_close(store);
}

/* ---- Many submitters against one writer ---- */

#define CONCURRENT_THREADS 8
#define CONCURRENT_COMMANDS 2000
#define CONCURRENT_WALLETS 50
#define CONCURRENT_FUNDING 1000

struct ok_transfer {
    struct id128 id;
    uint32_t debit;
    uint32_t credit;
    int64_t amount;
    uint64_t timestamp;
    struct ledger_balance debit_after;
    struct ledger_balance credit_after;
};

struct submitter {
    pthread_t thread;
    struct writer *writer;
    uint64_t seed;
    struct ok_transfer *ok;
    uint32_t ok_count;
    uint32_t failed_count;
};

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;
    for (uint32_t i = 0; i < CONCURRENT_COMMANDS; i++) {
        uint32_t debit = (uint32_t)(fixture_prng_next(&s->seed) % CONCURRENT_WALLETS) + 1;
        uint32_t credit = (uint32_t)(fixture_prng_next(&s->seed) % (CONCURRENT_WALLETS - 1)) + 1;
        credit += credit >= debit;
        int64_t amount = (int64_t)(fixture_prng_next(&s->seed) % 300) + 1;
        struct ledger_event event = fixture_transfer_event(
            transfer_id_next(), fixture_account_id(debit), fixture_account_id(credit), amount, 0);
        struct ledger_event_result result;
        if (submit(s->writer, &event, 1, &result) != TL_OK) {
            s->failed_count = UINT32_MAX; /* checked by the main thread */
            return NULL;
        }
        if (result.result != LEDGER_OK) {
            s->failed_count++;
            continue;
        }
        struct ok_transfer *ok = &s->ok[s->ok_count++];
        ok->id = event.as.transfer.id;
        ok->debit = debit;
        ok->credit = credit;
        ok->amount = amount;
        ok->timestamp = result.timestamp;
        ok->debit_after = result.debit_after;
        ok->credit_after = result.credit_after;
    }
    return NULL;
}

static int ok_transfer_compare(const void *a, const void *b)
{
    uint64_t x = ((const struct ok_transfer *)a)->timestamp;
    uint64_t y = ((const struct ok_transfer *)b)->timestamp;
    return x < y ? -1 : x > y;
}

/*
 * Replays the acknowledged transfers one at a time in timestamp order on plain balances:
 * each must leave exactly the balances its result reported and never overdraw a wallet.
 */
static void serial_replay_check(struct ok_transfer *ok, uint32_t count, int64_t *posted_out)
{
    int64_t debits[CONCURRENT_WALLETS + 1] = {0};
    int64_t credits[CONCURRENT_WALLETS + 1] = {0};
    for (uint32_t n = 1; n <= CONCURRENT_WALLETS; n++) {
        credits[n] = CONCURRENT_FUNDING;
    }
    qsort(ok, count, sizeof *ok, ok_transfer_compare);
    for (uint32_t i = 0; i < count; i++) {
        assert_true(i == 0 || ok[i - 1].timestamp < ok[i].timestamp);
        debits[ok[i].debit] += ok[i].amount;
        credits[ok[i].credit] += ok[i].amount;
        assert_true(debits[ok[i].debit] <= credits[ok[i].debit]);
        assert_int_equal(ok[i].debit_after.debits_posted, debits[ok[i].debit]);
        assert_int_equal(ok[i].debit_after.credits_posted, credits[ok[i].debit]);
        assert_int_equal(ok[i].credit_after.debits_posted, debits[ok[i].credit]);
        assert_int_equal(ok[i].credit_after.credits_posted, credits[ok[i].credit]);
    }
    for (uint32_t n = 0; n <= CONCURRENT_WALLETS; n++) {
        posted_out[2 * n] = debits[n];
        posted_out[2 * n + 1] = credits[n];
    }
}

/* Runs every submitter to the end; returns the acknowledged transfers of all of them. */
static struct ok_transfer *concurrent_submit_all(struct writer *writer, uint32_t *ok_count_out)
{
    struct submitter submitters[CONCURRENT_THREADS];
    for (uint32_t t = 0; t < CONCURRENT_THREADS; t++) {
        submitters[t] = (struct submitter){.writer = writer, .seed = 1000u + t};
        submitters[t].ok = calloc(CONCURRENT_COMMANDS, sizeof *submitters[t].ok);
        assert_non_null(submitters[t].ok);
        assert_int_equal(
            pthread_create(&submitters[t].thread, NULL, submitter_main, &submitters[t]), 0);
    }
    struct ok_transfer *ok = calloc(CONCURRENT_THREADS * CONCURRENT_COMMANDS, sizeof *ok);
    assert_non_null(ok);
    uint32_t ok_count = 0;
    uint32_t failed_count = 0;
    for (uint32_t t = 0; t < CONCURRENT_THREADS; t++) {
        assert_int_equal(pthread_join(submitters[t].thread, NULL), 0);
        assert_int_not_equal(submitters[t].failed_count, UINT32_MAX);
        memcpy(ok + ok_count, submitters[t].ok, submitters[t].ok_count * sizeof *ok);
        ok_count += submitters[t].ok_count;
        failed_count += submitters[t].failed_count;
        free(submitters[t].ok);
    }
    assert_int_equal(ok_count + failed_count, CONCURRENT_THREADS * CONCURRENT_COMMANDS);
    assert_true(ok_count > CONCURRENT_THREADS * CONCURRENT_COMMANDS / 2);
    *ok_count_out = ok_count;
    return ok;
}

/* The reopened store holds the replayed balances, conserves money and has every transfer. */
static void concurrent_store_check(const struct fixture *f, const int64_t *posted,
                                   const struct ok_transfer *ok, uint32_t ok_count)
{
    struct store *store = store_reopen(f);
    int64_t total_debits = 0;
    int64_t total_credits = 0;
    for (uint32_t n = 0; n <= CONCURRENT_WALLETS; n++) {
        struct ledger_account a;
        bool found = false;
        assert_int_equal(store_account_get(store, fixture_account_id(n), &a, &found), TL_OK);
        assert_true(found);
        total_debits += a.debits_posted;
        total_credits += a.credits_posted;
        if (n > 0) {
            assert_int_equal(a.debits_posted, posted[2 * n]);
            assert_int_equal(a.credits_posted, posted[2 * n + 1]);
            assert_true(a.debits_posted <= a.credits_posted);
        }
    }
    assert_int_equal(total_debits, total_credits); /* money moved, never created */
    for (uint32_t i = 0; i < ok_count; i++) {
        struct ledger_posting posting;
        bool found = false;
        assert_int_equal(store_transfer_get(store, ok[i].id, &posting, &found), TL_OK);
        assert_true(found);
        assert_int_equal(posting.transfer.amount, ok[i].amount);
        assert_int_equal(posting.transfer.timestamp, ok[i].timestamp);
    }
    store_close(store);
}

static void test_concurrent_submitters(void **state)
{
    (void)state;
    struct fixture f;
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, CONCURRENT_WALLETS, CONCURRENT_FUNDING);
    struct writer_stats before;
    writer_stats_get(f.writer, &before);
    uint32_t ok_count = 0;
    struct ok_transfer *ok = concurrent_submit_all(f.writer, &ok_count);

    struct writer_stats stats;
    writer_stats_get(f.writer, &stats);
    uint64_t commands = stats.commands - before.commands;
    uint64_t batches = stats.batches - before.batches;
    assert_int_equal(commands, CONCURRENT_THREADS * CONCURRENT_COMMANDS);
    assert_int_equal(stats.events - before.events, commands);
    assert_true(batches < commands); /* group commit: submitters shared batches */
    assert_int_equal(stats.batch_failures, 0);
    printf("concurrent: %u ok of %lu commands, in %lu batches\n", ok_count, (unsigned long)commands,
           (unsigned long)batches);

    int64_t posted[2 * (CONCURRENT_WALLETS + 1)];
    serial_replay_check(ok, ok_count, posted);
    struct ledger *ledger = f.ledger;
    writer_stop(f.writer);
    store_close(f.store);
    ledger_invariants_check(ledger);
    ledger_matches_store(&f, ledger, CONCURRENT_WALLETS);
    ledger_close(ledger);
    concurrent_store_check(&f, posted, ok, ok_count);
    free(ok);
    fixture_remove(&f);
}

/* ---- WAL restarts: a steady load with a reader does not grow the WAL without bound ---- */

#define WAL_RESTART_FRAMES 128
/* Readers on old snapshots can hold a restart back for a while (more so on a loaded machine);
 * without restarts this test's WAL grows to about 50 MB. */
#define WAL_BYTES_MAX (24u * WAL_RESTART_FRAMES * (4096u + 24u))

struct wal_reader {
    pthread_t thread;
    struct store *store;
    _Atomic bool stop;
    uint64_t reads;
};

/* Reads balances back to back, as tallyd's readers do, so that some read snapshot is nearly
 * always open while the writer commits. */
static void *wal_reader_main(void *arg)
{
    struct wal_reader *r = arg;
    uint64_t n = 0;
    while (!atomic_load(&r->stop)) {
        struct ledger_posting page[4];
        struct store_page want = {.limit = 4};
        uint32_t count = 0;
        bool has_more = false;
        assert_int_equal(store_history(r->store, fixture_account_id(n % CONCURRENT_WALLETS + 1),
                                       &want, page, &count, &has_more),
                         TL_OK);
        n++;
    }
    r->reads = n;
    return NULL;
}

static void test_wal_restarts(void **state)
{
    (void)state;
    struct fixture f;
    char wal_path[300];
    struct stat st;
    fixture_dir(&f);
    if (strcmp(f.store_fixture.backend->name, "sqlite") != 0) {
        printf("wal restarts: SQLite only, skipped on %s\n", f.store_fixture.backend->name);
        fixture_remove(&f);
        return;
    }
    assert_int_equal(setenv("TALLY_SQLITE_WAL_RESTART_FRAMES", "128", 1), 0);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, CONCURRENT_WALLETS, CONCURRENT_FUNDING);
    struct wal_reader reader = {.store = store_reopen(&f)};
    assert_int_equal(pthread_create(&reader.thread, NULL, wal_reader_main, &reader), 0);
    struct writer_stats before;
    writer_stats_get(f.writer, &before);
    uint32_t ok_count = 0;
    free(concurrent_submit_all(f.writer, &ok_count));
    struct writer_stats after;
    writer_stats_get(f.writer, &after);
    atomic_store(&reader.stop, true);
    assert_int_equal(pthread_join(reader.thread, NULL), 0);
    store_close(reader.store);

    /* Without restarts every batch's frames land after the last (about 50 MB here). */
    int n = snprintf(wal_path, sizeof wal_path, "%s-wal", f.store_fixture.path);
    assert_true(n > 0 && (size_t)n < sizeof wal_path);
    assert_int_equal(stat(wal_path, &st), 0);
    printf("wal restarts: %lu batches, %lu reads, WAL file %lld bytes\n",
           (unsigned long)(after.batches - before.batches), (unsigned long)reader.reads,
           (long long)st.st_size);
    assert_true(after.batches - before.batches > 1000u);
    assert_true(reader.reads > 0);
    assert_true((uint64_t)st.st_size <= WAL_BYTES_MAX);
    fixture_stop(&f);
    assert_int_equal(unsetenv("TALLY_SQLITE_WAL_RESTART_FRAMES"), 0);
    fixture_remove(&f);
}

/* ---- Prefetch: a transfer stored in an earlier batch answers "exists" ---- */

static void test_duplicates_across_batches(void **state)
{
    (void)state;
    struct fixture f;
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, 2, 1000);
    struct ledger_event event = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                       fixture_account_id(2), 10, 0);
    struct ledger_event_result first;
    struct ledger_event_result again;
    assert_int_equal(submit(f.writer, &event, 1, &first), TL_OK);
    assert_int_equal(first.result, LEDGER_OK);
    assert_int_equal(submit(f.writer, &event, 1, &again), TL_OK);
    assert_int_equal(again.result, LEDGER_EXISTS);
    assert_int_equal(again.timestamp, first.timestamp);

    /* A new writer knows the transfer only through the store. */
    fixture_stop(&f);
    fixture_start(&f, "sqlite", NULL);
    assert_int_equal(submit(f.writer, &event, 1, &again), TL_OK);
    assert_int_equal(again.result, LEDGER_EXISTS);
    assert_int_equal(again.timestamp, first.timestamp);
    struct ledger_event changed = event;
    changed.as.transfer.amount = 11;
    assert_int_equal(submit_one(f.writer, &changed), LEDGER_EXISTS_WITH_DIFFERENT_FIELDS);

    /* Posting a stored hold needs the hold from the store too. */
    struct ledger_event hold =
        hold_event(transfer_id_next(), fixture_account_id(1), fixture_account_id(2), 30, 0);
    assert_int_equal(submit_one(f.writer, &hold), LEDGER_OK);
    fixture_stop(&f);
    fixture_start(&f, "sqlite", NULL);
    struct ledger_event post =
        resolve_event(transfer_id_next(), hold.as.transfer.id, LEDGER_TRANSFER_POST_PENDING);
    assert_int_equal(submit_one(f.writer, &post), LEDGER_OK);
    struct ledger_event post_again =
        resolve_event(transfer_id_next(), hold.as.transfer.id, LEDGER_TRANSFER_POST_PENDING);
    assert_int_equal(submit_one(f.writer, &post_again), LEDGER_PENDING_ALREADY_POSTED);
    fixture_stop(&f);
    struct store *store = store_reopen(&f);
    struct ledger_account stored;
    bool found = false;
    assert_int_equal(store_account_get(store, fixture_account_id(1), &stored, &found), TL_OK);
    assert_true(found);
    assert_int_equal(stored.debits_posted, 40);
    assert_int_equal(stored.debits_pending, 0);
    store_close(store);
    fixture_remove(&f);
}

/* ---- Linked chains stay inside their command ---- */

static void test_linked_chain(void **state)
{
    (void)state;
    struct fixture f;
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, 3, 100);
    struct ledger_event chain[2] = {
        fixture_transfer_event(transfer_id_next(), fixture_account_id(1), fixture_account_id(2), 60,
                               LEDGER_TRANSFER_LINKED),
        fixture_transfer_event(transfer_id_next(), fixture_account_id(1), fixture_account_id(3), 60,
                               0),
    };
    struct ledger_event_result results[2];
    assert_int_equal(submit(f.writer, chain, 2, results), TL_OK);
    assert_int_equal(results[0].result, LEDGER_LINKED_EVENT_FAILED);
    assert_int_equal(results[1].result, LEDGER_EXCEEDS_CREDITS);
    /* A chain left open at the end of a command fails; it never joins the next command. */
    struct ledger_event open_chain =
        fixture_transfer_event(transfer_id_next(), fixture_account_id(1), fixture_account_id(2), 5,
                               LEDGER_TRANSFER_LINKED);
    assert_int_equal(submit_one(f.writer, &open_chain), LEDGER_LINKED_EVENT_CHAIN_OPEN);
    chain[1].as.transfer.amount = 40;
    chain[0].as.transfer.id = transfer_id_next();
    chain[1].as.transfer.id = transfer_id_next();
    assert_int_equal(submit(f.writer, chain, 2, results), TL_OK);
    assert_int_equal(results[0].result, LEDGER_OK);
    assert_int_equal(results[1].result, LEDGER_OK);
    assert_int_equal(results[1].debit_after.debits_posted, 100);
    fixture_stop(&f);
    fixture_remove(&f);
}

/* ---- Hold expiry on a fake clock ---- */

static struct ledger_posting history_newest(struct store *store, struct id128 account)
{
    struct store_page page = {.limit = 1};
    struct ledger_posting posting;
    uint32_t count = 0;
    bool has_more = false;
    memset(&posting, 0, sizeof posting);
    assert_int_equal(store_history(store, account, &page, &posting, &count, &has_more), TL_OK);
    assert_int_equal(count, 1);
    return posting;
}

static bool hold_released(const struct fixture *f, struct id128 payer)
{
    struct store *store = store_reopen(f);
    struct ledger_account a;
    bool found = false;
    assert_int_equal(store_account_get(store, payer, &a, &found), TL_OK);
    assert_true(found);
    store_close(store);
    return a.debits_pending == 0;
}

static void test_hold_expiry(void **state)
{
    (void)state;
    struct fixture f;
    struct writer_config config = {.expire_interval_ms = 5, .clock_ns = fake_clock_ns};
    atomic_store(&fake_now_ns, wall_ns());
    fixture_dir(&f);
    fixture_start(&f, "sqlite", &config);
    accounts_setup(f.writer, 2, 1000);
    struct ledger_event hold =
        hold_event(transfer_id_next(), fixture_account_id(1), fixture_account_id(2), 250, 10);
    struct ledger_event_result result;
    assert_int_equal(submit(f.writer, &hold, 1, &result), TL_OK);
    assert_int_equal(result.result, LEDGER_OK);
    assert_int_equal(result.debit_after.debits_pending, 250);

    /* Not yet due: sweeps run but find nothing. */
    atomic_fetch_add(&fake_now_ns, 9ull * 1000000000u);
    sleep_ms(50);
    assert_false(hold_released(&f, fixture_account_id(1)));

    atomic_fetch_add(&fake_now_ns, 2ull * 1000000000u);
    for (int i = 0; i < 4000 && !hold_released(&f, fixture_account_id(1)); i++) {
        sleep_ms(5); /* up to 20 s: a loaded machine may be slow to run the sweep */
    }
    assert_true(hold_released(&f, fixture_account_id(1)));

    /* The release is a recorded transfer naming the hold. */
    struct store *store = store_reopen(&f);
    struct ledger_posting expiry = history_newest(store, fixture_account_id(1));
    assert_true(id128_eq(expiry.transfer.pending_id, hold.as.transfer.id));
    assert_int_equal(expiry.transfer.flags & LEDGER_TRANSFER_EXPIRE_PENDING,
                     LEDGER_TRANSFER_EXPIRE_PENDING);
    assert_int_equal(expiry.transfer.code, LEDGER_CODE_HOLD_EXPIRY);
    assert_int_equal(expiry.transfer.amount, 250);
    assert_int_equal(expiry.debit_after.debits_pending, 0);
    assert_int_equal(expiry.debit_after.debits_posted, 0);
    struct ledger_posting stored_hold;
    bool found = false;
    assert_int_equal(store_transfer_get(store, hold.as.transfer.id, &stored_hold, &found), TL_OK);
    assert_true(found);
    assert_int_equal(stored_hold.pending_status, LEDGER_PENDING_EXPIRED);
    store_close(store);

    /* The hold can no longer be posted, and the next sweeps do not release it twice. */
    struct ledger_event post =
        resolve_event(transfer_id_next(), hold.as.transfer.id, LEDGER_TRANSFER_POST_PENDING);
    assert_int_not_equal(submit_one(f.writer, &post), LEDGER_OK);
    atomic_fetch_add(&fake_now_ns, 60ull * 1000000000u);
    sleep_ms(30);
    struct ledger *ledger = f.ledger;
    writer_stop(f.writer);
    store_close(f.store);
    const struct ledger_account *payer = ledger_account_get(ledger, fixture_account_id(1));
    assert_non_null(payer);
    assert_int_equal(payer->debits_pending, 0);
    assert_int_equal(payer->credits_posted, 1000);
    ledger_invariants_check(ledger);
    ledger_matches_store(&f, ledger, 2);
    ledger_close(ledger);
    fixture_remove(&f);
}

/* on_applied that makes the rest of its own batch fail: the next store operation (the
 * batch's first commit phase) fails. ctx is the fault store; the writer thread owns it here. */
static enum tl_err hook_fail_batch(struct writer_command *cmd, struct writer_batch *batch)
{
    (void)batch;
    store_fault_fail_at(cmd->ctx, 1);
    return TL_OK;
}

static void test_hold_expiry_after_failed_sweep(void **state)
{
    (void)state;
    struct fixture f;
    /* A long interval: the writer sweeps only with batches, when the fake clock says so. */
    struct writer_config config = {.expire_interval_ms = 60000, .clock_ns = fake_clock_ns};
    atomic_store(&fake_now_ns, wall_ns());
    fixture_dir(&f);
    fixture_start(&f, "fault", &config);
    accounts_setup(f.writer, 2, 1000);
    struct ledger_event hold =
        hold_event(transfer_id_next(), fixture_account_id(1), fixture_account_id(2), 40, 10);
    assert_int_equal(submit_one(f.writer, &hold), LEDGER_OK);

    /* The next batch sweeps the hold and fails: the expiry is rolled back with it. */
    atomic_fetch_add(&fake_now_ns, 61ull * 1000000000u);
    struct ledger_event event = fixture_transfer_event(transfer_id_next(), fixture_account_id(2),
                                                       fixture_account_id(1), 1, 0);
    struct ledger_event_result result;
    struct writer_command cmd = {.events = &event,
                                 .event_count = 1,
                                 .results = &result,
                                 .on_applied = hook_fail_batch,
                                 .ctx = f.store};
    assert_int_equal(writer_submit(f.writer, &cmd), TL_ERR_STORAGE);
    assert_false(hold_released(&f, fixture_account_id(1)));
    assert_int_equal(ledger_account_get(f.ledger, fixture_account_id(1))->debits_pending, 40);

    /* The next due sweep releases it, once. */
    atomic_fetch_add(&fake_now_ns, 61ull * 1000000000u);
    event.as.transfer.id = transfer_id_next();
    assert_int_equal(submit_one(f.writer, &event), LEDGER_OK);
    assert_true(hold_released(&f, fixture_account_id(1)));
    atomic_fetch_add(&fake_now_ns, 61ull * 1000000000u);
    event.as.transfer.id = transfer_id_next();
    assert_int_equal(submit_one(f.writer, &event), LEDGER_OK);
    struct store *store = store_reopen(&f);
    struct store_page page = {.limit = 10};
    struct ledger_posting postings[10];
    uint32_t count = 0;
    bool has_more = false;
    assert_int_equal(
        store_history(store, fixture_account_id(1), &page, postings, &count, &has_more), TL_OK);
    uint32_t expiries = 0;
    for (uint32_t i = 0; i < count; i++) {
        expiries += (postings[i].transfer.flags & LEDGER_TRANSFER_EXPIRE_PENDING) != 0;
    }
    assert_int_equal(expiries, 1);
    store_close(store);
    fixture_stop(&f);
    fixture_remove(&f);
}

/* ---- Records attached by on_applied commit with the money ---- */

struct hook_ctx {
    uint32_t attach_count;
    uint32_t payload_bytes;
    enum tl_err fail_with; /* returned after attaching, when not TL_OK */
    enum tl_err attach_err_last;
    uint32_t calls;
    struct ledger_event_result seen; /* results[0] at the last call */
    bool seen_changed;               /* a later call saw other results than the first */
};

static enum tl_err hook_attach(struct writer_command *cmd, struct writer_batch *batch)
{
    struct hook_ctx *ctx = cmd->ctx;
    static char payload[TL_RECORD_BYTES_MAX + 1];
    ctx->calls++;
    if (ctx->calls > 1 && memcmp(&ctx->seen, &cmd->results[0], sizeof ctx->seen) != 0) {
        ctx->seen_changed = true;
    }
    ctx->seen = cmd->results[0];
    ctx->attach_err_last = TL_OK;
    for (uint32_t i = 0; i < ctx->attach_count; i++) {
        struct store_record record;
        memset(&record, 0, sizeof record);
        record.kind = STORE_RECORD_OUTBOX;
        record.key = cmd->events[0].as.transfer.id;
        snprintf(record.topic, sizeof record.topic, "payment.created");
        int n = snprintf(payload, sizeof payload, "{\"n\":%u,\"result\":%u}", i,
                         cmd->results[0].result);
        record.data = payload;
        record.data_bytes = ctx->payload_bytes ? ctx->payload_bytes : (uint32_t)n;
        enum tl_err err = writer_batch_attach(batch, &record);
        if (err != TL_OK) {
            ctx->attach_err_last = err;
            return err;
        }
    }
    return ctx->fail_with;
}

static uint32_t outbox_count(const struct fixture *f, struct store_outbox_row *rows, uint32_t limit)
{
    struct store *store = store_reopen(f);
    uint32_t count = 0;
    assert_int_equal(store_outbox_list(store, 0, limit, rows, &count), TL_OK);
    store_close(store);
    return count;
}

static bool transfer_stored(const struct fixture *f, struct id128 id)
{
    struct store *store = store_reopen(f);
    struct ledger_posting posting;
    bool found = false;
    assert_int_equal(store_transfer_get(store, id, &posting, &found), TL_OK);
    store_close(store);
    return found;
}

static void result_zero_check(const struct ledger_event_result *result)
{
    struct ledger_event_result zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(result, &zero, sizeof zero);
}

/* Submits cmd, whose hook fails, and checks that nothing of it happened. */
static void hook_fail_check(struct fixture *f, struct writer_command *cmd, enum tl_err expected,
                            uint32_t outbox_before)
{
    struct store_outbox_row rows[32];
    const struct ledger_transfer *t = &cmd->events[0].as.transfer;
    struct ledger_account debit = *ledger_account_get(f->ledger, t->debit_account_id);
    struct ledger_account credit = *ledger_account_get(f->ledger, t->credit_account_id);
    cmd->err = TL_OK;
    assert_int_equal(writer_submit(f->writer, cmd), expected);
    assert_int_equal(cmd->err, expected);
    result_zero_check(&cmd->results[0]);
    assert_memory_equal(ledger_account_get(f->ledger, t->debit_account_id), &debit, sizeof debit);
    assert_memory_equal(ledger_account_get(f->ledger, t->credit_account_id), &credit,
                        sizeof credit);
    assert_false(transfer_stored(f, t->id));
    uint32_t count = outbox_count(f, rows, 32);
    assert_int_equal(count, outbox_before);
    store_outbox_rows_free(rows, count);
}

static void test_records_commit_with_batch(void **state)
{
    (void)state;
    struct fixture f;
    struct store_outbox_row rows[32];
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, 2, 1000);

    struct hook_ctx ctx = {.attach_count = 2};
    struct ledger_event event = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                       fixture_account_id(2), 5, 0);
    struct ledger_event_result result;
    struct writer_command cmd = {
        .events = &event,
        .event_count = 1,
        .results = &result,
        .on_applied = hook_attach,
        .ctx = &ctx,
    };
    assert_int_equal(writer_submit(f.writer, &cmd), TL_OK);
    assert_int_equal(result.result, LEDGER_OK);
    uint32_t count = outbox_count(&f, rows, 32);
    assert_int_equal(count, 2);
    assert_true(id128_eq(rows[0].key, event.as.transfer.id));
    assert_string_equal(rows[0].topic, "payment.created");
    assert_string_equal(rows[0].data, "{\"n\":0,\"result\":0}");
    assert_string_equal(rows[1].data, "{\"n\":1,\"result\":0}");
    assert_true(rows[0].seq < rows[1].seq);
    store_outbox_rows_free(rows, count);

    /* A hook that fails drops its whole command: its money and its records. */
    ctx = (struct hook_ctx){.attach_count = 1, .fail_with = TL_ERR_INTERNAL};
    event.as.transfer.id = transfer_id_next();
    hook_fail_check(&f, &cmd, TL_ERR_INTERNAL, 2);
    assert_int_equal(ctx.calls, 1);
    assert_int_equal(ledger_account_get(f.ledger, fixture_account_id(1))->debits_posted, 5);

    /* Limits: records per command and bytes per record; the command is dropped with them. */
    ctx = (struct hook_ctx){.attach_count = TL_COMMAND_RECORDS_MAX + 1};
    event.as.transfer.id = transfer_id_next();
    hook_fail_check(&f, &cmd, TL_ERR_LIMIT, 2);
    assert_int_equal(ctx.attach_err_last, TL_ERR_LIMIT);
    ctx = (struct hook_ctx){.attach_count = 1, .payload_bytes = TL_RECORD_BYTES_MAX + 1};
    event.as.transfer.id = transfer_id_next();
    hook_fail_check(&f, &cmd, TL_ERR_LIMIT, 2);
    assert_int_equal(ctx.attach_err_last, TL_ERR_LIMIT);
    ctx = (struct hook_ctx){.attach_count = TL_COMMAND_RECORDS_MAX,
                            .payload_bytes = TL_RECORD_BYTES_MAX};
    event.as.transfer.id = transfer_id_next();
    assert_int_equal(writer_submit(f.writer, &cmd), TL_OK);
    assert_int_equal(result.result, LEDGER_OK);
    assert_int_equal(result.debit_after.debits_posted, 10);
    assert_true(transfer_stored(&f, event.as.transfer.id));
    assert_int_equal(outbox_count(&f, rows, 32), 2 + TL_COMMAND_RECORDS_MAX);
    assert_int_equal(rows[2].data_bytes, TL_RECORD_BYTES_MAX);
    store_outbox_rows_free(rows, 2 + TL_COMMAND_RECORDS_MAX);
    fixture_stop(&f);
    fixture_remove(&f);
}

/* ---- Holding the writer inside a batch ---- */

/* on_applied ctx that holds the writer thread inside its batch until released. On a fault
 * store it can also arm a failure from there, counted from the hook on. */
struct batch_gate {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool entered;
    bool released;
    struct store *fault_store;
    uint64_t fail_nth;
    uint64_t op_count_at_hook;
};

static void gate_init(struct batch_gate *gate)
{
    memset(gate, 0, sizeof *gate);
    pthread_mutex_init(&gate->mutex, NULL);
    pthread_cond_init(&gate->cond, NULL);
}

static void gate_destroy(struct batch_gate *gate)
{
    pthread_cond_destroy(&gate->cond);
    pthread_mutex_destroy(&gate->mutex);
}

static enum tl_err hook_gate(struct writer_command *cmd, struct writer_batch *batch)
{
    struct batch_gate *gate = cmd->ctx;
    (void)batch;
    if (gate->fault_store != NULL) { /* the writer thread owns the store here */
        gate->op_count_at_hook = store_fault_op_count(gate->fault_store);
        store_fault_fail_at(gate->fault_store, gate->fail_nth);
    }
    pthread_mutex_lock(&gate->mutex);
    gate->entered = true;
    pthread_cond_broadcast(&gate->cond);
    while (!gate->released) {
        pthread_cond_wait(&gate->cond, &gate->mutex);
    }
    pthread_mutex_unlock(&gate->mutex);
    return TL_OK;
}

static void gate_wait_entered(struct batch_gate *gate)
{
    pthread_mutex_lock(&gate->mutex);
    while (!gate->entered) {
        pthread_cond_wait(&gate->cond, &gate->mutex);
    }
    pthread_mutex_unlock(&gate->mutex);
}

static void gate_release(struct batch_gate *gate)
{
    pthread_mutex_lock(&gate->mutex);
    gate->released = true;
    pthread_cond_broadcast(&gate->cond);
    pthread_mutex_unlock(&gate->mutex);
}

struct async_submit {
    pthread_t thread;
    struct writer *writer;
    struct writer_command cmd;
    struct ledger_event events[2];
    struct ledger_event_result results[2];
    enum tl_err err;
};

static void *async_submit_main(void *arg)
{
    struct async_submit *a = arg;
    a->err = writer_submit(a->writer, &a->cmd);
    return NULL;
}

static void async_start(struct async_submit *a, struct writer *writer, uint32_t event_count)
{
    a->writer = writer;
    a->cmd.events = a->events;
    a->cmd.event_count = event_count;
    a->cmd.results = a->results;
    assert_int_equal(pthread_create(&a->thread, NULL, async_submit_main, a), 0);
}

static void queue_depth_wait(struct writer *writer, uint32_t depth)
{
    struct writer_stats stats;
    for (int i = 0; i < 5000; i++) {
        writer_stats_get(writer, &stats);
        if (stats.queue_depth == depth) {
            return;
        }
        sleep_ms(1);
    }
    fail_msg("queue depth never reached %u", depth);
}

/* Starts a one-transfer command (account 0 pays account 1 one unit) that parks the writer. */
static void gate_start(struct async_submit *gate_cmd, struct batch_gate *gate,
                       struct writer *writer)
{
    memset(gate_cmd, 0, sizeof *gate_cmd);
    gate_cmd->events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(0),
                                                 fixture_account_id(1), 1, 0);
    gate_cmd->cmd.on_applied = hook_gate;
    gate_cmd->cmd.ctx = gate;
    async_start(gate_cmd, writer, 1);
    gate_wait_entered(gate);
}

/* ---- A failing hook drops its command; the rest of the batch runs again ---- */

#define DROP_COMMANDS 5

/*
 * Five commands ride in one batch behind the gate; the hooks of the second and the fourth
 * fail, so the writer applies the batch three times: c0 c1(fails); c0 c2 c3(fails); c0 c2 c4.
 */
static void test_hook_failure_drops_command(void **state)
{
    (void)state;
    static const uint32_t debit[DROP_COMMANDS] = {1, 2, 3, 4, 1};
    static const uint32_t credit[DROP_COMMANDS] = {2, 3, 4, 1, 3};
    static const int64_t amount[DROP_COMMANDS] = {5, 7, 9, 11, 13};
    static const enum tl_err fail_with[DROP_COMMANDS] = {TL_OK, TL_ERR_INTERNAL, TL_OK,
                                                         TL_ERR_NOMEM, TL_OK};
    static const uint32_t attach_count[DROP_COMMANDS] = {1, 1, 2, 1, 1};
    static const uint32_t calls[DROP_COMMANDS] = {3, 1, 2, 1, 1};
    struct fixture f;
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct async_submit cmds[DROP_COMMANDS];
    struct hook_ctx hooks[DROP_COMMANDS];
    struct ledger_account before[5];
    struct store_outbox_row rows[32];
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, 4, 1000);
    for (uint32_t n = 0; n < 5; n++) {
        before[n] = *ledger_account_get(f.ledger, fixture_account_id(n));
    }
    memset(cmds, 0, sizeof cmds);
    gate_init(&gate);
    gate_start(&gate_cmd, &gate, f.writer);
    for (uint32_t i = 0; i < DROP_COMMANDS; i++) {
        hooks[i] = (struct hook_ctx){.attach_count = attach_count[i], .fail_with = fail_with[i]};
        cmds[i].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(debit[i]),
                                                   fixture_account_id(credit[i]), amount[i], 0);
        cmds[i].cmd.on_applied = hook_attach;
        cmds[i].cmd.ctx = &hooks[i];
        async_start(&cmds[i], f.writer, 1);
        queue_depth_wait(f.writer, i + 1);
    }
    gate_release(&gate);
    pthread_join(gate_cmd.thread, NULL);
    assert_int_equal(gate_cmd.err, TL_OK);

    int64_t debits[5] = {1, 0, 0, 0, 0}; /* the gate: account 0 pays account 1 one unit */
    int64_t credits[5] = {0, 1, 0, 0, 0};
    uint32_t records = 0;
    for (uint32_t i = 0; i < DROP_COMMANDS; i++) {
        pthread_join(cmds[i].thread, NULL);
        assert_int_equal(hooks[i].calls, calls[i]);
        assert_int_equal(cmds[i].err, fail_with[i]);
        assert_int_equal(cmds[i].cmd.err, fail_with[i]);
        bool stored = transfer_stored(&f, cmds[i].events[0].as.transfer.id);
        if (fail_with[i] != TL_OK) {
            result_zero_check(&cmds[i].results[0]);
            assert_false(stored);
            continue;
        }
        /* Every run of a hook saw the results that committed. */
        assert_true(stored);
        assert_int_equal(cmds[i].results[0].result, LEDGER_OK);
        assert_false(hooks[i].seen_changed);
        assert_memory_equal(&hooks[i].seen, &cmds[i].results[0], sizeof hooks[i].seen);
        debits[debit[i]] += amount[i];
        credits[credit[i]] += amount[i];
        records += attach_count[i];
    }
    /* Balances moved by exactly the commands that stand. */
    for (uint32_t n = 0; n < 5; n++) {
        const struct ledger_account *a = ledger_account_get(f.ledger, fixture_account_id(n));
        assert_int_equal(a->debits_posted, before[n].debits_posted + debits[n]);
        assert_int_equal(a->credits_posted, before[n].credits_posted + credits[n]);
    }
    ledger_matches_store(&f, f.ledger, 4);
    /* Only the records of the commands that stand, each once. */
    uint32_t count = outbox_count(&f, rows, 32);
    assert_int_equal(count, records);
    for (uint32_t r = 0; r < count; r++) {
        bool owner_stands = false;
        for (uint32_t i = 0; i < DROP_COMMANDS; i++) {
            if (id128_eq(rows[r].key, cmds[i].events[0].as.transfer.id)) {
                owner_stands = fail_with[i] == TL_OK;
            }
        }
        assert_true(owner_stands);
    }
    store_outbox_rows_free(rows, count);
    gate_destroy(&gate);
    fixture_stop(&f);
    fixture_remove(&f);
}

/* ---- Record-only commands: no events, a hook that attaches a record (a quote) ---- */

struct quote_hook {
    struct store_quote quote;
    uint8_t record_buf[STORE_RECORD_QUOTE_BYTES];
    enum tl_err fail_with; /* returned after attaching, when not TL_OK */
    uint32_t calls;
    uint32_t event_count_seen; /* cmd->event_count at the last call */
};

static enum tl_err hook_quote(struct writer_command *cmd, struct writer_batch *batch)
{
    struct quote_hook *hook = cmd->ctx;
    struct store_record record;
    hook->calls++;
    hook->event_count_seen = cmd->event_count;
    store_record_quote(&hook->quote, hook->record_buf, &record);
    enum tl_err err = writer_batch_attach(batch, &record);
    return err != TL_OK ? err : hook->fail_with;
}

static struct store_quote quote_make(uint64_t n)
{
    struct store_quote q;
    memset(&q, 0, sizeof q); /* compared whole with what the store reads back */
    q.id = id128_make(0x0196000000009000ull, 0x8000000000000000ull + n);
    q.user_id = id128_make(0x0196000000009001ull, 0x8000000000000000ull + n);
    q.payment_id = id128_make(0x0196000000009002ull, 0x8000000000000000ull + n);
    q.operation = 0;
    q.send_currency = 840;
    q.receive_currency = 840;
    q.amount = 1000 + (int64_t)n;
    q.fee = 10;
    q.sent = q.amount + q.fee;
    q.rate_num = 1;
    q.rate_den = 1;
    q.created_ns = wall_ns();
    q.expires_ns = q.created_ns + 60ull * 1000000000ull;
    return q;
}

/* Queues a record-only command (no events, no results) whose hook attaches hook's quote. */
static void async_start_record_only(struct async_submit *a, struct writer *writer,
                                    struct quote_hook *hook)
{
    a->writer = writer;
    a->cmd = (struct writer_command){.events = NULL, .event_count = 0, .results = NULL,
                                     .on_applied = hook_quote, .ctx = hook};
    assert_int_equal(pthread_create(&a->thread, NULL, async_submit_main, a), 0);
}

static bool quote_stored(const struct fixture *f, const struct store_quote *want)
{
    struct store *store = store_reopen(f);
    struct store_quote got;
    bool found = false;
    assert_int_equal(store_quote_get(store, want->id, &got, &found), TL_OK);
    store_close(store);
    if (found) {
        assert_memory_equal(&got, want, sizeof got); /* every field; used is false */
    }
    return found;
}

/*
 * Behind the gate, one batch takes: a transfer whose hook attaches an outbox record, a
 * record-only quote, a record-only quote whose hook fails, another transfer. The batch commits
 * the two transfers, the outbox record and the first quote together; the failing quote is
 * dropped (nothing of it stored) and the others' hooks run again without it.
 */
static void test_record_only_commands(void **state)
{
    (void)state;
    struct fixture f;
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct async_submit money[2];
    struct async_submit quotes[2];
    struct hook_ctx money_hook = {.attach_count = 1};
    struct quote_hook quote_hooks[2] = {{.quote = quote_make(1)},
                                        {.quote = quote_make(2), .fail_with = TL_ERR_INTERNAL}};
    struct store_outbox_row rows[4];
    struct writer_stats before, after;
    memset(money, 0, sizeof money);
    memset(quotes, 0, sizeof quotes);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, 2, 1000);

    /* Without a hook a record-only command would do nothing: refused before the queue. */
    struct writer_command no_hook = {.event_count = 0};
    assert_int_equal(writer_submit(f.writer, &no_hook), TL_ERR_INVALID_REQUEST);

    writer_stats_get(f.writer, &before);
    gate_init(&gate);
    gate_start(&gate_cmd, &gate, f.writer);
    money[0].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                fixture_account_id(2), 5, 0);
    money[0].cmd.on_applied = hook_attach;
    money[0].cmd.ctx = &money_hook;
    async_start(&money[0], f.writer, 1);
    queue_depth_wait(f.writer, 1);
    async_start_record_only(&quotes[0], f.writer, &quote_hooks[0]);
    queue_depth_wait(f.writer, 2);
    async_start_record_only(&quotes[1], f.writer, &quote_hooks[1]);
    queue_depth_wait(f.writer, 3);
    money[1].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(2),
                                                fixture_account_id(1), 3, 0);
    async_start(&money[1], f.writer, 1);
    queue_depth_wait(f.writer, 4);
    gate_release(&gate);
    pthread_join(gate_cmd.thread, NULL);
    assert_int_equal(gate_cmd.err, TL_OK);
    for (uint32_t i = 0; i < 2; i++) {
        pthread_join(money[i].thread, NULL);
        pthread_join(quotes[i].thread, NULL);
    }

    /* One batch after the gate's: the money and the quote committed together. */
    writer_stats_get(f.writer, &after);
    assert_int_equal(after.batches - before.batches, 2);
    assert_int_equal(after.commands - before.commands, 5);
    assert_int_equal(after.events - before.events, 3); /* a record-only command has none */
    assert_int_equal(after.batch_failures, before.batch_failures);
    assert_int_equal(money[0].err, TL_OK);
    assert_int_equal(money[1].err, TL_OK);
    assert_int_equal(money[0].results[0].result, LEDGER_OK);
    assert_int_equal(money[1].results[0].result, LEDGER_OK);
    assert_true(transfer_stored(&f, money[0].events[0].as.transfer.id));
    assert_true(transfer_stored(&f, money[1].events[0].as.transfer.id));
    assert_int_equal(quotes[0].err, TL_OK);
    assert_int_equal(quotes[0].cmd.err, TL_OK);
    assert_true(quote_stored(&f, &quote_hooks[0].quote));
    /* The failing hook dropped its quote; the hooks before it ran again without it. */
    assert_int_equal(quotes[1].err, TL_ERR_INTERNAL);
    assert_false(quote_stored(&f, &quote_hooks[1].quote));
    assert_int_equal(quote_hooks[1].calls, 1);
    assert_int_equal(quote_hooks[0].calls, 2);
    assert_int_equal(money_hook.calls, 2);
    assert_int_equal(quote_hooks[0].event_count_seen, 0);
    uint32_t count = outbox_count(&f, rows, 4);
    assert_int_equal(count, 1);
    assert_true(id128_eq(rows[0].key, money[0].events[0].as.transfer.id));
    store_outbox_rows_free(rows, count);
    const struct ledger_account *payer = ledger_account_get(f.ledger, fixture_account_id(1));
    assert_int_equal(payer->debits_posted, 5);
    assert_int_equal(payer->credits_posted, 1000 + 1 + 3); /* the gate's unit went 0 -> 1 */
    ledger_matches_store(&f, f.ledger, 2);
    gate_destroy(&gate);
    fixture_stop(&f);
    fixture_remove(&f);
}

/* A record-only command takes one event of the batch budget: with batch_events_max 2, three of
 * them queued behind the gate commit in two batches (two, then one). */
static void test_record_only_budget(void **state)
{
    (void)state;
    enum { QUEUED = 3 };
    struct fixture f;
    struct writer_config config = {.batch_events_max = 2};
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct async_submit queued[QUEUED];
    struct quote_hook hooks[QUEUED];
    struct writer_stats before, after;
    memset(queued, 0, sizeof queued);
    memset(hooks, 0, sizeof hooks);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", &config);
    accounts_setup(f.writer, 2, 100);
    writer_stats_get(f.writer, &before);
    gate_init(&gate);
    gate_start(&gate_cmd, &gate, f.writer);
    for (uint32_t i = 0; i < QUEUED; i++) {
        hooks[i].quote = quote_make(10 + i);
        async_start_record_only(&queued[i], f.writer, &hooks[i]);
        queue_depth_wait(f.writer, i + 1);
    }
    gate_release(&gate);
    pthread_join(gate_cmd.thread, NULL);
    for (uint32_t i = 0; i < QUEUED; i++) {
        pthread_join(queued[i].thread, NULL);
        assert_int_equal(queued[i].err, TL_OK);
        assert_int_equal(hooks[i].calls, 1);
        assert_true(quote_stored(&f, &hooks[i].quote));
    }
    writer_stats_get(f.writer, &after);
    assert_int_equal(after.batches - before.batches, 1 + 2);
    assert_int_equal(after.commands - before.commands, 1 + QUEUED);
    assert_int_equal(after.events - before.events, 1);
    assert_int_equal(after.batch_events_last, 0); /* the last batch: one quote, no events */
    gate_destroy(&gate);
    fixture_stop(&f);
    fixture_remove(&f);
}

/* ---- Storage failures: every operation of a batch, failed in turn ---- */

#define FAULT_WALLETS 6
#define FAULT_BATCH_COMMANDS 6

struct fault_round {
    bool gate_ok;  /* batch A: the gate command alone */
    bool batch_ok; /* batch B: FAULT_BATCH_COMMANDS commands together */
    uint64_t ops_after_hook;
};

/*
 * Batch A is the gate command; while it is parked, six commands queue up and then ride
 * together in batch B: a transfer, a hold and its post, a linked chain, a transfer whose hook
 * attaches an outbox record, an account creation and one more transfer. The gate arms the
 * fault store to fail the fail_nth operation after its hook (0: none), so a walk over fail_nth
 * covers A's commit phases and every operation of B.
 */
static void fault_round_run(struct fixture *f, uint64_t round, uint64_t fail_nth,
                            struct fault_round *out)
{
    static const uint32_t counts[FAULT_BATCH_COMMANDS] = {1, 2, 2, 1, 1, 1};
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct async_submit cmds[FAULT_BATCH_COMMANDS];
    struct hook_ctx hook = {.attach_count = 1};
    memset(cmds, 0, sizeof cmds);
    gate_init(&gate);
    gate.fault_store = f->store;
    gate.fail_nth = fail_nth;
    gate_start(&gate_cmd, &gate, f->writer);

    struct id128 hold_id = transfer_id_next();
    cmds[0].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                               fixture_account_id(2), 7, 0);
    cmds[1].events[0] = hold_event(hold_id, fixture_account_id(3), fixture_account_id(4), 11, 0);
    cmds[1].events[1] = resolve_event(transfer_id_next(), hold_id, LEDGER_TRANSFER_POST_PENDING);
    cmds[2].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(5),
                                               fixture_account_id(6), 3, LEDGER_TRANSFER_LINKED);
    cmds[2].events[1] = fixture_transfer_event(transfer_id_next(), fixture_account_id(6),
                                               fixture_account_id(5), 2, 0);
    cmds[3].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(2),
                                               fixture_account_id(1), 1, 0);
    cmds[3].cmd.on_applied = hook_attach;
    cmds[3].cmd.ctx = &hook;
    cmds[4].events[0] = fixture_account_event(1000 + round, LEDGER_KIND_WALLET, WALLET_FLAGS);
    cmds[5].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(4),
                                               fixture_account_id(3), 1, 0);
    for (uint32_t i = 0; i < FAULT_BATCH_COMMANDS; i++) {
        async_start(&cmds[i], f->writer, counts[i]);
        queue_depth_wait(f->writer, i + 1);
    }
    gate_release(&gate);
    pthread_join(gate_cmd.thread, NULL);
    assert_true(gate_cmd.err == TL_OK || gate_cmd.err == TL_ERR_STORAGE);
    out->gate_ok = gate_cmd.err == TL_OK;
    uint32_t storage_failures = 0;
    for (uint32_t i = 0; i < FAULT_BATCH_COMMANDS; i++) {
        pthread_join(cmds[i].thread, NULL);
        if (cmds[i].err == TL_ERR_STORAGE) {
            storage_failures++;
            for (uint32_t j = 0; j < counts[i]; j++) {
                assert_int_equal(cmds[i].results[j].result, 0);
                assert_int_equal(cmds[i].results[j].timestamp, 0);
            }
            struct store *store = store_reopen(f);
            struct ledger_posting posting;
            bool found = true;
            assert_int_equal(
                store_transfer_get(store, cmds[i].events[0].as.transfer.id, &posting, &found),
                TL_OK);
            assert_false(found);
            store_close(store);
            continue;
        }
        assert_int_equal(cmds[i].err, TL_OK);
        for (uint32_t j = 0; j < counts[i]; j++) {
            assert_int_equal(cmds[i].results[j].result, LEDGER_OK);
        }
    }
    /* A batch fails as a whole: every command of it, or none. */
    assert_true(storage_failures == 0 || storage_failures == FAULT_BATCH_COMMANDS);
    out->batch_ok = storage_failures == 0;
    out->ops_after_hook = store_fault_op_count(f->store) - gate.op_count_at_hook;
    store_fault_fail_at(f->store, 0);
    gate_destroy(&gate);
}

/* What a successful batch A or B adds to the wallets' balances. */
static void fault_round_expect(struct ledger_account *expected, const struct fault_round *r)
{
    if (r->gate_ok) {
        expected[0].debits_posted += 1;
        expected[1].credits_posted += 1;
    }
    if (!r->batch_ok) {
        return;
    }
    expected[1].debits_posted += 7;
    expected[2].credits_posted += 7;
    expected[3].debits_posted += 11;
    expected[4].credits_posted += 11;
    expected[5].debits_posted += 3;
    expected[6].credits_posted += 3;
    expected[6].debits_posted += 2;
    expected[5].credits_posted += 2;
    expected[2].debits_posted += 1;
    expected[1].credits_posted += 1;
    expected[4].debits_posted += 1;
    expected[3].credits_posted += 1;
}

/* The in-memory ledger and the store (reopened) both hold exactly the expected state. */
static void fault_state_check(const struct fixture *f, const struct ledger_account *expected,
                              uint64_t round, bool created, uint32_t outbox_expected)
{
    struct store *store = store_reopen(f);
    for (uint32_t n = 0; n <= FAULT_WALLETS; n++) {
        struct ledger_account stored;
        bool found = false;
        assert_int_equal(store_account_get(store, fixture_account_id(n), &stored, &found), TL_OK);
        assert_true(found);
        const struct ledger_account *memory = ledger_account_get(f->ledger, fixture_account_id(n));
        assert_non_null(memory);
        /* The history head is the ledger's to assign; the rest is what the test expects. */
        struct ledger_account want = expected[n];
        want.posting_last = memory->posting_last;
        assert_memory_equal(&stored, &want, sizeof stored);
        assert_memory_equal(memory, &want, sizeof *memory);
    }
    struct ledger_account account;
    bool found = false;
    assert_int_equal(store_account_get(store, fixture_account_id(1000 + round), &account, &found),
                     TL_OK);
    assert_int_equal(found, created);
    assert_int_equal(ledger_account_get(f->ledger, fixture_account_id(1000 + round)) != NULL,
                     created);
    struct store_outbox_row rows[TL_COMMAND_RECORDS_MAX * 8];
    uint32_t count = 0;
    assert_int_equal(store_outbox_list(store, 0, TL_COMMAND_RECORDS_MAX * 8, rows, &count), TL_OK);
    assert_int_equal(count, outbox_expected);
    store_outbox_rows_free(rows, count);
    store_close(store);
}

static void test_storage_failure_walk(void **state)
{
    (void)state;
    struct fixture f;
    /* No timed sweeps after the first: they would move the operation count. */
    struct writer_config config = {.expire_interval_ms = UINT32_MAX};
    struct ledger_account expected[FAULT_WALLETS + 1];
    struct fault_round round;
    fixture_dir(&f);
    fixture_start(&f, "fault", &config);
    accounts_setup(f.writer, FAULT_WALLETS, 1000);
    for (uint32_t n = 0; n <= FAULT_WALLETS; n++) {
        expected[n] = *ledger_account_get(f.ledger, fixture_account_id(n));
    }

    /* A clean round counts the operations from the gate's hook to the end of batch B. */
    fault_round_run(&f, 0, 0, &round);
    assert_true(round.gate_ok);
    assert_true(round.batch_ok);
    fault_round_expect(expected, &round);
    uint32_t outbox = 1;
    fault_state_check(&f, expected, 0, true, outbox);
    uint64_t ops = round.ops_after_hook;
    assert_true(ops >= 8); /* A's commit phases, B's begin, prefetch and commit phases */

    uint32_t gate_failures = 0;
    uint32_t batch_failures = 0;
    for (uint64_t n = 1; n <= ops; n++) {
        fault_round_run(&f, n, n, &round);
        /* Exactly one batch failed, and the failed one left no trace anywhere. */
        assert_int_equal(round.gate_ok + round.batch_ok, 1);
        gate_failures += !round.gate_ok;
        batch_failures += !round.batch_ok;
        fault_round_expect(expected, &round);
        outbox += round.batch_ok;
        fault_state_check(&f, expected, n, round.batch_ok, outbox);
    }
    assert_true(gate_failures >= 5);  /* postings, accounts, holds, records, commit */
    assert_true(batch_failures >= 7); /* begin, prefetch and the same five */

    /* The next batches succeed, and a new writer loads exactly what was stored. */
    fault_round_run(&f, ops + 1, 0, &round);
    assert_true(round.gate_ok);
    assert_true(round.batch_ok);
    fault_round_expect(expected, &round);
    fault_state_check(&f, expected, ops + 1, true, outbox + 1);
    struct writer_stats stats;
    writer_stats_get(f.writer, &stats);
    assert_int_equal(stats.batch_failures, ops);
    printf("storage failure walk: %lu operations failed in turn\n", (unsigned long)ops);
    fixture_stop(&f);
    fixture_start(&f, "sqlite", NULL);
    ledger_invariants_check(f.ledger);
    fault_state_check(&f, expected, ops + 1, true, outbox + 1);
    fixture_stop(&f);
    fixture_remove(&f);
}

/* ---- A shared store: the reload path the PostgreSQL backend will take ---- */

/*
 * A test-only backend that wraps a real SQLite handle and says it is not the only writer, as
 * PostgreSQL will. Two writers, each with its own ledger, then write the same accounts
 * through two such handles: only the writer's locked reload of every account a batch touches
 * (and of the last timestamp) keeps one writer's stale cache from overwriting the other's
 * balances or reusing its timestamps.
 */
struct shared_store {
    struct store base;
    struct store *inner;
};

#define SHARED_INNER(store) (((struct shared_store *)(store))->inner)
#define SHARED_FORWARD(store, call) return SHARED_INNER(store)->ops->call

static bool shared_exclusive(const struct store *store)
{
    (void)store;
    return false;
}

static void shared_close(struct store *store)
{
    store_close(SHARED_INNER(store));
    free(store);
}

static enum tl_err shared_schema_version(struct store *store, uint32_t *out)
{
    SHARED_FORWARD(store, schema_version(SHARED_INNER(store), out));
}

static enum tl_err shared_ping(struct store *store)
{
    SHARED_FORWARD(store, ping(SHARED_INNER(store)));
}

static enum tl_err
shared_accounts_scan(struct store *store,
                     enum tl_err (*fn)(void *ctx, const struct ledger_account *a), void *ctx)
{
    SHARED_FORWARD(store, accounts_scan(SHARED_INNER(store), fn, ctx));
}

static enum tl_err shared_timestamp_last(struct store *store, uint64_t *out)
{
    SHARED_FORWARD(store, timestamp_last(SHARED_INNER(store), out));
}

static enum tl_err shared_batch_begin(struct store *store)
{
    SHARED_FORWARD(store, batch_begin(SHARED_INNER(store)));
}

static enum tl_err shared_accounts_get(struct store *store, const struct id128 *ids, uint32_t count,
                                       struct ledger_account *out, bool *found)
{
    SHARED_FORWARD(store, accounts_get(SHARED_INNER(store), ids, count, out, found));
}

static enum tl_err shared_transfers_get(struct store *store, const struct id128 *ids,
                                        uint32_t count, struct ledger_transfer *out,
                                        enum ledger_pending_status *status, bool *found)
{
    SHARED_FORWARD(store, transfers_get(SHARED_INNER(store), ids, count, out, status, found));
}

static enum tl_err shared_pending_expired(struct store *store, uint64_t now_ns, uint32_t limit,
                                          struct ledger_transfer *out, uint32_t *out_count)
{
    SHARED_FORWARD(store, pending_expired(SHARED_INNER(store), now_ns, limit, out, out_count));
}

static enum tl_err shared_postings_write(struct store *store, const struct ledger_posting *postings,
                                         uint32_t count)
{
    SHARED_FORWARD(store, postings_write(SHARED_INNER(store), postings, count));
}

static enum tl_err shared_accounts_write(struct store *store,
                                         const struct ledger_account *const *accounts,
                                         uint32_t count)
{
    SHARED_FORWARD(store, accounts_write(SHARED_INNER(store), accounts, count));
}

static enum tl_err shared_pending_write(struct store *store,
                                        const struct ledger_pending_update *updates, uint32_t count)
{
    SHARED_FORWARD(store, pending_write(SHARED_INNER(store), updates, count));
}

static enum tl_err shared_records_write(struct store *store, const struct store_record *records,
                                        uint32_t count)
{
    SHARED_FORWARD(store, records_write(SHARED_INNER(store), records, count));
}

static enum tl_err shared_commit(struct store *store)
{
    SHARED_FORWARD(store, commit(SHARED_INNER(store)));
}

static void shared_abort(struct store *store)
{
    SHARED_INNER(store)->ops->abort(SHARED_INNER(store));
}

static enum tl_err shared_account_get(struct store *store, struct id128 id,
                                      struct ledger_account *out, bool *found)
{
    SHARED_FORWARD(store, account_get(SHARED_INNER(store), id, out, found));
}

static enum tl_err shared_transfer_get(struct store *store, struct id128 id,
                                       struct ledger_posting *out, bool *found)
{
    SHARED_FORWARD(store, transfer_get(SHARED_INNER(store), id, out, found));
}

static enum tl_err shared_history(struct store *store, struct id128 fixture_account_id,
                                  const struct store_page *page, struct ledger_posting *out,
                                  uint32_t *out_count, bool *has_more)
{
    SHARED_FORWARD(
        store, history(SHARED_INNER(store), fixture_account_id, page, out, out_count, has_more));
}

static enum tl_err shared_outbox_list(struct store *store, uint64_t after_seq, uint32_t limit,
                                      struct store_outbox_row *out, uint32_t *out_count)
{
    SHARED_FORWARD(store, outbox_list(SHARED_INNER(store), after_seq, limit, out, out_count));
}

static const struct store_ops shared_ops = {
    .name = "shared-test",
    .close = shared_close,
    .schema_version = shared_schema_version,
    .exclusive = shared_exclusive,
    .ping = shared_ping,
    .accounts_scan = shared_accounts_scan,
    .timestamp_last = shared_timestamp_last,
    .batch_begin = shared_batch_begin,
    .accounts_get = shared_accounts_get,
    .transfers_get = shared_transfers_get,
    .pending_expired = shared_pending_expired,
    .postings_write = shared_postings_write,
    .accounts_write = shared_accounts_write,
    .pending_write = shared_pending_write,
    .records_write = shared_records_write,
    .commit = shared_commit,
    .abort = shared_abort,
    .account_get = shared_account_get,
    .transfer_get = shared_transfer_get,
    .history = shared_history,
    .outbox_list = shared_outbox_list,
};

static struct store *shared_open(const struct fixture *f)
{
    struct store_config config = f->store_fixture.config;
    struct shared_store *shared = calloc(1, sizeof *shared);
    assert_non_null(shared);
    assert_int_equal(store_open(&config, &shared->inner), TL_OK);
    store_init(&shared->base, &shared_ops, false);
    assert_false(store_exclusive(&shared->base));
    return &shared->base;
}

#define SHARED_WRITERS 2
#define SHARED_THREADS_PER_WRITER 3
#define SHARED_COMMANDS 400
#define SHARED_WALLETS 8
#define SHARED_FUNDING 2000

struct shared_submitter {
    pthread_t thread;
    struct writer *writer;
    uint64_t seed;
    int64_t debits[SHARED_WALLETS + 1]; /* what this thread's ok transfers moved */
    int64_t credits[SHARED_WALLETS + 1];
    uint32_t ok_count;
    bool storage_failed;
};

static void *shared_submitter_main(void *arg)
{
    struct shared_submitter *s = arg;
    for (uint32_t i = 0; i < SHARED_COMMANDS; i++) {
        uint32_t debit = (uint32_t)(fixture_prng_next(&s->seed) % SHARED_WALLETS) + 1;
        uint32_t credit = (uint32_t)(fixture_prng_next(&s->seed) % (SHARED_WALLETS - 1)) + 1;
        credit += credit >= debit;
        int64_t amount = (int64_t)(fixture_prng_next(&s->seed) % 200) + 1;
        struct ledger_event event = fixture_transfer_event(
            transfer_id_next(), fixture_account_id(debit), fixture_account_id(credit), amount, 0);
        struct ledger_event_result result;
        if (submit(s->writer, &event, 1, &result) != TL_OK) {
            s->storage_failed = true;
            return NULL;
        }
        if (result.result == LEDGER_OK) {
            s->debits[debit] += amount;
            s->credits[credit] += amount;
            s->ok_count++;
        }
    }
    return NULL;
}

/* Runs the submitters of both writers; fills what their ok transfers moved, per wallet. */
static uint32_t shared_submit_all(struct writer **writers, int64_t *debits, int64_t *credits)
{
    struct shared_submitter submitters[SHARED_WRITERS * SHARED_THREADS_PER_WRITER];
    uint32_t count = SHARED_WRITERS * SHARED_THREADS_PER_WRITER;
    for (uint32_t t = 0; t < count; t++) {
        submitters[t] =
            (struct shared_submitter){.writer = writers[t % SHARED_WRITERS], .seed = 77u + t};
        assert_int_equal(
            pthread_create(&submitters[t].thread, NULL, shared_submitter_main, &submitters[t]), 0);
    }
    uint32_t ok_count = 0;
    for (uint32_t t = 0; t < count; t++) {
        assert_int_equal(pthread_join(submitters[t].thread, NULL), 0);
        assert_false(submitters[t].storage_failed);
        ok_count += submitters[t].ok_count;
        for (uint32_t n = 1; n <= SHARED_WALLETS; n++) {
            debits[n] += submitters[t].debits[n];
            credits[n] += submitters[t].credits[n];
        }
    }
    assert_true(ok_count > count * SHARED_COMMANDS / 4);
    return ok_count;
}

static void test_shared_store_reload(void **state)
{
    (void)state;
    struct fixture f;
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, SHARED_WALLETS, SHARED_FUNDING);
    fixture_stop(&f);

    struct store *stores[SHARED_WRITERS];
    struct ledger *ledgers[SHARED_WRITERS];
    struct writer *writers[SHARED_WRITERS];
    struct ledger_config ledger_config = {.accounts_max = 64};
    for (uint32_t w = 0; w < SHARED_WRITERS; w++) {
        stores[w] = shared_open(&f);
        assert_int_equal(ledger_open(&ledger_config, &ledgers[w]), TL_OK);
        assert_int_equal(writer_start(NULL, stores[w], ledgers[w], &writers[w]), TL_OK);
    }
    /* A transfer made through one writer is a duplicate through the other. */
    struct ledger_event event = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                       fixture_account_id(2), 5, 0);
    assert_int_equal(submit_one(writers[0], &event), LEDGER_OK);
    assert_int_equal(submit_one(writers[1], &event), LEDGER_EXISTS);
    int64_t debits[SHARED_WALLETS + 1] = {0, 5};
    int64_t credits[SHARED_WALLETS + 1] = {0, 0, 5};
    uint32_t ok_count = shared_submit_all(writers, debits, credits);
    for (uint32_t w = 0; w < SHARED_WRITERS; w++) {
        writer_stop(writers[w]);
        store_close(stores[w]);
        ledger_close(ledgers[w]);
    }

    /* Every acknowledged transfer of both writers is in the balances, none twice, and no
     * wallet was overdrawn by two writers spending the same money. */
    struct store *store = store_reopen(&f);
    for (uint32_t n = 1; n <= SHARED_WALLETS; n++) {
        struct ledger_account a;
        bool found = false;
        assert_int_equal(store_account_get(store, fixture_account_id(n), &a, &found), TL_OK);
        assert_true(found);
        assert_int_equal(a.debits_posted, debits[n]);
        assert_int_equal(a.credits_posted, SHARED_FUNDING + credits[n]);
        assert_true(a.debits_posted <= a.credits_posted);
    }
    store_close(store);
    fixture_start(&f, "sqlite", NULL);
    ledger_invariants_check(f.ledger);
    fixture_stop(&f);
    printf("shared store: %u transfers through %u writers\n", ok_count, SHARED_WRITERS);
    fixture_remove(&f);
}

/* ---- Queue edges ---- */

static void test_invalid_commands(void **state)
{
    (void)state;
    struct fixture f;
    struct ledger_event events[TL_COMMAND_EVENTS_MAX + 1];
    struct ledger_event_result results[TL_COMMAND_EVENTS_MAX + 1];
    memset(events, 0, sizeof events);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    assert_int_equal(submit(f.writer, events, 0, results), TL_ERR_INVALID_REQUEST);
    assert_int_equal(submit(f.writer, events, TL_COMMAND_EVENTS_MAX + 1, results),
                     TL_ERR_INVALID_REQUEST);
    struct writer_stats stats;
    writer_stats_get(f.writer, &stats);
    assert_int_equal(stats.commands, 0);
    fixture_stop(&f);

    struct writer_config too_big = {.batch_events_max = TL_BATCH_EVENTS_MAX + 1};
    struct store_config store_config = f.store_fixture.config;
    struct ledger_config ledger_config = {.accounts_max = 16};
    assert_int_equal(store_open(&store_config, &f.store), TL_OK);
    assert_int_equal(ledger_open(&ledger_config, &f.ledger), TL_OK);
    assert_int_equal(writer_start(&too_big, f.store, f.ledger, &f.writer), TL_ERR_INVALID_REQUEST);
    store_close(f.store);
    ledger_close(f.ledger);
    fixture_remove(&f);
}

static void test_queue_full_busy(void **state)
{
    (void)state;
    struct fixture f;
    struct writer_config config = {.queue_max = 2};
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct async_submit queued[2];
    memset(queued, 0, sizeof queued);
    gate_init(&gate);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", &config);
    accounts_setup(f.writer, 2, 100);

    gate_start(&gate_cmd, &gate, f.writer);
    for (uint32_t i = 0; i < 2; i++) {
        queued[i].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                     fixture_account_id(2), 1, 0);
        async_start(&queued[i], f.writer, 1);
        queue_depth_wait(f.writer, i + 1);
    }
    struct ledger_event extra = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                       fixture_account_id(2), 1, 0);
    struct ledger_event_result result;
    assert_int_equal(submit(f.writer, &extra, 1, &result), TL_ERR_BUSY);

    gate_release(&gate);
    pthread_join(gate_cmd.thread, NULL);
    assert_int_equal(gate_cmd.err, TL_OK);
    for (uint32_t i = 0; i < 2; i++) {
        pthread_join(queued[i].thread, NULL);
        assert_int_equal(queued[i].err, TL_OK);
        assert_int_equal(queued[i].results[0].result, LEDGER_OK);
    }
    /* Room again once the queue drained; the refused command had not been applied. */
    assert_int_equal(submit(f.writer, &extra, 1, &result), TL_OK);
    assert_int_equal(result.result, LEDGER_OK);
    assert_int_equal(result.debit_after.debits_posted, 3);
    gate_destroy(&gate);
    fixture_stop(&f);
    fixture_remove(&f);
}

struct stop_thread {
    pthread_t thread;
    struct writer *writer;
};

static void *stop_main(void *arg)
{
    struct stop_thread *s = arg;
    writer_stop(s->writer);
    return NULL;
}

static void test_stop_drains_and_refuses(void **state)
{
    (void)state;
    enum { QUEUED = 4 };
    struct fixture f;
    struct writer_config config = {.queue_max = QUEUED};
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct async_submit queued[QUEUED];
    memset(queued, 0, sizeof queued);
    gate_init(&gate);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", &config);
    accounts_setup(f.writer, 2, 100);

    gate_start(&gate_cmd, &gate, f.writer);
    for (uint32_t i = 0; i < QUEUED; i++) {
        queued[i].events[0] = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                     fixture_account_id(2), 1, 0);
        async_start(&queued[i], f.writer, 1);
        queue_depth_wait(f.writer, i + 1);
    }
    struct stop_thread stopper = {.writer = f.writer};
    assert_int_equal(pthread_create(&stopper.thread, NULL, stop_main, &stopper), 0);
    /* The queue is full, so a probe answers at once: busy until stop begins, then shutdown. */
    struct ledger_event probe = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                                       fixture_account_id(2), 1, 0);
    struct ledger_event_result result;
    enum tl_err err = TL_ERR_BUSY;
    for (int i = 0; i < 5000 && err == TL_ERR_BUSY; i++) {
        err = submit(f.writer, &probe, 1, &result);
        if (err == TL_ERR_BUSY) {
            sleep_ms(1);
        }
    }
    assert_int_equal(err, TL_ERR_SHUTDOWN);
    gate_release(&gate);
    pthread_join(stopper.thread, NULL);
    f.writer = NULL;
    pthread_join(gate_cmd.thread, NULL);
    assert_int_equal(gate_cmd.err, TL_OK);
    for (uint32_t i = 0; i < QUEUED; i++) {
        pthread_join(queued[i].thread, NULL);
        assert_int_equal(queued[i].err, TL_OK);
        assert_int_equal(queued[i].results[0].result, LEDGER_OK);
    }
    /* Everything acknowledged while stopping is stored. */
    struct ledger *ledger = f.ledger;
    store_close(f.store);
    ledger_matches_store(&f, ledger, 2);
    const struct ledger_account *payer = ledger_account_get(ledger, fixture_account_id(1));
    assert_non_null(payer);
    assert_int_equal(payer->debits_posted, QUEUED);
    ledger_close(ledger);
    gate_destroy(&gate);
    fixture_remove(&f);
}

static void test_batch_budget_and_stats(void **state)
{
    (void)state;
    enum { QUEUED = 10 };
    struct fixture f;
    /* Five events per batch: two-event commands go two by two; a command never splits. */
    struct writer_config config = {.batch_events_max = 5};
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct async_submit queued[QUEUED];
    memset(queued, 0, sizeof queued);
    gate_init(&gate);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", &config);
    accounts_setup(f.writer, 4, 100);
    struct writer_stats before;
    writer_stats_get(f.writer, &before);

    gate_start(&gate_cmd, &gate, f.writer);
    for (uint32_t i = 0; i < QUEUED; i++) {
        queued[i].events[0] =
            fixture_transfer_event(transfer_id_next(), fixture_account_id(1), fixture_account_id(2),
                                   1, LEDGER_TRANSFER_LINKED);
        queued[i].events[1] = fixture_transfer_event(transfer_id_next(), fixture_account_id(3),
                                                     fixture_account_id(4), 1, 0);
        async_start(&queued[i], f.writer, 2);
        queue_depth_wait(f.writer, i + 1);
    }
    gate_release(&gate);
    pthread_join(gate_cmd.thread, NULL);
    for (uint32_t i = 0; i < QUEUED; i++) {
        pthread_join(queued[i].thread, NULL);
        assert_int_equal(queued[i].err, TL_OK);
        assert_int_equal(queued[i].results[1].result, LEDGER_OK);
    }
    /* FIFO: later commands got later timestamps. */
    for (uint32_t i = 1; i < QUEUED; i++) {
        assert_true(queued[i - 1].results[1].timestamp < queued[i].results[0].timestamp);
    }
    struct writer_stats stats;
    writer_stats_get(f.writer, &stats);
    assert_int_equal(stats.batches - before.batches, 1 + QUEUED / 2);
    assert_int_equal(stats.commands - before.commands, 1 + QUEUED);
    assert_int_equal(stats.events - before.events, 1 + 2 * QUEUED);
    assert_int_equal(stats.batch_events_last, 4);
    assert_int_equal(stats.queue_depth, 0);
    assert_int_equal(stats.batch_failures, 0);
    /* Histograms are cumulative and end with every batch. */
    assert_int_equal(stats.commit_latency_buckets[WRITER_LATENCY_BUCKETS - 1], stats.batches);
    assert_int_equal(stats.batch_size_buckets[WRITER_LATENCY_BUCKETS - 1], stats.batches);
    assert_int_equal(stats.batch_size_buckets[2] - before.batch_size_buckets[2], 1 + QUEUED / 2);
    for (uint32_t i = 1; i < WRITER_LATENCY_BUCKETS; i++) {
        assert_true(writer_latency_bounds_us[i - 1] < writer_latency_bounds_us[i]);
        assert_true(writer_batch_size_bounds[i - 1] < writer_batch_size_bounds[i]);
        assert_true(stats.commit_latency_buckets[i - 1] <= stats.commit_latency_buckets[i]);
        assert_true(stats.batch_size_buckets[i - 1] <= stats.batch_size_buckets[i]);
    }
    assert_true(stats.commit_latency_us_sum > 0);
    assert_int_equal(writer_batch_size_bounds[WRITER_LATENCY_BUCKETS - 2], TL_BATCH_EVENTS_MAX);
    gate_destroy(&gate);
    fixture_stop(&f);
    fixture_remove(&f);
}


/* ---- writer_submit_async: completion callbacks instead of a waiting thread ---- */

enum { CALLBACK_COMMANDS = 300 };

struct callback_command {
    struct writer_command cmd;
    struct ledger_event event;
    struct ledger_event_result result;
    _Atomic uint32_t calls;
    enum tl_err err_seen;        /* cmd->err when the callback ran */
    uint8_t result_seen;         /* the event's result when the callback ran */
    bool on_submitter_thread;    /* the callback ran on the thread that submitted (a bug) */
};

static pthread_t callback_submitter;
static _Atomic uint32_t callback_done_count;

static void callback_done(struct writer_command *cmd, void *done_ctx)
{
    struct callback_command *c = done_ctx;
    assert_ptr_equal(cmd, &c->cmd);
    c->err_seen = cmd->err;
    c->result_seen = cmd->results[0].result;
    c->on_submitter_thread = pthread_equal(pthread_self(), callback_submitter) != 0;
    atomic_fetch_add(&c->calls, 1);
    atomic_fetch_add(&callback_done_count, 1);
}

static void callback_command_init(struct callback_command *c, int64_t amount)
{
    memset(c, 0, sizeof *c);
    c->event = fixture_transfer_event(transfer_id_next(), fixture_account_id(1),
                                      fixture_account_id(2), amount, 0);
    c->cmd.events = &c->event;
    c->cmd.event_count = 1;
    c->cmd.results = &c->result;
}

static void callback_wait(uint32_t count)
{
    for (int i = 0; i < 10000 && atomic_load(&callback_done_count) < count; i++) {
        sleep_ms(1);
    }
    assert_int_equal(atomic_load(&callback_done_count), count);
}

/* One thread hands over hundreds of commands without waiting: they share one batch (a
 * blocking submitter could only ever fill a batch with one command per thread), each callback
 * runs once, on the writer thread, with its final outcome; a refusal is reported the same way,
 * and a command the writer will not queue gets its error at once and no callback. */
static void test_submit_async_callbacks(void **state)
{
    (void)state;
    struct fixture f;
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct callback_command *cmds = calloc(CALLBACK_COMMANDS + 1, sizeof *cmds);
    assert_non_null(cmds);
    gate_init(&gate);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, 2, CALLBACK_COMMANDS);
    callback_submitter = pthread_self();
    atomic_store(&callback_done_count, 0);
    struct writer_stats before;
    writer_stats_get(f.writer, &before);

    gate_start(&gate_cmd, &gate, f.writer);
    for (uint32_t i = 0; i < CALLBACK_COMMANDS; i++) {
        callback_command_init(&cmds[i], 1);
        assert_int_equal(writer_submit_async(f.writer, &cmds[i].cmd, callback_done, &cmds[i]),
                         TL_OK);
    }
    /* The last one asks for more than is left: refused by the ledger, reported by callback. */
    callback_command_init(&cmds[CALLBACK_COMMANDS], 1000);
    assert_int_equal(writer_submit_async(f.writer, &cmds[CALLBACK_COMMANDS].cmd, callback_done,
                                         &cmds[CALLBACK_COMMANDS]),
                     TL_OK);
    queue_depth_wait(f.writer, CALLBACK_COMMANDS + 1);
    assert_int_equal(atomic_load(&callback_done_count), 0); /* nothing before the commit */
    gate_release(&gate);
    pthread_join(gate_cmd.thread, NULL);
    callback_wait(CALLBACK_COMMANDS + 1);
    for (uint32_t i = 0; i <= CALLBACK_COMMANDS; i++) {
        assert_int_equal(atomic_load(&cmds[i].calls), 1);
        assert_false(cmds[i].on_submitter_thread);
        assert_int_equal(cmds[i].err_seen, TL_OK);
        assert_int_equal(cmds[i].result_seen,
                         i < CALLBACK_COMMANDS ? LEDGER_OK : LEDGER_EXCEEDS_CREDITS);
    }
    struct writer_stats stats;
    writer_stats_get(f.writer, &stats);
    assert_int_equal(stats.batches - before.batches, 2); /* the gate's, then all the rest */
    assert_int_equal(stats.batch_events_last, CALLBACK_COMMANDS + 1);

    /* Not queued: the error comes back at once and the callback never runs. */
    struct callback_command bad;
    callback_command_init(&bad, 1);
    bad.cmd.event_count = 0;
    assert_int_equal(writer_submit_async(f.writer, &bad.cmd, callback_done, &bad),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(bad.cmd.err, TL_ERR_INVALID_REQUEST);

    struct ledger *ledger = f.ledger;
    writer_stop(f.writer);
    f.writer = NULL;
    assert_int_equal(atomic_load(&bad.calls), 0);
    store_close(f.store);
    ledger_matches_store(&f, ledger, 2);
    const struct ledger_account *payer = ledger_account_get(ledger, fixture_account_id(1));
    assert_non_null(payer);
    assert_int_equal(payer->debits_posted, CALLBACK_COMMANDS); /* the refusal moved nothing */
    ledger_close(ledger);
    gate_destroy(&gate);
    free(cmds);
    fixture_remove(&f);
}

/* [writer] linger_us: a batch waits that long for company once its first command is queued, so
 * two commands handed over one after the other commit together and neither is durable before
 * the linger ran out; a full batch, the next one and a stop do not wait; out of bounds refuses. */
static void test_linger(void **state)
{
    (void)state;
    enum { LINGER_US = 80000 };
    struct fixture f;
    struct writer_config config = {.linger_us = LINGER_US, .batch_events_max = 3};
    struct callback_command cmds[5];
    fixture_dir(&f);
    fixture_start(&f, "sqlite", &config);
    accounts_setup(f.writer, 2, 100);
    callback_submitter = pthread_self();
    atomic_store(&callback_done_count, 0);
    struct writer_stats before, after;
    writer_stats_get(f.writer, &before);

    /* The counts hold when the submits came well inside the linger: a machine that stopped
     * this thread for longer between two calls proves nothing either way. */
    const uint64_t gap_max_ns = (uint64_t)LINGER_US * 1000u / 2u;
    uint64_t start_ns = clock_mono_ns();
    for (uint32_t i = 0; i < 2; i++) {
        callback_command_init(&cmds[i], 1);
        assert_int_equal(writer_submit_async(f.writer, &cmds[i].cmd, callback_done, &cmds[i]),
                         TL_OK);
    }
    bool close = clock_mono_ns() - start_ns < gap_max_ns;
    callback_wait(2);
    assert_true(clock_mono_ns() - start_ns >= (uint64_t)LINGER_US * 1000u);
    writer_stats_get(f.writer, &after);
    assert_int_equal(after.commands - before.commands, 2);
    if (close) {
        assert_int_equal(after.batches - before.batches, 1);
        assert_int_equal(after.batch_events_last, 2);
    }

    /* Three fill a batch of three: one batch, which need not wait for a fourth. */
    writer_stats_get(f.writer, &before);
    start_ns = clock_mono_ns();
    for (uint32_t i = 2; i < 5; i++) {
        callback_command_init(&cmds[i], 1);
        assert_int_equal(writer_submit_async(f.writer, &cmds[i].cmd, callback_done, &cmds[i]),
                         TL_OK);
    }
    close = clock_mono_ns() - start_ns < gap_max_ns;
    callback_wait(5);
    writer_stats_get(f.writer, &after);
    if (close) {
        assert_int_equal(after.batches - before.batches, 1);
        assert_int_equal(after.batch_events_last, 3);
    }
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(cmds[i].err_seen, TL_OK);
        assert_int_equal(cmds[i].result_seen, LEDGER_OK);
    }

    /* A stop while a lone command lingers commits it before writer_stop returns. */
    struct callback_command last;
    callback_command_init(&last, 1);
    assert_int_equal(writer_submit_async(f.writer, &last.cmd, callback_done, &last), TL_OK);
    struct ledger *ledger = f.ledger;
    writer_stop(f.writer);
    f.writer = NULL;
    assert_int_equal(atomic_load(&last.calls), 1);
    assert_int_equal(last.err_seen, TL_OK);
    store_close(f.store);
    ledger_matches_store(&f, ledger, 2);
    const struct ledger_account *payer = ledger_account_get(ledger, fixture_account_id(1));
    assert_non_null(payer);
    assert_int_equal(payer->debits_posted, 6);
    ledger_close(ledger);

    /* Longer than TL_WRITER_LINGER_US_MAX: refused at start. */
    struct store_config store_config = f.store_fixture.config;
    struct ledger_config ledger_config = {.accounts_max = 1u << 12};
    struct writer *writer = NULL;
    config.linger_us = TL_WRITER_LINGER_US_MAX + 1u;
    assert_int_equal(store_open(&store_config, &f.store), TL_OK);
    assert_int_equal(ledger_open(&ledger_config, &f.ledger), TL_OK);
    assert_int_equal(writer_start(&config, f.store, f.ledger, &writer), TL_ERR_INVALID_REQUEST);
    assert_null(writer);
    store_close(f.store);
    ledger_close(f.ledger);
    fixture_remove(&f);
}

/* Stopping drains: commands handed over before the stop get their callbacks with TL_OK and
 * are stored; after the stop began, writer_submit_async answers TL_ERR_SHUTDOWN. */
static void test_submit_async_stop_drains(void **state)
{
    (void)state;
    enum { QUEUED = 16 };
    struct fixture f;
    struct batch_gate gate;
    struct async_submit gate_cmd;
    struct callback_command queued[QUEUED];
    gate_init(&gate);
    fixture_dir(&f);
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, 2, 100);
    callback_submitter = pthread_self();
    atomic_store(&callback_done_count, 0);

    gate_start(&gate_cmd, &gate, f.writer);
    for (uint32_t i = 0; i < QUEUED; i++) {
        callback_command_init(&queued[i], 1);
        assert_int_equal(writer_submit_async(f.writer, &queued[i].cmd, callback_done, &queued[i]),
                         TL_OK);
    }
    struct stop_thread stopper = {.writer = f.writer};
    assert_int_equal(pthread_create(&stopper.thread, NULL, stop_main, &stopper), 0);
    /* Probes are queued (and drained) until the stop begins, then refused. */
    static struct callback_command probes[5000];
    uint32_t accepted = 0;
    enum tl_err err = TL_OK;
    for (uint32_t i = 0; i < 5000 && err == TL_OK; i++) {
        callback_command_init(&probes[i], 1);
        err = writer_submit_async(f.writer, &probes[i].cmd, callback_done, &probes[i]);
        if (err == TL_OK) {
            accepted++;
            sleep_ms(1);
        }
    }
    assert_int_equal(err, TL_ERR_SHUTDOWN);
    gate_release(&gate);
    pthread_join(stopper.thread, NULL);
    f.writer = NULL;
    pthread_join(gate_cmd.thread, NULL);
    assert_int_equal(atomic_load(&callback_done_count), QUEUED + accepted);
    for (uint32_t i = 0; i < QUEUED; i++) {
        assert_int_equal(atomic_load(&queued[i].calls), 1);
        assert_int_equal(queued[i].err_seen, TL_OK);
        assert_int_equal(queued[i].result_seen, LEDGER_OK);
    }
    struct ledger *ledger = f.ledger;
    store_close(f.store);
    ledger_matches_store(&f, ledger, 2);
    const struct ledger_account *payer = ledger_account_get(ledger, fixture_account_id(1));
    assert_non_null(payer);
    assert_int_equal(payer->debits_posted, QUEUED + accepted);
    ledger_close(ledger);
    gate_destroy(&gate);
    fixture_remove(&f);
}


/* ---- The WAL is checkpointed while the store is open ---- */

enum { WAL_WALLETS = 4000, WAL_COMMANDS = 256 }; /* the fixture ledger holds 4096 accounts */

static off_t file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The checkpointer copies the WAL back into the database file under load, while the store is
 * open (its first checkpoints used to be no-ops: the WAL grew without bound until a close). */
static void test_wal_checkpointed(void **state)
{
    (void)state;
    struct fixture f;
    fixture_dir(&f);
    if (strcmp(f.store_fixture.backend->name, "sqlite") != 0) {
        fixture_remove(&f); /* a SQLite matter: PostgreSQL checkpoints by itself */
        skip();
    }
    fixture_start(&f, "sqlite", NULL);
    accounts_setup(f.writer, WAL_WALLETS, 1000000);
    char wal[sizeof f.store_fixture.config.path + 8];
    snprintf(wal, sizeof wal, "%s-wal", f.store_fixture.config.path);
    static struct callback_command cmds[WAL_COMMANDS][TL_COMMAND_EVENTS_MAX];
    static struct ledger_event events[WAL_COMMANDS][TL_COMMAND_EVENTS_MAX];
    static struct ledger_event_result results[WAL_COMMANDS][TL_COMMAND_EVENTS_MAX];
    uint32_t seed = 12345;
    callback_submitter = pthread_self();
    /* Rounds of random transfers until the WAL passed 48 MiB (SHARED_CHECKPOINT_FRAMES is
     * 32 MiB of frames) and the database file took at least 4 MiB of it back. */
    off_t db_bytes = 0;
    for (uint32_t round = 0; round < 40; round++) {
        atomic_store(&callback_done_count, 0);
        for (uint32_t c = 0; c < WAL_COMMANDS; c++) {
            for (uint32_t e = 0; e < TL_COMMAND_EVENTS_MAX; e++) {
                seed = seed * 1103515245u + 12345u;
                uint32_t from = 1 + (seed >> 8) % WAL_WALLETS;
                uint32_t to = 1 + (from % WAL_WALLETS);
                events[c][e] = fixture_transfer_event(transfer_id_next(), fixture_account_id(from),
                                                      fixture_account_id(to), 1, 0);
            }
            struct callback_command *cc = &cmds[c][0];
            memset(cc, 0, sizeof *cc);
            cc->cmd.events = events[c];
            cc->cmd.event_count = TL_COMMAND_EVENTS_MAX;
            cc->cmd.results = results[c];
            assert_int_equal(writer_submit_async(f.writer, &cc->cmd, callback_done, cc), TL_OK);
        }
        callback_wait(WAL_COMMANDS);
        for (uint32_t c = 0; c < WAL_COMMANDS; c++) {
            assert_int_equal(cmds[c][0].err_seen, TL_OK);
        }
        db_bytes = file_bytes(f.store_fixture.config.path);
        if (file_bytes(wal) > 48 * 1024 * 1024 && db_bytes > 4 * 1024 * 1024) {
            break;
        }
    }
    for (int i = 0; i < 5000 && db_bytes <= 4 * 1024 * 1024; i++) {
        sleep_ms(1);
        db_bytes = file_bytes(f.store_fixture.config.path);
    }
    assert_true(db_bytes > 4 * 1024 * 1024);
    fixture_stop(&f);
    fixture_remove(&f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_invalid_commands),
    cmocka_unit_test(test_wal_restarts),
    cmocka_unit_test(test_linked_chain),
    cmocka_unit_test(test_duplicates_across_batches),
    cmocka_unit_test(test_records_commit_with_batch),
    cmocka_unit_test(test_hook_failure_drops_command),
    cmocka_unit_test(test_record_only_commands),
    cmocka_unit_test(test_record_only_budget),
    cmocka_unit_test(test_hold_expiry),
    cmocka_unit_test(test_hold_expiry_after_failed_sweep),
    cmocka_unit_test(test_queue_full_busy),
    cmocka_unit_test(test_stop_drains_and_refuses),
    cmocka_unit_test(test_submit_async_callbacks),
    cmocka_unit_test(test_submit_async_stop_drains),
    cmocka_unit_test(test_linger),
    cmocka_unit_test(test_wal_checkpointed),
    cmocka_unit_test(test_batch_budget_and_stats),
    cmocka_unit_test(test_storage_failure_walk),
    cmocka_unit_test(test_shared_store_reload),
    cmocka_unit_test(test_concurrent_submitters),
};

TL_TEST_MAIN(tests)
