/*
 * bench_pg.c - durable throughput on PostgreSQL: tally's writer (one and two nodes) beside a
 * naive one-transaction-per-transfer ledger, same clients, same database server.
 *
 *   bench_pg --conninfo 'host=127.0.0.1 port=P user=tally dbname=postgres' [--seconds N]
 *            [--case I]
 * Without --conninfo it says so and exits 0 (bench/run.sh starts a throwaway cluster with
 * tests/pg/pg_cluster.sh and passes it).
 *
 * Setup (not timed): a template database with tally's schema, 100,000 funded wallets, one
 * funding and one fee account, and the naive ledger's two tables with the same 100,000
 * accounts. Every row then runs on a fresh copy (CREATE DATABASE .. TEMPLATE), for N seconds:
 *
 * - tally rows: like bench_durable (random: independent transfers between random wallets;
 *   hot-fee: linked payment + fee to the one fee account), through writer_submit on the
 *   postgres store. "nodes 2" runs two processes, each with its own store handle, ledger,
 *   writer and the row's submitting threads, on the same database: what two tallyd nodes do.
 * - naive rows: each client thread has its own connection and runs, per transfer (hot-fee: per
 *   payment and its fee), one transaction: BEGIN; SELECT the accounts FOR UPDATE (in id order,
 *   so clients never deadlock); check the payer's balance; UPDATE each account; INSERT each
 *   transfer; COMMIT. This is how most open-source ledgers use a SQL database.
 *
 * After every row the database must still balance: the sum over all accounts of credits minus
 * debits is zero (naive: the balances sum to what was funded) and no wallet is negative;
 * otherwise the program stops.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/ledger.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/limits.h"

#include "bench_common.h"

#define BENCH_THREAD_STACK_BYTES (256u * 1024u)
#define BENCH_NODES_MAX 2u
#define BENCH_CONNINFO_BYTES 1024u

struct bench_case {
    const char *engine; /* "tally" or "naive" */
    const char *workload;
    uint32_t nodes; /* tally: processes sharing the database */
    uint32_t batch_events_max;
    uint32_t threads; /* per node; naive: client connections */
    uint32_t command_events;
    bool hot;
};

/* What one node (process) measured; sent to the parent through a pipe. */
struct bench_result {
    struct bench_counts counts; /* every submitter's (submit latency: ack) */
    double seconds;
    struct writer_stats stats;
};

struct bench_thread {
    pthread_t thread;
    const struct bench_case *bench;
    struct writer *writer;  /* tally */
    const char *conninfo;   /* naive */
    uint64_t seed;
    struct bench_counts counts;
};

static atomic_bool bench_stop;

/* ---- SQL helpers (setup, checks, the naive ledger) ---- */

/* Server notices (DROP DATABASE IF EXISTS of a missing one) are not results. */
static void db_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *db_connect(const char *conninfo, const char *dbname)
{
    char full[BENCH_CONNINFO_BYTES + 64];
    int n = snprintf(full, sizeof full, "%s dbname=%s", conninfo, dbname);
    TL_ASSERT(n > 0 && (size_t)n < sizeof full);
    PGconn *conn = PQconnectdb(full);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "bench_pg: connect %s: %s", dbname, PQerrorMessage(conn));
        exit(1);
    }
    (void)PQsetNoticeProcessor(conn, db_notice_ignore, NULL);
    return conn;
}

/* Runs sql (no parameters) and stops the program if it fails. */
static void db_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_pg: %s: %s", sql, PQerrorMessage(conn));
        exit(1);
    }
    PQclear(res);
}

/* The single text value sql returns. */
static long long db_value(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "bench_pg: %s: %s", sql, PQerrorMessage(conn));
        exit(1);
    }
    long long value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return value;
}

/* ---- tally: events through the writer ---- */

/* Opens the store on dbname (migrating it), a ledger loaded from it and a writer. */
static void node_open(const char *conninfo, const char *dbname, uint32_t batch_events_max,
                      struct store **store, struct ledger **ledger, struct writer **writer)
{
    char path[BENCH_CONNINFO_BYTES + 64];
    snprintf(path, sizeof path, "%s dbname=%s", conninfo, dbname);
    struct store_config store_config = {.backend = "postgres", .path = path};
    struct ledger_config ledger_config = {.accounts_max = 1u << 18};
    struct writer_config writer_config = {.batch_events_max = batch_events_max};
    TL_ASSERT(store_open(&store_config, store) == TL_OK);
    TL_ASSERT(ledger_open(&ledger_config, ledger) == TL_OK);
    TL_ASSERT(writer_start(&writer_config, *store, *ledger, writer) == TL_OK);
}

static void node_close(struct store *store, struct ledger *ledger, struct writer *writer)
{
    writer_stop(writer);
    store_close(store);
    ledger_close(ledger);
}

/* The template: tally's schema and funded wallets, and the naive ledger's tables. */
static void template_make(const char *conninfo)
{
    PGconn *admin = db_connect(conninfo, "postgres");
    db_exec(admin, "DROP DATABASE IF EXISTS bench_pg_row");
    db_exec(admin, "DROP DATABASE IF EXISTS bench_pg_template");
    db_exec(admin, "CREATE DATABASE bench_pg_template");
    PQfinish(admin);

    struct store *store;
    struct ledger *ledger;
    struct writer *writer;
    node_open(conninfo, "bench_pg_template", 0, &store, &ledger, &writer);
    struct ledger_event system[2] = {
        account_event(0, LEDGER_KIND_SANDBOX_FUNDING, 0),
        account_event(BENCH_FEE_ACCOUNT, LEDGER_KIND_FEE_REVENUE,
                      LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
    };
    submit_all_ok(writer, system, 2);
    struct setup_thread threads[BENCH_SETUP_THREADS];
    uint32_t per_thread = BENCH_WALLETS / BENCH_SETUP_THREADS;
    for (uint32_t t = 0; t < BENCH_SETUP_THREADS; t++) {
        threads[t].writer = writer;
        threads[t].first = 1 + t * per_thread;
        threads[t].last = t + 1 == BENCH_SETUP_THREADS ? BENCH_WALLETS : (t + 1) * per_thread;
        TL_ASSERT(pthread_create(&threads[t].thread, NULL, setup_main, &threads[t]) == 0);
    }
    for (uint32_t t = 0; t < BENCH_SETUP_THREADS; t++) {
        TL_ASSERT(pthread_join(threads[t].thread, NULL) == 0);
    }
    node_close(store, ledger, writer);

    PGconn *conn = db_connect(conninfo, "bench_pg_template");
    db_exec(conn, "CREATE TABLE naive_accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)");
    db_exec(conn, "CREATE TABLE naive_transfers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY "
                  "KEY, debit bigint NOT NULL, credit bigint NOT NULL, amount bigint NOT NULL, "
                  "created timestamptz NOT NULL DEFAULT now())");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO naive_accounts SELECT g, CASE WHEN g <= %u THEN %lld ELSE 0 END "
             "FROM generate_series(1, %u) g",
             BENCH_WALLETS, BENCH_FUNDING_MINOR, BENCH_FEE_ACCOUNT);
    db_exec(conn, sql);
    db_exec(conn, "VACUUM ANALYZE");
    PQfinish(conn);
}

static void row_database_fresh(const char *conninfo)
{
    PGconn *admin = db_connect(conninfo, "postgres");
    db_exec(admin, "DROP DATABASE IF EXISTS bench_pg_row");
    db_exec(admin, "CREATE DATABASE bench_pg_row TEMPLATE bench_pg_template");
    db_exec(admin, "CHECKPOINT"); /* the copy's writes are not charged to the row */
    PQfinish(admin);
}

/* Money is conserved and no wallet went negative, in both ledgers. Stops the program if not. */
static void row_database_check(const char *conninfo)
{
    PGconn *conn = db_connect(conninfo, "bench_pg_row");
    long long tally_sum =
        db_value(conn, "SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM accounts");
    long long tally_negative = db_value(conn, "SELECT count(*) FROM accounts WHERE kind = 1 AND "
                                              "credits_posted < debits_posted");
    long long naive_sum = db_value(conn, "SELECT sum(balance) FROM naive_accounts");
    long long naive_negative = db_value(conn, "SELECT count(*) FROM naive_accounts WHERE balance < 0");
    PQfinish(conn);
    if (tally_sum != 0 || tally_negative != 0 ||
        naive_sum != (long long)BENCH_WALLETS * BENCH_FUNDING_MINOR || naive_negative != 0) {
        fprintf(stderr, "bench_pg: the books do not balance (tally %lld, %lld negative; naive "
                        "%lld, %lld negative)\n",
                tally_sum, tally_negative, naive_sum, naive_negative);
        exit(1);
    }
}

static void *tally_thread_main(void *arg)
{
    struct bench_thread *t = arg;
    bench_submit_loop(t->writer, &t->seed, t->bench->command_events, t->bench->hot, &bench_stop,
                      &t->counts);
    return NULL;
}

static bool naive_step(PGconn *conn, const char *stmt, int count, const char *const *values,
                       ExecStatusType want, PGresult **out)
{
    PGresult *res = PQexecPrepared(conn, stmt, count, values, NULL, NULL, 0);
    if (PQresultStatus(res) != want) {
        fprintf(stderr, "bench_pg: naive %s: %s", stmt, PQerrorMessage(conn));
        PQclear(res);
        PQclear(PQexec(conn, "ROLLBACK"));
        return false;
    }
    if (out != NULL) {
        *out = res;
    } else {
        PQclear(res);
    }
    return true;
}

static void naive_prepare(PGconn *conn)
{
    static const char *const stmts[][2] = {
        {"lock2", "SELECT id, balance FROM naive_accounts WHERE id IN ($1::bigint, $2::bigint) "
                  "ORDER BY id FOR UPDATE"},
        {"lock3", "SELECT id, balance FROM naive_accounts WHERE id IN ($1::bigint, $2::bigint, "
                  "$3::bigint) ORDER BY id FOR UPDATE"},
        {"move", "UPDATE naive_accounts SET balance = balance + $2::bigint WHERE id = $1::bigint"},
        {"record", "INSERT INTO naive_transfers (debit, credit, amount) VALUES ($1::bigint, "
                   "$2::bigint, $3::bigint)"},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *res = PQprepare(conn, stmts[i][0], stmts[i][1], 0, NULL);
        TL_ASSERT(PQresultStatus(res) == PGRES_COMMAND_OK);
        PQclear(res);
    }
}

/* One payment (and, hot, its fee) in one transaction; returns the transfers it made (0 when
 * the payer could not pay, -1 on a database error). */
static int naive_transfer(PGconn *conn, uint64_t debit, uint64_t credit, int64_t amount, bool hot)
{
    char d[24], c[24], f[24], a[24], neg_a[24], fee[24], neg_fee[24];
    int64_t fee_minor = hot ? amount / 100 : 0;
    snprintf(d, sizeof d, "%llu", (unsigned long long)debit);
    snprintf(c, sizeof c, "%llu", (unsigned long long)credit);
    snprintf(f, sizeof f, "%u", BENCH_FEE_ACCOUNT);
    snprintf(a, sizeof a, "%lld", (long long)amount);
    snprintf(neg_a, sizeof neg_a, "%lld", -(long long)amount);
    snprintf(fee, sizeof fee, "%lld", (long long)fee_minor);
    snprintf(neg_fee, sizeof neg_fee, "%lld", -(long long)fee_minor);
    PGresult *locked = NULL;
    const char *lock_args[3] = {d, c, f};
    if (!naive_step(conn, "BEGIN_", 0, NULL, PGRES_COMMAND_OK, NULL) ||
        !naive_step(conn, hot ? "lock3" : "lock2", hot ? 3 : 2, lock_args, PGRES_TUPLES_OK,
                    &locked)) {
        return -1;
    }
    int64_t payer_balance = -1;
    for (int row = 0; row < PQntuples(locked); row++) {
        if (strcmp(PQgetvalue(locked, row, 0), d) == 0) {
            payer_balance = strtoll(PQgetvalue(locked, row, 1), NULL, 10);
        }
    }
    PQclear(locked);
    if (payer_balance < amount + fee_minor) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return 0;
    }
    const char *debit_args[2] = {d, neg_a};
    const char *credit_args[2] = {c, a};
    const char *record_args[3] = {d, c, a};
    if (!naive_step(conn, "move", 2, debit_args, PGRES_COMMAND_OK, NULL) ||
        !naive_step(conn, "move", 2, credit_args, PGRES_COMMAND_OK, NULL) ||
        !naive_step(conn, "record", 3, record_args, PGRES_COMMAND_OK, NULL)) {
        return -1;
    }
    if (hot) {
        const char *payer_fee_args[2] = {d, neg_fee};
        const char *fee_args[2] = {f, fee};
        const char *fee_record_args[3] = {d, f, fee};
        if (!naive_step(conn, "move", 2, payer_fee_args, PGRES_COMMAND_OK, NULL) ||
            !naive_step(conn, "move", 2, fee_args, PGRES_COMMAND_OK, NULL) ||
            !naive_step(conn, "record", 3, fee_record_args, PGRES_COMMAND_OK, NULL)) {
            return -1;
        }
    }
    if (!naive_step(conn, "COMMIT_", 0, NULL, PGRES_COMMAND_OK, NULL)) {
        return -1;
    }
    return hot ? 2 : 1;
}

static void *naive_thread_main(void *arg)
{
    struct bench_thread *t = arg;
    PGconn *conn = db_connect(t->conninfo, "bench_pg_row");
    db_exec(conn, "SET synchronous_commit = on");
    naive_prepare(conn);
    PQclear(PQprepare(conn, "BEGIN_", "BEGIN", 0, NULL));
    PQclear(PQprepare(conn, "COMMIT_", "COMMIT", 0, NULL));
    while (!atomic_load_explicit(&bench_stop, memory_order_relaxed)) {
        struct bench_pick p = bench_pick_next(&t->seed);
        uint64_t start_ns = mono_ns();
        int made = naive_transfer(conn, p.debit, p.credit, p.amount, t->bench->hot);
        uint64_t elapsed_ns = mono_ns() - start_ns;
        if (made < 0) {
            t->counts.failures++;
            continue;
        }
        t->counts.latency_buckets[bench_latency_bucket(elapsed_ns)]++;
        t->counts.commands++;
        t->counts.transfers += (uint64_t)made;
    }
    PQfinish(conn);
    return NULL;
}

/* ---- One node's run (a process of its own) ---- */

/* Opens what the row needs, says "ready" on ready_fd, waits for "go" on go_fd, runs for
 * seconds and writes its bench_result to result_fd. */
static void node_run(const struct bench_case *bench, const char *conninfo, double seconds,
                     uint32_t node, int ready_fd, int go_fd, int result_fd)
{
    struct store *store = NULL;
    struct ledger *ledger = NULL;
    struct writer *writer = NULL;
    bool tally = strcmp(bench->engine, "tally") == 0;
    if (tally) {
        node_open(conninfo, "bench_pg_row", bench->batch_events_max, &store, &ledger, &writer);
    }
    struct bench_thread *threads = calloc(bench->threads, sizeof *threads);
    TL_ASSERT(threads != NULL);
    pthread_attr_t attr;
    TL_ASSERT(pthread_attr_init(&attr) == 0);
    TL_ASSERT(pthread_attr_setstacksize(&attr, BENCH_THREAD_STACK_BYTES) == 0);
    char byte = 'r';
    TL_ASSERT(write(ready_fd, &byte, 1) == 1);
    TL_ASSERT(read(go_fd, &byte, 1) == 1);

    struct writer_stats before;
    memset(&before, 0, sizeof before);
    if (tally) {
        writer_stats_get(writer, &before);
    }
    atomic_store(&bench_stop, false);
    uint64_t start_ns = mono_ns();
    for (uint32_t i = 0; i < bench->threads; i++) {
        threads[i].bench = bench;
        threads[i].writer = writer;
        threads[i].conninfo = conninfo;
        threads[i].seed = 0x5eed0000u + node * 1000003u + i * 7919u + bench->batch_events_max;
        TL_ASSERT(pthread_create(&threads[i].thread, &attr,
                                 tally ? tally_thread_main : naive_thread_main, &threads[i]) == 0);
    }
    struct timespec duration = {.tv_sec = (time_t)seconds,
                                .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&duration, &duration) != 0 && errno == EINTR) {
    }
    atomic_store(&bench_stop, true);
    struct bench_result r;
    memset(&r, 0, sizeof r);
    for (uint32_t i = 0; i < bench->threads; i++) {
        TL_ASSERT(pthread_join(threads[i].thread, NULL) == 0);
        bench_counts_add(&r.counts, &threads[i].counts);
    }
    r.seconds = (double)(mono_ns() - start_ns) / 1e9;
    if (tally) {
        writer_stats_get(writer, &r.stats);
        stats_subtract(&r.stats, &before);
        node_close(store, ledger, writer);
    }
    TL_ASSERT(write(result_fd, &r, sizeof r) == (ssize_t)sizeof r);
    pthread_attr_destroy(&attr);
    free(threads);
}

/* Forks one process per node (the parent holds no connection and no thread here), starts them
 * together and adds their results up. */
static void row_run(const struct bench_case *bench, const char *conninfo, double seconds,
                    struct bench_result *total)
{
    int ready[2], go[2], result[2];
    pid_t pids[BENCH_NODES_MAX];
    TL_ASSERT(bench->nodes >= 1 && bench->nodes <= BENCH_NODES_MAX);
    TL_ASSERT(pipe(ready) == 0 && pipe(go) == 0 && pipe(result) == 0);
    fflush(stdout);
    for (uint32_t n = 0; n < bench->nodes; n++) {
        pids[n] = fork();
        TL_ASSERT(pids[n] >= 0);
        if (pids[n] == 0) {
            node_run(bench, conninfo, seconds, n, ready[1], go[0], result[1]);
            _exit(0);
        }
    }
    char byte;
    for (uint32_t n = 0; n < bench->nodes; n++) {
        TL_ASSERT(read(ready[0], &byte, 1) == 1);
    }
    for (uint32_t n = 0; n < bench->nodes; n++) {
        TL_ASSERT(write(go[1], "g", 1) == 1);
    }
    memset(total, 0, sizeof *total);
    for (uint32_t n = 0; n < bench->nodes; n++) {
        struct bench_result r;
        TL_ASSERT(read(result[0], &r, sizeof r) == (ssize_t)sizeof r);
        bench_counts_add(&total->counts, &r.counts);
        total->seconds = r.seconds > total->seconds ? r.seconds : total->seconds;
        total->stats.batches += r.stats.batches;
        total->stats.events += r.stats.events;
        total->stats.commit_latency_us_sum += r.stats.commit_latency_us_sum;
        for (uint32_t i = 0; i < WRITER_LATENCY_BUCKETS; i++) {
            total->stats.commit_latency_buckets[i] += r.stats.commit_latency_buckets[i];
        }
    }
    for (uint32_t n = 0; n < bench->nodes; n++) {
        int status = 0;
        TL_ASSERT(waitpid(pids[n], &status, 0) == pids[n]);
        TL_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
    close(result[0]), close(result[1]);
}

/* ---- Reporting ---- */

static void row_print(const struct bench_case *bench, const struct bench_result *r)
{
    double batches = (double)r->stats.batches;
    bool tally = strcmp(bench->engine, "tally") == 0;
    char batch[16] = "-";
    char commit50[16] = "-";
    char commit99[16] = "-";
    if (tally) {
        snprintf(batch, sizeof batch, "%.1f", batches > 0 ? (double)r->stats.events / batches : 0);
        snprintf(commit50, sizeof commit50, "%.2f", commit_quantile_ms(&r->stats, 0.50));
        snprintf(commit99, sizeof commit99, "%.2f", commit_quantile_ms(&r->stats, 0.99));
    }
    char batch_max[16] = "-";
    if (tally) {
        snprintf(batch_max, sizeof batch_max, "%u", bench->batch_events_max);
    }
    printf("%-6s %-8s %5u %6s %8u %5u %12.0f %9s %9s %9s %9.2f %9.2f %8llu\n", bench->engine,
           bench->workload, bench->nodes, batch_max, bench->threads,
           bench->command_events, (double)r->counts.transfers / r->seconds, batch,
           commit50, commit99, bench_latency_quantile_ms(r->counts.latency_buckets, 0.50),
           bench_latency_quantile_ms(r->counts.latency_buckets, 0.99),
           (unsigned long long)r->counts.failures);
    fflush(stdout);
}

/* ---- main ---- */

static const struct bench_case bench_cases[] = {
    {"tally", "random", 1, 128, 64, 8, false},
    {"tally", "random", 2, 128, 64, 8, false},
    {"tally", "hot-fee", 1, 128, 64, 8, true},
    {"tally", "hot-fee", 2, 128, 64, 8, true},
    {"naive", "random", 1, 0, 64, 1, false},
    {"naive", "hot-fee", 1, 0, 64, 2, true},
    {"tally", "random", 1, 8190, 256, 64, false},
    {"tally", "random", 2, 8190, 256, 64, false},
    {"tally", "hot-fee", 1, 8190, 256, 64, true},
    {"tally", "hot-fee", 2, 8190, 256, 64, true},
    {"naive", "random", 1, 0, 256, 1, false},
    {"naive", "hot-fee", 1, 0, 256, 2, true},
};

int main(int argc, char **argv)
{
    double seconds = 5.0;
    const char *conninfo = NULL;
    long only_case = -1;
    long case_count = (long)(sizeof bench_cases / sizeof bench_cases[0]);
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], &end);
            if (*end != '\0' || seconds <= 0.0 || seconds > 600.0) {
                goto usage;
            }
        } else if (strcmp(argv[i], "--conninfo") == 0 && i + 1 < argc) {
            conninfo = argv[++i];
            if (strlen(conninfo) >= BENCH_CONNINFO_BYTES) {
                goto usage;
            }
        } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            only_case = strtol(argv[++i], &end, 10);
            if (*end != '\0' || only_case < 0 || only_case >= case_count) {
                goto usage;
            }
        } else {
            goto usage;
        }
    }
    if (conninfo == NULL) {
        printf("bench_pg: skipped (no --conninfo; bench/run.sh starts a cluster and passes it)\n");
        return 0;
    }
    printf("bench_pg: tally writer (1 and 2 nodes) and a naive one-transaction-per-transfer "
           "ledger on PostgreSQL, %u funded wallets, %.1f s per row, fresh database per row\n",
           BENCH_WALLETS, seconds);
    PGconn *admin = db_connect(conninfo, "postgres");
    PGresult *settings = PQexec(admin, "SELECT current_setting('fsync') || ', shared_buffers ' "
                                       "|| current_setting('shared_buffers') || ', max_connections ' "
                                       "|| current_setting('max_connections')");
    TL_ASSERT(PQresultStatus(settings) == PGRES_TUPLES_OK);
    printf("server: PostgreSQL %s, synchronous_commit on (every commit flushes WAL), fsync %s\n",
           PQparameterStatus(admin, "server_version"), PQgetvalue(settings, 0, 0));
    PQclear(settings);
    PQfinish(admin);
    uint64_t setup_ns = mono_ns();
    template_make(conninfo);
    printf("setup: %.1f s\n", (double)(mono_ns() - setup_ns) / 1e9);
    printf("\n%-6s %-8s %5s %6s %8s %5s %12s %9s %9s %9s %9s %9s %8s\n", "engine", "workload",
           "nodes", "batch", "threads", "cmd", "transfers/s", "avg_batch", "commit50",
           "commit99", "ack50", "ack99", "failures");
    printf("%-6s %-8s %5s %6s %8s %5s %12s %9s %9s %9s %9s %9s %8s\n", "", "", "", "events",
           "per node", "events", "", "events", "ms", "ms", "ms", "ms", "");
    for (long i = 0; i < case_count; i++) {
        if (only_case >= 0 && only_case != i) {
            continue;
        }
        struct bench_result r;
        row_database_fresh(conninfo);
        row_run(&bench_cases[i], conninfo, seconds, &r);
        row_print(&bench_cases[i], &r);
        row_database_check(conninfo);
    }
    admin = db_connect(conninfo, "postgres");
    db_exec(admin, "DROP DATABASE IF EXISTS bench_pg_row");
    db_exec(admin, "DROP DATABASE IF EXISTS bench_pg_template");
    PQfinish(admin);
    return 0;
usage:
    fprintf(stderr, "usage: bench_pg --conninfo CONNINFO [--seconds N] [--case I]\n");
    return 2;
}
