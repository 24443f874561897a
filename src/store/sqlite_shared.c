/*
 * sqlite_shared.c - what every handle of this process shares about one SQLite database it
 * writes: the committed accounts, the lazy flush of their rows, and the WAL checkpointer.
 *
 * Why: a batch of 8,190 random transfers changes about 16,000 accounts. Rewriting their rows
 * in every batch dirties nearly every page of the accounts table and was, with the history
 * indexes, most of the commit (docs/performance.md). But every posting already records both
 * accounts' balances right after it, so the postings alone say what every account holds. The
 * account rows are therefore a snapshot that may lag: a batch inserts new accounts, appends
 * its postings, and rewrites only a slice of the changed accounts, in key order so the slice
 * is a run of neighbouring pages. A cursor walks the key space, so every changed account is
 * written within a few batches.
 *
 * The invariant, kept in the same transaction as every batch: store_meta.replay_after = R such
 * that every account row reflects every posting with a timestamp at or below R. A writer that
 * opens the file first in its process replays the postings after R onto the rows (the last
 * posting of an account carries its final balances) before anything reads them, so a kill -9
 * at any moment loses nothing: the postings are durable with their batch.
 *
 * Readers in this process ask the shared directory, which holds every committed account (its
 * newest state, published after the commit is durable). A reader in another process finds no
 * directory and reads the row plus the newest posting after R (sqlite.c).
 *
 * Locks: shared_lock guards the list of shared states and every directory (readers read under
 * it; publish writes under it). A shared state's commit_lock makes batches of this process's
 * handles run one at a time from begin to publish, so the directory a batch reads is the one
 * the previous batch published; SQLite serialises them anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sqlite_private.h"
#include "util/assert.h"
#include "util/thread.h"

/*
 * Flush pacing: each batch rewrites the next max(flush_min, dirty / SHARED_FLUSH_CYCLE)
 * lagging rows from the cursor, so a pass of the cursor over the accounts takes about
 * SHARED_FLUSH_CYCLE batches when most are lagging, and a restart replays at most about two
 * passes (a second or two of postings at full load). flush_min is SHARED_FLUSH_MIN unless the environment sets
 * TALLY_SQLITE_FLUSH_MIN (the tests set 1 so that rows lag and replay is exercised).
 */
#define SHARED_FLUSH_MIN 1024u
#define SHARED_FLUSH_CYCLE 32u
/* The checkpointer wakes once the WAL holds this many frames (pages) since it last ran. */
#define SHARED_CHECKPOINT_FRAMES (32u * 1024 * 1024 / 4096)
/*
 * WAL restart. SQLite writes the WAL from its beginning again only when a write transaction
 * starts while every frame has been copied back (and no reader still reads a frame). Under a
 * steady load the writer appends while the checkpointer copies, so that moment never comes
 * by itself: the WAL grew without bound (a gigabyte in ten seconds of the HTTP benchmark), and
 * every frame went to a newly allocated block the kernel had to zero first (a fifth of tallyd's
 * CPU). So once the WAL holds SHARED_RESTART_FRAMES, the checkpointer copies until fewer than
 * SHARED_CATCHUP_FRAMES remain and then asks the writer to copy the rest itself before its next
 * batch (store_sqlite_shared_catch_up): a short pause of one batch, after which that batch
 * restarts the WAL and the file's blocks are reused.
 */
#define SHARED_RESTART_FRAMES (64u * 1024 * 1024 / 4096)
#define SHARED_CATCHUP_FRAMES 512u
static_assert(SHARED_CATCHUP_FRAMES < SHARED_CHECKPOINT_FRAMES, "catch-up is a short copy");
static_assert(SHARED_CHECKPOINT_FRAMES <= SHARED_RESTART_FRAMES, "restart after a checkpoint");
/* TALLY_SQLITE_WAL_RESTART_FRAMES (tests only) scales all three down, so that a short test
 * sees many restarts: checkpoints every half of it, catch-up below an eighth. */
#define SHARED_RESTART_FRAMES_MIN 64u
/* The committed rows of limit_usage_log that make a batch rewrite the lagging buckets of
 * limit_totals (sqlite_limits.c): each flush writes a leaf per run of neighbouring buckets
 * whatever the movements since the last one, and a reader in another process scans at most
 * this many rows plus one batch. TALLY_SQLITE_LIMITS_FLUSH_ROWS (tests) sets it lower. */
#define SHARED_LIMITS_FLUSH_ROWS 8192u
/* A reader still on an older snapshot keeps that batch from restarting the WAL; the writer then
 * copies again before the next batches, this many times, before it leaves it to the
 * checkpointer's next turn. */
#define SHARED_CATCHUP_ATTEMPTS 8u
#define SHARED_INDEX_NONE UINT32_MAX

struct shared_entry {
    struct ledger_account account; /* newest committed state */
    uint64_t dirty_since; /* dirty: the row reflects every posting of this account up to here */
    uint32_t dirty_pos;   /* index in dirty[], SHARED_INDEX_NONE when the row is current */
    uint32_t epoch;       /* == a batch's epoch: that batch changes this account */
    uint32_t staged;      /* then: its index in the batch's changed[] */
};

struct sqlite_shared {
    struct sqlite_shared *next;
    dev_t dev;
    ino_t ino;
    uint32_t refs;
    int lock_fd; /* flock'd: one writing process per database */
    char *path;

    /* The directory: every committed account, with two indexes (slot = entry index + 1). */
    struct shared_entry *entries;
    uint32_t count;
    uint32_t max;
    uint32_t *by_id;
    uint32_t *by_ts;
    uint32_t slots; /* a power of two, at least twice max */
    uint32_t *dirty;
    uint32_t dirty_count;
    /* The flush cursor walks the directory in entry order, which is key order (accounts are
     * loaded by key and new ones get larger keys), so a slice is a run of neighbouring rows.
     * A pass is one full turn of the cursor: every entry dirty when it began was written by
     * its end, so replay_after may then move up to pass_since. */
    uint32_t cursor;
    uint32_t pass_scanned;
    uint64_t pass_since;
    uint64_t replay_after; /* as stored in store_meta */
    uint32_t epoch;
    uint32_t flush_min;
    struct id128 transfer_id_max; /* the largest transfer id committed (ids sort as bytes) */
    struct store_sqlite_heads *heads; /* the audit log's heads (sqlite_audit_heads.c) */

    pthread_mutex_t commit_lock;

    /* The running totals of the limit windows (sqlite_limits.c), under shared_lock like the
     * directory; NULL only while the last handle detaches. */
    struct sqlite_limits *limits;
    uint32_t limits_flush_rows;

    /* The checkpointer: its own connection, woken by the WAL hook of the writing handles. */
    pthread_t thread;
    bool thread_started;
    pthread_cond_t wake;
    bool want_checkpoint;
    bool want_catch_up;            /* the writer copies the last frames before its next batch */
    int checkpoint_copied;         /* frames the last checkpoint had copied back (its thread's) */
    bool restart_expected;         /* the writer caught up: the next commit should restart */
    uint32_t catch_up_frames_at;   /* the WAL's frames at that catch-up */
    uint32_t catch_up_attempts;
    uint32_t checkpoint_frames;    /* SHARED_CHECKPOINT_FRAMES, ... unless a test scales them */
    uint32_t restart_frames;
    uint32_t catch_up_frames;
    uint32_t checkpoint_frames_at; /* WAL frames when the last checkpoint ran (under shared_lock) */
    bool stop;
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sqlite_shared *shared_list;

/* ---- The directory ---- */

static uint32_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static uint32_t find_id(const struct sqlite_shared *sh, struct id128 id)
{
    uint32_t mask = sh->slots - 1;
    if (sh->slots == 0) {
        return SHARED_INDEX_NONE;
    }
    for (uint32_t i = (uint32_t)id128_hash(id) & mask; sh->by_id[i] != 0; i = (i + 1) & mask) {
        if (id128_eq(sh->entries[sh->by_id[i] - 1].account.id, id)) {
            return sh->by_id[i] - 1;
        }
    }
    return SHARED_INDEX_NONE;
}

static uint32_t find_ts(const struct sqlite_shared *sh, uint64_t ts)
{
    uint32_t mask = sh->slots - 1;
    if (sh->slots == 0) {
        return SHARED_INDEX_NONE;
    }
    for (uint32_t i = hash_u64(ts) & mask; sh->by_ts[i] != 0; i = (i + 1) & mask) {
        if (sh->entries[sh->by_ts[i] - 1].account.timestamp == ts) {
            return sh->by_ts[i] - 1;
        }
    }
    return SHARED_INDEX_NONE;
}

static void index_put(struct sqlite_shared *sh, uint32_t index)
{
    uint32_t mask = sh->slots - 1;
    const struct ledger_account *a = &sh->entries[index].account;
    uint32_t i = (uint32_t)id128_hash(a->id) & mask;
    while (sh->by_id[i] != 0) {
        i = (i + 1) & mask;
    }
    sh->by_id[i] = index + 1;
    i = hash_u64(a->timestamp) & mask;
    while (sh->by_ts[i] != 0) {
        i = (i + 1) & mask;
    }
    sh->by_ts[i] = index + 1;
}

/* Room for need entries. TL_ERR_NOMEM leaves the directory as it was. */
static enum tl_err directory_reserve(struct sqlite_shared *sh, uint32_t need)
{
    uint32_t max = sh->max < 1024 ? 1024 : sh->max;
    uint32_t slots;
    struct shared_entry *entries;
    uint32_t *dirty, *by_id, *by_ts;

    if (need <= sh->max) {
        return TL_OK;
    }
    while (max < need) {
        if (max > UINT32_MAX / 4) {
            return TL_ERR_NOMEM;
        }
        max *= 2;
    }
    slots = 2 * max;
    entries = realloc(sh->entries, (size_t)max * sizeof(*entries));
    if (entries == NULL) {
        return TL_ERR_NOMEM;
    }
    sh->entries = entries;
    dirty = realloc(sh->dirty, (size_t)max * sizeof(*dirty));
    if (dirty == NULL) {
        return TL_ERR_NOMEM;
    }
    sh->dirty = dirty;
    by_id = calloc(slots, sizeof(*by_id));
    by_ts = calloc(slots, sizeof(*by_ts));
    if (by_id == NULL || by_ts == NULL) {
        free(by_id);
        free(by_ts);
        return TL_ERR_NOMEM;
    }
    free(sh->by_id);
    free(sh->by_ts);
    sh->by_id = by_id;
    sh->by_ts = by_ts;
    sh->slots = slots;
    sh->max = max;
    for (uint32_t i = 0; i < sh->count; i++) {
        index_put(sh, i);
    }
    return TL_OK;
}

/* Appends a clean entry; room was reserved. */
static void directory_append(struct sqlite_shared *sh, const struct ledger_account *a)
{
    TL_ASSERT(sh->count < sh->max);
    struct shared_entry *e = &sh->entries[sh->count];
    memset(e, 0, sizeof(*e));
    e->account = *a;
    e->dirty_pos = SHARED_INDEX_NONE;
    index_put(sh, sh->count);
    sh->count++;
}

static void dirty_add(struct sqlite_shared *sh, uint32_t index, uint64_t since)
{
    struct shared_entry *e = &sh->entries[index];
    if (e->dirty_pos != SHARED_INDEX_NONE) {
        return;
    }
    TL_ASSERT(sh->dirty_count < sh->max);
    e->dirty_pos = sh->dirty_count;
    e->dirty_since = since;
    sh->dirty[sh->dirty_count++] = index;
}

static void dirty_remove(struct sqlite_shared *sh, uint32_t index)
{
    struct shared_entry *e = &sh->entries[index];
    uint32_t pos = e->dirty_pos;
    if (pos == SHARED_INDEX_NONE) {
        return;
    }
    TL_ASSERT(pos < sh->dirty_count && sh->dirty[pos] == index);
    uint32_t last = sh->dirty[--sh->dirty_count];
    sh->dirty[pos] = last;
    sh->entries[last].dirty_pos = pos;
    e->dirty_pos = SHARED_INDEX_NONE;
}

/* ---- SQL on the attaching or committing connection ---- */

#define META_GET_SQL "SELECT value FROM store_meta WHERE name = 'replay_after'"

static enum tl_err run_sql(sqlite3 *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, what);
}

static void bind_row(sqlite3_stmt *stmt, const struct ledger_account *a)
{
    store_sqlite_bind_i64(stmt, 1, a->debits_pending);
    store_sqlite_bind_i64(stmt, 2, a->debits_posted);
    store_sqlite_bind_i64(stmt, 3, a->credits_pending);
    store_sqlite_bind_i64(stmt, 4, a->credits_posted);
    store_sqlite_bind_u64(stmt, 5, a->posting_last);
    store_sqlite_bind_u64(stmt, 6, a->timestamp);
}

static enum tl_err row_update(sqlite3 *db, sqlite3_stmt *stmt, const struct ledger_account *a)
{
    bind_row(stmt, a);
    int rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "accounts flush");
    }
    if (sqlite3_changes(db) != 1) {
        fprintf(stderr, "store.sqlite: accounts flush: no row for a known account\n");
        return TL_ERR_CORRUPT;
    }
    return TL_OK;
}

/* Sets replay_after with stmt (STORE_SQLITE_META_SET_SQL, the batch's prepared one) or, when
 * stmt is NULL, with a statement prepared for this call (open and close run once). */
static enum tl_err meta_set(sqlite3 *db, sqlite3_stmt *stmt, uint64_t replay_after)
{
    sqlite3_stmt *own = NULL;
    int rc = SQLITE_OK;
    if (stmt == NULL) {
        rc = sqlite3_prepare_v2(db, STORE_SQLITE_META_SET_SQL, -1, &own, NULL);
        stmt = own;
    }
    if (rc == SQLITE_OK) {
        store_sqlite_bind_u64(stmt, 1, replay_after);
        rc = store_sqlite_run(stmt);
    }
    if (rc == SQLITE_OK && sqlite3_changes(db) != 1) {
        sqlite3_finalize(own);
        return store_sqlite_corrupt("store_meta: replay_after missing");
    }
    sqlite3_finalize(own);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, "store_meta");
}

enum tl_err store_sqlite_replay_after(sqlite3 *db, uint64_t *out)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(db, META_GET_SQL, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "store_meta");
    }
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(stmt, 0);
        if (sqlite3_column_type(stmt, 0) != SQLITE_INTEGER || v < 0) {
            err = store_sqlite_corrupt("store_meta: replay_after");
        } else {
            *out = (uint64_t)v;
        }
    } else {
        err = rc == SQLITE_DONE ? store_sqlite_corrupt("store_meta: replay_after missing")
                                : store_sqlite_fail(db, rc, "store_meta");
    }
    sqlite3_finalize(stmt);
    return err;
}

/* Loads every account row into the (empty) directory, in key order. */
static enum tl_err directory_load(struct sqlite_shared *sh, sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    struct ledger_account a;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(
        db, "SELECT " STORE_SQLITE_ACCOUNT_COLUMNS " FROM accounts ORDER BY timestamp", -1, &stmt,
        NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "directory load");
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!store_sqlite_row_account(stmt, &a)) {
            err = store_sqlite_corrupt("directory load");
            break;
        }
        if (find_id(sh, a.id) != SHARED_INDEX_NONE) {
            err = store_sqlite_corrupt("directory load: duplicate account id");
            break;
        }
        err = directory_reserve(sh, sh->count + 1);
        if (err != TL_OK) {
            break;
        }
        directory_append(sh, &a);
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, "directory load");
    }
    sqlite3_finalize(stmt);
    return err;
}

/* The largest stored transfer id, from the id index's right edge. */
static enum tl_err transfer_id_max_load(struct sqlite_shared *sh, sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = TL_OK;
    int rc = sqlite3_prepare_v2(db, "SELECT max(id) FROM transfers", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "transfer id max");
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        err = store_sqlite_fail(db, rc, "transfer id max");
    } else if (sqlite3_column_type(stmt, 0) != SQLITE_NULL &&
               !store_sqlite_col_id(stmt, 0, &sh->transfer_id_max)) {
        err = store_sqlite_corrupt("transfer id max");
    }
    sqlite3_finalize(stmt);
    return err;
}

/* One side of a replayed posting: the account keyed ts had balances b right after it. */
static enum tl_err replay_side(struct sqlite_shared *sh, sqlite3_stmt *stmt, int key_col,
                               int first_col, uint64_t posting_ts)
{
    int64_t key = sqlite3_column_int64(stmt, key_col);
    uint32_t index = key > 0 ? find_ts(sh, (uint64_t)key) : SHARED_INDEX_NONE;
    struct ledger_account *a;
    if (index == SHARED_INDEX_NONE) {
        return store_sqlite_corrupt("replay: posting names an unknown account");
    }
    a = &sh->entries[index].account;
    if (!store_sqlite_col_i64(stmt, first_col, &a->debits_pending) ||
        !store_sqlite_col_i64(stmt, first_col + 1, &a->debits_posted) ||
        !store_sqlite_col_i64(stmt, first_col + 2, &a->credits_pending) ||
        !store_sqlite_col_i64(stmt, first_col + 3, &a->credits_posted)) {
        return store_sqlite_corrupt("replay: posting balances");
    }
    a->posting_last = posting_ts;
    dirty_add(sh, index, 0);
    return TL_OK;
}

/*
 * Brings every account row up to date with the postings after replay_after, then loads the
 * directory from the rows. Runs in one transaction when the first writing handle of this
 * process opens the file.
 */
static enum tl_err shared_replay(struct sqlite_shared *sh, sqlite3 *db)
{
    sqlite3_stmt *scan = NULL, *update = NULL;
    uint64_t replay_after = 0, last = 0;
    enum tl_err err;
    int rc;

    err = run_sql(db, "BEGIN IMMEDIATE", "replay: begin");
    if (err != TL_OK) {
        return err;
    }
    err = store_sqlite_replay_after(db, &replay_after);
    err = err == TL_OK ? directory_load(sh, db) : err;
    err = err == TL_OK ? transfer_id_max_load(sh, db) : err;
    if (err != TL_OK) {
        goto out;
    }
    last = replay_after;
    rc = sqlite3_prepare_v2(db,
                            "SELECT timestamp, debit_account_ts, credit_account_ts, "
                            "debit_debits_pending, debit_debits_posted, debit_credits_pending, "
                            "debit_credits_posted, credit_debits_pending, credit_debits_posted, "
                            "credit_credits_pending, credit_credits_posted FROM transfers "
                            "WHERE timestamp > ?1 ORDER BY timestamp",
                            -1, &scan, NULL);
    if (rc != SQLITE_OK) {
        err = store_sqlite_fail(db, rc, "replay");
        goto out;
    }
    store_sqlite_bind_u64(scan, 1, replay_after);
    while ((rc = sqlite3_step(scan)) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(scan, 0);
        if (ts <= 0 || (uint64_t)ts <= last) {
            err = store_sqlite_corrupt("replay: posting order");
            goto out;
        }
        last = (uint64_t)ts;
        err = replay_side(sh, scan, 1, 3, last);
        err = err == TL_OK ? replay_side(sh, scan, 2, 7, last) : err;
        if (err != TL_OK) {
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, "replay");
        goto out;
    }
    rc = sqlite3_prepare_v2(db, STORE_SQLITE_ACCOUNT_FLUSH_SQL, -1, &update, NULL);
    if (rc != SQLITE_OK) {
        err = store_sqlite_fail(db, rc, "replay");
        goto out;
    }
    for (uint32_t i = 0; i < sh->dirty_count && err == TL_OK; i++) {
        err = row_update(db, update, &sh->entries[sh->dirty[i]].account);
    }
    if (err == TL_OK && last != replay_after) {
        err = meta_set(db, NULL, last);
    }
    err = err == TL_OK ? run_sql(db, "COMMIT", "replay: commit") : err;
out:
    sqlite3_finalize(scan);
    sqlite3_finalize(update);
    if (err != TL_OK && !sqlite3_get_autocommit(db)) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    while (sh->dirty_count > 0) {
        dirty_remove(sh, sh->dirty[sh->dirty_count - 1]);
    }
    if (err == TL_OK && last != replay_after) {
        fprintf(stderr, "store.sqlite: replayed postings after %llu onto the account rows\n",
                (unsigned long long)replay_after);
    }
    sh->replay_after = last;
    sh->pass_since = last;
    return err;
}

/* ---- The checkpointer ---- */

static void *checkpointer_main(void *arg)
{
    struct sqlite_shared *sh = arg;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(sh->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        store_sqlite_fail(db, rc, "checkpointer: open");
        sqlite3_close(db);
        db = NULL;
    } else {
        sqlite3_busy_timeout(db, 1000);
        /* A connection learns that the database is in WAL mode only when it first reads it;
         * until then a checkpoint is a no-op that reports success (and the WAL grew without
         * bound under load: docs/performance.md, session 4). One read opens the WAL. */
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            store_sqlite_fail(db, rc, "checkpointer: first read");
        }
    }
    pthread_mutex_lock(&shared_lock);
    for (;;) {
        while (!sh->stop && !sh->want_checkpoint) {
            pthread_cond_wait(&sh->wake, &shared_lock);
        }
        if (sh->stop) {
            break;
        }
        sh->want_checkpoint = false;
        pthread_mutex_unlock(&shared_lock);
        /* PASSIVE never waits for the writer or readers: it copies what it can. */
        int log_frames = 0;
        int copied_frames = 0;
        int copied_before = sh->checkpoint_copied;
        if (db != NULL) {
            rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                           &copied_frames);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
                store_sqlite_fail(db, rc, "checkpoint");
            }
        }
        pthread_mutex_lock(&shared_lock);
        sh->checkpoint_frames_at = log_frames > 0 ? (uint32_t)log_frames : 0;
        sh->checkpoint_copied = copied_frames;
        if (db != NULL && rc == SQLITE_OK && (uint32_t)log_frames >= sh->restart_frames) {
            /* Long enough to restart: copy again until the writer's share is short. */
            if ((uint32_t)(log_frames - copied_frames) < sh->catch_up_frames) {
                sh->want_catch_up = true;
            } else if (copied_frames > copied_before) {
                sh->want_checkpoint = true; /* progress: not held back by a reader */
            }
        }
    }
    pthread_mutex_unlock(&shared_lock);
    if (db != NULL) {
        /* The last one, so a clean shutdown leaves a short WAL. */
        (void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        sqlite3_close(db);
    }
    return NULL;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sqlite_shared *sh = arg;
    (void)db;
    (void)name;
    TL_ASSERT(frames >= 0);
    /* Once per SHARED_CHECKPOINT_FRAMES new frames, not after every commit: while readers keep
     * the WAL from restarting it stays long, and each checkpoint syncs twice. */
    pthread_mutex_lock(&shared_lock);
    if ((uint32_t)frames < sh->checkpoint_frames_at) {
        sh->checkpoint_frames_at = 0; /* the WAL restarted from its beginning */
    }
    if (sh->restart_expected) {
        sh->restart_expected = false;
        if ((uint32_t)frames < sh->catch_up_frames_at) {
            sh->catch_up_attempts = 0; /* restarted */
        } else if (++sh->catch_up_attempts < SHARED_CATCHUP_ATTEMPTS) {
            sh->want_catch_up = true; /* a reader held it back: copy this batch and retry */
        } else {
            sh->catch_up_attempts = 0;
        }
    }
    if ((uint32_t)frames - sh->checkpoint_frames_at >= sh->checkpoint_frames &&
        !sh->want_catch_up) {
        sh->want_checkpoint = true;
        pthread_cond_signal(&sh->wake);
    }
    pthread_mutex_unlock(&shared_lock);
    return SQLITE_OK;
}

/* Before a batch: copies the WAL's last frames when the checkpointer asked for it (see
 * SHARED_RESTART_FRAMES), so that the batch restarts the WAL. Cannot fail: a copy that could
 * not finish (a reader still on an old snapshot) only means the WAL restarts later. */
void store_sqlite_shared_catch_up(struct sqlite_shared *sh, sqlite3 *db)
{
    pthread_mutex_lock(&shared_lock);
    bool due = sh->want_catch_up;
    pthread_mutex_unlock(&shared_lock);
    if (!due) {
        return;
    }
    int log_frames = 0;
    int copied_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &copied_frames);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        store_sqlite_fail(db, rc, "checkpoint: catch-up");
    }
    pthread_mutex_lock(&shared_lock);
    sh->want_catch_up = false;
    sh->restart_expected = true;
    sh->catch_up_frames_at = log_frames > 0 ? (uint32_t)log_frames : 0;
    pthread_mutex_unlock(&shared_lock);
}

/* ---- Attach and detach ---- */

/* A setting for tests from the environment: name's value in min..max, else fallback. */
static uint32_t env_setting(const char *name, uint32_t min, uint32_t max, uint32_t fallback)
{
    const char *v = getenv(name);
    char *end = NULL;
    unsigned long n;
    if (v == NULL || *v == '\0') {
        return fallback;
    }
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        fprintf(stderr, "store.sqlite: %s must be %u..%u; using %u\n", name, min, max, fallback);
        return fallback;
    }
    return (uint32_t)n;
}

static void wal_settings(struct sqlite_shared *sh)
{
    sh->restart_frames = env_setting("TALLY_SQLITE_WAL_RESTART_FRAMES", SHARED_RESTART_FRAMES_MIN,
                                     SHARED_RESTART_FRAMES, SHARED_RESTART_FRAMES);
    sh->checkpoint_frames = SHARED_CHECKPOINT_FRAMES;
    sh->catch_up_frames = SHARED_CATCHUP_FRAMES;
    if (sh->restart_frames < SHARED_RESTART_FRAMES) {
        sh->checkpoint_frames = sh->restart_frames / 2;
        sh->catch_up_frames = sh->restart_frames / 8;
    }
    TL_ASSERT(sh->catch_up_frames < sh->checkpoint_frames);
    TL_ASSERT(sh->checkpoint_frames <= sh->restart_frames);
}

static void shared_free(struct sqlite_shared *sh)
{
    if (sh == NULL) {
        return;
    }
    if (sh->thread_started) {
        pthread_mutex_lock(&shared_lock);
        sh->stop = true;
        pthread_cond_signal(&sh->wake);
        pthread_mutex_unlock(&shared_lock);
        pthread_join(sh->thread, NULL);
    }
    pthread_cond_destroy(&sh->wake);
    pthread_mutex_destroy(&sh->commit_lock);
    if (sh->lock_fd >= 0) {
        close(sh->lock_fd);
    }
    store_sqlite_heads_free(sh->heads);
    store_sqlite_limits_close(sh->limits, NULL);
    free(sh->entries);
    free(sh->by_id);
    free(sh->by_ts);
    free(sh->dirty);
    free(sh->path);
    free(sh);
}

static struct sqlite_shared *shared_find(dev_t dev, ino_t ino)
{
    for (struct sqlite_shared *sh = shared_list; sh != NULL; sh = sh->next) {
        if (sh->dev == dev && sh->ino == ino) {
            return sh;
        }
    }
    return NULL;
}

enum tl_err store_sqlite_file_id(const char *path, struct store_sqlite_file *out)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "store.sqlite: stat %s: %s\n", path, strerror(errno));
        return TL_ERR_STORAGE;
    }
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return TL_OK;
}

/* Takes <path>-writer.lock: one process writes a database file at a time. */
static enum tl_err shared_lock_file(struct sqlite_shared *sh)
{
    size_t n = strlen(sh->path) + sizeof("-writer.lock");
    char *name = malloc(n);
    if (name == NULL) {
        return TL_ERR_NOMEM;
    }
    snprintf(name, n, "%s-writer.lock", sh->path);
    sh->lock_fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (sh->lock_fd < 0) {
        fprintf(stderr, "store.sqlite: open %s: %s\n", name, strerror(errno));
        free(name);
        return TL_ERR_STORAGE;
    }
    if (flock(sh->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "store.sqlite: %s is written by another process (%s)\n", sh->path,
                errno == EWOULDBLOCK ? "locked" : strerror(errno));
        free(name);
        return TL_ERR_STORAGE;
    }
    free(name);
    return TL_OK;
}

enum tl_err store_sqlite_shared_attach(sqlite3 *db, const char *path,
                                       struct sqlite_shared **out)
{
    struct store_sqlite_file file;
    struct sqlite_shared *sh;
    enum tl_err err = store_sqlite_file_id(path, &file);
    if (err != TL_OK) {
        return err;
    }
    /* Attaches are rare (open); holding the list lock through a first replay keeps two
     * handles of one file from both replaying. */
    pthread_mutex_lock(&shared_lock);
    sh = shared_find(file.dev, file.ino);
    if (sh != NULL) {
        sh->refs++;
        goto attached;
    }
    sh = calloc(1, sizeof(*sh));
    if (sh == NULL) {
        pthread_mutex_unlock(&shared_lock);
        return TL_ERR_NOMEM;
    }
    sh->lock_fd = -1;
    sh->dev = file.dev;
    sh->ino = file.ino;
    sh->refs = 1;
    sh->flush_min = env_setting("TALLY_SQLITE_FLUSH_MIN", 1, SHARED_FLUSH_MIN, SHARED_FLUSH_MIN);
    wal_settings(sh);
    pthread_mutex_init(&sh->commit_lock, NULL);
    pthread_cond_init(&sh->wake, NULL);
    sh->path = strdup(path);
    err = sh->path == NULL ? TL_ERR_NOMEM : shared_lock_file(sh);
    err = err == TL_OK ? shared_replay(sh, db) : err;
    err = err == TL_OK ? store_sqlite_heads_open(db, sh->flush_min, &sh->heads) : err;
    sh->limits_flush_rows = env_setting("TALLY_SQLITE_LIMITS_FLUSH_ROWS", 1,
                                        SHARED_LIMITS_FLUSH_ROWS, SHARED_LIMITS_FLUSH_ROWS);
    err = err == TL_OK ? store_sqlite_limits_open(db, sh->limits_flush_rows, &sh->limits) : err;
    if (err == TL_OK && !thread_start(&sh->thread, "tl-checkpoint", checkpointer_main, sh)) {
        fprintf(stderr, "store.sqlite: cannot start the checkpointer\n");
        err = TL_ERR_STORAGE;
    }
    if (err != TL_OK) {
        pthread_mutex_unlock(&shared_lock);
        shared_free(sh);
        return err;
    }
    sh->thread_started = true;
    sh->next = shared_list;
    shared_list = sh;
attached:
    pthread_mutex_unlock(&shared_lock);
    /* The checkpointer copies the WAL back; the handle's commits never do. */
    sqlite3_wal_hook(db, wal_hook, sh);
    *out = sh;
    return TL_OK;
}

/* Writes every dirty account's row; on failure the rows stay behind and a restart replays. */
static void shared_flush_all(struct sqlite_shared *sh, sqlite3 *db)
{
    sqlite3_stmt *update = NULL;
    enum tl_err err;
    if (sh->dirty_count == 0) {
        return;
    }
    err = run_sql(db, "BEGIN IMMEDIATE", "final flush");
    if (err == TL_OK && sqlite3_prepare_v2(db, STORE_SQLITE_ACCOUNT_FLUSH_SQL, -1, &update, NULL) != SQLITE_OK) {
        err = store_sqlite_fail(db, sqlite3_errcode(db), "final flush");
    }
    uint64_t replay_after = sh->replay_after;
    for (uint32_t i = 0; err == TL_OK && i < sh->dirty_count; i++) {
        const struct shared_entry *e = &sh->entries[sh->dirty[i]];
        err = row_update(db, update, &e->account);
        if (e->account.posting_last > replay_after) {
            replay_after = e->account.posting_last;
        }
    }
    err = err == TL_OK ? meta_set(db, NULL, replay_after) : err;
    sqlite3_finalize(update);
    err = err == TL_OK ? run_sql(db, "COMMIT", "final flush") : err;
    if (err != TL_OK) {
        if (!sqlite3_get_autocommit(db)) {
            (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
        return;
    }
    pthread_mutex_lock(&shared_lock);
    while (sh->dirty_count > 0) {
        dirty_remove(sh, sh->dirty[sh->dirty_count - 1]);
    }
    sh->replay_after = replay_after;
    sh->pass_scanned = 0;
    sh->pass_since = replay_after;
    pthread_mutex_unlock(&shared_lock);
}

void store_sqlite_shared_detach(struct sqlite_shared *sh, sqlite3 *db)
{
    if (sh == NULL) {
        return;
    }
    sqlite3_wal_hook(db, NULL, NULL);
    pthread_mutex_lock(&sh->commit_lock);
    pthread_mutex_lock(&shared_lock);
    bool last = --sh->refs == 0;
    pthread_mutex_unlock(&shared_lock);
    if (last) {
        shared_flush_all(sh, db);
        store_sqlite_heads_flush_all(sh->heads, db);
        pthread_mutex_lock(&shared_lock);
        struct sqlite_limits *limits = sh->limits;
        sh->limits = NULL; /* readers read the tables from now on */
        pthread_mutex_unlock(&shared_lock);
        store_sqlite_limits_close(limits, db);
    }
    pthread_mutex_unlock(&sh->commit_lock);
    if (!last) {
        return;
    }
    pthread_mutex_lock(&shared_lock);
    for (struct sqlite_shared **p = &shared_list; *p != NULL; p = &(*p)->next) {
        if (*p == sh) {
            *p = sh->next;
            break;
        }
    }
    pthread_mutex_unlock(&shared_lock);
    shared_free(sh);
}

/* ---- Readers ---- */

bool store_sqlite_shared_account(const struct store_sqlite_file *file, struct id128 id,
                                 struct ledger_account *out, bool *found)
{
    bool attached = false;
    pthread_mutex_lock(&shared_lock);
    const struct sqlite_shared *sh = shared_find(file->dev, file->ino);
    if (sh != NULL) {
        uint32_t index = find_id(sh, id);
        attached = true;
        *found = index != SHARED_INDEX_NONE;
        if (*found) {
            *out = sh->entries[index].account;
        }
    }
    pthread_mutex_unlock(&shared_lock);
    return attached;
}

struct store_sqlite_heads *store_sqlite_shared_heads(struct sqlite_shared *sh)
{
    TL_ASSERT(sh != NULL);
    TL_ASSERT(sh->heads != NULL);
    return sh->heads;
}

bool store_sqlite_shared_audit_head(const struct store_sqlite_file *file, struct id128 user_id,
                                    uint64_t *out_seq)
{
    bool attached = false;
    /* Under the list lock, so the last handle cannot free the directory meanwhile. */
    pthread_mutex_lock(&shared_lock);
    const struct sqlite_shared *sh = shared_find(file->dev, file->ino);
    if (sh != NULL) {
        attached = true;
        (void)store_sqlite_heads_get(sh->heads, user_id, out_seq);
    }
    pthread_mutex_unlock(&shared_lock);
    return attached;
}

bool store_sqlite_shared_limits_window(const struct store_sqlite_file *file,
                                       struct id128 user_id, uint16_t currency,
                                       uint8_t direction, uint64_t after_ns,
                                       struct store_limits_window *out, enum tl_err *err)
{
    bool attached = false;
    pthread_mutex_lock(&shared_lock);
    const struct sqlite_shared *sh = shared_find(file->dev, file->ino);
    if (sh != NULL && sh->limits != NULL) {
        attached = true;
        *err = store_sqlite_limits_sum(sh->limits, user_id, currency, direction, after_ns, out);
    }
    pthread_mutex_unlock(&shared_lock);
    return attached;
}

bool store_sqlite_shared_transfer_new(const struct sqlite_shared *sh, struct id128 id)
{
    /* The batch's thread only, like store_sqlite_shared_key. */
    return id128_cmp(id, sh->transfer_id_max) > 0;
}

bool store_sqlite_shared_key(struct sqlite_shared *sh, struct id128 id, uint64_t *out)
{
    /* Only the batch's own thread changes the directory (commit_lock), so no lock here. */
    uint32_t index = find_id(sh, id);
    if (index == SHARED_INDEX_NONE) {
        return false;
    }
    *out = sh->entries[index].account.timestamp;
    return true;
}

void store_sqlite_shared_overlay(struct sqlite_shared *sh, struct ledger_account *a)
{
    pthread_mutex_lock(&shared_lock);
    uint32_t index = find_id(sh, a->id);
    if (index != SHARED_INDEX_NONE && sh->entries[index].account.timestamp == a->timestamp) {
        *a = sh->entries[index].account;
    }
    pthread_mutex_unlock(&shared_lock);
}

/* ---- A batch ---- */

void store_sqlite_batch_free(struct store_sqlite_batch *b)
{
    free(b->changed);
    free(b->changed_account);
    free(b->since);
    free(b->forced);
    free(b->created);
    free(b->cand);
    store_sqlite_limits_batch_free(&b->limits);
    memset(b, 0, sizeof(*b));
}

static enum tl_err batch_reserve(struct store_sqlite_batch *b, uint32_t count, uint32_t cand)
{
    if (count > b->max) {
        uint32_t *changed = malloc((size_t)count * sizeof(*changed));
        const struct ledger_account **accounts = malloc((size_t)count * sizeof(*accounts));
        uint64_t *since = malloc((size_t)count * sizeof(*since));
        bool *forced = malloc((size_t)count * sizeof(*forced));
        const struct ledger_account **created = malloc((size_t)count * sizeof(*created));
        if (changed == NULL || accounts == NULL || since == NULL || forced == NULL ||
            created == NULL) {
            free(changed);
            free(accounts);
            free(since);
            free(forced);
            free(created);
            return TL_ERR_NOMEM;
        }
        free(b->changed);
        free(b->changed_account);
        free(b->since);
        free(b->forced);
        free(b->created);
        b->changed = changed;
        b->changed_account = accounts;
        b->since = since;
        b->forced = forced;
        b->created = created;
        b->max = count;
    }
    if (cand > b->cand_max) {
        struct store_sqlite_cand *c = malloc((size_t)cand * sizeof(*c));
        if (c == NULL) {
            return TL_ERR_NOMEM;
        }
        free(b->cand);
        b->cand = c;
        b->cand_max = cand;
    }
    return TL_OK;
}

void store_sqlite_shared_begin(struct sqlite_shared *sh, struct store_sqlite_batch *b)
{
    pthread_mutex_lock(&sh->commit_lock);
    b->changed_count = 0;
    b->created_count = 0;
    b->first_ts = 0;
    b->last_ts = 0;
    b->transfer_id_max = sh->transfer_id_max;
    b->staged = false;
    store_sqlite_limits_batch_reset(&b->limits);
    b->epoch = ++sh->epoch;
    if (b->epoch == 0) { /* wrapped: no entry may carry a live epoch */
        for (uint32_t i = 0; i < sh->count; i++) {
            sh->entries[i].epoch = 0;
        }
        b->epoch = ++sh->epoch;
    }
}

enum tl_err store_sqlite_shared_stage(struct sqlite_shared *sh, struct store_sqlite_batch *b,
                                      const struct ledger_account *const *accounts,
                                      uint32_t count)
{
    enum tl_err err = batch_reserve(b, count, 0);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(!b->staged);
    for (uint32_t i = 0; i < count; i++) {
        const struct ledger_account *a = accounts[i];
        uint32_t index = find_id(sh, a->id);
        if (index == SHARED_INDEX_NONE) {
            /* New: sqlite.c inserts its row, which fails if the key is taken. */
            b->created[b->created_count++] = a;
            continue;
        }
        struct shared_entry *e = &sh->entries[index];
        if (e->account.timestamp != a->timestamp) {
            fprintf(stderr, "store.sqlite: accounts_write: an account id is stored under "
                            "another key\n");
            return TL_ERR_STORAGE;
        }
        TL_ASSERT(e->epoch != b->epoch); /* the ledger lists each account once */
        e->epoch = b->epoch;
        e->staged = b->changed_count;
        b->changed[b->changed_count] = index;
        b->changed_account[b->changed_count] = a;
        b->changed_count++;
    }
    b->staged = true;
    return TL_OK;
}

void store_sqlite_shared_postings(struct store_sqlite_batch *b, uint64_t first_ts,
                                  uint64_t last_ts, struct id128 id)
{
    if (id128_cmp(id, b->transfer_id_max) > 0) {
        b->transfer_id_max = id;
    }
    if (b->first_ts == 0) {
        b->first_ts = first_ts;
    }
    if (last_ts > b->last_ts) {
        b->last_ts = last_ts;
    }
}

/* Adds entry (changed[staged], or UINT32_MAX) to the slice the batch writes. */
static void flush_add(struct store_sqlite_batch *b, uint32_t entry, uint32_t staged)
{
    TL_ASSERT(b->flush_count < b->cand_max);
    b->cand[b->flush_count].entry = entry;
    b->cand[b->flush_count].staged = staged;
    b->flush_count++;
}

enum tl_err store_sqlite_shared_flush(struct sqlite_shared *sh, struct store_sqlite_batch *b,
                                      sqlite3 *db, sqlite3_stmt *update, sqlite3_stmt *meta)
{
    uint32_t newly = 0, total, k;
    uint64_t replay_after = sh->replay_after;
    enum tl_err err;

    TL_ASSERT(b->staged);
    err = batch_reserve(b, b->changed_count, sh->dirty_count + b->changed_count);
    if (err != TL_OK) {
        return err;
    }
    b->flush_count = 0;
    b->cursor = sh->cursor;
    b->pass_scanned = sh->pass_scanned;
    b->pass_since = sh->pass_since;
    /* An account the batch changes without a posting (only store tests do that; the ledger
     * never does) is written now: no posting would restore it on replay. */
    for (uint32_t i = 0; i < b->changed_count; i++) {
        const struct shared_entry *e = &sh->entries[b->changed[i]];
        const struct ledger_account *a = b->changed_account[i];
        bool dirty = e->dirty_pos != SHARED_INDEX_NONE;
        b->forced[i] = b->first_ts == 0 || a->posting_last <= e->account.posting_last ||
                       a->posting_last < b->first_ts;
        /* A clean row holds everything before this batch. */
        b->since[i] = dirty ? e->dirty_since : b->first_ts - 1;
        newly += !dirty;
    }
    total = sh->dirty_count + newly;
    k = total / SHARED_FLUSH_CYCLE;
    k = k < sh->flush_min ? sh->flush_min : k;
    if (total <= k) {
        /* Few lagging rows (the API's small batches): write them all. */
        for (uint32_t i = 0; i < b->changed_count; i++) {
            flush_add(b, b->changed[i], i);
        }
        for (uint32_t i = 0; i < sh->dirty_count; i++) {
            if (sh->entries[sh->dirty[i]].epoch != b->epoch) {
                flush_add(b, sh->dirty[i], SHARED_INDEX_NONE);
            }
        }
        if (b->last_ts > replay_after) {
            replay_after = b->last_ts;
        }
        b->pass_scanned = 0;
        b->pass_since = replay_after;
    } else {
        for (uint32_t i = 0; i < b->changed_count; i++) {
            if (b->forced[i]) {
                flush_add(b, b->changed[i], i);
            }
        }
        /* The next k lagging rows from the cursor, in entry (key) order, wrapping around. */
        uint32_t picked = 0;
        for (uint32_t scanned = 0; picked < k && scanned < sh->count; scanned++) {
            uint32_t index = b->cursor;
            const struct shared_entry *e = &sh->entries[index];
            b->cursor = index + 1 == sh->count ? 0 : index + 1;
            if (e->epoch == b->epoch) {
                if (!b->forced[e->staged]) {
                    flush_add(b, index, e->staged);
                    picked++;
                }
            } else if (e->dirty_pos != SHARED_INDEX_NONE) {
                flush_add(b, index, SHARED_INDEX_NONE);
                picked++;
            }
            if (++b->pass_scanned >= sh->count) {
                /* A full turn: what was dirty when it began is written. */
                if (b->pass_since > replay_after) {
                    replay_after = b->pass_since;
                }
                b->pass_scanned = 0;
                /* Everything dirtied from this batch on has a later since. */
                b->pass_since = b->first_ts != 0 ? b->first_ts - 1 : replay_after;
            }
        }
    }
    for (uint32_t i = 0; i < b->flush_count; i++) {
        const struct store_sqlite_cand *c = &b->cand[i];
        const struct ledger_account *a = c->staged != SHARED_INDEX_NONE
                                             ? b->changed_account[c->staged]
                                             : &sh->entries[c->entry].account;
        err = row_update(db, update, a);
        if (err != TL_OK) {
            return err;
        }
    }
    TL_ASSERT(replay_after >= sh->replay_after);
    b->replay_after = replay_after;
    /* Room for the new accounts now, so publishing after the commit cannot fail. */
    pthread_mutex_lock(&shared_lock);
    err = directory_reserve(sh, sh->count + b->created_count);
    pthread_mutex_unlock(&shared_lock);
    if (err != TL_OK) {
        return err;
    }
    if (replay_after != sh->replay_after) {
        err = meta_set(db, meta, replay_after);
    }
    return err;
}

void store_sqlite_shared_end(struct sqlite_shared *sh, struct store_sqlite_batch *b)
{
    b->staged = false;
    b->changed_count = 0;
    b->created_count = 0;
    store_sqlite_limits_batch_reset(&b->limits);
    pthread_mutex_unlock(&sh->commit_lock);
}

enum tl_err store_sqlite_shared_limits_append(struct sqlite_shared *sh,
                                              struct store_sqlite_batch *b, sqlite3 *db,
                                              const struct store_record *record)
{
    TL_ASSERT(record->kind == STORE_RECORD_LIMIT_USAGE);
    TL_ASSERT(sh->limits != NULL);
    /* The committed totals change only under commit_lock, which this batch holds. */
    return store_sqlite_limits_append(sh->limits, &b->limits, db, record);
}

enum tl_err store_sqlite_shared_limits_flush(struct sqlite_shared *sh,
                                             struct store_sqlite_batch *b, sqlite3 *db)
{
    TL_ASSERT(sh->limits != NULL);
    enum tl_err err = store_sqlite_limits_merge(&b->limits);
    if (err != TL_OK) {
        return err;
    }
    /* New series and larger arrays move what readers read: under their lock. */
    pthread_mutex_lock(&shared_lock);
    err = store_sqlite_limits_reserve(sh->limits, &b->limits);
    pthread_mutex_unlock(&shared_lock);
    return err == TL_OK ? store_sqlite_limits_flush(sh->limits, &b->limits, db) : err;
}

void store_sqlite_shared_publish(struct sqlite_shared *sh, struct store_sqlite_batch *b)
{
    TL_ASSERT(b->staged);
    pthread_mutex_lock(&shared_lock);
    TL_ASSERT(sh->count + b->created_count <= sh->max); /* reserved by flush */
    for (uint32_t i = 0; i < b->created_count; i++) {
        directory_append(sh, b->created[i]);
    }
    for (uint32_t i = 0; i < b->changed_count; i++) {
        struct shared_entry *e = &sh->entries[b->changed[i]];
        e->account = *b->changed_account[i];
        dirty_add(sh, b->changed[i], b->since[i]);
    }
    for (uint32_t i = 0; i < b->flush_count; i++) {
        dirty_remove(sh, b->cand[i].entry);
    }
    sh->cursor = b->cursor;
    sh->pass_scanned = b->pass_scanned;
    sh->pass_since = b->pass_since;
    sh->replay_after = b->replay_after;
    sh->transfer_id_max = b->transfer_id_max;
    store_sqlite_limits_publish(sh->limits, &b->limits);
    pthread_mutex_unlock(&shared_lock);
    store_sqlite_shared_end(sh, b);
}
