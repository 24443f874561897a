/*
 * test_store_fx.c - the store suite for exchange rates (app.h, schema version 5), run per
 * backend like test_store_app.c: a put, the newer rate of a pair wins and an older one never
 * replaces it, readers see what the writer put, listing order and its limit.
 */
#include <stdbool.h>
#include <string.h>

#include "store/app.h"
#include "store/store.h"
#include "store_fixture.h"
#include "test.h"

#define T0 1700000000000000000ull
#define USD 840
#define JPY 392
#define KWD 414

static struct store_fx_rate rate_make(uint16_t base, uint16_t quote, int64_t num, int64_t den,
                                      uint64_t updated_ns, uint8_t source)
{
    struct store_fx_rate r;
    memset(&r, 0, sizeof(r));
    r.base = base;
    r.quote = quote;
    r.rate_num = num;
    r.rate_den = den;
    r.updated_ns = updated_ns;
    r.source = source;
    return r;
}

static void put(struct store *store, const struct store_fx_rate *r, bool want_applied)
{
    bool applied = !want_applied;
    assert_int_equal(store_fx_rate_put(store, r, &applied), TL_OK);
    assert_int_equal(applied, want_applied);
}

static void assert_rate(struct store *store, uint16_t base, uint16_t quote, int64_t num,
                        int64_t den, uint64_t updated_ns, uint8_t source)
{
    struct store_fx_rate got;
    bool found = false;
    assert_int_equal(store_fx_rate_get(store, base, quote, &got, &found), TL_OK);
    assert_true(found);
    assert_int_equal(got.rate_num, num);
    assert_int_equal(got.rate_den, den);
    assert_int_equal(got.updated_ns, updated_ns);
    assert_int_equal(got.source, source);
}

static void body_put_get(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store *reader = fixture_open_reader(f);
    struct store_fx_rate got;
    bool found = true;

    assert_int_equal(store_fx_rate_get(store, USD, JPY, &got, &found), TL_OK);
    assert_false(found);
    struct store_fx_rate a = rate_make(USD, JPY, 15125, 100, T0, STORE_FX_SOURCE_FILE);
    put(store, &a, true);
    assert_rate(store, USD, JPY, 15125, 100, T0, STORE_FX_SOURCE_FILE);
    assert_rate(reader, USD, JPY, 15125, 100, T0, STORE_FX_SOURCE_FILE);
    /* The pair is directed: JPY -> USD is another row. */
    assert_int_equal(store_fx_rate_get(reader, JPY, USD, &got, &found), TL_OK);
    assert_false(found);
    /* Newer wins; the same time or older leaves the row alone. */
    struct store_fx_rate b = rate_make(USD, JPY, 1502, 10, T0 + 10, STORE_FX_SOURCE_OPERATOR);
    put(store, &b, true);
    struct store_fx_rate same = rate_make(USD, JPY, 1, 1, T0 + 10, STORE_FX_SOURCE_FILE);
    put(store, &same, false);
    struct store_fx_rate older = rate_make(USD, JPY, 2, 1, T0 + 5, STORE_FX_SOURCE_FILE);
    put(store, &older, false);
    assert_rate(reader, USD, JPY, 1502, 10, T0 + 10, STORE_FX_SOURCE_OPERATOR);
    store_close(reader);
    store_close(store);
}

static void body_list(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_fx_rate rows[4];
    uint32_t count = 99;

    assert_int_equal(store_fx_rates_list(store, rows, 4, &count), TL_OK);
    assert_int_equal(count, 0);
    struct store_fx_rate r1 = rate_make(USD, KWD, 3075, 10000, T0, STORE_FX_SOURCE_FILE);
    struct store_fx_rate r2 = rate_make(JPY, USD, 66, 10000, T0 + 1, STORE_FX_SOURCE_FILE);
    struct store_fx_rate r3 = rate_make(USD, JPY, 15125, 100, T0 + 2, STORE_FX_SOURCE_OPERATOR);
    put(store, &r1, true);
    put(store, &r2, true);
    put(store, &r3, true);
    assert_int_equal(store_fx_rates_list(store, rows, 4, &count), TL_OK);
    assert_int_equal(count, 3);
    /* By base, then quote: JPY(392)->USD, USD(840)->JPY(392), USD->KWD(414). */
    assert_int_equal(rows[0].base, JPY);
    assert_int_equal(rows[1].base, USD);
    assert_int_equal(rows[1].quote, JPY);
    assert_int_equal(rows[2].quote, KWD);
    assert_int_equal(rows[2].rate_num, 3075);
    /* More rows than max is an error, never a silent cut. */
    assert_int_equal(store_fx_rates_list(store, rows, 2, &count), TL_ERR_LIMIT);
    store_close(store);
}

static void test_put_get(void **state)
{
    (void)state;
    fixture_each_backend(body_put_get);
}

static void test_list(void **state)
{
    (void)state;
    fixture_each_backend(body_list);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_put_get),
    cmocka_unit_test(test_list),
};

TL_TEST_MAIN(tests)
