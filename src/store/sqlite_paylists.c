/*
 * sqlite_paylists.c - a user's payments on SQLite, found through the history chains of the
 * user's wallets instead of per-user indexes (schema v9, sqlite_009_paylists.sql).
 *
 * Why this finds them all: every payments row's main transfer (its id is the payment id, its
 * ledger timestamp is created_ns, the payments rowid) debits from_wallet, a wallet of
 * from_user, and credits to_wallet, a wallet of to_user. payments.c makes it so for every
 * payment (plain, paying a request, a schedule, a cross-currency payment whose conversion legs
 * come first) and escrow.c for a release (it posts the hold, which is between the same two
 * wallets). So a user's payments are among the postings of the user's wallets, and those are
 * linked newest first already: accounts.posting_last, then transfers.debit_prev / credit_prev,
 * the chains store_history walks. A list merges the chains of all the user's wallets newest
 * first (a posting on two of them counts once), joins the payments row of each posting by
 * rowid, and keeps those where the user is from_user (sent), to_user (received) or either
 * (any): the rows, and the order, that the indexes payments_sent and payments_received gave.
 * A payment whose transfer is not on the wallets it names is TL_ERR_CORRUPT, never skipped.
 *
 * Cost of one page: the wallet ids (one index range), each wallet's head (the process's
 * account directory), then one statement per posting walked, each two lookups by integer key.
 * The postings walked are the page's payments plus whatever lies between them on the user's
 * wallets (fees, deposits, conversion legs, holds, refunds) and one more payment for
 * has_more; an older page also walks each wallet that its cursor is not on from that wallet's
 * newest posting down to the cursor, and a newer page walks from the newest postings down to
 * its cursor (the cost of wallet history's newer pages). Nothing cuts a page short: the walk
 * goes on until the page and one more payment are found or every chain has ended. What is
 * bounded is how long one read snapshot lives: PAYLISTS_ROUND_POSTINGS postings per read
 * transaction, then a fresh one, so a walk over many non-payment postings never holds back
 * the checkpointer. The rounds see one answer: the heads are read before the first round, and
 * a posting below a head, its links and its payments row never change once committed.
 */
#include <stdlib.h>
#include <string.h>

#include "store/app.h"
#include "store/sqlite_private.h"
#include "util/assert.h"
#include "util/limits.h"

/* Postings one read transaction of a list walks before it ends and the next begins. */
#define PAYLISTS_ROUND_POSTINGS 256u

/* ?1: a transfer's timestamp. Its id, accounts (by key) and links, and when it is the main
 * transfer of a payment (the payments row with created_ns = ?1), that payment's parties. */
#define PAYLISTS_POSTING_SQL                                                                       \
    "SELECT t.id, t.debit_account_ts, t.credit_account_ts, t.debit_prev, t.credit_prev, p.id, "    \
    "p.from_user, p.to_user, p.from_wallet, p.to_wallet FROM transfers t LEFT JOIN payments p "    \
    "ON p.created_ns = t.timestamp WHERE t.timestamp = ?1"
enum paylists_column {
    PLCOL_ID,
    PLCOL_DEBIT_KEY,
    PLCOL_CREDIT_KEY,
    PLCOL_DEBIT_PREV,
    PLCOL_CREDIT_PREV,
    PLCOL_PAYMENT_ID,
    PLCOL_FROM_USER,
    PLCOL_TO_USER,
    PLCOL_FROM_WALLET,
    PLCOL_TO_WALLET,
    PLCOL_COUNT
};

#define PAYLISTS_STMT_TABLE(X)                                                                     \
    X(PL_BEGIN, "BEGIN")                                                                           \
    X(PL_COMMIT, "COMMIT")                                                                         \
    X(PL_ROLLBACK, "ROLLBACK")                                                                     \
    X(PL_WALLETS, "SELECT id FROM wallets WHERE user_id = ?1 LIMIT ?2")                            \
    X(PL_POSTING, PAYLISTS_POSTING_SQL)

enum paylists_stmt {
#define PAYLISTS_STMT_ENUM(id, sql) id,
    PAYLISTS_STMT_TABLE(PAYLISTS_STMT_ENUM)
#undef PAYLISTS_STMT_ENUM
        PL_STMT_COUNT
};

static const char *const paylists_stmt_sql[PL_STMT_COUNT] = {
#define PAYLISTS_STMT_SQL(id, sql) sql,
    PAYLISTS_STMT_TABLE(PAYLISTS_STMT_SQL)
#undef PAYLISTS_STMT_SQL
};

static const char *const paylists_stmt_name[PL_STMT_COUNT] = {
#define PAYLISTS_STMT_NAME(id, sql) "payments_list: " #id,
    PAYLISTS_STMT_TABLE(PAYLISTS_STMT_NAME)
#undef PAYLISTS_STMT_NAME
};

struct store_sqlite_paylists {
    sqlite3 *db; /* borrowed from the handle */
    sqlite3_stmt *stmts[PL_STMT_COUNT];
};

enum tl_err store_sqlite_paylists_open(sqlite3 *db, struct store_sqlite_paylists **out)
{
    struct store_sqlite_paylists *pl = calloc(1, sizeof(*pl));
    if (pl == NULL) {
        return TL_ERR_NOMEM;
    }
    pl->db = db;
    for (int i = 0; i < PL_STMT_COUNT; i++) {
        int rc = sqlite3_prepare_v3(db, paylists_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &pl->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            enum tl_err err = store_sqlite_fail(db, rc, paylists_stmt_name[i]);
            store_sqlite_paylists_close(pl);
            return err;
        }
        TL_ASSERT(pl->stmts[i] != NULL);
    }
    *out = pl;
    return TL_OK;
}

void store_sqlite_paylists_close(struct store_sqlite_paylists *pl)
{
    if (pl == NULL) {
        return;
    }
    for (int i = 0; i < PL_STMT_COUNT; i++) {
        sqlite3_finalize(pl->stmts[i]);
    }
    free(pl);
}

/* ---- One posting ---- */

struct paylists_posting {
    struct id128 id;
    uint64_t debit_key; /* accounts.timestamp of its accounts */
    uint64_t credit_key;
    uint64_t debit_prev; /* the links of its two chains */
    uint64_t credit_prev;
    bool payment; /* the main transfer of a payments row; then: */
    struct id128 from_user;
    struct id128 to_user;
    struct id128 from_wallet;
    struct id128 to_wallet;
};

static bool paylists_col_u63(sqlite3_stmt *stmt, int index, uint64_t *out)
{
    int64_t value;
    if (!store_sqlite_col_i64(stmt, index, &value) || value < 0) {
        return false;
    }
    *out = (uint64_t)value;
    return true;
}

static bool paylists_row(sqlite3_stmt *stmt, void *row)
{
    struct paylists_posting *p = row;
    struct id128 payment_id;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == PLCOL_COUNT);
    memset(p, 0, sizeof(*p));
    ok = store_sqlite_col_id(stmt, PLCOL_ID, &p->id);
    ok = ok && paylists_col_u63(stmt, PLCOL_DEBIT_KEY, &p->debit_key);
    ok = ok && paylists_col_u63(stmt, PLCOL_CREDIT_KEY, &p->credit_key);
    ok = ok && paylists_col_u63(stmt, PLCOL_DEBIT_PREV, &p->debit_prev);
    ok = ok && paylists_col_u63(stmt, PLCOL_CREDIT_PREV, &p->credit_prev);
    if (!ok || sqlite3_column_type(stmt, PLCOL_PAYMENT_ID) == SQLITE_NULL) {
        return ok;
    }
    p->payment = true;
    ok = store_sqlite_col_id(stmt, PLCOL_PAYMENT_ID, &payment_id);
    ok = ok && store_sqlite_col_id(stmt, PLCOL_FROM_USER, &p->from_user);
    ok = ok && store_sqlite_col_id(stmt, PLCOL_TO_USER, &p->to_user);
    ok = ok && store_sqlite_col_id(stmt, PLCOL_FROM_WALLET, &p->from_wallet);
    ok = ok && store_sqlite_col_id(stmt, PLCOL_TO_WALLET, &p->to_wallet);
    /* A payment's id is its main transfer's: a payment at another transfer's time is not one
     * we wrote. */
    return ok && id128_eq(payment_id, p->id);
}

/* The link before p in the chain of the account with key; false when p is not on it. */
static bool paylists_link(const struct paylists_posting *p, uint64_t key, uint64_t *prev)
{
    if (p->debit_key == key) {
        *prev = p->debit_prev;
    } else if (p->credit_key == key) {
        *prev = p->credit_prev;
    } else {
        return false;
    }
    return true;
}

/* ---- The walk ---- */

struct paylists_chain {
    struct id128 wallet; /* the wallet's id, which is its ledger account's */
    uint64_t key;        /* the account's accounts.timestamp */
    uint64_t next;       /* the next posting to walk (newest first); 0 = walked to its end */
};

struct paylists_walk {
    struct store *store;
    struct store_sqlite_paylists *pl;
    struct id128 user;
    enum store_direction direction;
    struct paylists_chain *chains; /* TL_WALLETS_PER_USER_MAX */
    uint32_t chain_count;
    uint32_t round_postings; /* postings read in the open read transaction */
    bool reading;            /* the walk opened the read transaction it is in */
};

/* Opens a read transaction unless the caller has one open (the walk then reads in it). */
static enum tl_err paylists_read_begin(struct paylists_walk *w)
{
    TL_ASSERT(!w->reading);
    if (!sqlite3_get_autocommit(w->pl->db)) {
        return TL_OK;
    }
    int rc = store_sqlite_run(w->pl->stmts[PL_BEGIN]);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(w->pl->db, rc, "payments_list: begin");
    }
    w->reading = true;
    w->round_postings = 0;
    return TL_OK;
}

/* Ends the walk's read transaction, if it opened one. */
static enum tl_err paylists_read_end(struct paylists_walk *w)
{
    enum tl_err err = TL_OK;
    if (!w->reading) {
        return TL_OK;
    }
    w->reading = false;
    int rc = store_sqlite_run(w->pl->stmts[PL_COMMIT]);
    if (rc != SQLITE_OK) {
        err = store_sqlite_fail(w->pl->db, rc, "payments_list: commit");
        if (!sqlite3_get_autocommit(w->pl->db)) {
            (void)store_sqlite_run(w->pl->stmts[PL_ROLLBACK]);
        }
    }
    return err;
}

/* The posting at ts (*found false: none), in a fresh read transaction every
 * PAYLISTS_ROUND_POSTINGS postings. */
static enum tl_err paylists_posting_at(struct paylists_walk *w, uint64_t ts,
                                       struct paylists_posting *out, bool *found)
{
    sqlite3_stmt *stmt = w->pl->stmts[PL_POSTING];
    enum tl_err err = TL_OK;

    TL_ASSERT(ts != 0);
    if (w->reading && w->round_postings == PAYLISTS_ROUND_POSTINGS) {
        err = paylists_read_end(w);
        err = err == TL_OK ? paylists_read_begin(w) : err;
        if (err != TL_OK) {
            return err;
        }
    }
    w->round_postings++;
    store_sqlite_bind_u64(stmt, 1, ts);
    return store_sqlite_step_one(w->pl->db, stmt, "payments_list", paylists_row, out, found);
}

/* The user's wallets, each with its account's head. A wallet without an account (a crash
 * between its row and its account; payments.c repairs it) has no postings. TL_ERR_LIMIT when
 * the user has more than TL_WALLETS_PER_USER_MAX wallets. */
static enum tl_err paylists_chains_load(struct paylists_walk *w)
{
    sqlite3_stmt *stmt = w->pl->stmts[PL_WALLETS];
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    int rc;

    id128_to_bytes(w->user, bytes);
    rc = sqlite3_bind_blob(stmt, 1, bytes, ID128_BYTES, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
    store_sqlite_bind_i64(stmt, 2, (int64_t)TL_WALLETS_PER_USER_MAX + 1);
    while (err == TL_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == TL_WALLETS_PER_USER_MAX) {
            err = TL_ERR_LIMIT;
        } else if (!store_sqlite_col_id(stmt, 0, &w->chains[count++].wallet)) {
            err = store_sqlite_corrupt("payments_list: wallets");
        }
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = store_sqlite_fail(w->pl->db, rc, "payments_list: wallets");
    }
    sqlite3_reset(stmt);
    w->chain_count = 0;
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        struct paylists_chain *c = &w->chains[w->chain_count];
        bool found = false;
        c->wallet = w->chains[i].wallet;
        err = store_sqlite_chain_head(w->store, c->wallet, &c->key, &c->next, &found);
        w->chain_count += err == TL_OK && found ? 1 : 0;
    }
    return err;
}

/* An older page whose cursor is a posting: each chain the posting is on starts at its link
 * (what a client paging with the last payment of the previous page sends); the others walk
 * down to the cursor from their newest posting. */
static enum tl_err paylists_position(struct paylists_walk *w, uint64_t after)
{
    struct paylists_posting p;
    bool found = false;
    uint64_t prev = 0;
    enum tl_err err = paylists_posting_at(w, after, &p, &found);

    for (uint32_t i = 0; err == TL_OK && found && i < w->chain_count; i++) {
        if (!paylists_link(&p, w->chains[i].key, &prev)) {
            continue;
        }
        if (prev >= after) {
            return store_sqlite_corrupt("payments_list: a broken chain");
        }
        w->chains[i].next = prev;
    }
    return err;
}

/* The newest posting no chain has walked yet; 0 when every chain has ended. */
static uint64_t paylists_newest(const struct paylists_walk *w)
{
    uint64_t ts = 0;
    for (uint32_t i = 0; i < w->chain_count; i++) {
        ts = w->chains[i].next > ts ? w->chains[i].next : ts;
    }
    return ts;
}

/* Reads the posting at ts (paylists_newest), moves every chain it is on one link back, and
 * says whether it is a payment of the user's side. */
static enum tl_err paylists_step(struct paylists_walk *w, uint64_t ts, bool *match)
{
    struct paylists_posting p;
    bool found = false;
    enum tl_err err = paylists_posting_at(w, ts, &p, &found);

    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return store_sqlite_corrupt("payments_list: a link names no posting");
    }
    for (uint32_t i = 0; i < w->chain_count; i++) {
        struct paylists_chain *c = &w->chains[i];
        if (c->next != ts) {
            continue;
        }
        if (!paylists_link(&p, c->key, &c->next) || c->next >= ts) {
            return store_sqlite_corrupt("payments_list: a broken chain");
        }
        if (p.payment && !id128_eq(c->wallet, p.from_wallet) && !id128_eq(c->wallet, p.to_wallet)) {
            return store_sqlite_corrupt("payments_list: a payment's transfer is not between "
                                        "its wallets");
        }
    }
    bool sent = p.payment && id128_eq(p.from_user, w->user);
    bool received = p.payment && id128_eq(p.to_user, w->user);
    *match = w->direction == STORE_DIRECTION_SENT       ? sent
             : w->direction == STORE_DIRECTION_RECEIVED ? received
                                                        : sent || received;
    return TL_OK;
}

/* The first limit matches older than after, newest first, and whether there is one more. */
static enum tl_err paylists_older(struct paylists_walk *w, uint64_t after, uint32_t limit,
                                  uint64_t *out, uint32_t *out_count, bool *more)
{
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    uint64_t ts;
    bool match = false;

    *more = false;
    if (after != UINT64_MAX) {
        err = paylists_position(w, after);
    }
    while (err == TL_OK && (ts = paylists_newest(w)) != 0) {
        err = paylists_step(w, ts, &match);
        if (err != TL_OK || !match || ts >= after) {
            continue; /* above the cursor: a chain walking down to it */
        }
        if (count == limit) {
            *more = true;
            break;
        }
        out[count++] = ts;
    }
    *out_count = count;
    return err;
}

/* The limit matches just newer than before, newest first, and whether there are more. */
static enum tl_err paylists_newer(struct paylists_walk *w, uint64_t before, uint32_t limit,
                                  uint64_t *ring, uint32_t *out_count, bool *more)
{
    enum tl_err err = TL_OK;
    uint64_t seen = 0;
    uint64_t ts;
    bool match = false;

    while (err == TL_OK && (ts = paylists_newest(w)) > before) {
        err = paylists_step(w, ts, &match);
        if (err == TL_OK && match) {
            ring[seen % limit] = ts;
            seen++;
        }
    }
    *more = seen > limit;
    *out_count = store_sqlite_ring_order(ring, seen, limit, sizeof(*ring));
    return err;
}

/* The payments rows at stamps[0..count). */
static enum tl_err paylists_rows(struct store *store, const uint64_t *stamps, uint32_t count,
                                 struct store_payment *out)
{
    for (uint32_t i = 0; i < count; i++) {
        bool found = false;
        enum tl_err err = store_sqlite_payment_at(store, stamps[i], &out[i], &found);
        if (err != TL_OK) {
            return err;
        }
        if (!found) {
            return store_sqlite_corrupt("payments_list: a payment went away");
        }
    }
    return TL_OK;
}

/* Cursors as store_sqlite_page_read reads them: past INT64_MAX names no stored time. */
static enum tl_err paylists_page(struct paylists_walk *w, const struct store_page *page,
                                 uint64_t *stamps, uint32_t *count, bool *more)
{
    uint64_t before = page->ending_before_ts;
    uint64_t after = page->starting_after_ts;

    if (before != 0) {
        before = before > (uint64_t)INT64_MAX ? UINT64_MAX : before;
        return paylists_newer(w, before, page->limit, stamps, count, more);
    }
    after = after == 0 || after > (uint64_t)INT64_MAX ? UINT64_MAX : after;
    return paylists_older(w, after, page->limit, stamps, count, more);
}

enum tl_err store_sqlite_payments_list(struct store *store, struct id128 user_id,
                                       enum store_direction direction,
                                       const struct store_page *page, struct store_payment *out,
                                       uint32_t *out_count, bool *has_more)
{
    struct paylists_walk w;
    uint64_t stamps[TL_PAGE_LIMIT_MAX];
    uint32_t count = 0;
    bool more = false;
    enum tl_err err;

    TL_ASSERT(page->limit >= 1);
    TL_ASSERT(page->limit <= TL_PAGE_LIMIT_MAX);
    memset(&w, 0, sizeof(w));
    w.store = store;
    w.pl = store_sqlite_paylists_of(store);
    w.user = user_id;
    w.direction = direction;
    w.chains = malloc(TL_WALLETS_PER_USER_MAX * sizeof(*w.chains));
    if (w.chains == NULL) {
        return TL_ERR_NOMEM;
    }
    /* The heads first, then the snapshot the walk reads: every head is in it. */
    err = paylists_chains_load(&w);
    err = err == TL_OK ? paylists_read_begin(&w) : err;
    err = err == TL_OK ? paylists_page(&w, page, stamps, &count, &more) : err;
    err = err == TL_OK ? paylists_rows(store, stamps, count, out) : err;
    enum tl_err end = paylists_read_end(&w);
    err = err == TL_OK ? end : err;
    free(w.chains);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(count <= page->limit);
    *out_count = count;
    *has_more = more;
    return TL_OK;
}
