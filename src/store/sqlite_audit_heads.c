/*
 * sqlite_audit_heads.c - the newest audit entry of every party ("heads"), for the process that
 * writes an SQLite database: an in-memory directory shared by the handles of one file, and its
 * lazy persistence in audit_heads (schema v7).
 *
 * Why: a user's audit entries are a chain (audit_log.user_prev / counterparty_prev link each
 * entry to its parties' previous ones) that a listing follows from the user's head. Keeping
 * the heads in a table written with every entry would dirty one random leaf per party, which
 * is what the two indexes it replaces cost. So the heads live here, and audit_heads is a
 * snapshot that may lag: every writer batch rewrites only a slice of the lagging heads, in key
 * order (a cursor walks the directory, loaded in key order), and store_meta.audit_replay_after
 * = R is kept in the same transaction such that every audit_heads row reflects every entry
 * with a seq at or below R. The entries after R are few (a pass of the cursor) and name their
 * parties, so the first writing handle of a process replays them at open, and a reader in
 * another process reads them beside the row (sqlite_audit.c).
 *
 * The directory reflects every entry with seq <= applied. Entries are applied in seq order:
 * a write transaction first applies the committed entries it finds above applied (another
 * handle's commit whose publish has not run yet), and a publish after a commit applies only
 * the entries above applied. So every applier of this process agrees on one order, dirty
 * entries join the dirty list with a growing "since", and the oldest one bounds R.
 *
 * Locks: lock guards the directory. A write transaction (SQLite lets one run at a time) reads
 * it, appends its entries to its own overlay, and publishes after its COMMIT.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_private.h"
#include "util/assert.h"

/* A batch writes max(flush_min, dirty / HEADS_FLUSH_CYCLE) lagging heads, like the accounts
 * (sqlite_shared.c); flush_min is the accounts' setting (TALLY_SQLITE_FLUSH_MIN in tests). */
#define HEADS_FLUSH_CYCLE 32u
#define HEADS_NONE UINT32_MAX
#define HEADS_MAX_MIN 1024u

#define HEADS_UPSERT_SQL                                                                           \
    "INSERT INTO audit_heads (user_id, seq) VALUES (?1, ?2) ON CONFLICT (user_id) DO UPDATE SET "  \
    "seq = excluded.seq"
#define HEADS_META_GET_SQL "SELECT value FROM store_meta WHERE name = 'audit_replay_after'"
#define HEADS_META_SET_SQL "UPDATE store_meta SET value = ?1 WHERE name = 'audit_replay_after'"
#define HEADS_AFTER_SQL                                                                            \
    "SELECT seq, user_id, counterparty_id FROM audit_log WHERE seq > ?1 ORDER BY seq"
#define HEADS_LAST_SQL "SELECT coalesce(max(seq), 0) FROM audit_log"

struct heads_entry {
    struct id128 user_id;
    uint64_t seq;   /* the party's newest applied entry */
    uint64_t since; /* dirty: its audit_heads row reflects every entry up to here */
    uint32_t older; /* the dirty list, oldest since first */
    uint32_t newer;
    uint32_t mark; /* == a flush's mark: that flush writes this head */
    bool dirty;
};

struct store_sqlite_heads {
    pthread_mutex_t lock;
    struct heads_entry *entries;
    uint32_t count;
    uint32_t max;
    uint32_t *slots; /* entry index + 1, open addressing by user id */
    uint32_t slot_count;
    uint32_t dirty_oldest;
    uint32_t dirty_newest;
    uint32_t dirty_count;
    uint64_t applied;      /* every entry with seq <= applied is in the directory */
    uint64_t replay_after; /* as stored (or newer: a late publish only raises it) */
    uint32_t cursor;       /* the flush's walk, in entry order */
    uint32_t mark;
    uint32_t flush_min;
};

/* A head a transaction's flush writes. */
struct heads_written {
    struct id128 user_id;
    uint64_t seq;
};

/* An overlay slot: the transaction's newest entry of a party. */
struct heads_overlay {
    struct id128 user_id;
    uint64_t seq;   /* 0 = empty slot */
    uint64_t first; /* the transaction's first entry of the party */
};

struct store_sqlite_heads_txn {
    sqlite3 *db; /* borrowed from the handle */
    sqlite3_stmt *upsert;
    sqlite3_stmt *meta_set;
    sqlite3_stmt *after;
    sqlite3_stmt *last;
    struct store_sqlite_audit_link *rows; /* the transaction's entries, in seq order */
    uint32_t row_count;
    uint32_t row_max;
    struct heads_overlay *overlay;
    uint32_t overlay_slots; /* a power of two, at least four times the parties */
    uint32_t overlay_count;
    struct heads_written *written;
    uint32_t written_count;
    uint32_t written_max;
    uint64_t replay_after; /* what the flush stored, 0 = unchanged */
    bool caught_up;        /* the directory holds every entry committed before this one */
};

/* ---- The directory (callers hold lock) ---- */

static uint32_t find_user(const struct store_sqlite_heads *h, struct id128 user_id)
{
    uint32_t mask = h->slot_count - 1;
    if (h->slot_count == 0) {
        return HEADS_NONE;
    }
    for (uint32_t i = (uint32_t)id128_hash(user_id) & mask; h->slots[i] != 0; i = (i + 1) & mask) {
        if (id128_eq(h->entries[h->slots[i] - 1].user_id, user_id)) {
            return h->slots[i] - 1;
        }
    }
    return HEADS_NONE;
}

static void slot_put(struct store_sqlite_heads *h, uint32_t index)
{
    uint32_t mask = h->slot_count - 1;
    uint32_t i = (uint32_t)id128_hash(h->entries[index].user_id) & mask;
    while (h->slots[i] != 0) {
        i = (i + 1) & mask;
    }
    h->slots[i] = index + 1;
}

/* Room for need entries; TL_ERR_NOMEM leaves the directory as it was. */
static enum tl_err heads_reserve(struct store_sqlite_heads *h, uint64_t need)
{
    uint32_t max = h->max < HEADS_MAX_MIN ? HEADS_MAX_MIN : h->max;
    if (need <= h->max) {
        return TL_OK;
    }
    while (max < need) {
        if (max > UINT32_MAX / 4) {
            return TL_ERR_NOMEM;
        }
        max *= 2;
    }
    struct heads_entry *entries = realloc(h->entries, (size_t)max * sizeof(*entries));
    if (entries == NULL) {
        return TL_ERR_NOMEM;
    }
    h->entries = entries;
    uint32_t *slots = calloc((size_t)max * 2, sizeof(*slots));
    if (slots == NULL) {
        return TL_ERR_NOMEM;
    }
    free(h->slots);
    h->slots = slots;
    h->slot_count = max * 2;
    h->max = max;
    for (uint32_t i = 0; i < h->count; i++) {
        slot_put(h, i);
    }
    return TL_OK;
}

/* The entry of user_id, appended clean when new; room was reserved. */
static uint32_t entry_get(struct store_sqlite_heads *h, struct id128 user_id)
{
    uint32_t index = find_user(h, user_id);
    if (index != HEADS_NONE) {
        return index;
    }
    TL_ASSERT(h->count < h->max);
    index = h->count++;
    struct heads_entry *e = &h->entries[index];
    memset(e, 0, sizeof(*e));
    e->user_id = user_id;
    e->older = HEADS_NONE;
    e->newer = HEADS_NONE;
    slot_put(h, index);
    return index;
}

static void dirty_push(struct store_sqlite_heads *h, uint32_t index, uint64_t since)
{
    struct heads_entry *e = &h->entries[index];
    if (e->dirty) {
        return;
    }
    /* Entries are applied in seq order, so the list stays sorted by since. */
    TL_ASSERT(h->dirty_newest == HEADS_NONE || h->entries[h->dirty_newest].since <= since);
    e->dirty = true;
    e->since = since;
    e->older = h->dirty_newest;
    e->newer = HEADS_NONE;
    if (h->dirty_newest != HEADS_NONE) {
        h->entries[h->dirty_newest].newer = index;
    } else {
        h->dirty_oldest = index;
    }
    h->dirty_newest = index;
    h->dirty_count++;
}

static void dirty_remove(struct store_sqlite_heads *h, uint32_t index)
{
    struct heads_entry *e = &h->entries[index];
    if (!e->dirty) {
        return;
    }
    TL_ASSERT(h->dirty_count > 0);
    if (e->older != HEADS_NONE) {
        h->entries[e->older].newer = e->newer;
    } else {
        h->dirty_oldest = e->newer;
    }
    if (e->newer != HEADS_NONE) {
        h->entries[e->newer].older = e->older;
    } else {
        h->dirty_newest = e->older;
    }
    e->dirty = false;
    e->older = HEADS_NONE;
    e->newer = HEADS_NONE;
    h->dirty_count--;
}

/* Applies one entry (the next above applied) to its parties; room was reserved. */
static void heads_apply(struct store_sqlite_heads *h, const struct store_sqlite_audit_link *link)
{
    TL_ASSERT(link->seq > h->applied);
    uint32_t index = entry_get(h, link->user_id);
    h->entries[index].seq = link->seq;
    dirty_push(h, index, link->seq - 1);
    if (!id128_is_zero(link->counterparty_id)) {
        index = entry_get(h, link->counterparty_id);
        h->entries[index].seq = link->seq;
        dirty_push(h, index, link->seq - 1);
    }
    h->applied = link->seq;
}

/* ---- SQL helpers ---- */

static void bind_user(sqlite3_stmt *stmt, int index, const uint8_t bytes[ID128_BYTES])
{
    int rc = sqlite3_bind_blob(stmt, index, bytes, ID128_BYTES, SQLITE_TRANSIENT);
    TL_ASSERT(rc == SQLITE_OK);
}

static enum tl_err head_write(sqlite3 *db, sqlite3_stmt *upsert, struct id128 user_id, uint64_t seq)
{
    uint8_t bytes[ID128_BYTES];
    TL_ASSERT(seq > 0);
    id128_to_bytes(user_id, bytes);
    bind_user(upsert, 1, bytes);
    store_sqlite_bind_u64(upsert, 2, seq);
    int rc = store_sqlite_run(upsert);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, "audit heads: write");
}

static enum tl_err meta_write(sqlite3 *db, sqlite3_stmt *meta_set, uint64_t replay_after)
{
    store_sqlite_bind_u64(meta_set, 1, replay_after);
    int rc = store_sqlite_run(meta_set);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "audit heads: replay mark");
    }
    if (sqlite3_changes(db) != 1) {
        return store_sqlite_corrupt("store_meta: audit_replay_after missing");
    }
    return TL_OK;
}

/* One row of HEADS_AFTER_SQL. */
static bool decode_link(sqlite3_stmt *stmt, struct store_sqlite_audit_link *out)
{
    int64_t seq = 0;
    memset(out, 0, sizeof(*out));
    if (!store_sqlite_col_i64(stmt, 0, &seq) || seq <= 0 ||
        !store_sqlite_col_id(stmt, 1, &out->user_id)) {
        return false;
    }
    out->seq = (uint64_t)seq;
    return sqlite3_column_type(stmt, 2) == SQLITE_NULL ||
           store_sqlite_col_id(stmt, 2, &out->counterparty_id);
}

/* Applies the stored entries after h->applied (stmt is HEADS_AFTER_SQL). Under lock. */
static enum tl_err heads_apply_stored(struct store_sqlite_heads *h, sqlite3 *db, sqlite3_stmt *stmt)
{
    struct store_sqlite_audit_link link;
    enum tl_err err = TL_OK;
    int rc;
    store_sqlite_bind_u64(stmt, 1, h->applied);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!decode_link(stmt, &link) || link.seq <= h->applied) {
            err = store_sqlite_corrupt("audit heads: replay");
            break;
        }
        err = heads_reserve(h, (uint64_t)h->count + 2);
        if (err != TL_OK) {
            break;
        }
        heads_apply(h, &link);
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, "audit heads: replay");
    }
    sqlite3_reset(stmt);
    return err;
}

/* ---- Open: load, replay, write what was replayed ---- */

static enum tl_err heads_meta_read(sqlite3 *db, uint64_t *out)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(db, HEADS_META_GET_SQL, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "audit heads: replay mark");
    }
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_INTEGER &&
        sqlite3_column_int64(stmt, 0) >= 0) {
        *out = (uint64_t)sqlite3_column_int64(stmt, 0);
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        err = store_sqlite_corrupt("store_meta: audit_replay_after");
    } else {
        err = store_sqlite_fail(db, rc, "audit heads: replay mark");
    }
    sqlite3_finalize(stmt);
    return err;
}

/* Loads every audit_heads row, in key order, into the empty directory. */
static enum tl_err heads_load(struct store_sqlite_heads *h, sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(db, "SELECT user_id, seq FROM audit_heads ORDER BY user_id", -1,
                                &stmt, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "audit heads: load");
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct id128 user_id;
        int64_t seq = 0;
        if (!store_sqlite_col_id(stmt, 0, &user_id) || !store_sqlite_col_i64(stmt, 1, &seq) ||
            seq <= 0 || find_user(h, user_id) != HEADS_NONE) {
            err = store_sqlite_corrupt("audit heads: load");
            break;
        }
        err = heads_reserve(h, (uint64_t)h->count + 1);
        if (err != TL_OK) {
            break;
        }
        h->entries[entry_get(h, user_id)].seq = (uint64_t)seq;
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, "audit heads: load");
    }
    sqlite3_finalize(stmt);
    return err;
}

/* Writes every dirty head and replay_after = applied, inside the caller's transaction. */
static enum tl_err heads_write_dirty(struct store_sqlite_heads *h, sqlite3 *db)
{
    sqlite3_stmt *upsert = NULL, *meta_set = NULL;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(db, HEADS_UPSERT_SQL, -1, &upsert, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db, HEADS_META_SET_SQL, -1, &meta_set, NULL);
    }
    if (rc != SQLITE_OK) {
        err = store_sqlite_fail(db, rc, "audit heads: write");
    }
    for (uint32_t i = h->dirty_oldest; err == TL_OK && i != HEADS_NONE; i = h->entries[i].newer) {
        err = head_write(db, upsert, h->entries[i].user_id, h->entries[i].seq);
    }
    if (err == TL_OK && h->applied != h->replay_after) {
        err = meta_write(db, meta_set, h->applied);
    }
    sqlite3_finalize(upsert);
    sqlite3_finalize(meta_set);
    return err;
}

static void heads_clean_all(struct store_sqlite_heads *h)
{
    while (h->dirty_oldest != HEADS_NONE) {
        dirty_remove(h, h->dirty_oldest);
    }
    h->replay_after = h->applied;
}

static enum tl_err run_sql(sqlite3 *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, what);
}

/* Loads the heads and replays the entries after the mark, in one transaction. */
static enum tl_err heads_replay(struct store_sqlite_heads *h, sqlite3 *db)
{
    sqlite3_stmt *after = NULL;
    enum tl_err err = run_sql(db, "BEGIN IMMEDIATE", "audit heads: begin");
    if (err != TL_OK) {
        return err;
    }
    err = heads_meta_read(db, &h->replay_after);
    h->applied = h->replay_after;
    err = err == TL_OK ? heads_load(h, db) : err;
    if (err == TL_OK && sqlite3_prepare_v2(db, HEADS_AFTER_SQL, -1, &after, NULL) != SQLITE_OK) {
        err = store_sqlite_fail(db, sqlite3_errcode(db), "audit heads: replay");
    }
    err = err == TL_OK ? heads_apply_stored(h, db, after) : err;
    sqlite3_finalize(after);
    uint64_t replayed = h->applied - h->replay_after;
    err = err == TL_OK ? heads_write_dirty(h, db) : err;
    err = err == TL_OK ? run_sql(db, "COMMIT", "audit heads: commit") : err;
    if (err != TL_OK) {
        if (!sqlite3_get_autocommit(db)) {
            (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        return err;
    }
    if (replayed > 0) {
        fprintf(stderr, "store.sqlite: replayed %llu audit entries after %llu onto audit_heads\n",
                (unsigned long long)replayed, (unsigned long long)h->replay_after);
    }
    heads_clean_all(h);
    return TL_OK;
}

enum tl_err store_sqlite_heads_open(sqlite3 *db, uint32_t flush_min,
                                    struct store_sqlite_heads **out)
{
    TL_ASSERT(flush_min >= 1);
    struct store_sqlite_heads *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return TL_ERR_NOMEM;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->dirty_oldest = HEADS_NONE;
    h->dirty_newest = HEADS_NONE;
    h->flush_min = flush_min;
    enum tl_err err = heads_replay(h, db);
    if (err != TL_OK) {
        store_sqlite_heads_free(h);
        return err;
    }
    *out = h;
    return TL_OK;
}

void store_sqlite_heads_flush_all(struct store_sqlite_heads *h, sqlite3 *db)
{
    if (h == NULL || (h->dirty_count == 0 && h->applied == h->replay_after)) {
        return;
    }
    /* The last handle is closing: nothing else applies or publishes now. */
    enum tl_err err = run_sql(db, "BEGIN IMMEDIATE", "audit heads: final flush");
    err = err == TL_OK ? heads_write_dirty(h, db) : err;
    err = err == TL_OK ? run_sql(db, "COMMIT", "audit heads: final flush") : err;
    if (err != TL_OK) {
        /* The heads stay behind; the next open replays the entries after the mark. */
        if (!sqlite3_get_autocommit(db)) {
            (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        return;
    }
    heads_clean_all(h);
}

void store_sqlite_heads_free(struct store_sqlite_heads *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_destroy(&h->lock);
    free(h->entries);
    free(h->slots);
    free(h);
}

bool store_sqlite_heads_get(struct store_sqlite_heads *h, struct id128 user_id, uint64_t *out_seq)
{
    pthread_mutex_lock(&h->lock);
    uint32_t index = find_user(h, user_id);
    *out_seq = index == HEADS_NONE ? 0 : h->entries[index].seq;
    pthread_mutex_unlock(&h->lock);
    return index != HEADS_NONE;
}

/* ---- A write transaction's side (one per handle) ---- */

enum tl_err store_sqlite_heads_txn_open(sqlite3 *db, struct store_sqlite_heads_txn **out)
{
    struct store_sqlite_heads_txn *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return TL_ERR_NOMEM;
    }
    t->db = db;
    const char *sql[] = {HEADS_UPSERT_SQL, HEADS_META_SET_SQL, HEADS_AFTER_SQL, HEADS_LAST_SQL};
    sqlite3_stmt **stmts[] = {&t->upsert, &t->meta_set, &t->after, &t->last};
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        int rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, stmts[i], NULL);
        if (rc != SQLITE_OK) {
            enum tl_err err = store_sqlite_fail(db, rc, "audit heads: prepare");
            store_sqlite_heads_txn_close(t);
            return err;
        }
    }
    *out = t;
    return TL_OK;
}

void store_sqlite_heads_txn_close(struct store_sqlite_heads_txn *t)
{
    if (t == NULL) {
        return;
    }
    sqlite3_finalize(t->upsert);
    sqlite3_finalize(t->meta_set);
    sqlite3_finalize(t->after);
    sqlite3_finalize(t->last);
    free(t->rows);
    free(t->overlay);
    free(t->written);
    free(t);
}

void store_sqlite_heads_txn_reset(struct store_sqlite_heads_txn *t)
{
    t->row_count = 0;
    if (t->overlay_slots > 1024 && t->overlay_count * 16 < t->overlay_slots) {
        /* After one large batch, small ones should not clear its table every time. */
        free(t->overlay);
        t->overlay = NULL;
        t->overlay_slots = 0;
    } else if (t->overlay_count > 0) {
        memset(t->overlay, 0, (size_t)t->overlay_slots * sizeof(*t->overlay));
    }
    t->overlay_count = 0;
    t->written_count = 0;
    t->replay_after = 0;
    t->caught_up = false;
}

static struct heads_overlay *overlay_find(const struct store_sqlite_heads_txn *t,
                                          struct id128 user_id)
{
    uint32_t mask = t->overlay_slots - 1;
    if (t->overlay_count == 0) {
        return NULL;
    }
    for (uint32_t i = (uint32_t)id128_hash(user_id) & mask; t->overlay[i].seq != 0;
         i = (i + 1) & mask) {
        if (id128_eq(t->overlay[i].user_id, user_id)) {
            return &t->overlay[i];
        }
    }
    return NULL;
}

static void overlay_put(struct heads_overlay *slots, uint32_t slot_count,
                        const struct heads_overlay *o)
{
    uint32_t mask = slot_count - 1;
    uint32_t i = (uint32_t)id128_hash(o->user_id) & mask;
    while (slots[i].seq != 0) {
        i = (i + 1) & mask;
    }
    slots[i] = *o;
}

/* The party's newest entry in this transaction is seq. */
static enum tl_err overlay_set(struct store_sqlite_heads_txn *t, struct id128 user_id, uint64_t seq)
{
    struct heads_overlay *o = overlay_find(t, user_id);
    if (o != NULL) {
        TL_ASSERT(seq > o->seq);
        o->seq = seq;
        return TL_OK;
    }
    if ((t->overlay_count + 1) * 4 > t->overlay_slots) {
        uint32_t slot_count = t->overlay_slots == 0 ? 64 : t->overlay_slots * 2;
        struct heads_overlay *slots = calloc(slot_count, sizeof(*slots));
        if (slot_count > UINT32_MAX / 8 || slots == NULL) {
            free(slots);
            return TL_ERR_NOMEM;
        }
        for (uint32_t i = 0; i < t->overlay_slots; i++) {
            if (t->overlay[i].seq != 0) {
                overlay_put(slots, slot_count, &t->overlay[i]);
            }
        }
        free(t->overlay);
        t->overlay = slots;
        t->overlay_slots = slot_count;
    }
    struct heads_overlay fresh = {.user_id = user_id, .seq = seq, .first = seq};
    overlay_put(t->overlay, t->overlay_slots, &fresh);
    t->overlay_count++;
    return TL_OK;
}

enum tl_err store_sqlite_heads_catch_up(struct store_sqlite_heads *h,
                                        struct store_sqlite_heads_txn *t, uint64_t last_seq)
{
    enum tl_err err = TL_OK;
    TL_ASSERT(!sqlite3_get_autocommit(t->db)); /* the write transaction holds the chain */
    TL_ASSERT(t->row_count == 0);
    pthread_mutex_lock(&h->lock);
    if (h->applied > last_seq) {
        err = store_sqlite_corrupt("audit heads: the directory is ahead of audit_log");
    } else if (h->applied < last_seq) {
        /* Another handle committed and has not published yet. */
        err = heads_apply_stored(h, t->db, t->after);
        if (err == TL_OK && h->applied != last_seq) {
            err = store_sqlite_corrupt("audit heads: audit_log has a gap");
        }
    }
    pthread_mutex_unlock(&h->lock);
    t->caught_up = err == TL_OK;
    return err;
}

uint64_t store_sqlite_heads_prev(struct store_sqlite_heads *h,
                                 const struct store_sqlite_heads_txn *t, struct id128 user_id)
{
    const struct heads_overlay *o = overlay_find(t, user_id);
    uint64_t seq = 0;
    TL_ASSERT(t->caught_up);
    if (o != NULL) {
        return o->seq;
    }
    (void)store_sqlite_heads_get(h, user_id, &seq);
    return seq;
}

enum tl_err store_sqlite_heads_add(struct store_sqlite_heads_txn *t,
                                   const struct store_sqlite_audit_link *link)
{
    TL_ASSERT(t->caught_up);
    TL_ASSERT(t->row_count == 0 || t->rows[t->row_count - 1].seq + 1 == link->seq);
    if (t->row_count == t->row_max) {
        uint32_t max = t->row_max == 0 ? 64 : t->row_max * 2;
        struct store_sqlite_audit_link *rows = realloc(t->rows, (size_t)max * sizeof(*rows));
        if (max > UINT32_MAX / 4 || rows == NULL) {
            return TL_ERR_NOMEM;
        }
        t->rows = rows;
        t->row_max = max;
    }
    enum tl_err err = overlay_set(t, link->user_id, link->seq);
    if (err == TL_OK && !id128_is_zero(link->counterparty_id) &&
        !id128_eq(link->counterparty_id, link->user_id)) {
        err = overlay_set(t, link->counterparty_id, link->seq);
    }
    if (err == TL_OK) {
        t->rows[t->row_count++] = *link;
    }
    return err;
}

/* Adds a head the flush writes: the transaction's newest entry of the party, else the
 * directory's. Room was made by written_reserve. */
static void written_add(struct store_sqlite_heads_txn *t, struct id128 user_id, uint64_t seq)
{
    const struct heads_overlay *o = overlay_find(t, user_id);
    TL_ASSERT(t->written_count < t->written_max);
    t->written[t->written_count].user_id = user_id;
    t->written[t->written_count].seq = o != NULL ? o->seq : seq;
    t->written_count++;
}

static enum tl_err written_reserve(struct store_sqlite_heads_txn *t, uint64_t need)
{
    if (need <= t->written_max) {
        return TL_OK;
    }
    if (need > UINT32_MAX / 2) {
        return TL_ERR_NOMEM;
    }
    struct heads_written *w = realloc(t->written, (size_t)need * sizeof(*w));
    if (w == NULL) {
        return TL_ERR_NOMEM;
    }
    t->written = w;
    t->written_max = (uint32_t)need;
    return TL_OK;
}

static int written_cmp(const void *a, const void *b)
{
    return id128_cmp(((const struct heads_written *)a)->user_id,
                     ((const struct heads_written *)b)->user_id);
}

/*
 * Picks the heads this transaction writes (under lock) and returns the new mark: every
 * lagging head when they are few; else every new party, and the next k lagging heads from the
 * cursor in entry (key) order. The mark is the oldest "since" of what still lags afterwards.
 */
static uint64_t flush_pick(struct store_sqlite_heads *h, struct store_sqlite_heads_txn *t)
{
    uint64_t last = t->row_count > 0 ? t->rows[t->row_count - 1].seq : h->applied;
    uint64_t mark_after = last;
    uint32_t newly = 0;
    for (uint32_t i = 0; i < t->overlay_slots; i++) {
        const struct heads_overlay *o = &t->overlay[i];
        uint32_t index = o->seq != 0 ? find_user(h, o->user_id) : HEADS_NONE;
        if (o->seq != 0 && (index == HEADS_NONE || !h->entries[index].dirty)) {
            newly++;
        }
    }
    uint32_t total = h->dirty_count + newly;
    uint32_t k =
        total / HEADS_FLUSH_CYCLE < h->flush_min ? h->flush_min : total / HEADS_FLUSH_CYCLE;
    if (++h->mark == 0) { /* wrapped: no entry may carry a live mark */
        for (uint32_t i = 0; i < h->count; i++) {
            h->entries[i].mark = 0;
        }
        h->mark = 1;
    }
    for (uint32_t i = 0; i < t->overlay_slots; i++) {
        const struct heads_overlay *o = &t->overlay[i];
        uint32_t index = o->seq != 0 ? find_user(h, o->user_id) : HEADS_NONE;
        if (o->seq == 0) {
            continue;
        }
        if (index == HEADS_NONE) {
            written_add(t, o->user_id, o->seq); /* a new party: never left lagging */
        } else if (total <= k && !h->entries[index].dirty) {
            written_add(t, o->user_id, o->seq);
            h->entries[index].mark = h->mark;
        }
    }
    if (total <= k) {
        for (uint32_t i = h->dirty_oldest; i != HEADS_NONE; i = h->entries[i].newer) {
            written_add(t, h->entries[i].user_id, h->entries[i].seq);
            h->entries[i].mark = h->mark;
        }
        return mark_after;
    }
    uint32_t picked = 0;
    for (uint32_t scanned = 0; picked < k && scanned < h->count; scanned++) {
        struct heads_entry *e = &h->entries[h->cursor];
        h->cursor = h->cursor + 1 == h->count ? 0 : h->cursor + 1;
        if (e->dirty || overlay_find(t, e->user_id) != NULL) {
            written_add(t, e->user_id, e->seq);
            e->mark = h->mark;
            picked++;
        }
    }
    /* What still lags: the oldest unpicked dirty head, and parties of this transaction whose
     * rows were current before it. */
    for (uint32_t i = h->dirty_oldest; i != HEADS_NONE; i = h->entries[i].newer) {
        if (h->entries[i].mark != h->mark) {
            mark_after = h->entries[i].since;
            break;
        }
    }
    for (uint32_t i = 0; i < t->overlay_slots; i++) {
        const struct heads_overlay *o = &t->overlay[i];
        uint32_t index = o->seq != 0 ? find_user(h, o->user_id) : HEADS_NONE;
        if (index != HEADS_NONE && h->entries[index].mark != h->mark && !h->entries[index].dirty &&
            o->first - 1 < mark_after) {
            mark_after = o->first - 1;
        }
    }
    return mark_after;
}

enum tl_err store_sqlite_heads_flush(struct store_sqlite_heads *h, struct store_sqlite_heads_txn *t,
                                     bool write_slice)
{
    enum tl_err err = TL_OK;
    TL_ASSERT(!sqlite3_get_autocommit(t->db));
    if (t->row_count == 0 && !write_slice) {
        return TL_OK;
    }
    if (!t->caught_up) {
        /* A batch without audit entries: nothing to do when no head lags (most ledger-only
         * batches), else bring the directory to the stored chain first. */
        pthread_mutex_lock(&h->lock);
        bool idle = h->dirty_count == 0 && h->applied == h->replay_after;
        pthread_mutex_unlock(&h->lock);
        if (idle) {
            return TL_OK;
        }
        int64_t last = 0;
        int rc = sqlite3_step(t->last);
        if (rc != SQLITE_ROW) {
            err = store_sqlite_fail(t->db, rc, "audit heads: last");
        } else if (!store_sqlite_col_i64(t->last, 0, &last) || last < 0) {
            err = store_sqlite_corrupt("audit heads: last");
        }
        sqlite3_reset(t->last);
        err = err == TL_OK ? store_sqlite_heads_catch_up(h, t, (uint64_t)last) : err;
    }
    uint64_t mark_after = 0, mark_before = 0;
    pthread_mutex_lock(&h->lock);
    /* Room for publish, so that it cannot fail after the commit. */
    err = err == TL_OK ? heads_reserve(h, (uint64_t)h->count + 2u * t->row_count) : err;
    bool due = write_slice &&
               (h->dirty_count > 0 || t->overlay_count > 0 || h->applied != h->replay_after);
    if (err == TL_OK && due) {
        err = written_reserve(t, (uint64_t)h->dirty_count + t->overlay_count);
    }
    if (err == TL_OK && due) {
        mark_before = h->replay_after;
        mark_after = flush_pick(h, t);
    }
    pthread_mutex_unlock(&h->lock);
    if (err != TL_OK || !due) {
        return err;
    }
    /* In key order, so the slice is a run of neighbouring leaves. */
    qsort(t->written, t->written_count, sizeof(*t->written), written_cmp);
    for (uint32_t i = 0; err == TL_OK && i < t->written_count; i++) {
        err = head_write(t->db, t->upsert, t->written[i].user_id, t->written[i].seq);
    }
    if (err == TL_OK && mark_after > mark_before) {
        err = meta_write(t->db, t->meta_set, mark_after);
        t->replay_after = mark_after;
    }
    return err;
}

void store_sqlite_heads_publish(struct store_sqlite_heads *h, struct store_sqlite_heads_txn *t)
{
    pthread_mutex_lock(&h->lock);
    for (uint32_t i = 0; i < t->row_count; i++) {
        if (t->rows[i].seq <= h->applied) {
            continue; /* another handle's catch-up applied it first */
        }
        TL_ASSERT(t->rows[i].seq == h->applied + 1);
        TL_ASSERT(h->count + 2 <= h->max); /* reserved by flush */
        heads_apply(h, &t->rows[i]);
    }
    for (uint32_t i = 0; i < t->written_count; i++) {
        uint32_t index = find_user(h, t->written[i].user_id);
        TL_ASSERT(index != HEADS_NONE);
        if (h->entries[index].seq == t->written[i].seq) {
            dirty_remove(h, index);
        }
    }
    if (t->replay_after > h->replay_after) {
        h->replay_after = t->replay_after;
    }
    pthread_mutex_unlock(&h->lock);
    store_sqlite_heads_txn_reset(t);
}
