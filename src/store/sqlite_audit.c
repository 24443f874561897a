/*
 * sqlite_audit.c - the audit log on SQLite: chained appends, listings, the scan the verifier
 * reads, checkpoints and sealing (audit_backend.h).
 *
 * One writer of the file at a time is SQLite's own rule: a direct append reads the head and
 * inserts inside BEGIN IMMEDIATE, and the writer's batch does the same inside its write
 * transaction (the head is read at the batch's first audit record and carried along the
 * batch), so every entry is chained onto the newest committed one.
 *
 * A user's entries (schema v7) are a chain too, with no index: each entry records the previous
 * entry of its user (user_prev) and of its counterparty (counterparty_prev), either role, and
 * the newest entry of every party lives in the writing process's directory of heads
 * (sqlite_audit_heads.c), written lazily to audit_heads. A listing follows the links back from
 * the user's head; a reader in another process takes the head from audit_heads and the few
 * entries after store_meta.audit_replay_after. The links are not part of the hash chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit_backend.h"
#include "store/audit_chain.h"
#include "store/backend.h"
#include "store/sqlite_private.h"
#include "util/assert.h"

#define AUDIT_COLUMNS                                                                              \
    "seq, created_ns, user_id, kind, subject, counterparty_id, amount, currency, request_id, "     \
    "ip, prev_hash, hash"
#define AUDIT_COLUMN_COUNT 12
/* The entry's links, after AUDIT_COLUMNS. */
#define AUDIT_LINKED_COLUMN_COUNT 14
/* A user's newest entry (?1) without the writing process's directory: the persisted head, or
 * a newer entry after the replay mark. One statement, so one snapshot of both. */
#define AUDIT_USER_HEAD_SQL                                                                        \
    "SELECT max(coalesce((SELECT seq FROM audit_heads WHERE user_id = ?1), 0), "                   \
    "coalesce((SELECT max(seq) FROM audit_log WHERE seq > (SELECT value FROM store_meta WHERE "    \
    "name = 'audit_replay_after') AND (user_id = ?1 OR counterparty_id = ?1)), 0))"

#define AUDIT_STMT_TABLE(X)                                                                        \
    X(AUDIT_BEGIN, "BEGIN IMMEDIATE")                                                              \
    X(AUDIT_COMMIT, "COMMIT")                                                                      \
    X(AUDIT_ROLLBACK, "ROLLBACK")                                                                  \
    X(AUDIT_HEAD, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")                     \
    X(AUDIT_INSERT, "INSERT INTO audit_log (" AUDIT_COLUMNS ", user_prev, counterparty_prev) "     \
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")        \
    X(AUDIT_AT, "SELECT " AUDIT_COLUMNS ", user_prev, counterparty_prev FROM audit_log WHERE "     \
                "seq = ?1")                                                                        \
    X(AUDIT_USER_HEAD, AUDIT_USER_HEAD_SQL)                                                        \
    X(AUDIT_SCAN, "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2")  \
    X(AUDIT_FIRST_UNSEALED, "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE seq > ?1 ORDER BY seq " \
                            "LIMIT 1")                                                             \
    X(AUDIT_SEAL,                                                                                  \
      "UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE seq = ?1 AND hash IS NULL")            \
    X(AUDIT_CHECKPOINT_INSERT, "INSERT OR IGNORE INTO audit_checkpoints (seq, created_ns, hash, "  \
                               "mac) VALUES (?1, ?2, ?3, ?4)")                                     \
    X(AUDIT_CHECKPOINTS_LIST, "SELECT seq, created_ns, hash, mac FROM audit_checkpoints WHERE "    \
                              "seq > ?1 ORDER BY seq LIMIT ?2")

enum audit_stmt {
#define AUDIT_STMT_ENUM(id, sql) id,
    AUDIT_STMT_TABLE(AUDIT_STMT_ENUM)
#undef AUDIT_STMT_ENUM
        AUDIT_STMT_COUNT
};

static const char *const audit_stmt_sql[AUDIT_STMT_COUNT] = {
#define AUDIT_STMT_SQL(id, sql) sql,
    AUDIT_STMT_TABLE(AUDIT_STMT_SQL)
#undef AUDIT_STMT_SQL
};

static const char *const audit_stmt_name[AUDIT_STMT_COUNT] = {
#define AUDIT_STMT_NAME(id, sql) "audit: " #id,
    AUDIT_STMT_TABLE(AUDIT_STMT_NAME)
#undef AUDIT_STMT_NAME
};

struct store_sqlite_audit {
    sqlite3 *db; /* borrowed from the handle */
    sqlite3_stmt *stmts[AUDIT_STMT_COUNT];
    struct store_sqlite_heads_txn *txn; /* the open write transaction's entries */
    /* The head as the current batch left it; read again at every batch's first record. */
    bool head_valid;
    uint64_t head_seq;
    uint8_t head_hash[STORE_AUDIT_HASH_BYTES];
};

enum tl_err store_sqlite_audit_open(sqlite3 *db, struct store_sqlite_audit **out)
{
    struct store_sqlite_audit *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return TL_ERR_NOMEM;
    }
    a->db = db;
    enum tl_err txn_err = store_sqlite_heads_txn_open(db, &a->txn);
    if (txn_err != TL_OK) {
        free(a);
        return txn_err;
    }
    for (int i = 0; i < AUDIT_STMT_COUNT; i++) {
        int rc = sqlite3_prepare_v3(db, audit_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &a->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            enum tl_err err = store_sqlite_fail(db, rc, audit_stmt_name[i]);
            store_sqlite_audit_close(a);
            return err;
        }
    }
    *out = a;
    return TL_OK;
}

void store_sqlite_audit_close(struct store_sqlite_audit *a)
{
    if (a == NULL) {
        return;
    }
    for (int i = 0; i < AUDIT_STMT_COUNT; i++) {
        sqlite3_finalize(a->stmts[i]);
    }
    store_sqlite_heads_txn_close(a->txn);
    free(a);
}

static struct store_sqlite_audit *audit_from(struct store *store)
{
    struct store_sqlite_audit *a = store_sqlite_audit_of(store);
    TL_ASSERT(a != NULL);
    TL_ASSERT(a->db != NULL);
    return a;
}

/* ---- Binding and decoding ---- */

static void bind_blob(sqlite3_stmt *stmt, int index, const void *data, int bytes)
{
    int rc = sqlite3_bind_blob(stmt, index, data, bytes, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    int rc = sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

/* A text column of at most max - 1 bytes into out. */
static bool col_text(sqlite3_stmt *stmt, int index, char *out, size_t max)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_TEXT) {
        return false;
    }
    const unsigned char *text = sqlite3_column_text(stmt, index);
    int bytes = sqlite3_column_bytes(stmt, index);
    if (text == NULL || bytes < 0 || (size_t)bytes >= max || memchr(text, '\0', (size_t)bytes)) {
        return false;
    }
    memcpy(out, text, (size_t)bytes);
    out[bytes] = '\0';
    return true;
}

/* A 32-byte hash column; NULL (an unsealed entry) gives zeros and *present false. */
static bool col_hash(sqlite3_stmt *stmt, int index, uint8_t out[STORE_AUDIT_HASH_BYTES],
                     bool *present)
{
    int type = sqlite3_column_type(stmt, index);
    *present = type != SQLITE_NULL;
    if (type == SQLITE_NULL) {
        memset(out, 0, STORE_AUDIT_HASH_BYTES);
        return true;
    }
    if (type != SQLITE_BLOB || sqlite3_column_bytes(stmt, index) != STORE_AUDIT_HASH_BYTES) {
        return false;
    }
    memcpy(out, sqlite3_column_blob(stmt, index), STORE_AUDIT_HASH_BYTES);
    return true;
}

static bool col_u64(sqlite3_stmt *stmt, int index, uint64_t min, uint64_t *out)
{
    int64_t v = 0;
    if (!store_sqlite_col_i64(stmt, index, &v) || v < 0 || (uint64_t)v < min) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* The AUDIT_COLUMNS at the start of a row. */
static bool decode_columns(sqlite3_stmt *stmt, struct store_audit *out)
{
    struct store_audit e;
    int64_t currency = 0;
    bool prev_present = false;
    bool hash_present = false;
    bool ok;
    memset(&e, 0, sizeof(e));
    ok = col_u64(stmt, 0, 1, &e.seq) && col_u64(stmt, 1, 1, &e.created_ns) &&
         store_sqlite_col_id(stmt, 2, &e.user_id) && col_text(stmt, 3, e.kind, sizeof(e.kind)) &&
         e.kind[0] != '\0' && col_text(stmt, 4, e.subject, sizeof(e.subject));
    if (ok && sqlite3_column_type(stmt, 5) != SQLITE_NULL) {
        ok = store_sqlite_col_id(stmt, 5, &e.counterparty_id);
    }
    ok = ok && store_sqlite_col_i64(stmt, 6, &e.amount) &&
         store_sqlite_col_i64(stmt, 7, &currency) && currency >= 0 && currency <= UINT16_MAX &&
         col_text(stmt, 8, e.request_id, sizeof(e.request_id)) &&
         col_text(stmt, 9, e.ip, sizeof(e.ip)) && col_hash(stmt, 10, e.prev_hash, &prev_present) &&
         col_hash(stmt, 11, e.hash, &hash_present) && prev_present == hash_present;
    if (!ok) {
        return false;
    }
    e.currency = (uint16_t)currency;
    e.sealed = hash_present;
    *out = e;
    return true;
}

static bool decode_entry(sqlite3_stmt *stmt, void *row)
{
    TL_ASSERT(sqlite3_column_count(stmt) == AUDIT_COLUMN_COUNT);
    return decode_columns(stmt, row);
}

/* An entry with its links (AUDIT_AT). */
struct audit_linked {
    struct store_audit entry;
    uint64_t user_prev;
    uint64_t counterparty_prev;
};

static bool decode_linked(sqlite3_stmt *stmt, void *row)
{
    struct audit_linked *l = row;
    TL_ASSERT(sqlite3_column_count(stmt) == AUDIT_LINKED_COLUMN_COUNT);
    return decode_columns(stmt, &l->entry) && col_u64(stmt, AUDIT_COLUMN_COUNT, 0, &l->user_prev) &&
           col_u64(stmt, AUDIT_COLUMN_COUNT + 1, 0, &l->counterparty_prev) &&
           l->user_prev < l->entry.seq && l->counterparty_prev < l->entry.seq;
}

static void bind_entry(sqlite3_stmt *stmt, const struct store_audit *e, uint8_t ids[2][16])
{
    TL_ASSERT(e->sealed);
    store_sqlite_bind_u64(stmt, 1, e->seq);
    store_sqlite_bind_u64(stmt, 2, e->created_ns);
    id128_to_bytes(e->user_id, ids[0]);
    bind_blob(stmt, 3, ids[0], ID128_BYTES);
    bind_text(stmt, 4, e->kind);
    bind_text(stmt, 5, e->subject);
    if (id128_is_zero(e->counterparty_id)) {
        TL_ASSERT(sqlite3_bind_null(stmt, 6) == SQLITE_OK);
    } else {
        id128_to_bytes(e->counterparty_id, ids[1]);
        bind_blob(stmt, 6, ids[1], ID128_BYTES);
    }
    store_sqlite_bind_i64(stmt, 7, e->amount);
    store_sqlite_bind_i64(stmt, 8, e->currency);
    bind_text(stmt, 9, e->request_id);
    bind_text(stmt, 10, e->ip);
    bind_blob(stmt, 11, e->prev_hash, STORE_AUDIT_HASH_BYTES);
    bind_blob(stmt, 12, e->hash, STORE_AUDIT_HASH_BYTES);
}

/* ---- The head and one chained insert (inside a write transaction) ---- */

struct audit_head {
    uint64_t seq;
    uint8_t hash[STORE_AUDIT_HASH_BYTES];
};

static bool decode_head(sqlite3_stmt *stmt, void *row)
{
    struct audit_head *h = row;
    bool present = false;
    return col_u64(stmt, 0, 1, &h->seq) && col_hash(stmt, 1, h->hash, &present) && present;
}

static enum tl_err head_read(struct store_sqlite_audit *a, struct audit_head *out)
{
    struct audit_head head;
    bool found = false;
    memset(&head, 0, sizeof(head));
    enum tl_err err = store_sqlite_step_one(
        a->db, a->stmts[AUDIT_HEAD], audit_stmt_name[AUDIT_HEAD], decode_head, &head, &found);
    if (err == TL_OK) {
        if (!found) {
            memset(&head, 0, sizeof(head)); /* an empty chain: seq 1 follows zeros */
        }
        *out = head;
    }
    return err;
}

static struct store_sqlite_heads *heads_of(struct store *store)
{
    struct sqlite_shared *sh = store_sqlite_shared_of(store);
    TL_ASSERT(sh != NULL); /* a writable handle */
    return store_sqlite_shared_heads(sh);
}

/* Chains entry after head, links it to its parties' previous entries, inserts it and advances
 * head. The transaction has caught the directory up. */
static enum tl_err chained_insert(struct store_sqlite_audit *a, struct store *store,
                                  const struct store_audit *entry, struct audit_head *head)
{
    struct store_sqlite_heads *heads = heads_of(store);
    sqlite3_stmt *stmt = a->stmts[AUDIT_INSERT];
    uint8_t ids[2][16];
    struct store_audit e = *entry;
    store_audit_chain(&e, head->seq + 1, head->hash);
    uint64_t user_prev = store_sqlite_heads_prev(heads, a->txn, e.user_id);
    uint64_t counterparty_prev = 0;
    if (!id128_is_zero(e.counterparty_id)) {
        counterparty_prev = id128_eq(e.counterparty_id, e.user_id)
                                ? user_prev
                                : store_sqlite_heads_prev(heads, a->txn, e.counterparty_id);
    }
    TL_ASSERT(user_prev < e.seq);
    TL_ASSERT(counterparty_prev < e.seq);
    bind_entry(stmt, &e, ids);
    store_sqlite_bind_u64(stmt, 13, user_prev);
    store_sqlite_bind_u64(stmt, 14, counterparty_prev);
    int rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(a->db, rc, audit_stmt_name[AUDIT_INSERT]);
    }
    TL_ASSERT(sqlite3_changes(a->db) == 1);
    struct store_sqlite_audit_link link = {
        .seq = e.seq, .user_id = e.user_id, .counterparty_id = e.counterparty_id};
    enum tl_err err = store_sqlite_heads_add(a->txn, &link);
    if (err == TL_OK) {
        head->seq = e.seq;
        memcpy(head->hash, e.hash, sizeof(head->hash));
    }
    return err;
}

/* The chain's head, read inside the write transaction, and the directory caught up to it. */
static enum tl_err head_read_locked(struct store_sqlite_audit *a, struct store *store,
                                    struct audit_head *out)
{
    enum tl_err err = head_read(a, out);
    return err == TL_OK ? store_sqlite_heads_catch_up(heads_of(store), a->txn, out->seq) : err;
}

static enum tl_err txn_run(struct store_sqlite_audit *a, enum audit_stmt which)
{
    int rc = store_sqlite_run(a->stmts[which]);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(a->db, rc, audit_stmt_name[which]);
}

/* Ends a direct write: COMMIT after success, ROLLBACK (errors logged) after a failure. */
static enum tl_err txn_end(struct store_sqlite_audit *a, enum tl_err err)
{
    if (err == TL_OK) {
        err = txn_run(a, AUDIT_COMMIT);
    }
    if (err != TL_OK && !sqlite3_get_autocommit(a->db)) {
        (void)txn_run(a, AUDIT_ROLLBACK);
    }
    return err;
}

enum tl_err store_sqlite_audit_append(struct store *store, const struct store_audit *entry,
                                      uint64_t *out_seq)
{
    struct store_sqlite_audit *a = audit_from(store);
    struct store_sqlite_heads *heads = heads_of(store);
    struct audit_head head;
    TL_ASSERT(sqlite3_get_autocommit(a->db));
    enum tl_err err = txn_run(a, AUDIT_BEGIN);
    if (err != TL_OK) {
        return err;
    }
    store_sqlite_heads_txn_reset(a->txn);
    err = head_read_locked(a, store, &head);
    err = err == TL_OK ? chained_insert(a, store, entry, &head) : err;
    /* Only a writer batch writes lagging heads; this reserves what publish needs. */
    err = err == TL_OK ? store_sqlite_heads_flush(heads, a->txn, false) : err;
    err = txn_end(a, err);
    if (err != TL_OK) {
        store_sqlite_heads_txn_reset(a->txn);
        return err;
    }
    store_sqlite_heads_publish(heads, a->txn);
    *out_seq = head.seq;
    return TL_OK;
}

void store_sqlite_audit_batch_start(struct store *store)
{
    struct store_sqlite_audit *a = audit_from(store);
    a->head_valid = false;
    store_sqlite_heads_txn_reset(a->txn);
}

enum tl_err store_sqlite_audit_record_write(struct store *store, const struct store_record *record)
{
    struct store_sqlite_audit *a = audit_from(store);
    struct store_audit entry;
    struct audit_head head;
    enum tl_err err = TL_OK;
    TL_ASSERT(!sqlite3_get_autocommit(a->db)); /* inside the batch */
    store_record_audit_decode(record, &entry);
    if (!a->head_valid) {
        err = head_read_locked(a, store, &head);
    } else {
        head.seq = a->head_seq;
        memcpy(head.hash, a->head_hash, sizeof(head.hash));
    }
    if (err == TL_OK) {
        err = chained_insert(a, store, &entry, &head);
    }
    a->head_valid = err == TL_OK;
    if (err == TL_OK) {
        a->head_seq = head.seq;
        memcpy(a->head_hash, head.hash, sizeof(a->head_hash));
    }
    return err;
}

enum tl_err store_sqlite_audit_batch_flush(struct store *store)
{
    return store_sqlite_heads_flush(heads_of(store), audit_from(store)->txn, true);
}

void store_sqlite_audit_batch_publish(struct store *store)
{
    store_sqlite_heads_publish(heads_of(store), audit_from(store)->txn);
}

void store_sqlite_audit_batch_abort(struct store *store)
{
    struct store_sqlite_audit *a = audit_from(store);
    a->head_valid = false;
    store_sqlite_heads_txn_reset(a->txn);
}

/* ---- Reads ---- */

/* The user's newest entry: from the process's directory when a handle writes the file, else
 * from audit_heads and the entries after the replay mark. */
static enum tl_err user_head(struct store_sqlite_audit *a, struct store *store,
                             struct id128 user_id, uint64_t *out)
{
    sqlite3_stmt *stmt = a->stmts[AUDIT_USER_HEAD];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    if (store_sqlite_shared_audit_head(store_sqlite_file_of(store), user_id, out)) {
        return TL_OK;
    }
    id128_to_bytes(user_id, bytes);
    bind_blob(stmt, 1, bytes, ID128_BYTES);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        err = store_sqlite_fail(a->db, rc, audit_stmt_name[AUDIT_USER_HEAD]);
    } else if (!col_u64(stmt, 0, 0, out)) {
        err = store_sqlite_corrupt(audit_stmt_name[AUDIT_USER_HEAD]);
    }
    sqlite3_reset(stmt);
    return err;
}

static enum tl_err entry_at(struct store_sqlite_audit *a, uint64_t seq, struct audit_linked *out,
                            bool *found)
{
    sqlite3_stmt *stmt = a->stmts[AUDIT_AT];
    store_sqlite_bind_u64(stmt, 1, seq);
    return store_sqlite_step_one(a->db, stmt, audit_stmt_name[AUDIT_AT], decode_linked, out, found);
}

/* The link before l in user_id's chain: false when the entry is not the user's. */
static bool entry_link(const struct audit_linked *l, struct id128 user_id, uint64_t *prev)
{
    if (id128_eq(l->entry.user_id, user_id)) {
        *prev = l->user_prev;
    } else if (id128_eq(l->entry.counterparty_id, user_id)) {
        *prev = l->counterparty_prev;
    } else {
        return false;
    }
    return true;
}

/* Where an older page starts: the cursor's own link when the cursor is one of the user's
 * entries (what a client paging with the last entry it got sends), else the newest. */
static enum tl_err walk_start(struct store_sqlite_audit *a, struct id128 user_id, uint64_t after,
                              uint64_t *next)
{
    struct audit_linked l;
    bool found = false;
    if (after == 0 || *next <= after) {
        return TL_OK;
    }
    enum tl_err err = entry_at(a, after, &l, &found);
    if (err == TL_OK && found) {
        (void)entry_link(&l, user_id, next);
    }
    return err;
}

/* Rotates a ring of the last limit entries passed (seen of them) into a page, newest first. */
static uint32_t ring_page(struct store_audit *out, uint64_t seen, uint32_t limit)
{
    uint32_t count = seen > limit ? limit : (uint32_t)seen;
    if (seen > limit) {
        uint32_t r = (uint32_t)(seen % limit);
        store_sqlite_reverse(out, r, sizeof(*out));
        store_sqlite_reverse(out + r, count - r, sizeof(*out));
        store_sqlite_reverse(out, count, sizeof(*out));
    }
    return count;
}

/*
 * A user's entries follow the chain from the user's newest entry back through the links, one
 * lookup by seq each. An older page starts at its cursor (walk_start); a newer page walks down
 * from the newest to the cursor, keeping the last limit entries it passed in a ring, so its
 * cost grows with its distance from the newest, where clients paging back towards it are.
 */
enum tl_err store_sqlite_audit_list(struct store *store, struct id128 user_id,
                                    const struct store_audit_page *page, struct store_audit *out,
                                    uint32_t *out_count, bool *has_more)
{
    struct store_sqlite_audit *a = audit_from(store);
    uint64_t after = page->starting_after_seq > (uint64_t)INT64_MAX ? 0 : page->starting_after_seq;
    uint64_t before = page->ending_before_seq;
    uint64_t next = 0, seen = 0;
    uint32_t count = 0;
    bool more = false;
    struct audit_linked l;
    bool found = false;
    enum tl_err err = TL_OK;

    if (before > (uint64_t)INT64_MAX) {
        next = 0; /* past every stored seq: nothing is newer */
    } else {
        err = user_head(a, store, user_id, &next);
        err = err == TL_OK ? walk_start(a, user_id, after, &next) : err;
    }
    while (err == TL_OK && next != 0) {
        err = entry_at(a, next, &l, &found);
        if (err == TL_OK && !found) {
            err = store_sqlite_corrupt("audit list: a link names no entry");
        }
        if (err != TL_OK) {
            break;
        }
        if (before != 0) {
            if (l.entry.seq <= before) {
                break;
            }
            out[seen % page->limit] = l.entry;
            seen++;
        } else if (after == 0 || l.entry.seq < after) {
            if (count == page->limit) {
                more = true;
                break;
            }
            out[count++] = l.entry;
        }
        if (!entry_link(&l, user_id, &next) || next >= l.entry.seq) {
            err = store_sqlite_corrupt("audit list: a broken chain");
        }
    }
    if (err != TL_OK) {
        return err;
    }
    if (before != 0) {
        more = seen > page->limit;
        count = ring_page(out, seen, page->limit);
    }
    *out_count = count;
    *has_more = more;
    return TL_OK;
}

enum tl_err store_sqlite_audit_scan(struct store *store, uint64_t after_seq, uint32_t limit,
                                    struct store_audit *out, uint32_t *out_count)
{
    struct store_sqlite_audit *a = audit_from(store);
    sqlite3_stmt *stmt = a->stmts[AUDIT_SCAN];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;
    store_sqlite_bind_u64(stmt, 1, after_seq > (uint64_t)INT64_MAX ? INT64_MAX : after_seq);
    store_sqlite_bind_i64(stmt, 2, limit);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && count < limit) {
        if (!decode_entry(stmt, &out[count])) {
            err = store_sqlite_corrupt(audit_stmt_name[AUDIT_SCAN]);
            break;
        }
        count++;
    }
    if (err == TL_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        err = store_sqlite_fail(a->db, rc, audit_stmt_name[AUDIT_SCAN]);
    }
    sqlite3_reset(stmt);
    if (err == TL_OK) {
        *out_count = count;
    }
    return err;
}

enum tl_err store_sqlite_audit_head(struct store *store, uint64_t *out_seq,
                                    uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
    struct audit_head head;
    enum tl_err err = head_read(audit_from(store), &head);
    if (err == TL_OK) {
        *out_seq = head.seq;
        memcpy(out_hash, head.hash, STORE_AUDIT_HASH_BYTES);
    }
    return err;
}

/* ---- Checkpoints ---- */

enum tl_err store_sqlite_audit_checkpoint_put(struct store *store,
                                              const struct store_audit_checkpoint *c,
                                              bool *inserted)
{
    struct store_sqlite_audit *a = audit_from(store);
    sqlite3_stmt *stmt = a->stmts[AUDIT_CHECKPOINT_INSERT];
    store_sqlite_bind_u64(stmt, 1, c->seq);
    store_sqlite_bind_u64(stmt, 2, c->created_ns);
    bind_blob(stmt, 3, c->hash, STORE_AUDIT_HASH_BYTES);
    bind_blob(stmt, 4, c->mac, STORE_AUDIT_HASH_BYTES);
    int rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(a->db, rc, audit_stmt_name[AUDIT_CHECKPOINT_INSERT]);
    }
    *inserted = sqlite3_changes(a->db) == 1;
    return TL_OK;
}

static bool decode_checkpoint(sqlite3_stmt *stmt, struct store_audit_checkpoint *out)
{
    bool hash_present = false;
    bool mac_present = false;
    return col_u64(stmt, 0, 1, &out->seq) && col_u64(stmt, 1, 1, &out->created_ns) &&
           col_hash(stmt, 2, out->hash, &hash_present) && hash_present &&
           col_hash(stmt, 3, out->mac, &mac_present) && mac_present;
}

enum tl_err store_sqlite_audit_checkpoints_list(struct store *store, uint64_t after_seq,
                                                uint32_t limit, struct store_audit_checkpoint *out,
                                                uint32_t *out_count)
{
    struct store_sqlite_audit *a = audit_from(store);
    sqlite3_stmt *stmt = a->stmts[AUDIT_CHECKPOINTS_LIST];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;
    store_sqlite_bind_u64(stmt, 1, after_seq > (uint64_t)INT64_MAX ? INT64_MAX : after_seq);
    store_sqlite_bind_i64(stmt, 2, limit);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && count < limit) {
        if (!decode_checkpoint(stmt, &out[count])) {
            err = store_sqlite_corrupt(audit_stmt_name[AUDIT_CHECKPOINTS_LIST]);
            break;
        }
        count++;
    }
    if (err == TL_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        err = store_sqlite_fail(a->db, rc, audit_stmt_name[AUDIT_CHECKPOINTS_LIST]);
    }
    sqlite3_reset(stmt);
    if (err == TL_OK) {
        *out_count = count;
    }
    return err;
}

/* ---- Sealing the copied version 4 entries ---- */

/* The entry after seq, if any. */
static enum tl_err entry_after(struct store_sqlite_audit *a, uint64_t seq, struct store_audit *out,
                               bool *found)
{
    sqlite3_stmt *stmt = a->stmts[AUDIT_FIRST_UNSEALED];
    store_sqlite_bind_u64(stmt, 1, seq);
    return store_sqlite_step_one(a->db, stmt, audit_stmt_name[AUDIT_FIRST_UNSEALED], decode_entry,
                                 out, found);
}

static enum tl_err seal_one(struct store_sqlite_audit *a, struct store_audit *e,
                            const uint8_t prev[STORE_AUDIT_HASH_BYTES])
{
    sqlite3_stmt *stmt = a->stmts[AUDIT_SEAL];
    store_audit_chain(e, e->seq, prev);
    store_sqlite_bind_u64(stmt, 1, e->seq);
    bind_blob(stmt, 2, e->prev_hash, STORE_AUDIT_HASH_BYTES);
    bind_blob(stmt, 3, e->hash, STORE_AUDIT_HASH_BYTES);
    int rc = store_sqlite_run(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(a->db, rc, audit_stmt_name[AUDIT_SEAL]);
    }
    TL_ASSERT(sqlite3_changes(a->db) == 1);
    return TL_OK;
}

/* Seals the unsealed run from seq 1 (entries in seq order, each chained on the one before);
 * stops at the first sealed entry or a gap (the verifier reports gaps). */
static enum tl_err seal_prefix(struct store_sqlite_audit *a, uint32_t *out_sealed)
{
    uint8_t prev[STORE_AUDIT_HASH_BYTES];
    struct store_audit e;
    uint32_t sealed = 0;
    bool found = false;
    memset(prev, 0, sizeof(prev));
    enum tl_err err = entry_after(a, 0, &e, &found);
    while (err == TL_OK && found && !e.sealed && e.seq == (uint64_t)sealed + 1) {
        err = seal_one(a, &e, prev);
        if (err == TL_OK) {
            memcpy(prev, e.hash, sizeof(prev));
            sealed++;
            err = entry_after(a, e.seq, &e, &found);
        }
    }
    if (err == TL_OK) {
        *out_sealed = sealed;
    }
    return err;
}

enum tl_err store_sqlite_audit_seal(struct store *store, uint32_t *out_sealed)
{
    struct store_sqlite_audit *a = audit_from(store);
    struct store_audit first;
    bool found = false;
    uint32_t sealed = 0;
    /* The common case, read without the write lock: nothing to seal. */
    enum tl_err err = entry_after(a, 0, &first, &found);
    if (err != TL_OK || !found || first.sealed) {
        *out_sealed = 0;
        return err;
    }
    err = txn_run(a, AUDIT_BEGIN);
    if (err != TL_OK) {
        return err;
    }
    err = seal_prefix(a, &sealed);
    err = txn_end(a, err);
    if (err == TL_OK) {
        *out_sealed = sealed;
    }
    return err;
}
