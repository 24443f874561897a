/*
 * store_fixture.h - what the store suites share; test code only, never linked into a binary.
 *
 * Two parts: the per-backend fixture of test_store.c and test_store_app.c (each test runs once
 * per backend named in TALLY_STORE_BACKENDS, comma-separated, default "sqlite", each time on a
 * fresh, empty store under one temp directory removed at exit), with exact comparisons of
 * stored rows; and the ledger events test_writer.c and test_crash.c submit. Failures are
 * cmocka assertions: none of these functions return an error.
 */
#ifndef TL_TESTS_STORE_FIXTURE_H
#define TL_TESTS_STORE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ledger.h"
#include "store/store.h"
#include "util/id128.h"

#define FIXTURE_CURRENCY_EUR 978

/* ---- Backends under test ---- */

struct store_fixture {
    const struct store_test_backend *backend;
    char path[256];             /* the store's path or conninfo */
    struct store_config config; /* a writer's config for this test's store */
};

/* Adding a backend (postgres): a row in the table of store_fixture.c with functions that make a
 * fresh, empty store for one test and remove it afterwards. */
struct store_test_backend {
    const char *name;
    bool exclusive; /* what store_exclusive must answer */
    void (*fresh)(struct store_fixture *f);
    void (*remove)(struct store_fixture *f);
};

/* Runs body once per selected backend, each on a fresh store removed afterwards. */
void fixture_each_backend(void (*body)(struct store_fixture *f));
/* For suites that make their stores themselves (test_writer.c): a fresh, empty store of the
 * first selected backend, and its removal. f->config names the backend and path. */
void fixture_fresh(struct store_fixture *f);
void fixture_remove_store(struct store_fixture *f);
/* Opens the fixture's store as the writer, or read-only; asserts success. */
struct store *fixture_open_writer(const struct store_fixture *f);
struct store *fixture_open_reader(const struct store_fixture *f);

/* The first column of the first row of sql (a count) on the fixture's store, through a
 * connection of its own: sqlite3 on the file, libpq on the database. */
int64_t fixture_sql_count(const struct store_fixture *f, const char *sql);

/* ---- Exact comparisons ---- */

void fixture_assert_id_eq(struct id128 a, struct id128 b);
void fixture_assert_transfer_eq(const struct ledger_transfer *a, const struct ledger_transfer *b);
void fixture_assert_balance_eq(const struct ledger_balance *a, const struct ledger_balance *b);

/* ---- Ledger events ---- */

/* splitmix64: a reproducible stream from a seed. */
uint64_t fixture_prng_next(uint64_t *state);
/* The id of test account n (n = 0 is allowed). */
struct id128 fixture_account_id(uint64_t n);
/* Opens account n in EUR. */
struct ledger_event fixture_account_event(uint64_t n, uint16_t kind, uint32_t flags);
/* A EUR payment transfer of amount from debit to credit. */
struct ledger_event fixture_transfer_event(struct id128 id, struct id128 debit, struct id128 credit,
                                           int64_t amount, uint16_t flags);

#endif
