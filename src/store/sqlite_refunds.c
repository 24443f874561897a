/*
 * sqlite_refunds.c - the refunds, reversals and disputes rows of app.h on SQLite (tables of
 * migration 005). Private to the SQLite backend: store_sqlite_app_ops points at these.
 *
 * These calls are rare next to payments, so each prepares its statement on the handle's
 * connection and finalizes it before returning (no per-handle statement state). A refunds
 * row counts as succeeded when the ledger holds a transfer with its id (LEFT JOIN transfers on
 * the unique id index). Writes are single statements, each its own transaction. Driver errors
 * are logged with the "store.sqlite:" prefix and never returned.
 */
#include <string.h>

#include "store/backend.h"
#include "store/sqlite_private.h"
#include "util/assert.h"
#include "util/limits.h"

/* Every refunds read, succeeded or not: amount and time come from the transfer once it exists. */
#define REFUND_SELECT                                                                              \
    "SELECT r.id, r.payment_id, r.kind, r.actor_id, coalesce(t.amount, r.amount), "                \
    "r.from_wallet, r.shortfall, r.currency, r.reason, r.dispute_id, "                             \
    "coalesce(t.timestamp, r.created_ns), t.timestamp IS NOT NULL "                                \
    "FROM refunds r LEFT JOIN transfers t ON t.id = r.id "
#define DISPUTE_SELECT                                                                             \
    "SELECT id, payment_id, payer_id, payee_id, status, reason, note, reversal_id, created_ns, "   \
    "resolved_ns FROM disputes "

/* The largest id: "older than" it is every id (the newest page). */
static const uint8_t refunds_id_max[ID128_BYTES] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static enum tl_err refunds_prepare(sqlite3 *db, const char *sql, const char *what,
                                   sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return store_sqlite_fail(db, rc, what);
    }
    return TL_OK;
}

static void refunds_bind_id(sqlite3_stmt *stmt, int index, struct id128 id)
{
    uint8_t bytes[ID128_BYTES];
    int rc;
    if (id128_is_zero(id)) {
        rc = sqlite3_bind_null(stmt, index);
    } else {
        id128_to_bytes(id, bytes);
        rc = sqlite3_bind_blob(stmt, index, bytes, ID128_BYTES, SQLITE_TRANSIENT);
    }
    TL_ASSERT(rc == SQLITE_OK);
}

static void refunds_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    int rc = sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
    TL_ASSERT(rc == SQLITE_OK);
}

/* A nullable id column: NULL is the zero id. */
static bool refunds_col_id_optional(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    if (sqlite3_column_type(stmt, index) == SQLITE_NULL) {
        *out = id128_make(0, 0);
        return true;
    }
    return store_sqlite_col_id(stmt, index, out);
}

static bool refunds_col_text(sqlite3_stmt *stmt, int index, char *out, size_t out_bytes)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_TEXT) {
        return false;
    }
    const unsigned char *text = sqlite3_column_text(stmt, index);
    int bytes = sqlite3_column_bytes(stmt, index);
    if (text == NULL || bytes < 0 || (size_t)bytes >= out_bytes) {
        return false;
    }
    memcpy(out, text, (size_t)bytes);
    out[bytes] = '\0';
    return true;
}

static bool refunds_decode_refund(sqlite3_stmt *stmt, void *row)
{
    struct store_refund *r = row;
    int64_t kind = 0;
    int64_t currency = 0;
    int64_t created = 0;
    int64_t succeeded = 0;
    memset(r, 0, sizeof(*r));
    bool ok = store_sqlite_col_id(stmt, 0, &r->id) && store_sqlite_col_id(stmt, 1, &r->payment_id) &&
              store_sqlite_col_i64(stmt, 2, &kind) &&
              refunds_col_id_optional(stmt, 3, &r->actor_id) &&
              store_sqlite_col_i64(stmt, 4, &r->amount) &&
              store_sqlite_col_i64(stmt, 5, &r->from_wallet) &&
              store_sqlite_col_i64(stmt, 6, &r->shortfall) &&
              store_sqlite_col_i64(stmt, 7, &currency) &&
              refunds_col_text(stmt, 8, r->reason, sizeof(r->reason)) &&
              refunds_col_id_optional(stmt, 9, &r->dispute_id) &&
              store_sqlite_col_i64(stmt, 10, &created) && store_sqlite_col_i64(stmt, 11, &succeeded);
    if (!ok || kind < 1 || kind > 2 || currency < 1 || currency > 999 || created <= 0 ||
        r->amount <= 0) {
        return false;
    }
    r->kind = (uint8_t)kind;
    r->currency = (uint16_t)currency;
    r->created_ns = (uint64_t)created;
    r->succeeded = succeeded != 0;
    return true;
}

static bool refunds_decode_dispute(sqlite3_stmt *stmt, void *row)
{
    struct store_dispute *d = row;
    int64_t status = 0;
    int64_t created = 0;
    int64_t resolved = 0;
    memset(d, 0, sizeof(*d));
    bool ok = store_sqlite_col_id(stmt, 0, &d->id) && store_sqlite_col_id(stmt, 1, &d->payment_id) &&
              store_sqlite_col_id(stmt, 2, &d->payer_id) &&
              store_sqlite_col_id(stmt, 3, &d->payee_id) && store_sqlite_col_i64(stmt, 4, &status) &&
              refunds_col_text(stmt, 5, d->reason, sizeof(d->reason)) &&
              refunds_col_text(stmt, 6, d->note, sizeof(d->note)) &&
              refunds_col_id_optional(stmt, 7, &d->reversal_id) &&
              store_sqlite_col_i64(stmt, 8, &created) && store_sqlite_col_i64(stmt, 9, &resolved);
    if (!ok || status < 1 || status > 3 || created <= 0 || resolved < 0) {
        return false;
    }
    d->status = (uint8_t)status;
    d->created_ns = (uint64_t)created;
    d->resolved_ns = (uint64_t)resolved;
    return true;
}

/* Runs a prepared write and finalizes it; *changes gets the rows it changed (may be NULL). */
static enum tl_err refunds_write(sqlite3 *db, sqlite3_stmt *stmt, const char *what, int *changes)
{
    int rc = store_sqlite_run(stmt);
    enum tl_err err = TL_OK;
    if (rc != SQLITE_OK) {
        err = (rc & 0xff) == SQLITE_CONSTRAINT ? TL_ERR_CONFLICT : store_sqlite_fail(db, rc, what);
    } else if (changes != NULL) {
        *changes = sqlite3_changes(db);
    }
    sqlite3_finalize(stmt);
    return err;
}

/*
 * One page of a keyset-paged statement by id: ?1 is the cursor id and the statement walks
 * older (id < ?1, DESC) or newer (id > ?1, ASC) ids; ?2 the row limit. Reads limit + 1 rows
 * (the extra one says *has_more) and reverses a newer page, so every page is newest first.
 * Finalizes stmt.
 */
static enum tl_err refunds_page(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                                const struct store_request_page *page, bool newer,
                                store_sqlite_decode_fn decode, void *out, size_t item_bytes,
                                uint32_t *out_count, bool *has_more)
{
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    bool more = false;
    struct id128 cursor = newer ? page->ending_before : page->starting_after;
    if (id128_is_zero(cursor)) {
        int rc = sqlite3_bind_blob(stmt, 1, refunds_id_max, ID128_BYTES, SQLITE_STATIC);
        TL_ASSERT(rc == SQLITE_OK);
    } else {
        refunds_bind_id(stmt, 1, cursor);
    }
    store_sqlite_bind_i64(stmt, 2, (int64_t)page->limit + 1);
    for (;;) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            err = store_sqlite_fail(db, rc, what);
            break;
        }
        if (count == page->limit) {
            more = true;
            break;
        }
        if (!decode(stmt, (char *)out + (size_t)count * item_bytes)) {
            err = store_sqlite_corrupt(what);
            break;
        }
        count++;
    }
    sqlite3_finalize(stmt);
    if (err != TL_OK) {
        return err;
    }
    if (newer) {
        store_sqlite_reverse(out, count, item_bytes);
    }
    *out_count = count;
    *has_more = more;
    return TL_OK;
}

enum tl_err store_sqlite_refund_put(struct store *store, const struct store_refund *row)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = refunds_prepare(
        db,
        "INSERT INTO refunds (id, payment_id, kind, actor_id, amount, from_wallet, shortfall, "
        "currency, reason, dispute_id, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11) ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, from_wallet = "
        "excluded.from_wallet, shortfall = excluded.shortfall WHERE NOT EXISTS (SELECT 1 FROM "
        "transfers t WHERE t.id = refunds.id)",
        "refund_put", &stmt);
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 1, row->id);
    refunds_bind_id(stmt, 2, row->payment_id);
    store_sqlite_bind_i64(stmt, 3, row->kind);
    refunds_bind_id(stmt, 4, row->actor_id);
    store_sqlite_bind_i64(stmt, 5, row->amount);
    store_sqlite_bind_i64(stmt, 6, row->from_wallet);
    store_sqlite_bind_i64(stmt, 7, row->shortfall);
    store_sqlite_bind_i64(stmt, 8, row->currency);
    refunds_bind_text(stmt, 9, row->reason);
    refunds_bind_id(stmt, 10, row->dispute_id);
    store_sqlite_bind_u64(stmt, 11, row->created_ns);
    return refunds_write(db, stmt, "refund_put", NULL);
}

enum tl_err store_sqlite_refund_get(struct store *store, struct id128 id, struct store_refund *out,
                                    bool *found)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = refunds_prepare(db, REFUND_SELECT "WHERE r.id = ?1", "refund_get", &stmt);
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 1, id);
    err = store_sqlite_step_one(db, stmt, "refund_get", refunds_decode_refund, out, found);
    sqlite3_finalize(stmt);
    return err;
}

enum tl_err store_sqlite_refunds_list(struct store *store, struct id128 payment_id,
                                      const struct store_request_page *page,
                                      struct store_refund *out, uint32_t *out_count,
                                      bool *has_more)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    bool newer = !id128_is_zero(page->ending_before);
    enum tl_err err = refunds_prepare(
        db,
        newer ? REFUND_SELECT "WHERE r.payment_id = ?3 AND r.id > ?1 AND t.timestamp IS NOT NULL "
                              "ORDER BY r.id ASC LIMIT ?2"
              : REFUND_SELECT "WHERE r.payment_id = ?3 AND r.id < ?1 AND t.timestamp IS NOT NULL "
                              "ORDER BY r.id DESC LIMIT ?2",
        "refunds_list", &stmt);
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 3, payment_id);
    return refunds_page(db, stmt, "refunds_list", page, newer, refunds_decode_refund, out,
                        sizeof(*out), out_count, has_more);
}

enum tl_err store_sqlite_refund_totals(struct store *store, struct id128 payment_id,
                                       int64_t *out_refunded, int64_t *out_reversed)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    int64_t totals[2] = {0, 0};
    enum tl_err err = refunds_prepare(
        db,
        "SELECT r.kind, sum(t.amount) FROM refunds r JOIN transfers t ON t.id = r.id WHERE "
        "r.payment_id = ?1 GROUP BY r.kind",
        "refund_totals", &stmt);
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 1, payment_id);
    for (;;) {
        int64_t kind = 0;
        int64_t sum = 0;
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            err = store_sqlite_fail(db, rc, "refund_totals");
            break;
        }
        if (!store_sqlite_col_i64(stmt, 0, &kind) || !store_sqlite_col_i64(stmt, 1, &sum) ||
            kind < 1 || kind > 2 || sum < 0) {
            err = store_sqlite_corrupt("refund_totals");
            break;
        }
        totals[kind - 1] = sum;
    }
    sqlite3_finalize(stmt);
    if (err == TL_OK) {
        *out_refunded = totals[0];
        *out_reversed = totals[1];
    }
    return err;
}

enum tl_err store_sqlite_dispute_create(struct store *store, const struct store_dispute *d)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = refunds_prepare(
        db,
        "INSERT INTO disputes (id, payment_id, payer_id, payee_id, status, reason, note, "
        "reversal_id, created_ns, resolved_ns) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, NULL, ?7, 0)",
        "dispute_create", &stmt);
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 1, d->id);
    refunds_bind_id(stmt, 2, d->payment_id);
    refunds_bind_id(stmt, 3, d->payer_id);
    refunds_bind_id(stmt, 4, d->payee_id);
    refunds_bind_text(stmt, 5, d->reason);
    refunds_bind_text(stmt, 6, d->note);
    store_sqlite_bind_u64(stmt, 7, d->created_ns);
    return refunds_write(db, stmt, "dispute_create", NULL);
}

enum tl_err store_sqlite_dispute_get(struct store *store, struct id128 id,
                                     struct store_dispute *out, bool *found)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = refunds_prepare(db, DISPUTE_SELECT "WHERE id = ?1", "dispute_get", &stmt);
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 1, id);
    err = store_sqlite_step_one(db, stmt, "dispute_get", refunds_decode_dispute, out, found);
    sqlite3_finalize(stmt);
    return err;
}

enum tl_err store_sqlite_disputes_list(struct store *store, struct id128 payment_id,
                                       uint8_t status, const struct store_request_page *page,
                                       struct store_dispute *out, uint32_t *out_count,
                                       bool *has_more)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    bool newer = !id128_is_zero(page->ending_before);
    /* ?3 payment (NULL: any), ?4 status (0: any, 4: resolved either way). */
#define DISPUTES_FILTER                                                                            \
    "WHERE (?3 IS NULL OR payment_id = ?3) AND (?4 = 0 OR status = ?4 OR (?4 = 4 AND "             \
    "status > 1)) "
    enum tl_err err = refunds_prepare(
        db,
        newer ? DISPUTE_SELECT DISPUTES_FILTER "AND id > ?1 ORDER BY id ASC LIMIT ?2"
              : DISPUTE_SELECT DISPUTES_FILTER "AND id < ?1 ORDER BY id DESC LIMIT ?2",
        "disputes_list", &stmt);
#undef DISPUTES_FILTER
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 3, payment_id);
    store_sqlite_bind_i64(stmt, 4, status);
    return refunds_page(db, stmt, "disputes_list", page, newer, refunds_decode_dispute, out,
                        sizeof(*out), out_count, has_more);
}

enum tl_err store_sqlite_dispute_resolve(struct store *store, struct id128 id, uint8_t status,
                                         const char *note, struct id128 reversal_id,
                                         uint64_t now_ns, bool *resolved)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    int changes = 0;
    enum tl_err err = refunds_prepare(db,
                                      "UPDATE disputes SET status = ?2, note = ?3, reversal_id = "
                                      "?4, resolved_ns = ?5 WHERE id = ?1 AND status = 1",
                                      "dispute_resolve", &stmt);
    if (err != TL_OK) {
        return err;
    }
    refunds_bind_id(stmt, 1, id);
    store_sqlite_bind_i64(stmt, 2, status);
    refunds_bind_text(stmt, 3, note);
    refunds_bind_id(stmt, 4, reversal_id);
    store_sqlite_bind_u64(stmt, 5, now_ns);
    err = refunds_write(db, stmt, "dispute_resolve", &changes);
    if (err == TL_OK) {
        *resolved = changes == 1;
    }
    return err;
}
