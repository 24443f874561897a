/*
 * sqlite_limits.c - the running totals of the limit windows (app.h, store_limits_window) of a
 * database this process writes, kept in memory, with the table written as appends.
 *
 * Why: limit_totals is keyed by user first, so every payment's two additions (the payer's
 * sent and the payee's received bucket) landed on two random B-tree leaves, and a batch of
 * payments among many users dirtied a 4 KiB leaf per user and direction (docs/performance.md,
 * "Limit windows"). Instead, a batch appends one row per addition to limit_usage_log (a rowid
 * table: its last page) and the process keeps every bucket's total in memory, shared by the
 * handles of the file (sqlite_shared.c owns it and its lock). The lagging rows of
 * limit_totals are rewritten lazily: once the committed log holds flush_rows rows, one batch
 * writes every bucket they changed (in key order: runs of neighbouring leaves, each written
 * once however many movements it took since the last flush) and deletes those log rows, the
 * head of the rowid table, in the same transaction. So at every commit, for every bucket:
 *     total = its limit_totals row (or 0) + the amounts of its rows in limit_usage_log,
 * and there is no mark to keep: the log holds exactly the additions the table lacks. A writer
 * that opens the file replays the log onto the loaded totals and empties it; a process that
 * does not write the file reads both tables in one statement (sqlite_app.c), which scans the
 * log: at most flush_rows plus one batch of rows.
 *
 * A batch's additions reach the totals only when it has committed (publish), so a read on any
 * handle (the writer's inside a batch too) sees every committed batch and nothing of an open
 * one, as the SQL read did: the records of a batch were written only at its commit.
 *
 * Memory: one bucket (32 bytes) per row of limit_totals. Buckets that no window can count
 * again (core/limits.h, limits_dead_before) are pruned (prune_plan): a flush, at most once per
 * LIMITS_PRUNE_STEP_NS of the data's clock (the newest bucket end), deletes their rows of
 * limit_totals in its transaction, and publish drops them from memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "store/sqlite_private.h"
#include "util/assert.h"

#define LIMITS_SERIES_NONE UINT32_MAX

struct limits_bucket {
    uint64_t end_ns;
    int64_t amount; /* >= 0 */
    uint64_t count;
    bool dirty; /* limit_totals lacks some of it: listed in dirty[] */
};

/* Every bucket of one user, currency and direction, by end_ns ascending. */
struct limits_series {
    struct id128 user_id;
    uint16_t currency;
    uint8_t direction;
    uint32_t len;
    uint32_t cap;
    struct limits_bucket *buckets;
};

/* A lagging bucket: its series and end. */
struct limits_dirty {
    uint32_t series;
    uint64_t end_ns;
};

struct sqlite_limits {
    struct limits_series *series;
    uint32_t series_count;
    uint32_t series_max;
    uint32_t *slots;     /* open addressing by (user, currency, direction): series index + 1 */
    uint32_t slot_count; /* a power of two, at least twice series_max; 0 = none yet */
    struct limits_dirty *dirty;
    uint32_t dirty_count;
    uint32_t dirty_max;
    uint64_t log_rows; /* committed rows of limit_usage_log */
    uint64_t seq_last; /* the largest seq committed to it (0: none since open) */
    uint32_t flush_rows;
    uint64_t newest_end_ns; /* the largest bucket end ever held: the data's clock */
    uint64_t pruned_before_ns; /* buckets ending at or before this are gone (0: none pruned) */
};

/* A lagging bucket's key and value, sorted into limit_totals' key order by flush. */
struct sqlite_limits_key {
    struct id128 user_id;
    uint64_t end_ns;
    int64_t amount;
    uint64_t count;
    uint16_t currency;
    uint8_t direction;
};

#define LIMITS_LOG_INSERT_SQL                                                                      \
    "INSERT INTO limit_usage_log (seq, user_id, currency, direction, end_ns, amount) VALUES "      \
    "(?1, ?2, ?3, ?4, ?5, ?6)"
#define LIMITS_TOTAL_SET_SQL                                                                       \
    "INSERT INTO limit_totals (user_id, currency, direction, end_ns, amount, count) VALUES (?1, "  \
    "?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET amount = excluded.amount, count = "             \
    "excluded.count"
#define LIMITS_LOG_TRIM_SQL "DELETE FROM limit_usage_log WHERE seq <= ?1"
#define LIMITS_PRUNE_SQL                                                                           \
    "DELETE FROM limit_totals WHERE user_id = ?1 AND currency = ?2 AND direction = ?3 AND "        \
    "end_ns <= ?4"

/* ---- The totals ---- */

static uint32_t series_hash(struct id128 user_id, uint16_t currency, uint8_t direction)
{
    uint64_t h =
        id128_hash(user_id) ^ ((uint64_t)currency << 8 | direction) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static uint32_t series_find(const struct sqlite_limits *l, struct id128 user_id, uint16_t currency,
                            uint8_t direction)
{
    if (l->slot_count == 0) {
        return LIMITS_SERIES_NONE;
    }
    uint32_t mask = l->slot_count - 1;
    for (uint32_t i = series_hash(user_id, currency, direction) & mask; l->slots[i] != 0;
         i = (i + 1) & mask) {
        const struct limits_series *s = &l->series[l->slots[i] - 1];
        if (id128_eq(s->user_id, user_id) && s->currency == currency && s->direction == direction) {
            return l->slots[i] - 1;
        }
    }
    return LIMITS_SERIES_NONE;
}

static void slot_put(struct sqlite_limits *l, uint32_t index)
{
    const struct limits_series *s = &l->series[index];
    uint32_t mask = l->slot_count - 1;
    uint32_t i = series_hash(s->user_id, s->currency, s->direction) & mask;
    while (l->slots[i] != 0) {
        i = (i + 1) & mask;
    }
    l->slots[i] = index + 1;
}

/* Room for one more series. TL_ERR_NOMEM leaves the totals as they were. */
static enum tl_err series_reserve(struct sqlite_limits *l)
{
    if (l->series_count < l->series_max) {
        return TL_OK;
    }
    if (l->series_max > UINT32_MAX / 4) {
        return TL_ERR_NOMEM;
    }
    uint32_t max = l->series_max < 256 ? 256 : l->series_max * 2;
    struct limits_series *series = realloc(l->series, (size_t)max * sizeof(*series));
    if (series == NULL) {
        return TL_ERR_NOMEM;
    }
    l->series = series;
    uint32_t *slots = calloc((size_t)max * 2, sizeof(*slots));
    if (slots == NULL) {
        return TL_ERR_NOMEM;
    }
    free(l->slots);
    l->slots = slots;
    l->slot_count = max * 2;
    l->series_max = max;
    for (uint32_t i = 0; i < l->series_count; i++) {
        slot_put(l, i);
    }
    return TL_OK;
}

/* The series of (user, currency, direction), made empty when missing; *out its index. */
static enum tl_err series_get(struct sqlite_limits *l, struct id128 user_id, uint16_t currency,
                              uint8_t direction, uint32_t *out)
{
    uint32_t index = series_find(l, user_id, currency, direction);
    if (index == LIMITS_SERIES_NONE) {
        enum tl_err err = series_reserve(l);
        if (err != TL_OK) {
            return err;
        }
        index = l->series_count++;
        l->series[index] = (struct limits_series){
            .user_id = user_id, .currency = currency, .direction = direction};
        slot_put(l, index);
    }
    *out = index;
    return TL_OK;
}

/* Room for extra more buckets in series s. */
static enum tl_err buckets_reserve(struct limits_series *s, uint32_t extra)
{
    if (extra <= s->cap - s->len) {
        return TL_OK;
    }
    if (s->len > UINT32_MAX / 4 - extra) {
        return TL_ERR_NOMEM;
    }
    uint32_t cap = s->cap < 4 ? 4 : s->cap;
    while (cap < s->len + extra) {
        cap *= 2;
    }
    struct limits_bucket *buckets = realloc(s->buckets, (size_t)cap * sizeof(*buckets));
    if (buckets == NULL) {
        return TL_ERR_NOMEM;
    }
    s->buckets = buckets;
    s->cap = cap;
    return TL_OK;
}

static enum tl_err dirty_reserve(struct sqlite_limits *l, uint32_t extra)
{
    if (extra <= l->dirty_max - l->dirty_count) {
        return TL_OK;
    }
    if (l->dirty_count > UINT32_MAX / 4 - extra) {
        return TL_ERR_NOMEM;
    }
    uint32_t max = l->dirty_max < 1024 ? 1024 : l->dirty_max;
    while (max < l->dirty_count + extra) {
        max *= 2;
    }
    struct limits_dirty *dirty = realloc(l->dirty, (size_t)max * sizeof(*dirty));
    if (dirty == NULL) {
        return TL_ERR_NOMEM;
    }
    l->dirty = dirty;
    l->dirty_max = max;
    return TL_OK;
}

/* The first bucket of s that ends after after_ns (s->len when none). */
static uint32_t bucket_after(const struct limits_series *s, uint64_t after_ns)
{
    uint32_t lo = 0;
    uint32_t hi = s->len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->buckets[mid].end_ns <= after_ns) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The bucket of s ending at end_ns, or NULL. */
static struct limits_bucket *bucket_find(const struct limits_series *s, uint64_t end_ns)
{
    TL_ASSERT(end_ns > 0);
    uint32_t i = bucket_after(s, end_ns - 1);
    return i < s->len && s->buckets[i].end_ns == end_ns ? &s->buckets[i] : NULL;
}

/*
 * Adds amount and count to the bucket of series index ending at end_ns, making it (in order)
 * when missing, and lists it as lagging. Room was reserved and the sum checked: cannot fail.
 */
static void bucket_add(struct sqlite_limits *l, uint32_t index, uint64_t end_ns, int64_t amount,
                       uint64_t count)
{
    struct limits_series *s = &l->series[index];
    uint32_t i = bucket_after(s, end_ns - 1);
    if (i == s->len || s->buckets[i].end_ns != end_ns) {
        TL_ASSERT(s->len < s->cap);
        memmove(&s->buckets[i + 1], &s->buckets[i], (size_t)(s->len - i) * sizeof(s->buckets[0]));
        s->buckets[i] = (struct limits_bucket){.end_ns = end_ns};
        s->len++;
    }
    struct limits_bucket *b = &s->buckets[i];
    l->newest_end_ns = end_ns > l->newest_end_ns ? end_ns : l->newest_end_ns;
    TL_ASSERT(amount >= 0);
    TL_ASSERT(b->amount <= INT64_MAX - amount);
    b->amount += amount;
    b->count += count;
    if (!b->dirty) {
        TL_ASSERT(l->dirty_count < l->dirty_max);
        b->dirty = true;
        l->dirty[l->dirty_count++] = (struct limits_dirty){.series = index, .end_ns = end_ns};
    }
}

static void limits_free(struct sqlite_limits *l)
{
    if (l == NULL) {
        return;
    }
    for (uint32_t i = 0; i < l->series_count; i++) {
        free(l->series[i].buckets);
    }
    free(l->series);
    free(l->slots);
    free(l->dirty);
    free(l);
}

/* ---- Statements ---- */

static enum tl_err stmt_ready(sqlite3 *db, sqlite3_stmt **stmt, const char *sql, const char *what)
{
    if (*stmt != NULL) {
        TL_ASSERT(sqlite3_db_handle(*stmt) == db);
        return TL_OK;
    }
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, what);
}

static void bind_user(sqlite3_stmt *stmt, int index, struct id128 user_id,
                      uint8_t bytes[ID128_BYTES])
{
    id128_to_bytes(user_id, bytes);
    int rc = sqlite3_bind_blob(stmt, index, bytes, ID128_BYTES, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

/* ---- The batch ---- */

void store_sqlite_limits_batch_reset(struct sqlite_limits_batch *b)
{
    b->add_count = 0;
    b->log_count = 0;
    b->merged = false;
    b->flushed = false;
    b->prune_count = 0;
    b->prune_before_ns = 0;
}

void store_sqlite_limits_batch_free(struct sqlite_limits_batch *b)
{
    sqlite3_finalize(b->log_insert);
    sqlite3_finalize(b->total_set);
    sqlite3_finalize(b->log_trim);
    sqlite3_finalize(b->prune);
    free(b->prunes);
    free(b->adds);
    free(b->keys);
    memset(b, 0, sizeof(*b));
}

enum tl_err store_sqlite_limits_append(const struct sqlite_limits *l, struct sqlite_limits_batch *b,
                                       sqlite3 *db, const struct store_record *record)
{
    struct store_limit_usage usage;
    uint8_t bytes[ID128_BYTES];

    TL_ASSERT(!b->merged);
    store_record_limit_usage_decode(record, &usage);
    enum tl_err err = stmt_ready(db, &b->log_insert, LIMITS_LOG_INSERT_SQL, "limit usage log");
    if (err != TL_OK) {
        return err;
    }
    if (b->add_count == b->add_max) {
        if (b->add_max > UINT32_MAX / 4) {
            return TL_ERR_NOMEM;
        }
        uint32_t max = b->add_max < 64 ? 64 : b->add_max * 2;
        struct sqlite_limits_add *adds = realloc(b->adds, (size_t)max * sizeof(*adds));
        if (adds == NULL) {
            return TL_ERR_NOMEM;
        }
        b->adds = adds;
        b->add_max = max;
    }
    /* Sequence numbers continue from the committed log, so a trim never reaches this batch's
     * rows (and a log emptied at open restarts nothing below a committed row). */
    uint64_t seq = l->seq_last + b->log_count + 1;
    sqlite3_stmt *stmt = b->log_insert;
    store_sqlite_bind_u64(stmt, 1, seq);
    bind_user(stmt, 2, usage.user_id, bytes);
    store_sqlite_bind_i64(stmt, 3, usage.currency);
    store_sqlite_bind_i64(stmt, 4, usage.direction);
    store_sqlite_bind_u64(stmt, 5, usage.end_ns);
    store_sqlite_bind_i64(stmt, 6, usage.amount);
    int rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "records_write: limit usage");
    }
    b->adds[b->add_count++] = (struct sqlite_limits_add){.usage = usage, .count = 1};
    b->log_count++;
    return TL_OK;
}

static int key_compare(struct id128 user_a, uint16_t currency_a, uint8_t direction_a,
                       uint64_t end_a, struct id128 user_b, uint16_t currency_b,
                       uint8_t direction_b, uint64_t end_b)
{
    int c = id128_cmp(user_a, user_b); /* the order of the 16-byte blobs */
    if (c != 0) {
        return c;
    }
    if (currency_a != currency_b) {
        return currency_a < currency_b ? -1 : 1;
    }
    if (direction_a != direction_b) {
        return direction_a < direction_b ? -1 : 1;
    }
    return end_a < end_b ? -1 : end_a > end_b;
}

static int add_compare(const void *pa, const void *pb)
{
    const struct store_limit_usage *a = &((const struct sqlite_limits_add *)pa)->usage;
    const struct store_limit_usage *b = &((const struct sqlite_limits_add *)pb)->usage;
    return key_compare(a->user_id, a->currency, a->direction, a->end_ns, b->user_id, b->currency,
                       b->direction, b->end_ns);
}

enum tl_err store_sqlite_limits_merge(struct sqlite_limits_batch *b)
{
    TL_ASSERT(!b->merged);
    TL_ASSERT(b->add_count == b->log_count);
    if (b->add_count > 1) { /* adds is NULL while the batch has none */
        qsort(b->adds, b->add_count, sizeof(b->adds[0]), add_compare);
    }
    uint32_t out = 0;
    for (uint32_t i = 0; i < b->add_count; i++) {
        struct sqlite_limits_add *a = &b->adds[i];
        struct sqlite_limits_add *last = out > 0 ? &b->adds[out - 1] : NULL;
        if (last != NULL && add_compare(last, a) == 0) {
            if (last->usage.amount > INT64_MAX - a->usage.amount) {
                fprintf(stderr, "store.sqlite: records_write: limit usage: integer overflow\n");
                return TL_ERR_STORAGE; /* as SQLite refused the sum */
            }
            last->usage.amount += a->usage.amount;
            last->count += a->count;
            continue;
        }
        b->adds[out++] = *a;
    }
    b->add_count = out;
    b->merged = true;
    return TL_OK;
}

/* One run of adds[first..) of one series: its index, checked sums, room for its new buckets.
 * Returns the index after the run. */
static enum tl_err reserve_run(struct sqlite_limits *l, struct sqlite_limits_batch *b,
                               uint32_t first, uint32_t *next)
{
    const struct store_limit_usage *u = &b->adds[first].usage;
    uint32_t index = 0;
    enum tl_err err = series_get(l, u->user_id, u->currency, u->direction, &index);
    if (err != TL_OK) {
        return err;
    }
    uint32_t end = first;
    uint32_t fresh = 0;
    for (; end < b->add_count; end++) {
        struct sqlite_limits_add *a = &b->adds[end];
        if (!id128_eq(a->usage.user_id, u->user_id) || a->usage.currency != u->currency ||
            a->usage.direction != u->direction) {
            break;
        }
        a->series = index;
        const struct limits_bucket *bucket = bucket_find(&l->series[index], a->usage.end_ns);
        if (bucket == NULL) {
            fresh++;
        } else if (bucket->amount > INT64_MAX - a->usage.amount) {
            fprintf(stderr, "store.sqlite: records_write: limit usage: integer overflow\n");
            return TL_ERR_STORAGE;
        }
    }
    *next = end;
    return buckets_reserve(&l->series[index], fresh);
}

enum tl_err store_sqlite_limits_reserve(struct sqlite_limits *l, struct sqlite_limits_batch *b)
{
    TL_ASSERT(b->merged);
    enum tl_err err = dirty_reserve(l, b->add_count);
    for (uint32_t i = 0; err == TL_OK && i < b->add_count;) {
        err = reserve_run(l, b, i, &i);
    }
    return err;
}

static int dirty_key_compare(const void *pa, const void *pb)
{
    const struct sqlite_limits_key *a = pa;
    const struct sqlite_limits_key *b = pb;
    return key_compare(a->user_id, a->currency, a->direction, a->end_ns, b->user_id, b->currency,
                       b->direction, b->end_ns);
}

/* The lagging buckets with their committed totals, in limit_totals' key order. */
static enum tl_err dirty_sorted(const struct sqlite_limits *l, struct sqlite_limits_batch *b)
{
    if (l->dirty_count > b->key_max) {
        struct sqlite_limits_key *keys = malloc((size_t)l->dirty_count * sizeof(*keys));
        if (keys == NULL) {
            return TL_ERR_NOMEM;
        }
        free(b->keys);
        b->keys = keys;
        b->key_max = l->dirty_count;
    }
    for (uint32_t i = 0; i < l->dirty_count; i++) {
        const struct limits_series *s = &l->series[l->dirty[i].series];
        const struct limits_bucket *bucket = bucket_find(s, l->dirty[i].end_ns);
        TL_ASSERT(bucket != NULL);
        TL_ASSERT(bucket->dirty);
        b->keys[i] = (struct sqlite_limits_key){.user_id = s->user_id,
                                                .end_ns = bucket->end_ns,
                                                .amount = bucket->amount,
                                                .count = bucket->count,
                                                .currency = s->currency,
                                                .direction = s->direction};
    }
    qsort(b->keys, l->dirty_count, sizeof(b->keys[0]), dirty_key_compare);
    return TL_OK;
}

static enum tl_err total_set(sqlite3 *db, sqlite3_stmt *stmt, const struct sqlite_limits_key *k)
{
    uint8_t bytes[ID128_BYTES];
    TL_ASSERT(k->amount >= 0);
    TL_ASSERT(k->count <= (uint64_t)INT64_MAX);
    bind_user(stmt, 1, k->user_id, bytes);
    store_sqlite_bind_i64(stmt, 2, k->currency);
    store_sqlite_bind_i64(stmt, 3, k->direction);
    store_sqlite_bind_u64(stmt, 4, k->end_ns);
    store_sqlite_bind_i64(stmt, 5, k->amount);
    store_sqlite_bind_u64(stmt, 6, k->count);
    int rc = store_sqlite_run(stmt);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, "limit totals flush");
}

/* Writes every lagging bucket's committed total and deletes the committed log rows, in the
 * open transaction on db. The totals change only at publish. */
static enum tl_err flush_all(const struct sqlite_limits *l, struct sqlite_limits_batch *b,
                             sqlite3 *db)
{
    enum tl_err err = stmt_ready(db, &b->total_set, LIMITS_TOTAL_SET_SQL, "limit totals flush");
    err = err == TL_OK ? stmt_ready(db, &b->log_trim, LIMITS_LOG_TRIM_SQL, "limit log trim") : err;
    err = err == TL_OK ? dirty_sorted(l, b) : err;
    for (uint32_t i = 0; err == TL_OK && i < l->dirty_count; i++) {
        err = total_set(db, b->total_set, &b->keys[i]);
    }
    if (err != TL_OK) {
        return err;
    }
    store_sqlite_bind_u64(b->log_trim, 1, l->seq_last);
    int rc = store_sqlite_run(b->log_trim);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "limit log trim");
    }
    if ((uint64_t)sqlite3_changes64(db) != l->log_rows) {
        return store_sqlite_corrupt("limit log trim: rows the totals do not know");
    }
    return TL_OK;
}

/* Room for one prune per series: a flush prunes each series at most once. */
static enum tl_err prunes_reserve(struct sqlite_limits_batch *b, uint32_t series_count)
{
    if (series_count <= b->prune_max) {
        return TL_OK;
    }
    struct sqlite_limits_prune *p = realloc(b->prunes, (size_t)series_count * sizeof(*p));
    if (p == NULL) {
        return TL_ERR_NOMEM;
    }
    b->prunes = p;
    b->prune_max = series_count;
    return TL_OK;
}

/* In the flush's transaction: deletes the dead rows of limit_totals, one key range per series
 * that has any, and lists them for publish to drop from memory. Due at most once per
 * LIMITS_PRUNE_STEP_NS of the data's clock; otherwise does nothing. */
static enum tl_err prune_plan(const struct sqlite_limits *l, struct sqlite_limits_batch *b,
                              sqlite3 *db)
{
    uint64_t before = limits_dead_before(l->newest_end_ns);
    TL_ASSERT(b->prune_count == 0);
    if (before == 0 || (l->pruned_before_ns != 0 && before < l->pruned_before_ns +
                                                                LIMITS_PRUNE_STEP_NS)) {
        return TL_OK;
    }
    enum tl_err err = stmt_ready(db, &b->prune, LIMITS_PRUNE_SQL, "limit totals prune");
    err = err == TL_OK ? prunes_reserve(b, l->series_count) : err;
    for (uint32_t i = 0; err == TL_OK && i < l->series_count; i++) {
        const struct limits_series *s = &l->series[i];
        uint32_t dead = bucket_after(s, before); /* buckets are in end order */
        if (dead == 0) {
            continue;
        }
        uint8_t bytes[ID128_BYTES];
        bind_user(b->prune, 1, s->user_id, bytes);
        store_sqlite_bind_i64(b->prune, 2, s->currency);
        store_sqlite_bind_i64(b->prune, 3, s->direction);
        store_sqlite_bind_u64(b->prune, 4, before);
        int rc = store_sqlite_run(b->prune);
        err = rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, "limit totals prune");
        if (err == TL_OK) {
            TL_ASSERT(b->prune_count < b->prune_max);
            b->prunes[b->prune_count++] = (struct sqlite_limits_prune){.series = i, .count = dead};
        }
    }
    b->prune_before_ns = err == TL_OK ? before : 0;
    return err;
}

enum tl_err store_sqlite_limits_flush(struct sqlite_limits *l, struct sqlite_limits_batch *b,
                                      sqlite3 *db)
{
    TL_ASSERT(b->merged);
    TL_ASSERT(!b->flushed);
    if (l->log_rows < l->flush_rows) {
        return TL_OK;
    }
    enum tl_err err = flush_all(l, b, db);
    err = err == TL_OK ? prune_plan(l, b, db) : err;
    b->flushed = err == TL_OK;
    return err;
}

/* Drops the buckets prune_plan deleted (after dirty_clear, which may name some of them). The
 * batch's own additions come after, into room reserve made: fewer buckets need no more. */
static void prune_apply(struct sqlite_limits *l, const struct sqlite_limits_batch *b)
{
    for (uint32_t i = 0; i < b->prune_count; i++) {
        struct limits_series *s = &l->series[b->prunes[i].series];
        uint32_t dead = b->prunes[i].count;
        TL_ASSERT(dead >= 1);
        TL_ASSERT(dead <= s->len);
        TL_ASSERT(s->buckets[dead - 1].end_ns <= b->prune_before_ns);
        memmove(&s->buckets[0], &s->buckets[dead], (size_t)(s->len - dead) * sizeof(s->buckets[0]));
        s->len -= dead;
        TL_ASSERT(s->len == 0 || s->buckets[0].end_ns > b->prune_before_ns);
    }
    if (b->prune_before_ns != 0) {
        l->pruned_before_ns = b->prune_before_ns;
    }
}

/* Marks every lagging bucket written (its row now holds its committed total). */
static void dirty_clear(struct sqlite_limits *l)
{
    for (uint32_t i = 0; i < l->dirty_count; i++) {
        struct limits_bucket *bucket =
            bucket_find(&l->series[l->dirty[i].series], l->dirty[i].end_ns);
        TL_ASSERT(bucket != NULL);
        bucket->dirty = false;
    }
    l->dirty_count = 0;
}

void store_sqlite_limits_publish(struct sqlite_limits *l, struct sqlite_limits_batch *b)
{
    TL_ASSERT(b->merged || b->log_count == 0);
    if (b->flushed) {
        dirty_clear(l);
        prune_apply(l, b);
        l->log_rows = 0;
    }
    for (uint32_t i = 0; i < b->add_count; i++) {
        const struct sqlite_limits_add *a = &b->adds[i];
        bucket_add(l, a->series, a->usage.end_ns, a->usage.amount, a->count);
    }
    l->log_rows += b->log_count;
    l->seq_last += b->log_count;
    store_sqlite_limits_batch_reset(b);
}

/* ---- Reads ---- */

enum tl_err store_sqlite_limits_sum(const struct sqlite_limits *l, struct id128 user_id,
                                    uint16_t currency, uint8_t direction, uint64_t after_ns,
                                    struct store_limits_window *out)
{
    int64_t amount = 0;
    uint64_t count = 0;
    uint64_t oldest_ns = 0;
    uint32_t index = series_find(l, user_id, currency, direction);
    if (index != LIMITS_SERIES_NONE) {
        const struct limits_series *s = &l->series[index];
        uint32_t first = bucket_after(s, after_ns);
        oldest_ns = first < s->len ? s->buckets[first].end_ns : 0;
        for (uint32_t i = first; i < s->len; i++) {
            if (amount > INT64_MAX - s->buckets[i].amount) {
                fprintf(stderr, "store.sqlite: limits window: integer overflow\n");
                return TL_ERR_STORAGE;
            }
            amount += s->buckets[i].amount;
            count += s->buckets[i].count;
        }
    }
    if (count > UINT32_MAX) {
        return store_sqlite_corrupt("limits window: count");
    }
    TL_ASSERT(amount >= 0);
    out->amount = amount;
    out->count = (uint32_t)count;
    out->oldest_ns = oldest_ns;
    return TL_OK;
}

/* ---- Open and close ---- */

/* Appends the rows of limit_totals, read in key order, to the (empty) totals. */
static enum tl_err totals_load(struct sqlite_limits *l, sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT user_id, currency, direction, end_ns, amount, count FROM "
                                "limit_totals ORDER BY user_id, currency, direction, end_ns",
                                -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "limit totals load");
    }
    uint32_t index = LIMITS_SERIES_NONE;
    while (err == TL_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct id128 user_id;
        int64_t currency, direction, end_ns, amount, count;
        if (!store_sqlite_col_id(stmt, 0, &user_id) || !store_sqlite_col_i64(stmt, 1, &currency) ||
            !store_sqlite_col_i64(stmt, 2, &direction) || !store_sqlite_col_i64(stmt, 3, &end_ns) ||
            !store_sqlite_col_i64(stmt, 4, &amount) || !store_sqlite_col_i64(stmt, 5, &count) ||
            currency <= 0 || currency > UINT16_MAX || (direction != 1 && direction != 2) ||
            end_ns <= 0 || amount < 0 || count < 0) {
            err = store_sqlite_corrupt("limit totals load");
            break;
        }
        const struct limits_series *s = index != LIMITS_SERIES_NONE ? &l->series[index] : NULL;
        if (s == NULL || !id128_eq(s->user_id, user_id) || s->currency != currency ||
            s->direction != direction) {
            err = series_get(l, user_id, (uint16_t)currency, (uint8_t)direction, &index);
        }
        struct limits_series *series = err == TL_OK ? &l->series[index] : NULL;
        err = err == TL_OK ? buckets_reserve(series, 1) : err;
        if (err == TL_OK) {
            /* Key order: each row ends after the last of its series. */
            TL_ASSERT(series->len == 0 ||
                      series->buckets[series->len - 1].end_ns < (uint64_t)end_ns);
            series->buckets[series->len++] = (struct limits_bucket){
                .end_ns = (uint64_t)end_ns, .amount = amount, .count = (uint64_t)count};
            l->newest_end_ns =
                (uint64_t)end_ns > l->newest_end_ns ? (uint64_t)end_ns : l->newest_end_ns;
        }
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, "limit totals load");
    }
    sqlite3_finalize(stmt);
    return err;
}

/* One replayed log row added to the totals (and listed as lagging). */
static enum tl_err replay_row(struct sqlite_limits *l, sqlite3_stmt *stmt)
{
    struct store_limit_usage u;
    int64_t seq, currency, direction, end_ns, amount;
    uint32_t index = 0;
    if (!store_sqlite_col_i64(stmt, 0, &seq) || !store_sqlite_col_id(stmt, 1, &u.user_id) ||
        !store_sqlite_col_i64(stmt, 2, &currency) || !store_sqlite_col_i64(stmt, 3, &direction) ||
        !store_sqlite_col_i64(stmt, 4, &end_ns) || !store_sqlite_col_i64(stmt, 5, &amount) ||
        seq <= 0 || (uint64_t)seq <= l->seq_last || currency <= 0 || currency > UINT16_MAX ||
        (direction != 1 && direction != 2) || end_ns <= 0 || amount <= 0) {
        return store_sqlite_corrupt("limit usage replay");
    }
    enum tl_err err = series_get(l, u.user_id, (uint16_t)currency, (uint8_t)direction, &index);
    err = err == TL_OK ? buckets_reserve(&l->series[index], 1) : err;
    err = err == TL_OK ? dirty_reserve(l, 1) : err;
    if (err != TL_OK) {
        return err;
    }
    const struct limits_bucket *b = bucket_find(&l->series[index], (uint64_t)end_ns);
    if (b != NULL && b->amount > INT64_MAX - amount) {
        return store_sqlite_corrupt("limit usage replay: total past INT64_MAX");
    }
    bucket_add(l, index, (uint64_t)end_ns, amount, 1);
    l->seq_last = (uint64_t)seq;
    l->log_rows++;
    return TL_OK;
}

static enum tl_err log_replay(struct sqlite_limits *l, sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT seq, user_id, currency, direction, end_ns, amount FROM "
                                "limit_usage_log ORDER BY seq",
                                -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "limit usage replay");
    }
    while (err == TL_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        err = replay_row(l, stmt);
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, "limit usage replay");
    }
    sqlite3_finalize(stmt);
    return err;
}

static enum tl_err run_sql(sqlite3 *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, what);
}

/* Writes every lagging bucket and trims the log in one transaction of its own on db; the
 * totals then have nothing lagging. */
static enum tl_err flush_own_transaction(struct sqlite_limits *l, sqlite3 *db)
{
    struct sqlite_limits_batch scratch;
    memset(&scratch, 0, sizeof(scratch));
    enum tl_err err = run_sql(db, "BEGIN IMMEDIATE", "limit totals flush: begin");
    if (err != TL_OK) {
        return err;
    }
    err = flush_all(l, &scratch, db);
    err = err == TL_OK ? run_sql(db, "COMMIT", "limit totals flush: commit") : err;
    if (err != TL_OK && !sqlite3_get_autocommit(db)) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    store_sqlite_limits_batch_free(&scratch);
    if (err == TL_OK) {
        dirty_clear(l);
        l->log_rows = 0;
    }
    return err;
}

enum tl_err store_sqlite_limits_open(sqlite3 *db, uint32_t flush_rows, struct sqlite_limits **out)
{
    TL_ASSERT(flush_rows > 0);
    struct sqlite_limits *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return TL_ERR_NOMEM;
    }
    l->flush_rows = flush_rows;
    /* One read transaction: the log and the table it completes are one snapshot. */
    enum tl_err err = run_sql(db, "BEGIN IMMEDIATE", "limit totals load: begin");
    if (err == TL_OK) {
        err = totals_load(l, db);
        err = err == TL_OK ? log_replay(l, db) : err;
        enum tl_err end = run_sql(db, err == TL_OK ? "COMMIT" : "ROLLBACK", "limit totals load");
        err = err == TL_OK ? end : err;
    }
    /* A replay is the normal open after a kill, so it logs nothing (stderr carries errors). */
    if (err == TL_OK && l->log_rows > 0) {
        err = flush_own_transaction(l, db);
    }
    if (err != TL_OK) {
        limits_free(l);
        return err;
    }
    *out = l;
    return TL_OK;
}

void store_sqlite_limits_close(struct sqlite_limits *l, sqlite3 *db)
{
    if (l == NULL) {
        return;
    }
    if (db != NULL && l->log_rows > 0) {
        (void)flush_own_transaction(l, db); /* on failure the next open replays the log */
    }
    limits_free(l);
}
