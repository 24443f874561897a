/*
 * test_money.c - the pure pieces of the money endpoints: list query parsing (page.h), JSON
 * text rendering (render.h), transaction types (wallets.h), system account ids (accounts.h)
 * and the mapping of ledger results to API outcomes (movement.h).
 */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "api/accounts.h"
#include "api/movement.h"
#include "api/page.h"
#include "api/render.h"
#include "api/wallets.h"
#include "test.h"
#include "util/typeid.h"

/* ---- page_parse ---- */

static void expect_page_fault(const char *limit, const char *after, const char *before,
                              const char *param)
{
    struct page_query query;
    struct page_fault fault = {NULL, NULL};
    assert_int_equal(page_parse(limit, after, before, TYPEID_PREFIX_PAYMENT, &query, &fault),
                     TL_ERR_INVALID_REQUEST);
    assert_non_null(fault.param);
    assert_string_equal(fault.param, param);
    assert_non_null(fault.detail);
}

static void test_page_limit(void **state)
{
    (void)state;
    struct page_query query;
    struct page_fault fault;
    assert_int_equal(page_parse(NULL, NULL, NULL, TYPEID_PREFIX_PAYMENT, &query, &fault), TL_OK);
    assert_int_equal(query.limit, PAGE_LIMIT_DEFAULT);
    assert_false(query.has_cursor);
    const char *good[] = {"1", "7", "20", "99", "100"};
    const uint32_t values[] = {1, 7, 20, 99, 100};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(page_parse(good[i], NULL, NULL, TYPEID_PREFIX_PAYMENT, &query, &fault),
                         TL_OK);
        assert_int_equal(query.limit, values[i]);
    }
    const char *bad[] = {"",   "0",  "101", "1000", "-1",   "+5",        " 5",
                         "5 ", "05", "1e2", "abc",  "20.0", "4294967297"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_page_fault(bad[i], NULL, NULL, "limit");
    }
}

static void test_page_cursors(void **state)
{
    (void)state;
    struct page_query query;
    struct page_fault fault;
    char pay[TYPEID_STR_BYTES];
    char txn[TYPEID_STR_BYTES];
    struct id128 id = id128_make(0x0190a1b2c3d47abcull, 0x8123456789abcdefull);
    typeid_encode(TYPEID_PREFIX_PAYMENT, id, pay);
    typeid_encode(TYPEID_PREFIX_TRANSFER, id, txn);

    assert_int_equal(page_parse("5", pay, NULL, TYPEID_PREFIX_PAYMENT, &query, &fault), TL_OK);
    assert_true(query.has_cursor);
    assert_false(query.ending_before);
    assert_true(id128_eq(query.cursor, id));
    assert_string_equal(query.cursor_param, "starting_after");

    assert_int_equal(page_parse(NULL, NULL, pay, TYPEID_PREFIX_PAYMENT, &query, &fault), TL_OK);
    assert_true(query.ending_before);
    assert_string_equal(query.cursor_param, "ending_before");

    expect_page_fault(NULL, pay, pay, "starting_after");  /* both */
    expect_page_fault(NULL, txn, NULL, "starting_after"); /* another list's id */
    expect_page_fault(NULL, NULL, txn, "ending_before");
    expect_page_fault(NULL, "pay_", NULL, "starting_after");
    expect_page_fault(NULL, "", NULL, "starting_after");
    expect_page_fault(NULL, "pay_00000000000000000000000000", NULL, "starting_after"); /* zero */
    expect_page_fault("0", pay, NULL, "limit"); /* limit is checked first */
}

/* ---- render ---- */

static const char *rendered(struct buf *out)
{
    return buf_str(out);
}

static void test_render_object(void **state)
{
    (void)state;
    struct buf out;
    struct render r;
    buf_init(&out, 4096);
    render_init(&r, &out);
    render_object_begin(&r);
    render_key(&r, "a");
    render_i64(&r, -42);
    render_key(&r, "b");
    render_array_begin(&r);
    render_bool(&r, true);
    render_null(&r);
    render_object_begin(&r);
    render_object_end(&r);
    render_array_begin(&r);
    render_array_end(&r);
    render_i64(&r, INT64_MIN);
    render_array_end(&r);
    render_key(&r, "c");
    render_str_or_null(&r, "");
    render_key(&r, "d");
    render_str(&r, "x");
    render_object_end(&r);
    assert_int_equal(render_finish(&r), TL_OK);
    assert_string_equal(rendered(&out), "{\"a\":-42,\"b\":[true,null,{},[],-9223372036854775808],"
                                        "\"c\":null,\"d\":\"x\"}");
    buf_free(&out);
}

static void test_render_escapes_round_trip(void **state)
{
    (void)state;
    const char *samples[] = {
        "plain",
        "quote \" backslash \\ slash /",
        "new\nline\ttab\rcr\bbs\fff",
        "\x01\x1f control",
        "Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x92\xb8",
        "",
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        struct buf out;
        struct render r;
        buf_init(&out, 4096);
        render_init(&r, &out);
        render_array_begin(&r);
        render_str(&r, samples[i]);
        render_array_end(&r);
        assert_int_equal(render_finish(&r), TL_OK);
        json_error_t error;
        json_t *parsed = json_loads(rendered(&out), 0, &error);
        assert_non_null(parsed);
        assert_string_equal(json_string_value(json_array_get(parsed, 0)), samples[i]);
        json_decref(parsed);
        buf_free(&out);
    }
}

static void test_render_limit_is_sticky(void **state)
{
    (void)state;
    struct buf out;
    struct render r;
    buf_init(&out, 16);
    render_init(&r, &out);
    render_object_begin(&r);
    render_key(&r, "name");
    render_str(&r, "far more than sixteen bytes");
    render_key(&r, "n");
    render_i64(&r, 1);
    render_object_end(&r);
    assert_int_equal(render_finish(&r), TL_ERR_LIMIT);
    assert_true(out.len <= 16);
    buf_free(&out);
}

static void test_render_time(void **state)
{
    (void)state;
    char text[RENDER_TIME_BYTES];
    render_time_text(0, text);
    assert_string_equal(text, "1970-01-01T00:00:00.000Z");
    render_time_text(1700000000123456789ull, text);
    assert_string_equal(text, "2023-11-14T22:13:20.123Z");
    render_time_text(951782400999999999ull, text); /* 2000-02-29, a leap day */
    assert_string_equal(text, "2000-02-29T00:00:00.999Z");
    render_time_text(4107542399000000000ull, text); /* 2100-02-28T23:59:59, not a leap year */
    assert_string_equal(text, "2100-02-28T23:59:59.000Z");
    render_time_text(4107542400000000000ull, text);
    assert_string_equal(text, "2100-03-01T00:00:00.000Z");
    /* Every day for 200 years agrees with gmtime_r. */
    for (uint64_t day = 0; day < 200u * 366u; day += 1) {
        uint64_t seconds = day * 86400u + 3723u;
        time_t t = (time_t)seconds;
        struct tm tm;
        char expect[96];
        assert_non_null(gmtime_r(&t, &tm));
        snprintf(expect, sizeof(expect), "%04d-%02d-%02dT%02d:%02d:%02d.042Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        render_time_text(seconds * 1000000000ull + 42000000ull, text);
        assert_string_equal(text, expect);
    }
}

/* ---- types, ids, outcomes ---- */

static void test_txn_types(void **state)
{
    (void)state;
    assert_string_equal(wallets_txn_type(LEDGER_CODE_DEPOSIT), "deposit");
    assert_string_equal(wallets_txn_type(LEDGER_CODE_PAYMENT), "payment");
    assert_string_equal(wallets_txn_type(LEDGER_CODE_FEE), "fee");
    assert_string_equal(wallets_txn_type(LEDGER_CODE_REFUND), "refund");
    assert_string_equal(wallets_txn_type(LEDGER_CODE_REVERSAL), "reversal");
    assert_string_equal(wallets_txn_type(LEDGER_CODE_HOLD_EXPIRY), "hold_expiry");
    assert_string_equal(wallets_txn_type(LEDGER_CODE_ADJUSTMENT), "adjustment");
    assert_string_equal(wallets_txn_type(0), "other");
    assert_string_equal(wallets_txn_type(999), "other");
}

static void test_system_ids(void **state)
{
    (void)state;
    struct id128 sandbox = accounts_system_id(LEDGER_KIND_SANDBOX_FUNDING, 840);
    struct id128 fees = accounts_system_id(LEDGER_KIND_FEE_REVENUE, 840);
    assert_true(sandbox.hi == 0);
    assert_true(sandbox.lo == ((uint64_t)LEDGER_KIND_SANDBOX_FUNDING << 16 | 840u));
    assert_false(id128_eq(sandbox, fees));
    assert_false(id128_eq(sandbox, accounts_system_id(LEDGER_KIND_SANDBOX_FUNDING, 978)));
    assert_true(accounts_is_system(sandbox));
    /* A UUIDv7 has its version nibble in hi: never a system id. */
    struct id128 wallet = id128_make(0x018f000000007000ull, 0x8000000000000001ull);
    assert_false(accounts_is_system(wallet));
    assert_false(accounts_is_system(id128_make(0, 0)));
}

static struct ledger_event transfer_event(uint64_t id, uint64_t debit, uint64_t credit)
{
    return movement_transfer(id128_make(1, id), id128_make(1, debit), id128_make(1, credit), 5, 840,
                             LEDGER_CODE_PAYMENT, id128_make(1, id), 0);
}

static void test_outcomes(void **state)
{
    (void)state;
    struct ledger_event events[2] = {transfer_event(10, 1, 2), transfer_event(11, 1, 3)};
    struct ledger_event_result results[2];
    struct id128 missing = {0, 0};
    memset(results, 0, sizeof(results));
    assert_int_equal(movement_outcome(events, results, 2, &missing), TL_OK);

    results[0].result = LEDGER_LINKED_EVENT_FAILED;
    results[1].result = LEDGER_EXCEEDS_CREDITS;
    assert_int_equal(movement_outcome(events, results, 2, &missing), TL_ERR_INSUFFICIENT_FUNDS);
    assert_true(movement_refusal(TL_ERR_INSUFFICIENT_FUNDS));

    results[0].result = LEDGER_CREDIT_ACCOUNT_NOT_FOUND;
    results[1].result = LEDGER_LINKED_EVENT_FAILED;
    assert_int_equal(movement_outcome(events, results, 2, &missing), TL_ERR_NOT_FOUND);
    assert_true(id128_eq(missing, id128_make(1, 2)));
    assert_false(movement_refusal(TL_ERR_NOT_FOUND));

    results[0].result = LEDGER_DEBIT_ACCOUNT_NOT_FOUND;
    assert_int_equal(movement_outcome(events, results, 2, &missing), TL_ERR_NOT_FOUND);
    assert_true(id128_eq(missing, id128_make(1, 1)));

    results[0].result = LEDGER_OVERFLOW;
    assert_int_equal(movement_outcome(events, results, 2, &missing), TL_ERR_OVERFLOW);
    assert_true(movement_refusal(TL_ERR_OVERFLOW));

    results[0].result = LEDGER_EXISTS;
    assert_int_equal(movement_outcome(events, results, 2, &missing), TL_ERR_INTERNAL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_page_limit),
    cmocka_unit_test(test_page_cursors),
    cmocka_unit_test(test_render_object),
    cmocka_unit_test(test_render_escapes_round_trip),
    cmocka_unit_test(test_render_limit_is_sticky),
    cmocka_unit_test(test_render_time),
    cmocka_unit_test(test_txn_types),
    cmocka_unit_test(test_system_ids),
    cmocka_unit_test(test_outcomes),
};

TL_TEST_MAIN(tests)
