/*
 * test_store_plans.c - the store suite for scheduled payments and escrow rows (plans.h, schema
 * v5), run per backend like test_store_app.c (TALLY_STORE_BACKENDS).
 *
 * Schedules: create and read back, due selection, one claim per occurrence among two handles
 * (two nodes), a canceled schedule claims nothing, finish once, stale claims taken over once,
 * occurrences newest first, pages. Escrows: a row is invisible until its hold exists, and an
 * approval is recorded once per party. The money side of escrows (holds, posts, voids) runs
 * over HTTP in tests/api/run_escrow.sh.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/plans.h"
#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/limits.h"

#define T0 1800000000000000000ull
#define S 1000000000ull

static struct id128 uid(uint64_t n)
{
    return id128_make(0x0190000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

static void schedule_make(uint64_t n, uint64_t start_ns, struct store_schedule *s)
{
    memset(s, 0, sizeof(*s));
    s->id = uid(100 + n);
    s->user_id = uid(1);
    s->to_user = uid(2);
    s->amount = 250;
    s->currency = FIXTURE_CURRENCY_EUR;
    s->repeat = STORE_SCHEDULE_WEEKLY;
    s->start_ns = start_ns;
    s->next_due_ns = start_ns;
    s->created_ns = T0;
    snprintf(s->to_text, sizeof(s->to_text), "%s", "@bob");
    snprintf(s->note, sizeof(s->note), "rent %llu", (unsigned long long)n);
}

static void occurrence_make(const struct store_schedule *s, uint32_t index, uint64_t now_ns,
                            struct store_occurrence *o)
{
    memset(o, 0, sizeof(*o));
    o->schedule_id = s->id;
    o->index = index;
    o->due_ns = s->start_ns + index * 7ull * 86400ull * S;
    o->payment_id = id128_make(0x0191000000007000ull | index, 0x8000000000000000ull | s->id.lo);
    o->status = STORE_OCCURRENCE_RUNNING;
    o->claimed_ns = now_ns;
}

static void body_schedules(struct store_fixture *f)
{
    struct store *a = fixture_open_writer(f);
    struct store *b = fixture_open_writer(f); /* a second node */
    struct store_schedule s1, s2, got, due[4];
    struct store_occurrence o, occ[4];
    uint32_t count = 0;
    bool found = false, claimed = false, canceled = false;

    schedule_make(1, T0 + 10 * S, &s1);
    schedule_make(2, T0 + 20 * S, &s2);
    s2.end_count = 3;
    assert_int_equal(store_schedule_create(a, &s1), TL_OK);
    assert_int_equal(store_schedule_create(a, &s2), TL_OK);
    assert_int_equal(store_schedule_get(b, s1.id, &got, &found), TL_OK);
    assert_true(found);
    assert_memory_equal(&got, &s1, sizeof(got));
    assert_int_equal(store_schedule_get(b, uid(999), &got, &found), TL_OK);
    assert_false(found);

    assert_int_equal(store_schedules_due(a, T0 + 15 * S, 4, due, &count), TL_OK);
    assert_int_equal(count, 1);
    fixture_assert_id_eq(due[0].id, s1.id);
    assert_int_equal(store_schedules_due(a, T0 + 25 * S, 4, due, &count), TL_OK);
    assert_int_equal(count, 2);

    /* One claim per occurrence, whichever node asks first. */
    occurrence_make(&s1, 0, T0 + 15 * S, &o);
    assert_int_equal(store_schedule_claim(a, &o, T0 + 99 * S, &claimed), TL_OK);
    assert_true(claimed);
    assert_int_equal(store_schedule_claim(b, &o, T0 + 99 * S, &claimed), TL_OK);
    assert_false(claimed);
    assert_int_equal(store_schedule_get(b, s1.id, &got, &found), TL_OK);
    assert_int_equal(got.next_index, 1);
    assert_int_equal(got.next_due_ns, T0 + 99 * S);
    assert_int_equal(store_schedules_due(a, T0 + 25 * S, 4, due, &count), TL_OK);
    assert_int_equal(count, 1); /* s1's next run is later now */

    /* Stale claims are taken over once. */
    assert_int_equal(store_occurrence_reclaim(b, T0 + 15 * S, T0 + 30 * S, &occ[0], &found),
                     TL_OK);
    assert_false(found); /* claimed at exactly the limit: not before it */
    assert_int_equal(store_occurrence_reclaim(b, T0 + 16 * S, T0 + 30 * S, &occ[0], &found),
                     TL_OK);
    assert_true(found);
    fixture_assert_id_eq(occ[0].payment_id, o.payment_id);
    assert_int_equal(occ[0].claimed_ns, T0 + 30 * S);
    assert_int_equal(store_occurrence_reclaim(a, T0 + 16 * S, T0 + 31 * S, &occ[0], &found),
                     TL_OK);
    assert_false(found);

    /* Finish once: a second finish leaves the first outcome. */
    assert_int_equal(store_occurrence_finish(a, s1.id, 0, STORE_OCCURRENCE_SKIPPED,
                                             "insufficient_funds", T0 + 32 * S),
                     TL_OK);
    assert_int_equal(store_occurrence_finish(b, s1.id, 0, STORE_OCCURRENCE_SUCCEEDED, "",
                                             T0 + 33 * S),
                     TL_OK);
    occurrence_make(&s1, 1, T0 + 100 * S, &o);
    assert_int_equal(store_schedule_claim(b, &o, 0, &claimed), TL_OK);
    assert_true(claimed);
    assert_int_equal(store_occurrences_list(a, s1.id, occ, 4, &count), TL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(occ[0].index, 1);
    assert_int_equal(occ[0].status, STORE_OCCURRENCE_RUNNING);
    assert_int_equal(occ[1].index, 0);
    assert_int_equal(occ[1].status, STORE_OCCURRENCE_SKIPPED);
    assert_string_equal(occ[1].reason, "insufficient_funds");
    assert_int_equal(occ[1].done_ns, T0 + 32 * S);
    assert_int_equal(store_schedule_get(a, s1.id, &got, &found), TL_OK);
    assert_int_equal(got.next_due_ns, 0); /* none left */

    /* A canceled schedule claims nothing and is not due; only its payer cancels it. */
    assert_int_equal(store_schedule_cancel(a, s2.id, uid(2), T0 + 21 * S, &canceled), TL_OK);
    assert_false(canceled);
    assert_int_equal(store_schedule_cancel(a, s2.id, uid(1), T0 + 21 * S, &canceled), TL_OK);
    assert_true(canceled);
    assert_int_equal(store_schedule_cancel(b, s2.id, uid(1), T0 + 22 * S, &canceled), TL_OK);
    assert_false(canceled);
    occurrence_make(&s2, 0, T0 + 23 * S, &o);
    assert_int_equal(store_schedule_claim(b, &o, 0, &claimed), TL_OK);
    assert_false(claimed);
    assert_int_equal(store_schedules_due(a, T0 + 1000 * S, 4, due, &count), TL_OK);
    assert_int_equal(count, 0);

    /* Pages, newest id first. */
    struct store_request_page page = {1, id128_make(0, 0), id128_make(0, 0)};
    bool more = false;
    assert_int_equal(store_schedules_list(a, uid(1), &page, due, &count, &more), TL_OK);
    assert_int_equal(count, 1);
    assert_true(more);
    fixture_assert_id_eq(due[0].id, s2.id);
    page.starting_after = s2.id;
    assert_int_equal(store_schedules_list(a, uid(1), &page, due, &count, &more), TL_OK);
    assert_int_equal(count, 1);
    assert_false(more);
    fixture_assert_id_eq(due[0].id, s1.id);
    page.starting_after = id128_make(0, 0);
    page.ending_before = s1.id;
    assert_int_equal(store_schedules_list(a, uid(1), &page, due, &count, &more), TL_OK);
    assert_int_equal(count, 1);
    fixture_assert_id_eq(due[0].id, s2.id);
    assert_int_equal(store_schedules_list(a, uid(2), &page, due, &count, &more), TL_OK);
    assert_int_equal(count, 0);
    store_close(b);
    store_close(a);
}

static void test_schedules(void **state)
{
    (void)state;
    fixture_each_backend(body_schedules);
}

static void body_escrow_rows(struct store_fixture *f)
{
    struct store *a = fixture_open_writer(f);
    struct store_escrow e, got[2];
    uint32_t count = 0;
    bool found = true, changed = false;

    memset(&e, 0, sizeof(e));
    e.id = uid(300);
    e.payer_id = uid(1);
    e.payee_id = uid(2);
    e.payer_wallet = uid(11);
    e.payee_wallet = uid(12);
    e.amount = 500;
    e.currency = FIXTURE_CURRENCY_EUR;
    e.release_mode = STORE_ESCROW_RELEASE_BOTH;
    e.expires_ns = T0 + 3600 * S;
    e.settle_id = uid(301);
    e.created_ns = T0;
    snprintf(e.to_text, sizeof(e.to_text), "%s", "@bob");
    assert_int_equal(store_escrow_create(a, &e), TL_OK);
    /* No hold in the ledger: the row is not an escrow yet. */
    assert_int_equal(store_escrow_get(a, e.id, &got[0], &found), TL_OK);
    assert_false(found);
    struct store_request_page page = {10, id128_make(0, 0), id128_make(0, 0)};
    bool more = true;
    assert_int_equal(store_escrows_list(a, uid(1), STORE_ESCROW_ROLE_ANY, &page, got, &count,
                                        &more),
                     TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_escrows_due(a, T0 + 1, 2, got, &count), TL_OK);
    assert_int_equal(count, 0);
    /* Approvals: each party once; a stranger changes nothing. */
    assert_int_equal(store_escrow_approve(a, e.id, uid(2), T0 + 5, &changed), TL_OK);
    assert_true(changed);
    assert_int_equal(store_escrow_approve(a, e.id, uid(2), T0 + 6, &changed), TL_OK);
    assert_false(changed);
    assert_int_equal(store_escrow_approve(a, e.id, uid(7), T0 + 6, &changed), TL_OK);
    assert_false(changed);
    assert_int_equal(store_escrow_approve(a, e.id, uid(1), T0 + 7, &changed), TL_OK);
    assert_true(changed);
    assert_int_equal(store_escrow_delete(a, e.id), TL_OK);
    assert_int_equal(store_escrow_delete(a, e.id), TL_OK);
    assert_int_equal(store_escrow_approve(a, e.id, uid(1), T0 + 8, &changed), TL_OK);
    assert_false(changed);
    store_close(a);
}

static void test_escrow_rows(void **state)
{
    (void)state;
    fixture_each_backend(body_escrow_rows);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_schedules),
    cmocka_unit_test(test_escrow_rows),
};

TL_TEST_MAIN(tests)
