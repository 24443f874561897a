/*
 * test_store_limits.c - the running totals of the limit windows (app.h: store_limits_window,
 * store_record_limit_usage), per backend, against a naive model: every movement ever committed,
 * summed per query.
 *
 * TALLY_SQLITE_LIMITS_FLUSH_ROWS is set low, so that on SQLite the totals in limit_totals lag
 * behind limit_usage_log and are rewritten every few batches (sqlite_limits.c): every read is
 * then checked on the writer's handle (the totals in memory), on a reader handle of the same
 * process, and after a close on a reader with no writer in the process (the tables: totals
 * plus the log). SQLite also gets a crash test (a child commits many batches and exits without
 * closing; the log is replayed on the next open), a v6 to v8 migration test, and the pruning
 * of buckets no window can count again.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/app.h"
#include "store/backend.h"
#include "store/store.h"
#include "store_fixture.h"
#include "test.h"

#define EUR 978
#define USD 840
#define T0 1700000000000000000ull
#define BUCKET_NS (60ull * 1000000000ull)
#define MODEL_USERS 5 /* user 5 never moves anything */
#define MODEL_BUCKETS 12
#define MODEL_MOVES_MAX 4096
#define BATCH_MOVES_MAX 6
#define FLUSH_ROWS "7"

struct model {
    struct store_limit_usage moves[MODEL_MOVES_MAX];
    uint32_t count;
};

static struct id128 user_id(uint64_t n)
{
    return id128_make(0x5500000000000000ull, n);
}

static struct store_limit_usage usage_random(uint64_t *prng)
{
    struct store_limit_usage u;
    memset(&u, 0, sizeof(u));
    u.user_id = user_id(fixture_prng_next(prng) % (MODEL_USERS - 1) + 1);
    u.currency = fixture_prng_next(prng) % 3 == 0 ? USD : EUR;
    u.direction =
        fixture_prng_next(prng) % 2 == 0 ? STORE_DIRECTION_SENT : STORE_DIRECTION_RECEIVED;
    u.end_ns = T0 + BUCKET_NS * (fixture_prng_next(prng) % MODEL_BUCKETS + 1);
    u.amount = (int64_t)(fixture_prng_next(prng) % 100000) + 1;
    return u;
}

/* Commits moves[0..count) as the records of one batch (no ledger events). */
static enum tl_err usage_commit(struct store *store, const struct store_limit_usage *moves,
                                uint32_t count)
{
    uint8_t bufs[BATCH_MOVES_MAX][STORE_RECORD_LIMIT_USAGE_BYTES];
    struct store_record records[BATCH_MOVES_MAX];
    struct store_batch batch;
    assert_true(count <= BATCH_MOVES_MAX);
    for (uint32_t i = 0; i < count; i++) {
        store_record_limit_usage(&moves[i], bufs[i], &records[i]);
    }
    memset(&batch, 0, sizeof(batch));
    batch.records = records;
    batch.record_count = count;
    enum tl_err err = store_batch_begin(store);
    return err == TL_OK ? store_batch_commit(store, &batch) : err;
}

/* One random batch of 1..BATCH_MOVES_MAX moves (some of one bucket), committed and modelled. */
static void model_batch(struct store *store, struct model *m, uint64_t *prng)
{
    struct store_limit_usage moves[BATCH_MOVES_MAX];
    uint32_t count = (uint32_t)(fixture_prng_next(prng) % BATCH_MOVES_MAX) + 1;
    for (uint32_t i = 0; i < count; i++) {
        moves[i] = i > 0 && fixture_prng_next(prng) % 4 == 0 ? moves[i - 1] : usage_random(prng);
    }
    if (store != NULL) {
        assert_int_equal(usage_commit(store, moves, count), TL_OK);
    }
    assert_true(m->count + count <= MODEL_MOVES_MAX);
    memcpy(&m->moves[m->count], moves, count * sizeof(moves[0]));
    m->count += count;
}

static void model_window(const struct model *m, struct id128 user, uint16_t currency,
                         uint8_t direction, uint64_t after_ns, struct store_limits_window *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < m->count; i++) {
        const struct store_limit_usage *u = &m->moves[i];
        if (id128_eq(u->user_id, user) && u->currency == currency && u->direction == direction &&
            u->end_ns > after_ns) {
            out->amount += u->amount;
            out->count++;
            out->oldest_ns =
                out->oldest_ns == 0 || u->end_ns < out->oldest_ns ? u->end_ns : out->oldest_ns;
        }
    }
}

/* Every user, currency, direction and a spread of window starts, against the model. User 2
 * has tier 1, every other tier 0. */
static void model_check(struct store *store, const struct model *m)
{
    static const uint16_t currencies[] = {EUR, USD};
    static const uint64_t afters[] = {0, T0 + BUCKET_NS * 3, T0 + BUCKET_NS * 3 + 1,
                                      T0 + BUCKET_NS * 11, T0 + BUCKET_NS * MODEL_BUCKETS};
    for (uint64_t user = 1; user <= MODEL_USERS; user++) {
        for (uint32_t c = 0; c < 2; c++) {
            for (uint8_t direction = 1; direction <= 2; direction++) {
                for (size_t a = 0; a < sizeof(afters) / sizeof(afters[0]); a++) {
                    struct store_limits_window want, got;
                    model_window(m, user_id(user), currencies[c], direction, afters[a], &want);
                    memset(&got, 0xee, sizeof(got));
                    assert_int_equal(store_limits_window(store, user_id(user),
                                                         (enum store_direction)direction,
                                                         currencies[c], afters[a], &got),
                                     TL_OK);
                    assert_int_equal(got.tier, user == 2 ? 1 : 0);
                    assert_int_equal(got.amount, want.amount);
                    assert_int_equal(got.count, want.count);
                    assert_int_equal(got.oldest_ns, want.oldest_ns);
                }
            }
        }
    }
}

static void flush_rows_low(void)
{
    assert_int_equal(setenv("TALLY_SQLITE_LIMITS_FLUSH_ROWS", FLUSH_ROWS, 1), 0);
}

/* ---- Every backend ---- */

/*
 * Random batches; after each, the writer's and a reader's windows equal the model. Inside an
 * open batch the writer sees what is committed; a batch that fails (a bucket past INT64_MAX)
 * adds nothing; after a close and reopen the totals are the same.
 */
static void body_limits_model(struct store_fixture *f)
{
    static struct model m;
    uint64_t prng = 0x11d175;
    struct store *store = fixture_open_writer(f);
    struct store *reader = fixture_open_reader(f);
    memset(&m, 0, sizeof(m));
    assert_int_equal(store_user_tier_set(store, user_id(2), 1, T0), TL_OK);
    model_check(store, &m);
    for (uint32_t i = 0; i < 60; i++) {
        model_batch(store, &m, &prng);
        model_check(store, &m);
        model_check(reader, &m);
    }

    /* A window read inside an open batch is the committed one. */
    assert_int_equal(store_batch_begin(store), TL_OK);
    model_check(store, &m);
    store_batch_abort(store);

    /* A batch whose addition would pass INT64_MAX in a bucket fails whole. */
    struct store_limit_usage huge[2] = {m.moves[0], usage_random(&prng)};
    huge[0].amount = INT64_MAX; /* the bucket holds at least m.moves[0] */
    huge[1].end_ns = T0 + BUCKET_NS * (MODEL_BUCKETS + 5); /* a bucket of its own */
    assert_int_not_equal(usage_commit(store, huge, 2), TL_OK);
    model_check(store, &m);
    model_check(reader, &m);
    for (uint32_t i = 0; i < 5; i++) {
        model_batch(store, &m, &prng);
    }
    model_check(store, &m);

    store_close(reader);
    store_close(store);
    reader = fixture_open_reader(f); /* no writer in the process: read from the tables */
    model_check(reader, &m);
    store_close(reader);
    store = fixture_open_writer(f);
    model_check(store, &m);
    model_batch(store, &m, &prng);
    model_check(store, &m);
    store_close(store);
}

static void test_limits_model(void **state)
{
    (void)state;
    flush_rows_low();
    fixture_each_backend(body_limits_model);
}

/* ---- SQLite only ---- */

static bool fixture_is_sqlite(const struct store_fixture *f)
{
    return strcmp(f->backend->name, "sqlite") == 0;
}

#define CRASH_BATCHES 400

/*
 * A child commits CRASH_BATCHES batches (the totals rewritten every FLUSH_ROWS log rows) and
 * exits without closing the store, as a kill would leave it: the last rows are only in the
 * log. A reader with no writer in the process reads totals plus log; the next writer replays
 * the log, empties it, and reads the same from memory. Twice, on the same file.
 */
static void body_limits_crash(struct store_fixture *f)
{
    static struct model m;
    uint64_t prng = 0xc4a5;
    if (!fixture_is_sqlite(f)) {
        return;
    }
    memset(&m, 0, sizeof(m));
    struct store *store = fixture_open_writer(f);
    assert_int_equal(store_user_tier_set(store, user_id(2), 1, T0), TL_OK);
    store_close(store);
    for (int round = 0; round < 2; round++) {
        uint64_t child_prng = prng;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            static struct model scratch;
            store = fixture_open_writer(f);
            for (uint32_t i = 0; i < CRASH_BATCHES / 2; i++) {
                model_batch(store, &scratch, &child_prng);
            }
            _exit(0); /* no close: nothing is flushed at exit */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        for (uint32_t i = 0; i < CRASH_BATCHES / 2; i++) {
            model_batch(NULL, &m, &prng);
        }
        assert_true(fixture_sql_count(f, "SELECT count(*) FROM limit_usage_log") > 0);
        assert_true(fixture_sql_count(f, "SELECT count(*) FROM limit_totals") > 0);
        struct store *reader = fixture_open_reader(f);
        model_check(reader, &m);
        store = fixture_open_writer(f); /* replays the log */
        assert_int_equal(fixture_sql_count(f, "SELECT count(*) FROM limit_usage_log"), 0);
        model_check(store, &m);
        model_check(reader, &m);
        store_close(reader);
        store_close(store);
    }
}

static void test_limits_crash(void **state)
{
    (void)state;
    flush_rows_low();
    fixture_each_backend(body_limits_crash);
}

/* A version 6 database keeps its totals: they load at the first open of version 8, new
 * movements add to them, and readers with and without a writer agree. */
static void body_limits_migrate_v6(struct store_fixture *f)
{
    static struct model m;
    uint64_t prng = 0x6007;
    sqlite3 *db = NULL;
    char sql[512];
    uint8_t bytes[ID128_BYTES];
    char hex[2 * ID128_BYTES + 1];
    uint32_t version = 0;
    if (!fixture_is_sqlite(f)) {
        return;
    }
    memset(&m, 0, sizeof(m));
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(store_sqlite_migrations[i].version, i + 1);
        assert_int_equal(sqlite3_exec(db, store_sqlite_migrations[i].sql, NULL, NULL, NULL),
                         SQLITE_OK);
    }
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 6", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO user_tiers VALUES (x'55000000000000000000000000000002"
                     "', 1, 1)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    /* Version 6 totals: 40 movements, added the way version 6 added them. */
    for (uint32_t i = 0; i < 40; i++) {
        struct store_limit_usage u = usage_random(&prng);
        id128_to_bytes(u.user_id, bytes);
        for (int b = 0; b < ID128_BYTES; b++) {
            snprintf(hex + 2 * b, 3, "%02x", bytes[b]);
        }
        snprintf(sql, sizeof(sql),
                 "INSERT INTO limit_totals VALUES (x'%s', %u, %u, %llu, %lld, 1) ON CONFLICT DO "
                 "UPDATE SET amount = amount + excluded.amount, count = count + 1",
                 hex, u.currency, u.direction, (unsigned long long)u.end_ns, (long long)u.amount);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        m.moves[m.count++] = u;
    }
    sqlite3_close(db);

    struct store *store = fixture_open_writer(f);
    assert_int_equal(store_schema_version(store, &version), TL_OK);
    assert_int_equal(version, STORE_SCHEMA_VERSION);
    assert_true(version >= 8); /* past the limits part */
    model_check(store, &m);
    for (uint32_t i = 0; i < 20; i++) {
        model_batch(store, &m, &prng);
    }
    model_check(store, &m);
    store_close(store);
    struct store *reader = fixture_open_reader(f);
    model_check(reader, &m);
    store_close(reader);
}

static void test_limits_migrate_v6(void **state)
{
    (void)state;
    flush_rows_low();
    fixture_each_backend(body_limits_migrate_v6);
}

#define DAY_NS (86400ull * 1000000000ull)

static struct store_limit_usage usage_at(uint64_t end_ns, int64_t amount)
{
    struct store_limit_usage u;
    memset(&u, 0, sizeof(u));
    u.user_id = user_id(1);
    u.currency = EUR;
    u.direction = STORE_DIRECTION_SENT;
    u.end_ns = end_ns;
    u.amount = amount;
    return u;
}

static int64_t window_amount(struct store *store, uint64_t after_ns)
{
    struct store_limits_window w;
    assert_int_equal(
        store_limits_window(store, user_id(1), STORE_DIRECTION_SENT, EUR, after_ns, &w), TL_OK);
    return w.amount;
}

/*
 * Buckets no window can count again are pruned on both backends (core/limits.h,
 * limits_dead_before): once the data's clock (the newest bucket end) is past
 * LIMITS_WINDOW_S_MAX plus one widest bucket after a bucket's end, its row goes (SQLite: a
 * flush deletes it and publish drops it from memory; PostgreSQL: the batch deletes it, at most
 * once per hour of that clock); a year's window reads the same before and after. Buckets at
 * T0+20d and T0+40d, then a year and more later (T0+400d) enough batches for a flush: the limit
 * is T0+400d-366d-5.7d = T0+28.3d, so 20d goes and 40d stays. At T0+412d (limit T0+40.3d), the
 * 40d bucket goes too.
 */
static void body_limits_prune(struct store_fixture *f)
{
    char sql[160];
    struct store *store = fixture_open_writer(f);
    struct store_limit_usage old[2] = {usage_at(T0 + 20 * DAY_NS, 100),
                                       usage_at(T0 + 40 * DAY_NS, 20)};
    assert_int_equal(usage_commit(store, old, 2), TL_OK);
    assert_int_equal(window_amount(store, 0), 120);
    int64_t recent = 0;
    for (uint32_t i = 0; i < 12; i++) { /* FLUSH_ROWS 7: at least one flush after T0+400d */
        struct store_limit_usage now = usage_at(T0 + 400 * DAY_NS + i * BUCKET_NS, 1 + i);
        assert_int_equal(usage_commit(store, &now, 1), TL_OK);
        recent += 1 + (int64_t)i;
    }
    uint64_t year_ago = T0 + 400 * DAY_NS - 366 * DAY_NS;
    assert_int_equal(window_amount(store, year_ago), 20 + recent);
    assert_int_equal(window_amount(store, 0), 20 + recent); /* 20d is gone from memory */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM limit_totals WHERE end_ns = %llu",
             (unsigned long long)(T0 + 20 * DAY_NS));
    assert_int_equal(fixture_sql_count(f, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM limit_totals WHERE end_ns = %llu",
             (unsigned long long)(T0 + 40 * DAY_NS));
    assert_int_equal(fixture_sql_count(f, sql), 1);
    store_close(store);

    /* Reopened (totals loaded from the table, the log replayed): the same. */
    store = fixture_open_writer(f);
    assert_int_equal(window_amount(store, 0), 20 + recent);
    assert_int_equal(window_amount(store, year_ago), 20 + recent);
    store_close(store);
    struct store *reader = fixture_open_reader(f);
    assert_int_equal(window_amount(reader, year_ago), 20 + recent);
    store_close(reader);

    /* Twelve days on, past the 40d bucket's end plus the margin: it goes too, on the reopened
     * handle (PostgreSQL's first batch after an open prunes; SQLite's next flush). */
    store = fixture_open_writer(f);
    int64_t later = 0;
    for (uint32_t i = 0; i < 8; i++) {
        struct store_limit_usage now = usage_at(T0 + 412 * DAY_NS + i * BUCKET_NS, 1000);
        assert_int_equal(usage_commit(store, &now, 1), TL_OK);
        later += 1000;
    }
    assert_int_equal(fixture_sql_count(f, sql), 0); /* sql still names the 40d bucket */
    assert_int_equal(window_amount(store, 0), recent + later);
    store_close(store);
}

static void test_limits_prune(void **state)
{
    (void)state;
    flush_rows_low();
    fixture_each_backend(body_limits_prune);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_limits_model),
    cmocka_unit_test(test_limits_crash),
    cmocka_unit_test(test_limits_migrate_v6),
    cmocka_unit_test(test_limits_prune),
};

TL_TEST_MAIN(tests)
