/*
 * test_crash.c - kill -9 the writer's process at random moments; nothing acknowledged is lost.
 *
 * A child process opens the store and a writer and commits as fast as it can from several
 * submitting threads: plain transfers, holds (some with a one-second timeout, so later children
 * expire them), posts and voids of its own holds, and linked chains (some built to fail).
 * After each acknowledged command it writes the ids of the transfers that succeeded to a pipe;
 * the parent survives the child, so what it read was acknowledged before the kill. The parent
 * SIGKILLs the child after a random 10-300 ms, reopens the store and checks:
 *   - every acknowledged transfer is stored, exactly once (counted by id over all history);
 *   - the stored accounts load into a fresh ledger and pass ledger_invariants_check;
 *   - every account's balances, recomputed from the sum of stored postings, equal its stored
 *     row, and every posting's recorded after-balances equal the replay at that point;
 *   - every hold's stored status agrees with the postings that resolved it.
 * Then the next child continues on the same database. The seed is printed; set
 * TALLY_CRASH_SEED to replay a run.
 */
#include "store_fixture.h"
#include "test.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/limits.h"

#define CRASH_KILLS 24
#define CRASH_DELAY_MS_MIN 10u
#define CRASH_DELAY_MS_MAX 300u
#define CRASH_THREADS 6
#define CRASH_WALLETS 48
#define CRASH_FUNDING 1000000
#define CRASH_FEE_ACCOUNT (CRASH_WALLETS + 1u)
#define CRASH_HOLDS_MAX 64

/* ---- Shared helpers ---- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A payment with a fresh random id. */
static struct ledger_event transfer_event(struct id128 debit, struct id128 credit, int64_t amount,
                                          uint16_t flags)
{
    return fixture_transfer_event(id128_new(), debit, credit, amount, flags);
}

static struct store *store_open_path(const char *path)
{
    struct store_config config = {.backend = "sqlite", .path = path};
    struct store *store = NULL;
    assert_int_equal(store_open(&config, &store), TL_OK);
    return store;
}

/* ---- The child: commits as fast as it can until killed ---- */

struct child_thread {
    pthread_t thread;
    struct writer *writer;
    int ack_fd;
    uint64_t seed;
    struct id128 holds[CRASH_HOLDS_MAX];
    uint32_t hold_count;
};

static uint32_t wallet_pick(struct child_thread *c)
{
    return (uint32_t)(fixture_prng_next(&c->seed) % CRASH_WALLETS) + 1u;
}

static void wallet_pair(struct child_thread *c, uint32_t *debit, uint32_t *credit)
{
    *debit = wallet_pick(c);
    *credit = (uint32_t)(fixture_prng_next(&c->seed) % (CRASH_WALLETS - 1u)) + 1u;
    *credit += *credit >= *debit;
}

/* Fills events with one random operation; returns the event count. */
static uint32_t child_command_build(struct child_thread *c, struct ledger_event *events)
{
    uint32_t debit, credit;
    uint64_t dice = fixture_prng_next(&c->seed) % 100u;
    wallet_pair(c, &debit, &credit);
    int64_t amount = (int64_t)(fixture_prng_next(&c->seed) % 500u) + 1;
    if (dice < 35) { /* a few independent transfers */
        uint32_t count = (uint32_t)(fixture_prng_next(&c->seed) % 8u) + 1u;
        for (uint32_t i = 0; i < count; i++) {
            wallet_pair(c, &debit, &credit);
            events[i] = transfer_event(fixture_account_id(debit), fixture_account_id(credit),
                                       amount + i, 0);
        }
        return count;
    }
    if (dice < 55) { /* a hold; half of them expire after a second */
        events[0] = transfer_event(fixture_account_id(debit), fixture_account_id(credit), amount,
                                   LEDGER_TRANSFER_PENDING);
        events[0].as.transfer.code = LEDGER_CODE_HOLD;
        events[0].as.transfer.timeout_s = (uint32_t)(fixture_prng_next(&c->seed) % 2u);
        return 1;
    }
    if (dice < 75 && c->hold_count > 0) { /* post or void one of this thread's holds */
        uint32_t index = (uint32_t)(fixture_prng_next(&c->seed) % c->hold_count);
        uint16_t flags = dice < 65 ? LEDGER_TRANSFER_POST_PENDING : LEDGER_TRANSFER_VOID_PENDING;
        events[0] = transfer_event(id128_make(0, 0), id128_make(0, 0), 0, flags);
        events[0].as.transfer.pending_id = c->holds[index];
        events[0].as.transfer.currency = 0;
        c->holds[index] = c->holds[--c->hold_count];
        return 1;
    }
    /* A linked chain: payment, fee to the hot account, and sometimes a leg that must fail. */
    events[0] = transfer_event(fixture_account_id(debit), fixture_account_id(credit), amount,
                               LEDGER_TRANSFER_LINKED);
    events[1] =
        transfer_event(fixture_account_id(debit), fixture_account_id(CRASH_FEE_ACCOUNT), 1, 0);
    if (dice % 4 != 0) {
        return 2;
    }
    events[1].as.transfer.flags = LEDGER_TRANSFER_LINKED;
    events[2] = transfer_event(fixture_account_id(credit), fixture_account_id(debit),
                               3 * (int64_t)CRASH_FUNDING, 0);
    return 3;
}

static void child_ack(struct child_thread *c, const struct ledger_event *events,
                      const struct ledger_event_result *results, uint32_t count)
{
    struct id128 ids[TL_COMMAND_EVENTS_MAX];
    uint32_t ok = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (results[i].result != LEDGER_OK) {
            continue;
        }
        ids[ok++] = events[i].as.transfer.id;
        bool hold = (events[i].as.transfer.flags & LEDGER_TRANSFER_PENDING) != 0;
        if (hold && c->hold_count < CRASH_HOLDS_MAX) {
            c->holds[c->hold_count++] = events[i].as.transfer.id;
        }
    }
    if (ok == 0) {
        return;
    }
    /* One write of at most 64 * 16 bytes: below PIPE_BUF, so it never interleaves. */
    size_t bytes = ok * sizeof ids[0];
    if (write(c->ack_fd, ids, bytes) != (ssize_t)bytes) {
        _exit(3);
    }
}

static void *child_thread_main(void *arg)
{
    struct child_thread *c = arg;
    struct ledger_event events[TL_COMMAND_EVENTS_MAX];
    struct ledger_event_result results[TL_COMMAND_EVENTS_MAX];
    for (;;) {
        struct writer_command cmd;
        memset(&cmd, 0, sizeof cmd);
        cmd.events = events;
        cmd.event_count = child_command_build(c, events);
        cmd.results = results;
        enum tl_err err = writer_submit(c->writer, &cmd);
        if (err != TL_OK) {
            _exit(4); /* sqlite never fails here; the parent reports the exit code */
        }
        child_ack(c, events, results, cmd.event_count);
    }
    return NULL;
}

static void child_main(const char *path, int ack_fd, uint64_t seed)
{
    static struct child_thread threads[CRASH_THREADS];
    struct writer_config config = {.expire_interval_ms = 20};
    struct ledger_config ledger_config = {.accounts_max = 256};
    struct store_config store_config = {.backend = "sqlite", .path = path};
    struct store *store = NULL;
    struct ledger *ledger = NULL;
    struct writer *writer = NULL;
    if (store_open(&store_config, &store) != TL_OK) {
        _exit(5);
    }
    if (ledger_open(&ledger_config, &ledger) != TL_OK) {
        _exit(6);
    }
    if (writer_start(&config, store, ledger, &writer) != TL_OK) {
        _exit(7);
    }
    for (uint32_t t = 0; t < CRASH_THREADS; t++) {
        threads[t] = (struct child_thread){.writer = writer, .ack_fd = ack_fd, .seed = seed + t};
        if (pthread_create(&threads[t].thread, NULL, child_thread_main, &threads[t]) != 0) {
            _exit(8);
        }
    }
    for (;;) {
        pause();
    }
}

/* ---- The parent: acknowledged ids ---- */

struct acks {
    struct id128 *ids;
    size_t count;
    size_t capacity;
    uint8_t partial[sizeof(struct id128)];
    size_t partial_bytes;
};

static void acks_append(struct acks *acks, const uint8_t *bytes, size_t n)
{
    while (n > 0) {
        size_t take = sizeof(struct id128) - acks->partial_bytes;
        take = take < n ? take : n;
        memcpy(acks->partial + acks->partial_bytes, bytes, take);
        acks->partial_bytes += take;
        bytes += take;
        n -= take;
        if (acks->partial_bytes < sizeof(struct id128)) {
            continue;
        }
        if (acks->count == acks->capacity) {
            acks->capacity = acks->capacity ? acks->capacity * 2 : 4096;
            acks->ids = realloc(acks->ids, acks->capacity * sizeof *acks->ids);
            assert_non_null(acks->ids);
        }
        memcpy(&acks->ids[acks->count++], acks->partial, sizeof(struct id128));
        acks->partial_bytes = 0;
    }
}

/* Reads acknowledgements until the deadline (0: until end of file). */
static void acks_read(struct acks *acks, int fd, uint64_t deadline_ms)
{
    uint8_t buf[64 * 1024];
    for (;;) {
        int timeout = -1;
        if (deadline_ms != 0) {
            uint64_t now = mono_ms();
            if (now >= deadline_ms) {
                return;
            }
            timeout = (int)(deadline_ms - now);
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, timeout);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        assert_true(rc >= 0);
        if (rc == 0) {
            continue;
        }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        assert_true(n >= 0);
        if (n == 0) {
            return;
        }
        acks_append(acks, buf, (size_t)n);
    }
}

/* ---- The parent: checking the store ---- */

struct account_list {
    struct ledger_account accounts[CRASH_WALLETS + 2];
    uint32_t count;
};

static enum tl_err account_collect(void *ctx, const struct ledger_account *a)
{
    struct account_list *list = ctx;
    if (list->count >= CRASH_WALLETS + 2) {
        return TL_ERR_LIMIT;
    }
    list->accounts[list->count++] = *a;
    return TL_OK;
}

struct postings {
    struct ledger_posting *items;
    size_t count;
    size_t capacity;
};

static void postings_push(struct postings *p, const struct ledger_posting *posting)
{
    if (p->count == p->capacity) {
        p->capacity = p->capacity ? p->capacity * 2 : 8192;
        p->items = realloc(p->items, p->capacity * sizeof *p->items);
        assert_non_null(p->items);
    }
    p->items[p->count++] = *posting;
}

/* Every posting of every account, through the history API (each transfer appears twice). */
static void postings_collect(struct store *store, const struct account_list *accounts,
                             struct postings *out)
{
    struct ledger_posting page_rows[TL_PAGE_LIMIT_MAX];
    for (uint32_t a = 0; a < accounts->count; a++) {
        struct store_page page = {.limit = TL_PAGE_LIMIT_MAX};
        bool has_more = true;
        while (has_more) {
            uint32_t count = 0;
            assert_int_equal(
                store_history(store, accounts->accounts[a].id, &page, page_rows, &count, &has_more),
                TL_OK);
            for (uint32_t i = 0; i < count; i++) {
                postings_push(out, &page_rows[i]);
            }
            if (count > 0) {
                page.starting_after_ts = page_rows[count - 1].transfer.timestamp;
            }
        }
    }
}

static int posting_ts_compare(const void *a, const void *b)
{
    uint64_t x = ((const struct ledger_posting *)a)->transfer.timestamp;
    uint64_t y = ((const struct ledger_posting *)b)->transfer.timestamp;
    return x < y ? -1 : x > y;
}

static int posting_id_compare(const void *a, const void *b)
{
    return id128_cmp(((const struct ledger_posting *)a)->transfer.id,
                     ((const struct ledger_posting *)b)->transfer.id);
}

/* Sorted by timestamp, each transfer appears exactly twice (its debit and credit side);
 * keeps one copy of each. */
static void postings_dedupe(struct postings *p)
{
    qsort(p->items, p->count, sizeof *p->items, posting_ts_compare);
    assert_int_equal(p->count % 2, 0);
    size_t unique = 0;
    for (size_t i = 0; i < p->count; i += 2) {
        const struct ledger_posting *a = &p->items[i];
        const struct ledger_posting *b = &p->items[i + 1];
        assert_int_equal(a->transfer.timestamp, b->transfer.timestamp);
        fixture_assert_transfer_eq(&a->transfer, &b->transfer);
        fixture_assert_balance_eq(&a->debit_after, &b->debit_after);
        fixture_assert_balance_eq(&a->credit_after, &b->credit_after);
        assert_int_equal(a->pending_status, b->pending_status);
        assert_true(i + 2 == p->count ||
                    p->items[i + 2].transfer.timestamp > a->transfer.timestamp);
        p->items[unique++] = *a;
    }
    p->count = unique;
}

static uint32_t account_index(const struct account_list *accounts, struct id128 id)
{
    for (uint32_t i = 0; i < accounts->count; i++) {
        if (id128_eq(accounts->accounts[i].id, id)) {
            return i;
        }
    }
    fail_msg("posting names an account that is not stored");
    return 0;
}

static const struct ledger_posting *posting_by_id(const struct ledger_posting *by_id, size_t count,
                                                  struct id128 id)
{
    struct ledger_posting key;
    key.transfer.id = id;
    return bsearch(&key, by_id, count, sizeof *by_id, posting_id_compare);
}

static void balance_assert_equal(const struct ledger_balance *b, const struct ledger_account *a)
{
    assert_int_equal(b->debits_pending, a->debits_pending);
    assert_int_equal(b->debits_posted, a->debits_posted);
    assert_int_equal(b->credits_pending, a->credits_pending);
    assert_int_equal(b->credits_posted, a->credits_posted);
}

/* Applies one transfer's effect to the replayed balances (accounts start at zero). */
static void replay_one(struct ledger_account *replay, const struct account_list *accounts,
                       const struct ledger_posting *p, const struct ledger_posting *by_id,
                       size_t count)
{
    const struct ledger_transfer *t = &p->transfer;
    struct ledger_account *debit = &replay[account_index(accounts, t->debit_account_id)];
    struct ledger_account *credit = &replay[account_index(accounts, t->credit_account_id)];
    uint16_t resolving = LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING |
                         LEDGER_TRANSFER_EXPIRE_PENDING;
    if (t->flags & LEDGER_TRANSFER_PENDING) {
        debit->debits_pending += t->amount;
        credit->credits_pending += t->amount;
    } else if (t->flags & resolving) {
        const struct ledger_posting *hold = posting_by_id(by_id, count, t->pending_id);
        assert_non_null(hold);
        assert_true(hold->transfer.timestamp < t->timestamp);
        assert_true(id128_eq(hold->transfer.debit_account_id, t->debit_account_id));
        debit->debits_pending -= hold->transfer.amount;
        credit->credits_pending -= hold->transfer.amount;
        if (t->flags & LEDGER_TRANSFER_POST_PENDING) {
            debit->debits_posted += t->amount;
            credit->credits_posted += t->amount;
        }
    } else {
        debit->debits_posted += t->amount;
        credit->credits_posted += t->amount;
    }
    balance_assert_equal(&p->debit_after, debit);
    balance_assert_equal(&p->credit_after, credit);
}

/* Each hold's stored status names the one posting that resolved it, or none. */
static void holds_check(const struct postings *p, const struct ledger_posting *by_id)
{
    uint8_t *resolved = calloc(p->count + 1, 1);
    assert_non_null(resolved);
    for (size_t i = 0; i < p->count; i++) {
        const struct ledger_transfer *t = &p->items[i].transfer;
        if (id128_is_zero(t->pending_id)) {
            continue;
        }
        const struct ledger_posting *hold = posting_by_id(by_id, p->count, t->pending_id);
        size_t index = (size_t)(hold - by_id);
        assert_int_equal(resolved[index], 0); /* never released twice */
        resolved[index] = (t->flags & LEDGER_TRANSFER_POST_PENDING)   ? LEDGER_PENDING_POSTED
                          : (t->flags & LEDGER_TRANSFER_VOID_PENDING) ? LEDGER_PENDING_VOIDED
                                                                      : LEDGER_PENDING_EXPIRED;
    }
    for (size_t i = 0; i < p->count; i++) {
        if ((by_id[i].transfer.flags & LEDGER_TRANSFER_PENDING) == 0) {
            assert_int_equal(by_id[i].pending_status, LEDGER_PENDING_NONE);
            continue;
        }
        uint8_t expected = resolved[i] ? resolved[i] : (uint8_t)LEDGER_PENDING_OPEN;
        assert_int_equal(by_id[i].pending_status, expected);
    }
    free(resolved);
}

struct check_totals {
    size_t transfers;
    size_t expired;
};

static void store_check(const char *path, const struct acks *acks, struct check_totals *totals)
{
    /* First as a reader with no writer in this process: account rows may lag behind the
     * postings (TALLY_SQLITE_FLUSH_MIN=1), and the reader must see the balances anyway. */
    static struct ledger_account seen[CRASH_WALLETS + 2];
    struct store_config reader_config = {.backend = "sqlite", .path = path, .read_only = true};
    struct store *reader = NULL;
    assert_int_equal(store_open(&reader_config, &reader), TL_OK);
    for (uint32_t n = 0; n < CRASH_WALLETS + 2; n++) {
        bool found = false;
        assert_int_equal(store_account_get(reader, fixture_account_id(n), &seen[n], &found), TL_OK);
        assert_true(found);
    }
    store_close(reader);

    struct store *store = store_open_path(path);
    static struct account_list accounts;
    accounts.count = 0;
    assert_int_equal(store_accounts_scan(store, account_collect, &accounts), TL_OK);
    assert_int_equal(accounts.count, CRASH_WALLETS + 2);

    /* The stored accounts make a sound ledger. */
    struct ledger *ledger = NULL;
    struct ledger_config config = {.accounts_max = 256};
    assert_int_equal(ledger_open(&config, &ledger), TL_OK);
    for (uint32_t i = 0; i < accounts.count; i++) {
        assert_int_equal(ledger_account_load(ledger, &accounts.accounts[i]), TL_OK);
    }
    ledger_invariants_check(ledger);
    ledger_close(ledger);

    /* Balances recomputed from every stored posting equal the stored rows. */
    struct postings postings = {0};
    postings_collect(store, &accounts, &postings);
    postings_dedupe(&postings);
    struct ledger_posting *by_id = malloc((postings.count + 1) * sizeof *by_id);
    assert_non_null(by_id);
    memcpy(by_id, postings.items, postings.count * sizeof *by_id);
    qsort(by_id, postings.count, sizeof *by_id, posting_id_compare);
    for (size_t i = 1; i < postings.count; i++) {
        assert_true(id128_cmp(by_id[i - 1].transfer.id, by_id[i].transfer.id) < 0);
    }
    static struct ledger_account replay[CRASH_WALLETS + 2];
    memset(replay, 0, sizeof replay);
    totals->expired = 0;
    for (size_t i = 0; i < postings.count; i++) {
        replay_one(replay, &accounts, &postings.items[i], by_id, postings.count);
        totals->expired += (postings.items[i].transfer.flags & LEDGER_TRANSFER_EXPIRE_PENDING) != 0;
    }
    for (uint32_t i = 0; i < accounts.count; i++) {
        struct ledger_balance b = {replay[i].debits_pending, replay[i].debits_posted,
                                   replay[i].credits_pending, replay[i].credits_posted};
        balance_assert_equal(&b, &accounts.accounts[i]);
        uint32_t n = 0;
        while (n < CRASH_WALLETS + 2 && !id128_eq(fixture_account_id(n), accounts.accounts[i].id)) {
            n++;
        }
        assert_true(n < CRASH_WALLETS + 2);
        assert_memory_equal(&seen[n], &accounts.accounts[i], sizeof seen[n]);
    }
    holds_check(&postings, by_id);

    /* Every acknowledged transfer is there (and, by the dedupe above, exactly once). */
    for (size_t i = 0; i < acks->count; i++) {
        assert_non_null(posting_by_id(by_id, postings.count, acks->ids[i]));
    }
    totals->transfers = postings.count;
    free(by_id);
    free(postings.items);
    store_close(store);
}

/* ---- The parent: setup and the kill loop ---- */

static void accounts_create(const char *path)
{
    struct store *store = store_open_path(path);
    struct ledger *ledger = NULL;
    struct writer *writer = NULL;
    struct ledger_config config = {.accounts_max = 256};
    assert_int_equal(ledger_open(&config, &ledger), TL_OK);
    assert_int_equal(writer_start(NULL, store, ledger, &writer), TL_OK);
    struct ledger_event events[3];
    struct ledger_event_result results[3];
    struct writer_command cmd = {.events = events, .results = results};
    events[0] = fixture_account_event(0, LEDGER_KIND_SANDBOX_FUNDING, 0);
    events[1] = fixture_account_event(CRASH_FEE_ACCOUNT, LEDGER_KIND_FEE_REVENUE,
                              LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    cmd.event_count = 2;
    assert_int_equal(writer_submit(writer, &cmd), TL_OK);
    for (uint64_t n = 1; n <= CRASH_WALLETS; n++) {
        events[0] = fixture_account_event(n, LEDGER_KIND_WALLET,
                                          LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
        events[1] = transfer_event(fixture_account_id(0), fixture_account_id(n), CRASH_FUNDING, 0);
        events[1].as.transfer.code = LEDGER_CODE_DEPOSIT;
        assert_int_equal(writer_submit(writer, &cmd), TL_OK);
        assert_int_equal(results[0].result, LEDGER_OK);
        assert_int_equal(results[1].result, LEDGER_OK);
    }
    writer_stop(writer);
    ledger_close(ledger);
    store_close(store);
}

static uint64_t crash_seed(void)
{
    const char *env = getenv("TALLY_CRASH_SEED");
    if (env != NULL && env[0] != '\0') {
        return strtoull(env, NULL, 10);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
}

/* Runs one child for delay_ms and kills it; returns how many acks it sent. */
static size_t crash_round(const char *path, struct acks *acks, uint64_t seed, uint32_t delay_ms)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    size_t before = acks->count;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(path, fds[1], seed);
        _exit(0);
    }
    close(fds[1]);
    acks_read(acks, fds[0], mono_ms() + delay_ms);
    assert_int_equal(kill(pid, SIGKILL), 0);
    acks_read(acks, fds[0], 0); /* what was written before the kill is still in the pipe */
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status)) {
        fail_msg("child exited by itself with status %d", WEXITSTATUS(status));
    }
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(acks->partial_bytes, 0);
    return acks->count - before;
}

static void test_crash_kill_loop(void **state)
{
    (void)state;
    char dir[] = "/tmp/tally-crash-XXXXXX";
    char path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tally.db", dir);
    uint64_t seed = crash_seed();
    /* Rows lag as far as they can, so every restart replays postings onto them. */
    assert_int_equal(setenv("TALLY_SQLITE_FLUSH_MIN", "1", 1), 0);
    printf("crash test seed %llu (TALLY_CRASH_SEED=%llu to replay)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    fflush(stdout);
    uint64_t prng = seed;
    accounts_create(path);

    struct acks acks = {0};
    struct check_totals totals = {0};
    uint64_t start_ms = mono_ms();
    for (uint32_t round = 0; round < CRASH_KILLS; round++) {
        uint32_t delay_ms =
            CRASH_DELAY_MS_MIN +
            (uint32_t)(fixture_prng_next(&prng) % (CRASH_DELAY_MS_MAX - CRASH_DELAY_MS_MIN + 1));
        size_t acked = crash_round(path, &acks, fixture_prng_next(&prng), delay_ms);
        store_check(path, &acks, &totals);
        printf("kill %2u after %3u ms: %6zu acked, %7zu acked in all, %7zu stored, %zu expired\n",
               round + 1, delay_ms, acked, acks.count, totals.transfers, totals.expired);
        fflush(stdout);
    }
    assert_true(acks.count > 0);
    assert_true(totals.transfers >= acks.count);
    printf("crash test: %u kills, %zu acknowledged transfers all stored, %llu ms\n", CRASH_KILLS,
           acks.count, (unsigned long long)(mono_ms() - start_ms));
    free(acks.ids);
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", "-writer.lock"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char file[80];
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        unlink(file);
    }
    rmdir(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_crash_kill_loop),
};

TL_TEST_MAIN(tests)
