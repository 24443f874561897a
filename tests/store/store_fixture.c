/*
 * store_fixture.c - the shared fixture of the store suites (see store_fixture.h).
 */
#include "store_fixture.h"

#include "test.h"

#include <ftw.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Backends under test ---- */

/* Every SQLite database of this run lives under one directory, removed at exit even when a
 * failed assertion skipped a test's own clean-up. */
static char sqlite_root[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void sqlite_root_remove(void)
{
    if (sqlite_root[0] != '\0') {
        nftw(sqlite_root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
}

static void sqlite_fresh(struct store_fixture *f)
{
    static unsigned test_index;
    if (sqlite_root[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(sqlite_root, sizeof(sqlite_root), "%s/tally-store-XXXXXX", tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(sqlite_root));
        atexit(sqlite_root_remove);
    }
    test_index++;
    snprintf(f->path, sizeof(f->path), "%s/t%u.db", sqlite_root, test_index);
}

static void sqlite_remove(struct store_fixture *f)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-writer.lock"};
    char path[300];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", f->path, suffixes[i]);
        unlink(path);
    }
}

/* PostgreSQL: TALLY_PG_CONNINFO names a server (tests/pg/pg_cluster.sh starts one) and a
 * database to connect to for administration; every test gets an empty database of its own.
 * CREATE DATABASE costs about 0.35 s and a few hundred new files on the server (a fifth of the
 * machine's CPU in make test went to it), so a process reuses its databases: remove empties one
 * (ends any session still on it, drops and makes again the public schema, where the migrations
 * put everything) and keeps it for the next fresh. Databases left behind go with the cluster. */
#define PG_POOL_MAX 8

static char pg_pool[PG_POOL_MAX][64];
static unsigned pg_pool_count;

static PGconn *pg_connect(const char *conninfo)
{
    PGconn *conn;
    if (conninfo == NULL || conninfo[0] == '\0') {
        fail_msg("backend postgres needs TALLY_PG_CONNINFO (see tests/pg/pg_cluster.sh)");
    }
    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fail_msg("postgres: cannot connect: %s", PQerrorMessage(conn));
    }
    return conn;
}

static void pg_exec(const char *conninfo, const char *sql)
{
    PGconn *conn = pg_connect(conninfo);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        fail_msg("postgres: %s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(res);
    PQfinish(conn);
}

int64_t fixture_sql_count(const struct store_fixture *f, const char *sql)
{
    int64_t n = 0;
    if (strcmp(f->backend->name, "sqlite") == 0) {
        sqlite3 *db = NULL;
        sqlite3_stmt *stmt = NULL;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
        n = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        return n;
    }
    PGconn *conn = pg_connect(f->path);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
        fail_msg("postgres: %s: %s", sql, PQerrorMessage(conn));
    }
    n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(conn);
    return n;
}

/* The database of the current test, from its conninfo (the dbname we appended last). */
static const char *pg_dbname(const struct store_fixture *f)
{
    const char *name = strrchr(f->path, '=');
    assert_non_null(name);
    return name + 1;
}

static void postgres_fresh(struct store_fixture *f)
{
    static unsigned test_index;
    const char *conninfo = getenv("TALLY_PG_CONNINFO");
    char name[64];
    char sql[128];
    int n;

    assert_non_null(conninfo);
    if (pg_pool_count > 0) {
        pg_pool_count--;
        memcpy(name, pg_pool[pg_pool_count], sizeof(name));
    } else {
        test_index++;
        snprintf(name, sizeof(name), "tally_t%ld_%u", (long)getpid(), test_index);
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
        pg_exec(conninfo, sql);
    }
    /* A keyword given twice takes its last value: the test's database replaces the admin one. */
    n = snprintf(f->path, sizeof(f->path), "%s dbname=%s", conninfo, name);
    assert_true(n > 0 && (size_t)n < sizeof(f->path));
}

static void postgres_remove(struct store_fixture *f)
{
    const char *conninfo = getenv("TALLY_PG_CONNINFO");
    const char *name = pg_dbname(f);
    char sql[256];
    if (pg_pool_count == PG_POOL_MAX || strlen(name) >= sizeof(pg_pool[0])) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
        pg_exec(conninfo, sql);
        return;
    }
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'", name);
    pg_exec(conninfo, sql);
    pg_exec(f->path, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    memcpy(pg_pool[pg_pool_count], name, strlen(name) + 1);
    pg_pool_count++;
}

static const struct store_test_backend test_backends[] = {
    {"sqlite", true, sqlite_fresh, sqlite_remove},
    {"postgres", false, postgres_fresh, postgres_remove},
};

static const struct store_test_backend *test_backend_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(test_backends) / sizeof(test_backends[0]); i++) {
        if (strlen(test_backends[i].name) == len && memcmp(test_backends[i].name, name, len) == 0) {
            return &test_backends[i];
        }
    }
    fail_msg("TALLY_STORE_BACKENDS names an unknown backend: %.*s", (int)len, name);
    return NULL;
}

void fixture_each_backend(void (*body)(struct store_fixture *f))
{
    const char *list = getenv("TALLY_STORE_BACKENDS");
    if (list == NULL || list[0] == '\0') {
        list = "sqlite";
    }
    while (*list != '\0') {
        size_t len = strcspn(list, ",");
        if (len > 0) {
            struct store_fixture f;
            memset(&f, 0, sizeof(f));
            f.backend = test_backend_find(list, len);
            f.backend->fresh(&f);
            f.config.backend = f.backend->name;
            f.config.path = f.path;
            body(&f);
            f.backend->remove(&f);
        }
        list += len + (list[len] == ',');
    }
}

void fixture_fresh(struct store_fixture *f)
{
    const char *list = getenv("TALLY_STORE_BACKENDS");
    if (list == NULL || list[0] == '\0') {
        list = "sqlite";
    }
    memset(f, 0, sizeof(*f));
    f->backend = test_backend_find(list, strcspn(list, ","));
    f->backend->fresh(f);
    f->config.backend = f->backend->name;
    f->config.path = f->path;
}

void fixture_remove_store(struct store_fixture *f)
{
    f->backend->remove(f);
}

struct store *fixture_open_writer(const struct store_fixture *f)
{
    struct store *store = NULL;
    assert_int_equal(store_open(&f->config, &store), TL_OK);
    assert_non_null(store);
    return store;
}

struct store *fixture_open_reader(const struct store_fixture *f)
{
    struct store_config config = f->config;
    struct store *store = NULL;
    config.read_only = true;
    assert_int_equal(store_open(&config, &store), TL_OK);
    assert_non_null(store);
    return store;
}

/* ---- Exact comparisons ---- */

void fixture_assert_id_eq(struct id128 a, struct id128 b)
{
    assert_int_equal(a.hi, b.hi);
    assert_int_equal(a.lo, b.lo);
}

void fixture_assert_transfer_eq(const struct ledger_transfer *a, const struct ledger_transfer *b)
{
    fixture_assert_id_eq(a->id, b->id);
    fixture_assert_id_eq(a->debit_account_id, b->debit_account_id);
    fixture_assert_id_eq(a->credit_account_id, b->credit_account_id);
    fixture_assert_id_eq(a->pending_id, b->pending_id);
    fixture_assert_id_eq(a->user_ref, b->user_ref);
    assert_int_equal(a->amount, b->amount);
    assert_int_equal(a->timestamp, b->timestamp);
    assert_int_equal(a->timeout_s, b->timeout_s);
    assert_int_equal(a->currency, b->currency);
    assert_int_equal(a->code, b->code);
    assert_int_equal(a->flags, b->flags);
}

void fixture_assert_balance_eq(const struct ledger_balance *a, const struct ledger_balance *b)
{
    assert_int_equal(a->debits_pending, b->debits_pending);
    assert_int_equal(a->debits_posted, b->debits_posted);
    assert_int_equal(a->credits_pending, b->credits_pending);
    assert_int_equal(a->credits_posted, b->credits_posted);
}

/* ---- Ledger events ---- */

uint64_t fixture_prng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct id128 fixture_account_id(uint64_t n)
{
    return id128_make(0xacc0000000000000ull, n);
}

struct ledger_event fixture_account_event(uint64_t n, uint16_t kind, uint32_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof e);
    e.kind = LEDGER_EVENT_ACCOUNT;
    e.as.account.id = fixture_account_id(n);
    e.as.account.currency = FIXTURE_CURRENCY_EUR;
    e.as.account.kind = kind;
    e.as.account.flags = flags;
    return e;
}

struct ledger_event fixture_transfer_event(struct id128 id, struct id128 debit, struct id128 credit,
                                           int64_t amount, uint16_t flags)
{
    struct ledger_event e;
    memset(&e, 0, sizeof e);
    e.kind = LEDGER_EVENT_TRANSFER;
    e.as.transfer.id = id;
    e.as.transfer.debit_account_id = debit;
    e.as.transfer.credit_account_id = credit;
    e.as.transfer.amount = amount;
    e.as.transfer.currency = FIXTURE_CURRENCY_EUR;
    e.as.transfer.code = LEDGER_CODE_PAYMENT;
    e.as.transfer.flags = flags;
    return e;
}
