/*
 * test_postgres.c - what only the PostgreSQL backend has: a server that can drop the
 * connection, and several nodes opening one database at once.
 *
 * Needs TALLY_PG_CONNINFO (tests/pg/run_pg_store.sh starts a cluster and sets it); without it
 * the suite says so and passes nothing. Every test runs on a database of its own (the
 * "postgres" row of store_fixture.c). A connection is lost on purpose by terminating the
 * handle's server process from an administrative connection.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/backend.h"
#include "store/store.h"
#include "store_fixture.h"
#include "test.h"

#define EUR 978

static PGconn *admin_connect(void)
{
    PGconn *conn = PQconnectdb(getenv("TALLY_PG_CONNINFO"));
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    return conn;
}

/* Runs one administrative statement about the fixture's database (%s is its name). */
static void admin_exec(const struct store_fixture *f, const char *format)
{
    const char *dbname = strrchr(f->path, '=') + 1;
    char sql[256];
    PGconn *conn = admin_connect();
    int n = snprintf(sql, sizeof(sql), format, dbname);
    assert_true(n > 0 && (size_t)n < sizeof(sql));
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(res);
    PQfinish(conn);
}

/* Ends every session on the fixture's database, as a server restart or failover would. */
static void connections_kill(const struct store_fixture *f)
{
    admin_exec(f, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE datname = '%s' AND pid <> pg_backend_pid()");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static struct ledger_account account_make(uint64_t n, uint64_t timestamp)
{
    struct ledger_account a;
    memset(&a, 0, sizeof(a));
    a.id = id128_make(0x0195000000007000ull, n);
    a.timestamp = timestamp;
    a.currency = EUR;
    a.kind = LEDGER_KIND_WALLET;
    return a;
}

/* Commits a batch that creates (or rewrites) one account. */
static enum tl_err account_commit(struct store *store, const struct ledger_account *a)
{
    const struct ledger_account *changed[1] = {a};
    struct store_batch batch;
    enum tl_err err;

    memset(&batch, 0, sizeof(batch));
    batch.ledger.accounts = changed;
    batch.ledger.account_count = 1;
    err = store_batch_begin(store);
    return err == TL_OK ? store_batch_commit(store, &batch) : err;
}

static bool account_stored(struct store *store, uint64_t n)
{
    struct ledger_account got;
    bool found = false;
    assert_int_equal(store_account_get(store, account_make(n, 1).id, &got, &found), TL_OK);
    return found;
}

/* A lost connection fails the call that finds it; the next call reconnects. */
static void test_reconnect(void **state)
{
    struct store_fixture f;
    struct store *store;
    struct store *reader;
    struct ledger_account a = account_make(1, 1000);

    (void)state;
    fixture_fresh(&f);
    store = fixture_open_writer(&f);
    reader = fixture_open_reader(&f);
    assert_int_equal(account_commit(store, &a), TL_OK);

    connections_kill(&f);
    assert_int_equal(store_ping(store), TL_ERR_STORAGE);
    assert_int_equal(store_ping(store), TL_OK);
    assert_true(account_stored(store, 1));
    assert_int_equal(store_ping(reader), TL_ERR_STORAGE);
    assert_true(account_stored(reader, 1));

    /* Mid-batch: the batch fails as a whole, nothing of it is visible, the next one works. */
    struct ledger_account b = account_make(2, 1001);
    const struct ledger_account *changed[1] = {&b};
    struct store_batch batch;
    memset(&batch, 0, sizeof(batch));
    batch.ledger.accounts = changed;
    batch.ledger.account_count = 1;
    assert_int_equal(store_batch_begin(store), TL_OK);
    connections_kill(&f);
    assert_int_equal(store_batch_commit(store, &batch), TL_ERR_STORAGE);
    assert_int_equal(store_ping(reader), TL_ERR_STORAGE); /* its session went too */
    assert_false(account_stored(reader, 2));
    assert_int_equal(account_commit(store, &b), TL_OK);
    assert_true(account_stored(reader, 2));

    /* Lost between begin and the locked load: the load fails, abort ends the batch. */
    struct id128 ids[1] = {a.id};
    struct ledger_account out[1];
    bool found[1];
    assert_int_equal(store_batch_begin(store), TL_OK);
    connections_kill(&f);
    assert_int_equal(store_accounts_get(store, ids, 1, out, found), TL_ERR_STORAGE);
    store_batch_abort(store);
    assert_int_equal(store_batch_begin(store), TL_OK);
    assert_int_equal(store_accounts_get(store, ids, 1, out, found), TL_OK);
    assert_true(found[0]);
    store_batch_abort(store);

    store_close(reader);
    store_close(store);
    fixture_remove_store(&f);
}

/* A reader's read that finds its connection lost reconnects and answers: after a failover a
 * reader handle must not fail the first request that uses it. A writer's call still fails
 * (a write whose answer was lost may have committed). */
static void test_reader_read_survives_loss(void **state)
{
    struct store_fixture f;
    struct store *store;
    struct store *reader;
    struct ledger_account a = account_make(3, 1000);

    (void)state;
    fixture_fresh(&f);
    store = fixture_open_writer(&f);
    reader = fixture_open_reader(&f);
    assert_int_equal(account_commit(store, &a), TL_OK);
    assert_true(account_stored(reader, 3));

    connections_kill(&f);
    assert_true(account_stored(reader, 3)); /* no ping first: the read itself recovers */
    connections_kill(&f);
    assert_true(account_stored(reader, 3)); /* and again on the new connection */
    struct ledger_account got;
    bool found = true;
    assert_int_equal(store_account_get(store, account_make(3, 1).id, &got, &found),
                     TL_ERR_STORAGE);
    assert_true(account_stored(store, 3));

    store_close(reader);
    store_close(store);
    fixture_remove_store(&f);
}

/* While the database refuses connections, attempts back off; once it answers, the handle
 * comes back by itself. */
static void test_reconnect_backoff(void **state)
{
    struct store_fixture f;
    struct store *store;

    (void)state;
    fixture_fresh(&f);
    store = fixture_open_writer(&f);
    admin_exec(&f, "ALTER DATABASE %s ALLOW_CONNECTIONS false");
    connections_kill(&f);
    assert_int_equal(store_ping(store), TL_ERR_STORAGE); /* finds the connection lost */
    assert_int_equal(store_ping(store), TL_ERR_STORAGE); /* the reconnect is refused */
    assert_int_equal(store_ping(store), TL_ERR_STORAGE); /* backing off: no attempt */
    assert_int_equal(store_batch_begin(store), TL_ERR_STORAGE);
    admin_exec(&f, "ALTER DATABASE %s ALLOW_CONNECTIONS true");
    /* Past the first backoff step, or the next ones if a loaded machine was slow to let us in. */
    enum tl_err err = TL_ERR_STORAGE;
    for (int i = 0; i < 100 && err != TL_OK; i++) {
        sleep_ms(50);
        err = store_ping(store);
    }
    assert_int_equal(err, TL_OK);
    struct ledger_account a = account_make(1, 1000);
    assert_int_equal(account_commit(store, &a), TL_OK);
    store_close(store);
    fixture_remove_store(&f);
}

struct opener {
    pthread_t thread;
    const struct store_fixture *f;
    enum tl_err err;
    uint32_t version;
};

static void *opener_main(void *arg)
{
    struct opener *o = arg;
    struct store *store = NULL;
    o->err = store_open(&o->f->config, &store);
    if (o->err == TL_OK) {
        o->err = store_schema_version(store, &o->version);
        store_close(store);
    }
    return NULL;
}

/* Nodes that start together migrate one at a time (advisory lock); all find the schema. */
static void test_concurrent_migrations(void **state)
{
    enum { OPENERS = 4 };
    struct opener openers[OPENERS];
    struct store_fixture f;

    (void)state;
    fixture_fresh(&f);
    for (int i = 0; i < OPENERS; i++) {
        openers[i] = (struct opener){.f = &f};
        assert_int_equal(pthread_create(&openers[i].thread, NULL, opener_main, &openers[i]), 0);
    }
    for (int i = 0; i < OPENERS; i++) {
        assert_int_equal(pthread_join(openers[i].thread, NULL), 0);
        assert_int_equal(openers[i].err, TL_OK);
        assert_int_equal(openers[i].version, STORE_SCHEMA_VERSION);
    }
    fixture_remove_store(&f);
}

/* A reader never creates anything: on a database without the schema it fails and leaves the
 * database as empty as it found it. */
static void test_reader_never_migrates(void **state)
{
    struct store_fixture f;
    struct store *none = NULL;
    struct store_config config;
    PGconn *conn;
    PGresult *res;

    (void)state;
    fixture_fresh(&f);
    config = f.config;
    config.read_only = true;
    assert_int_equal(store_open(&config, &none), TL_ERR_STORAGE);
    assert_null(none);
    conn = PQconnectdb(f.path);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    res = PQexec(conn, "SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = 'public'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    PQfinish(conn);
    fixture_remove_store(&f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reconnect),
    cmocka_unit_test(test_reader_read_survives_loss),
    cmocka_unit_test(test_reconnect_backoff),
    cmocka_unit_test(test_concurrent_migrations),
    cmocka_unit_test(test_reader_never_migrates),
};

int main(void)
{
    const char *conninfo = getenv("TALLY_PG_CONNINFO");
    size_t total = sizeof(tests) / sizeof(tests[0]);
    if (conninfo == NULL || conninfo[0] == '\0') {
        printf("test_postgres: no TALLY_PG_CONNINFO (tests/pg/run_pg_store.sh sets it)\n");
        printf("0 passed, 0 failed\n");
        return 0;
    }
    setenv("TALLY_STORE_BACKENDS", "postgres", 1);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("%zu passed, %d failed\n", total - (size_t)failed, failed);
    return failed == 0 ? 0 : 1;
}
