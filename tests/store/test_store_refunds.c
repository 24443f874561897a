/*
 * test_store_refunds.c - the store suite for refunds, reversals and disputes (app.h, schema
 * version 5), run per backend like test_store_app.c (TALLY_STORE_BACKENDS).
 *
 * Refunds: a row counts only once the ledger holds a transfer with its id (amount and time are
 * the transfer's); a rewrite changes amounts only before that; lists and totals see only those;
 * the refundable account of a payment caps what goes back (the ledger refuses more). Disputes:
 * one open per payment, conditional resolve, lists by payment and status, paging.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/app.h"
#include "store/store.h"
#include "store/writer.h"
#include "store_fixture.h"
#include "test.h"
#include "util/limits.h"

#define T0 1700000000000000000ull

static struct id128 row_id(uint64_t n)
{
    return id128_make(0x0194000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

struct refunds_fixture {
    struct store *writer_store;
    struct store *app_store;
    struct ledger *ledger;
    struct writer *writer;
};

static void start(struct store_fixture *f, struct refunds_fixture *r)
{
    struct ledger_config ledger_config = {.accounts_max = 1u << 10};
    struct writer_config config;
    memset(&config, 0, sizeof(config));
    r->writer_store = fixture_open_writer(f);
    r->app_store = fixture_open_writer(f);
    assert_int_equal(ledger_open(&ledger_config, &r->ledger), TL_OK);
    assert_int_equal(writer_start(&config, r->writer_store, r->ledger, &r->writer), TL_OK);
}

static void stop(struct refunds_fixture *r)
{
    writer_stop(r->writer);
    store_close(r->writer_store);
    store_close(r->app_store);
    ledger_close(r->ledger);
}

/* Submits events; returns the result of the last one (every other must be ok). */
static uint32_t submit(struct refunds_fixture *r, struct ledger_event *events, uint32_t count)
{
    struct ledger_event_result results[4];
    assert_true(count <= 4);
    struct writer_command cmd = {.events = events, .event_count = count, .results = results};
    assert_int_equal(writer_submit(r->writer, &cmd), TL_OK);
    for (uint32_t i = 0; i + 1 < count; i++) {
        assert_int_equal(results[i].result, LEDGER_OK);
    }
    return results[count - 1].result;
}

static struct store_refund refund_row(struct id128 id, struct id128 payment, uint8_t kind,
                                      int64_t amount, int64_t from_wallet)
{
    struct store_refund row;
    memset(&row, 0, sizeof(row));
    row.id = id;
    row.payment_id = payment;
    row.kind = kind;
    row.amount = amount;
    row.from_wallet = from_wallet;
    row.shortfall = amount - from_wallet;
    row.currency = FIXTURE_CURRENCY_EUR;
    row.created_ns = T0;
    snprintf(row.reason, sizeof(row.reason), "%s", "damaged");
    return row;
}

static void body_refunds(struct store_fixture *f)
{
    struct refunds_fixture r;
    struct store_refund got;
    struct store_refund list[4];
    struct store_request_page page = {10, {0, 0}, {0, 0}};
    uint32_t count = 0;
    bool found = false;
    bool more = true;
    int64_t refunded = -1;
    int64_t reversed = -1;
    struct id128 payment = row_id(100);
    struct id128 capacity = fixture_account_id(1);
    struct id128 refundable = fixture_account_id(2);
    start(f, &r);

    /* The cap: a refundable account holding the payment's 1000. */
    struct ledger_event setup[3] = {
        fixture_account_event(1, LEDGER_KIND_REFUND_CAPACITY, LEDGER_ACCOUNT_LINKED),
        fixture_account_event(2, LEDGER_KIND_REFUNDABLE,
                              LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                                  LEDGER_ACCOUNT_LINKED),
        fixture_transfer_event(row_id(50), capacity, refundable, 1000, 0),
    };
    assert_int_equal(submit(&r, setup, 3), LEDGER_OK);

    /* A row before its money: found, not succeeded, nowhere in lists or totals. */
    struct store_refund refund = refund_row(row_id(1), payment, STORE_REFUND_KIND_REFUND, 300, 300);
    assert_int_equal(store_refund_put(r.app_store, &refund), TL_OK);
    assert_int_equal(store_refund_get(r.app_store, refund.id, &got, &found), TL_OK);
    assert_true(found);
    assert_false(got.succeeded);
    assert_string_equal(got.reason, "damaged");
    assert_int_equal(store_refunds_list(r.app_store, payment, &page, list, &count, &more), TL_OK);
    assert_int_equal(count, 0);
    assert_false(more);
    assert_int_equal(store_refund_totals(r.app_store, payment, &refunded, &reversed), TL_OK);
    assert_int_equal(refunded, 0);
    assert_int_equal(reversed, 0);
    /* A retry with another amount rewrites it while nothing moved. */
    refund = refund_row(row_id(1), payment, STORE_REFUND_KIND_REFUND, 250, 250);
    assert_int_equal(store_refund_put(r.app_store, &refund), TL_OK);
    assert_int_equal(store_refund_get(r.app_store, refund.id, &got, &found), TL_OK);
    assert_int_equal(got.amount, 250);

    /* Its transfer moves the money: now it counts, with the transfer's amount and time. */
    struct ledger_event move = fixture_transfer_event(refund.id, refundable, capacity, 250, 0);
    assert_int_equal(submit(&r, &move, 1), LEDGER_OK);
    assert_int_equal(store_refund_get(r.app_store, refund.id, &got, &found), TL_OK);
    assert_true(got.succeeded);
    assert_int_equal(got.amount, 250);
    assert_true(got.created_ns != T0);
    /* After the money, a rewrite changes nothing. */
    refund = refund_row(row_id(1), payment, STORE_REFUND_KIND_REFUND, 999, 999);
    assert_int_equal(store_refund_put(r.app_store, &refund), TL_OK);
    assert_int_equal(store_refund_get(r.app_store, refund.id, &got, &found), TL_OK);
    assert_int_equal(got.from_wallet, 250);

    /* A reversal of the rest (750: 200 from the wallet, 500 owed). */
    struct store_refund reversal =
        refund_row(row_id(2), payment, STORE_REFUND_KIND_REVERSAL, 750, 200);
    reversal.dispute_id = row_id(77);
    assert_int_equal(store_refund_put(r.app_store, &reversal), TL_OK);
    move = fixture_transfer_event(reversal.id, refundable, capacity, 750, 0);
    assert_int_equal(submit(&r, &move, 1), LEDGER_OK);
    assert_int_equal(store_refund_totals(r.app_store, payment, &refunded, &reversed), TL_OK);
    assert_int_equal(refunded, 250);
    assert_int_equal(reversed, 750);
    assert_int_equal(store_refunds_list(r.app_store, payment, &page, list, &count, &more), TL_OK);
    assert_int_equal(count, 2);
    fixture_assert_id_eq(list[0].id, reversal.id); /* newest first */
    assert_int_equal(list[0].shortfall, 550);
    fixture_assert_id_eq(list[0].dispute_id, row_id(77));
    fixture_assert_id_eq(list[1].id, refund.id);
    /* Paging: one at a time, then the newer page from the older row. */
    page.limit = 1;
    assert_int_equal(store_refunds_list(r.app_store, payment, &page, list, &count, &more), TL_OK);
    assert_int_equal(count, 1);
    assert_true(more);
    page.ending_before = refund.id;
    assert_int_equal(store_refunds_list(r.app_store, payment, &page, list, &count, &more), TL_OK);
    assert_int_equal(count, 1);
    fixture_assert_id_eq(list[0].id, reversal.id);
    assert_false(more);

    /* The cap holds: nothing is left, one more unit is refused by the ledger. */
    move = fixture_transfer_event(row_id(3), refundable, capacity, 1, 0);
    assert_int_equal(submit(&r, &move, 1), LEDGER_EXCEEDS_CREDITS);
    /* Another payment has nothing. */
    assert_int_equal(store_refund_totals(r.app_store, row_id(101), &refunded, &reversed), TL_OK);
    assert_int_equal(refunded + reversed, 0);
    assert_int_equal(store_refund_get(r.app_store, row_id(9), &got, &found), TL_OK);
    assert_false(found);
    stop(&r);
}

static void test_refunds(void **state)
{
    (void)state;
    fixture_each_backend(body_refunds);
}

static struct store_dispute dispute_row(uint64_t n, struct id128 payment)
{
    struct store_dispute d;
    memset(&d, 0, sizeof(d));
    d.id = row_id(n);
    d.payment_id = payment;
    d.payer_id = row_id(500);
    d.payee_id = row_id(501);
    d.status = STORE_DISPUTE_OPEN;
    d.created_ns = T0 + n;
    snprintf(d.reason, sizeof(d.reason), "%s", "never arrived");
    return d;
}

static void body_disputes(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_dispute got;
    struct store_dispute list[4];
    struct store_request_page page = {10, {0, 0}, {0, 0}};
    uint32_t count = 0;
    bool found = false;
    bool more = false;
    bool resolved = false;
    struct id128 payment = row_id(200);
    struct store_dispute d1 = dispute_row(1, payment);
    struct store_dispute d2 = dispute_row(2, payment);
    struct store_dispute other = dispute_row(3, row_id(201));

    assert_int_equal(store_dispute_create(store, &d1), TL_OK);
    assert_int_equal(store_dispute_create(store, &d2), TL_ERR_CONFLICT); /* one open */
    assert_int_equal(store_dispute_create(store, &other), TL_OK);
    assert_int_equal(store_dispute_get(store, d1.id, &got, &found), TL_OK);
    assert_true(found);
    assert_int_equal(got.status, STORE_DISPUTE_OPEN);
    assert_string_equal(got.reason, "never arrived");
    assert_string_equal(got.note, "");
    assert_true(id128_is_zero(got.reversal_id));

    assert_int_equal(store_dispute_resolve(store, d1.id, STORE_DISPUTE_PAYER, "refund", row_id(9),
                                           T0 + 10, &resolved),
                     TL_OK);
    assert_true(resolved);
    assert_int_equal(store_dispute_resolve(store, d1.id, STORE_DISPUTE_PAYEE, "", row_id(0),
                                           T0 + 11, &resolved),
                     TL_OK);
    assert_false(resolved); /* resolved once */
    assert_int_equal(store_dispute_get(store, d1.id, &got, &found), TL_OK);
    assert_int_equal(got.status, STORE_DISPUTE_PAYER);
    assert_int_equal(got.resolved_ns, T0 + 10);
    assert_string_equal(got.note, "refund");
    fixture_assert_id_eq(got.reversal_id, row_id(9));
    /* With the first closed, another may open. */
    assert_int_equal(store_dispute_create(store, &d2), TL_OK);

    assert_int_equal(store_disputes_list(store, payment, 0, &page, list, &count, &more), TL_OK);
    assert_int_equal(count, 2);
    fixture_assert_id_eq(list[0].id, d2.id);
    fixture_assert_id_eq(list[1].id, d1.id);
    assert_int_equal(store_disputes_list(store, id128_make(0, 0), STORE_DISPUTE_OPEN, &page, list,
                                         &count, &more),
                     TL_OK);
    assert_int_equal(count, 2); /* d2 and other */
    fixture_assert_id_eq(list[0].id, other.id);
    assert_int_equal(store_disputes_list(store, id128_make(0, 0), STORE_DISPUTE_RESOLVED_ANY,
                                         &page, list, &count, &more),
                     TL_OK);
    assert_int_equal(count, 1);
    fixture_assert_id_eq(list[0].id, d1.id);
    page.limit = 2;
    assert_int_equal(store_disputes_list(store, id128_make(0, 0), 0, &page, list, &count, &more),
                     TL_OK);
    assert_int_equal(count, 2);
    assert_true(more);
    page.starting_after = list[1].id;
    assert_int_equal(store_disputes_list(store, id128_make(0, 0), 0, &page, list, &count, &more),
                     TL_OK);
    assert_int_equal(count, 1);
    fixture_assert_id_eq(list[0].id, d1.id);
    assert_false(more);
    page.limit = 0;
    assert_int_equal(store_disputes_list(store, payment, 0, &page, list, &count, &more),
                     TL_ERR_INVALID_REQUEST);
    store_close(store);
}

static void test_disputes(void **state)
{
    (void)state;
    fixture_each_backend(body_disputes);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_refunds),
    cmocka_unit_test(test_disputes),
};

TL_TEST_MAIN(tests)
