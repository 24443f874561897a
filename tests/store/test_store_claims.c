/*
 * test_store_claims.c - the store suite for idempotency claims and a user's outbox rows
 * (app.h, schema version 4), run per backend like test_store_app.c.
 *
 * Claims: one holder per key among concurrent handles (nodes), expiry and takeover, release
 * only by the owner, pruning, and the fence: a batch whose answer names a claim commits only
 * while that claim is still its owner's. Outbox: rows by key in seq order, paging by seq, the
 * newest seq.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/app.h"
#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/limits.h"

#define T0 1700000000000000000ull
#define TTL 60000000000ull

static void text_set(char *out, size_t out_bytes, const char *text)
{
    size_t len = strlen(text);
    assert_true(len < out_bytes);
    memcpy(out, text, len + 1);
}

static struct id128 owner_id(uint64_t n)
{
    return id128_make(0x0193000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

static struct id128 user_id(uint64_t n)
{
    return id128_make(0x0190000000007000ull | (n << 20), 0x8000000000000000ull | n);
}

static struct store_idempotency_claim claim_make(const char *scope, const char *key,
                                                 uint8_t hash_byte, uint64_t owner,
                                                 uint64_t expires_ns)
{
    struct store_idempotency_claim c;
    memset(&c, 0, sizeof(c));
    text_set(c.scope, sizeof(c.scope), scope);
    text_set(c.key, sizeof(c.key), key);
    memset(c.request_hash, hash_byte, sizeof(c.request_hash));
    c.owner = owner_id(owner);
    c.expires_ns = expires_ns;
    return c;
}

static enum store_claim_result claim(struct store *store, const struct store_idempotency_claim *c,
                                     uint64_t now_ns)
{
    enum store_claim_result result = 0;
    assert_int_equal(store_idempotency_claim(store, c, now_ns, &result), TL_OK);
    return result;
}

/* ---- Claims ---- */

static void body_claim_states(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_idempotency_claim a = claim_make("user:1", "k", 0xaa, 1, T0 + TTL);
    struct store_idempotency_claim same = claim_make("user:1", "k", 0xaa, 2, T0 + 5 + TTL);
    struct store_idempotency_claim other = claim_make("user:1", "k", 0xbb, 3, T0 + 5 + TTL);
    struct store_idempotency_claim scope2 = claim_make("user:2", "k", 0xaa, 4, T0 + TTL);

    assert_int_equal(claim(store, &a, T0), STORE_CLAIM_ACQUIRED);
    assert_int_equal(claim(store, &same, T0 + 5), STORE_CLAIM_HELD);
    assert_int_equal(claim(store, &other, T0 + 5), STORE_CLAIM_HELD_OTHER);
    assert_int_equal(claim(store, &scope2, T0), STORE_CLAIM_ACQUIRED); /* keys are per scope */
    /* Another owner's release leaves the claim alone. */
    assert_int_equal(store_idempotency_claim_release(store, "user:1", "k", owner_id(2)), TL_OK);
    assert_int_equal(claim(store, &same, T0 + 6), STORE_CLAIM_HELD);
    /* The owner's release frees the key at once. */
    assert_int_equal(store_idempotency_claim_release(store, "user:1", "k", owner_id(1)), TL_OK);
    assert_int_equal(claim(store, &other, T0 + 7), STORE_CLAIM_ACQUIRED);
    /* Released twice: still fine, nothing happens. */
    assert_int_equal(store_idempotency_claim_release(store, "user:1", "k", owner_id(1)), TL_OK);
    assert_int_equal(claim(store, &a, T0 + 8), STORE_CLAIM_HELD_OTHER);
    /* Too long or empty keys are the caller's input: refused, not asserted. */
    struct store_idempotency_claim empty = claim_make("user:1", "x", 0xaa, 5, T0 + TTL);
    empty.key[0] = '\0';
    enum store_claim_result result = 0;
    assert_int_equal(store_idempotency_claim(store, &empty, T0, &result), TL_ERR_INVALID_REQUEST);
    store_close(store);
}

static void test_claim_states(void **state)
{
    (void)state;
    fixture_each_backend(body_claim_states);
}

/* A claim left by a crashed node blocks the key until it expires, then the next request takes
 * it over; the pruner deletes what nobody took. */
static void body_claim_expiry(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_idempotency_claim dead = claim_make("user:1", "k", 0xaa, 1, T0 + 100);
    struct store_idempotency_claim retry = claim_make("user:1", "k", 0xaa, 2, T0 + 100 + TTL);
    struct store_idempotency_claim left = claim_make("user:1", "left", 0xcc, 3, T0 + 50);
    struct store_idempotency_claim live = claim_make("user:1", "live", 0xdd, 4, T0 + TTL);
    uint32_t deleted = 99;

    assert_int_equal(claim(store, &dead, T0), STORE_CLAIM_ACQUIRED);
    assert_int_equal(claim(store, &retry, T0 + 99), STORE_CLAIM_HELD);
    assert_int_equal(claim(store, &retry, T0 + 100), STORE_CLAIM_ACQUIRED); /* at expiry */
    assert_int_equal(claim(store, &dead, T0 + 101), STORE_CLAIM_HELD);      /* the new owner */
    /* The dead owner's late release does not free the new owner's claim. */
    assert_int_equal(store_idempotency_claim_release(store, "user:1", "k", owner_id(1)), TL_OK);
    assert_int_equal(claim(store, &dead, T0 + 102), STORE_CLAIM_HELD);

    assert_int_equal(claim(store, &left, T0), STORE_CLAIM_ACQUIRED);
    assert_int_equal(claim(store, &live, T0), STORE_CLAIM_ACQUIRED);
    assert_int_equal(store_idempotency_claims_prune(store, T0 + 60, &deleted), TL_OK);
    assert_int_equal(deleted, 1); /* "left" expired at T0 + 50 */
    struct store_idempotency_claim again = claim_make("user:1", "left", 0xee, 5, T0 + 61 + TTL);
    assert_int_equal(claim(store, &again, T0 + 61), STORE_CLAIM_ACQUIRED);
    assert_int_equal(claim(store, &live, T0 + 62), STORE_CLAIM_HELD); /* untouched */
    store_close(store);
}

static void test_claim_expiry(void **state)
{
    (void)state;
    fixture_each_backend(body_claim_expiry);
}

/* ---- Several nodes at once: exactly one claimer ---- */

#define RACERS 8

struct racer {
    const struct store_fixture *f;
    pthread_barrier_t *start;
    uint64_t n;
    enum store_claim_result result;
    enum tl_err err;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    struct store *store = fixture_open_writer(r->f);
    struct store_idempotency_claim c = claim_make("user:9", "race", 0x42, r->n + 1, T0 + TTL);
    pthread_barrier_wait(r->start);
    r->err = store_idempotency_claim(store, &c, T0, &r->result);
    store_close(store);
    return NULL;
}

static void body_claim_race(struct store_fixture *f)
{
    pthread_t threads[RACERS];
    struct racer racers[RACERS];
    pthread_barrier_t start;
    uint32_t acquired = 0;
    uint32_t held = 0;
    /* The schema exists before the racers open their handles. */
    store_close(fixture_open_writer(f));
    assert_int_equal(pthread_barrier_init(&start, NULL, RACERS), 0);
    for (uint64_t i = 0; i < RACERS; i++) {
        racers[i] = (struct racer){.f = f, .start = &start, .n = i};
        assert_int_equal(pthread_create(&threads[i], NULL, racer_main, &racers[i]), 0);
    }
    for (uint64_t i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(racers[i].err, TL_OK);
        acquired += racers[i].result == STORE_CLAIM_ACQUIRED ? 1u : 0u;
        held += racers[i].result == STORE_CLAIM_HELD ? 1u : 0u;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(acquired, 1);
    assert_int_equal(held, RACERS - 1);
}

static void test_claim_race(void **state)
{
    (void)state;
    fixture_each_backend(body_claim_race);
}

/* ---- The fence: an answer commits with its money only under its own claim ---- */

struct answer_batch {
    struct store_record records[2];
    uint8_t buf[2][2048];
    uint32_t count;
};

static void answer_add(struct answer_batch *b, const char *key, struct id128 owner)
{
    struct store_idempotency row;
    memset(&row, 0, sizeof(row));
    text_set(row.scope, sizeof(row.scope), "user:1");
    text_set(row.key, sizeof(row.key), key);
    memset(row.request_hash, 0xaa, sizeof(row.request_hash));
    row.status = 201;
    row.created_ns = T0;
    row.body = "{\"id\":\"pay\"}";
    row.body_bytes = (uint32_t)strlen(row.body);
    row.claim_owner = owner;
    assert_true(b->count < 2);
    assert_int_equal(store_record_idempotency(&row, b->buf[b->count], sizeof(b->buf[b->count]),
                                              &b->records[b->count]),
                     TL_OK);
    b->count++;
}

static enum tl_err answer_commit(struct store *store, const struct answer_batch *b)
{
    struct store_batch batch;
    memset(&batch, 0, sizeof(batch));
    batch.records = b->records;
    batch.record_count = b->count;
    enum tl_err err = store_batch_begin(store);
    return err == TL_OK ? store_batch_commit(store, &batch) : err;
}

static bool answer_stored(struct store *store, const char *key)
{
    struct store_idempotency got;
    bool found = false;
    assert_int_equal(store_idempotency_get(store, "user:1", key, &got, &found), TL_OK);
    if (found) {
        assert_int_equal(got.status, 201);
        free((void *)got.body);
    }
    return found;
}

static void body_claim_fence(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_idempotency_claim mine = claim_make("user:1", "a", 0xaa, 1, T0 + TTL);
    struct answer_batch b;

    /* Under its own claim: the answer commits and the claim goes with it. */
    assert_int_equal(claim(store, &mine, T0), STORE_CLAIM_ACQUIRED);
    memset(&b, 0, sizeof(b));
    answer_add(&b, "a", owner_id(1));
    assert_int_equal(answer_commit(store, &b), TL_OK);
    assert_true(answer_stored(store, "a"));
    struct store_idempotency_claim next = claim_make("user:1", "a", 0xaa, 2, T0 + 1 + TTL);
    assert_int_equal(claim(store, &next, T0 + 1), STORE_CLAIM_ACQUIRED);

    /* The claim expired and another request took the key: the late batch commits nothing,
     * not even the other answer riding in it. */
    struct store_idempotency_claim slow = claim_make("user:1", "b", 0xaa, 3, T0 + 10);
    struct store_idempotency_claim taker = claim_make("user:1", "b", 0xaa, 4, T0 + 20 + TTL);
    struct store_idempotency_claim bystander = claim_make("user:1", "c", 0xaa, 5, T0 + TTL);
    assert_int_equal(claim(store, &slow, T0), STORE_CLAIM_ACQUIRED);
    assert_int_equal(claim(store, &taker, T0 + 20), STORE_CLAIM_ACQUIRED);
    assert_int_equal(claim(store, &bystander, T0), STORE_CLAIM_ACQUIRED);
    memset(&b, 0, sizeof(b));
    answer_add(&b, "c", owner_id(5));
    answer_add(&b, "b", owner_id(3));
    assert_int_equal(answer_commit(store, &b), TL_ERR_STORAGE);
    assert_false(answer_stored(store, "b"));
    assert_false(answer_stored(store, "c"));
    assert_int_equal(claim(store, &taker, T0 + 21), STORE_CLAIM_HELD);     /* still the taker's */
    assert_int_equal(claim(store, &bystander, T0 + 21), STORE_CLAIM_HELD); /* rolled back */

    /* Without a claim (a single-process server), the answer commits as before. */
    memset(&b, 0, sizeof(b));
    answer_add(&b, "d", id128_make(0, 0));
    assert_int_equal(answer_commit(store, &b), TL_OK);
    assert_true(answer_stored(store, "d"));
    store_close(store);
}

static void test_claim_fence(void **state)
{
    (void)state;
    fixture_each_backend(body_claim_fence);
}

/* ---- A user's outbox rows ---- */

static void outbox_commit(struct store *store, const struct id128 *keys, uint32_t count,
                          uint32_t first_n)
{
    struct store_record records[TL_COMMAND_RECORDS_MAX];
    char data[TL_COMMAND_RECORDS_MAX][32];
    struct store_batch batch;
    assert_true(count <= TL_COMMAND_RECORDS_MAX);
    for (uint32_t i = 0; i < count; i++) {
        memset(&records[i], 0, sizeof(records[i]));
        records[i].kind = STORE_RECORD_OUTBOX;
        records[i].key = keys[i];
        text_set(records[i].topic, sizeof(records[i].topic), "payment.created");
        snprintf(data[i], sizeof(data[i]), "{\"n\":%u}", first_n + i);
        records[i].data = data[i];
        records[i].data_bytes = (uint32_t)strlen(data[i]);
    }
    memset(&batch, 0, sizeof(batch));
    batch.records = records;
    batch.record_count = count;
    assert_int_equal(store_batch_begin(store), TL_OK);
    assert_int_equal(store_batch_commit(store, &batch), TL_OK);
}

/* The end of a seq range that holds every row. */
#define OUTBOX_ALL ((uint64_t)INT64_MAX)

static void body_outbox_by_key(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_outbox_row rows[16];
    struct store_outbox_row all[16];
    uint32_t count = 99;
    uint64_t seq = 99;

    assert_int_equal(store_outbox_seq_last(store, &seq), TL_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(store_outbox_list_key(store, user_id(1), 0, OUTBOX_ALL, 16, rows, &count), TL_OK);
    assert_int_equal(count, 0);
    /* Users 1 and 2 interleaved over three batches: 1, 2, 1 | 2 | 1, 1. */
    struct id128 first[] = {user_id(1), user_id(2), user_id(1)};
    struct id128 second[] = {user_id(2)};
    struct id128 third[] = {user_id(1), user_id(1)};
    outbox_commit(store, first, 3, 0);
    outbox_commit(store, second, 1, 3);
    outbox_commit(store, third, 2, 4);

    assert_int_equal(store_outbox_list(store, 0, 16, all, &count), TL_OK);
    assert_int_equal(count, 6);
    assert_int_equal(store_outbox_seq_last(store, &seq), TL_OK);
    assert_int_equal(seq, all[5].seq);

    /* User 1's rows are exactly the rows keyed by user 1, in seq order. */
    assert_int_equal(store_outbox_list_key(store, user_id(1), 0, OUTBOX_ALL, 16, rows, &count), TL_OK);
    assert_int_equal(count, 4);
    const uint32_t expected[] = {0, 2, 4, 5};
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(rows[i].seq, all[expected[i]].seq);
        fixture_assert_id_eq(rows[i].key, user_id(1));
        assert_string_equal(rows[i].topic, "payment.created");
        assert_string_equal(rows[i].data, all[expected[i]].data);
    }
    uint64_t third_seq = rows[1].seq;
    store_outbox_rows_free(rows, count);
    /* Paging: after the second of user 1's rows, at most one. */
    assert_int_equal(store_outbox_list_key(store, user_id(1), third_seq, OUTBOX_ALL, 1, rows, &count), TL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(rows[0].seq, all[4].seq);
    assert_string_equal(rows[0].data, "{\"n\":4}");
    store_outbox_rows_free(rows, count);
    assert_int_equal(store_outbox_list_key(store, user_id(2), all[3].seq, OUTBOX_ALL, 16, rows, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_outbox_list_key(store, user_id(3), 0, OUTBOX_ALL, 16, rows, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_outbox_list_key(store, user_id(1), 0, OUTBOX_ALL, 0, rows, &count), TL_ERR_LIMIT);
    assert_int_equal(
        store_outbox_list_key(store, user_id(1), 0, OUTBOX_ALL, STORE_OUTBOX_LIST_MAX + 1, rows, &count),
        TL_ERR_LIMIT);
    /* A bounded range: user 1's rows with seq in (all[0], all[4]] are all[2] and all[4]. */
    assert_int_equal(
        store_outbox_list_key(store, user_id(1), all[0].seq, all[4].seq, 16, rows, &count), TL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(rows[0].seq, all[2].seq);
    assert_int_equal(rows[1].seq, all[4].seq);
    store_outbox_rows_free(rows, count);
    assert_int_equal(
        store_outbox_list_key(store, user_id(1), all[2].seq, all[3].seq, 16, rows, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(
        store_outbox_list_key(store, user_id(1), all[2].seq, all[2].seq, 16, rows, &count), TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(
        store_outbox_list_key(store, user_id(1), all[3].seq, all[2].seq, 16, rows, &count),
        TL_ERR_INVALID_REQUEST);
    store_outbox_rows_free(all, 6);

    /* A reader sees the same. */
    struct store *reader = fixture_open_reader(f);
    assert_int_equal(store_outbox_seq_last(reader, &seq), TL_OK);
    assert_int_equal(store_outbox_list_key(reader, user_id(2), 0, OUTBOX_ALL, 16, rows, &count), TL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(rows[1].seq, seq - 2);
    store_outbox_rows_free(rows, count);
    store_close(reader);
    store_close(store);
}

static void test_outbox_by_key(void **state)
{
    (void)state;
    fixture_each_backend(body_outbox_by_key);
}

/* A row appended outside a batch takes the next seq after the batches' rows and reads back
 * like them; bad arguments write nothing. */
static void body_outbox_append(struct store_fixture *f)
{
    struct store *store = fixture_open_writer(f);
    struct store_outbox_row rows[4];
    uint32_t count = 0;
    uint64_t seq = 0, appended = 0, last = 0;
    struct id128 one[] = {user_id(1)};

    outbox_commit(store, one, 1, 0);
    assert_int_equal(store_outbox_seq_last(store, &last), TL_OK);
    static const char data[] = "{\"session_id\":\"x\"}";
    assert_int_equal(store_outbox_append(store, user_id(2), "session.revoked", data,
                                         (uint32_t)strlen(data), &appended),
                     TL_OK);
    assert_true(appended > last);
    assert_int_equal(store_outbox_seq_last(store, &seq), TL_OK);
    assert_int_equal(seq, appended);
    assert_int_equal(store_outbox_list_key(store, user_id(2), 0, OUTBOX_ALL, 4, rows, &count), TL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(rows[0].seq, appended);
    assert_string_equal(rows[0].topic, "session.revoked");
    assert_string_equal(rows[0].data, data);
    store_outbox_rows_free(rows, count);
    /* A batch after it gets a larger seq still. */
    outbox_commit(store, one, 1, 1);
    assert_int_equal(store_outbox_seq_last(store, &seq), TL_OK);
    assert_true(seq > appended);

    /* By topic, whoever's: the one session.revoked row among the payments; pages; a range. */
    uint64_t revoked = appended;
    assert_int_equal(store_outbox_append(store, user_id(1), "session.revoked", data,
                                         (uint32_t)strlen(data), &appended),
                     TL_OK);
    assert_int_equal(store_outbox_list_topic(store, "session.revoked", 0, OUTBOX_ALL, 4, rows,
                                             &count),
                     TL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(rows[0].seq, revoked);
    fixture_assert_id_eq(rows[0].key, user_id(2));
    assert_int_equal(rows[1].seq, appended);
    fixture_assert_id_eq(rows[1].key, user_id(1));
    assert_string_equal(rows[1].data, data);
    store_outbox_rows_free(rows, count);
    assert_int_equal(store_outbox_list_topic(store, "session.revoked", 0, OUTBOX_ALL, 1, rows,
                                             &count),
                     TL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(rows[0].seq, revoked);
    store_outbox_rows_free(rows, count);
    assert_int_equal(store_outbox_list_topic(store, "session.revoked", revoked, appended - 1, 4,
                                             rows, &count),
                     TL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_outbox_list_topic(store, "payment.created", revoked, OUTBOX_ALL, 4,
                                             rows, &count),
                     TL_OK);
    assert_int_equal(count, 1); /* the batch after the first append */
    assert_string_equal(rows[0].topic, "payment.created");
    store_outbox_rows_free(rows, count);
    assert_int_equal(store_outbox_list_topic(store, "", 0, OUTBOX_ALL, 4, rows, &count),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_outbox_list_topic(store, "session.revoked", 0, OUTBOX_ALL, 0, rows,
                                             &count),
                     TL_ERR_LIMIT);
    assert_int_equal(store_outbox_list_topic(store, "session.revoked", appended, revoked, 4,
                                             rows, &count),
                     TL_ERR_INVALID_REQUEST);
    seq = appended;

    assert_int_equal(store_outbox_append(store, id128_make(0, 0), "t", "", 0, &appended),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_outbox_append(store, user_id(2), "", "", 0, &appended),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_outbox_append(store, user_id(2), "t", data,
                                         STORE_OUTBOX_APPEND_MAX + 1, &appended),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(store_outbox_seq_last(store, &last), TL_OK);
    assert_int_equal(last, seq);
    store_close(store);
}

static void test_outbox_append(void **state)
{
    (void)state;
    fixture_each_backend(body_outbox_append);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_claim_states),
    cmocka_unit_test(test_claim_expiry),
    cmocka_unit_test(test_claim_race),
    cmocka_unit_test(test_claim_fence),
    cmocka_unit_test(test_outbox_by_key),
    cmocka_unit_test(test_outbox_append),
};

TL_TEST_MAIN(tests)
