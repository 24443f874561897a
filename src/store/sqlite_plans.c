/*
 * sqlite_plans.c - the rows of plans.h (escrows, scheduled payments) on SQLite (tables of
 * migration 005).
 *
 * These calls are few (an escrow action, a scheduler tick), so each prepares its statement on
 * the handle's connection and finalizes it, instead of adding to sqlite_app.c's prepared set.
 * Escrow reads join the ledger's transfers table: the hold (id = escrow id) gives the state,
 * the transfer with settle_id what settled it. Driver errors are logged with the
 * "store.sqlite:" prefix and never returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "store/backend.h"
#include "store/plans_backend.h"
#include "store/sqlite_private.h"
#include "util/assert.h"
#include "util/limits.h"

#define ESCROW_SELECT                                                                              \
    "SELECT e.id, e.payer_id, e.payee_id, e.payer_wallet, e.payee_wallet, e.amount, "              \
    "e.currency, e.release_mode, e.release_at_ns, e.expires_ns, e.settle_id, "                     \
    "e.payer_approved_ns, e.payee_approved_ns, e.to_text, e.note, e.created_ns, "                  \
    "h.pending_status, s.flags, s.amount, s.timestamp FROM escrows e "                             \
    "JOIN transfers h ON h.id = e.id LEFT JOIN transfers s ON s.id = e.settle_id "
enum escrow_column {
    ECOL_ID,
    ECOL_PAYER_ID,
    ECOL_PAYEE_ID,
    ECOL_PAYER_WALLET,
    ECOL_PAYEE_WALLET,
    ECOL_AMOUNT,
    ECOL_CURRENCY,
    ECOL_RELEASE_MODE,
    ECOL_RELEASE_AT_NS,
    ECOL_EXPIRES_NS,
    ECOL_SETTLE_ID,
    ECOL_PAYER_APPROVED_NS,
    ECOL_PAYEE_APPROVED_NS,
    ECOL_TO_TEXT,
    ECOL_NOTE,
    ECOL_CREATED_NS,
    ECOL_HOLD_STATUS,
    ECOL_SETTLE_FLAGS,
    ECOL_SETTLE_AMOUNT,
    ECOL_SETTLE_TS,
    ECOL_COUNT
};
#define ESCROWS_ROLE                                                                               \
    "WHERE ((?2 & 1 != 0 AND e.payer_id = ?1) OR (?2 & 2 != 0 AND e.payee_id = ?1)) "

#define SCHEDULE_COLUMNS                                                                           \
    "id, user_id, to_user, amount, currency, repeat, interval_s, start_ns, end_count, end_ns, "    \
    "to_text, note, created_ns, canceled_ns, next_index, next_due_ns"
enum schedule_column {
    SCOL_ID,
    SCOL_USER_ID,
    SCOL_TO_USER,
    SCOL_AMOUNT,
    SCOL_CURRENCY,
    SCOL_REPEAT,
    SCOL_INTERVAL_S,
    SCOL_START_NS,
    SCOL_END_COUNT,
    SCOL_END_NS,
    SCOL_TO_TEXT,
    SCOL_NOTE,
    SCOL_CREATED_NS,
    SCOL_CANCELED_NS,
    SCOL_NEXT_INDEX,
    SCOL_NEXT_DUE_NS,
    SCOL_COUNT
};

#define OCCURRENCE_COLUMNS                                                                         \
    "schedule_id, idx, due_ns, payment_id, status, reason, claimed_ns, done_ns"
enum occurrence_column {
    OCOL_SCHEDULE_ID,
    OCOL_INDEX,
    OCOL_DUE_NS,
    OCOL_PAYMENT_ID,
    OCOL_STATUS,
    OCOL_REASON,
    OCOL_CLAIMED_NS,
    OCOL_DONE_NS,
    OCOL_PAID_NS, /* lists only: the payment's time when it exists */
    OCOL_COUNT
};

/* ---- Statements, binding and decoding ---- */

static enum tl_err plans_prepare(sqlite3 *db, const char *sql, const char *what,
                                 sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return store_sqlite_fail(db, rc, what);
    }
    return TL_OK;
}

static void bind_id(sqlite3_stmt *stmt, int index, struct id128 id, uint8_t bytes[ID128_BYTES])
{
    id128_to_bytes(id, bytes);
    int rc = sqlite3_bind_blob(stmt, index, bytes, ID128_BYTES, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    int rc = sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
    TL_ASSERT(rc == SQLITE_OK);
}

/* ?index: the cursor of a page walking down from it, or above every id for the first page. */
static void bind_cursor(sqlite3_stmt *stmt, int index, const struct store_request_page *page,
                        uint8_t bytes[ID128_BYTES])
{
    if (!id128_is_zero(page->ending_before)) {
        bind_id(stmt, index, page->ending_before, bytes);
    } else if (!id128_is_zero(page->starting_after)) {
        bind_id(stmt, index, page->starting_after, bytes);
    } else {
        memset(bytes, 0xff, ID128_BYTES);
        int rc = sqlite3_bind_blob(stmt, index, bytes, ID128_BYTES, SQLITE_STATIC);
        TL_ASSERT(rc == SQLITE_OK);
    }
}

static bool col_id(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    return store_sqlite_col_id(stmt, index, out) && !id128_is_zero(*out);
}

static bool col_uint(sqlite3_stmt *stmt, int index, uint64_t min, uint64_t max, uint64_t *out)
{
    int64_t value;
    if (!store_sqlite_col_i64(stmt, index, &value) || value < 0) {
        return false;
    }
    if ((uint64_t)value < min || (uint64_t)value > max) {
        return false;
    }
    *out = (uint64_t)value;
    return true;
}

static bool col_text(sqlite3_stmt *stmt, int index, char *out, size_t out_bytes, bool empty_ok)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_TEXT) {
        return false;
    }
    const unsigned char *text = sqlite3_column_text(stmt, index);
    int bytes = sqlite3_column_bytes(stmt, index);
    if (text == NULL || bytes < 0 || (size_t)bytes >= out_bytes || (bytes == 0 && !empty_ok)) {
        return false;
    }
    if (memchr(text, '\0', (size_t)bytes) != NULL) {
        return false;
    }
    memcpy(out, text, (size_t)bytes);
    out[bytes] = '\0';
    return true;
}

/* The ledger columns of an escrow row: its state, and what settled it. */
static bool decode_escrow_state(sqlite3_stmt *stmt, struct store_escrow *e)
{
    uint64_t hold = 0, flags = 0, amount = 0, ts = 0;
    bool settled = sqlite3_column_type(stmt, ECOL_SETTLE_FLAGS) != SQLITE_NULL;
    if (!col_uint(stmt, ECOL_HOLD_STATUS, LEDGER_PENDING_OPEN, LEDGER_PENDING_EXPIRED, &hold)) {
        return false;
    }
    if (settled && (!col_uint(stmt, ECOL_SETTLE_FLAGS, 0, UINT16_MAX, &flags) ||
                    !col_uint(stmt, ECOL_SETTLE_AMOUNT, 1, INT64_MAX, &amount) ||
                    !col_uint(stmt, ECOL_SETTLE_TS, 1, INT64_MAX, &ts))) {
        return false;
    }
    switch (hold) {
    case LEDGER_PENDING_OPEN:
        e->state = STORE_ESCROW_HELD;
        return !settled;
    case LEDGER_PENDING_POSTED:
        e->state = STORE_ESCROW_RELEASED;
        e->released_amount = (int64_t)amount;
        e->settled_ns = ts;
        return settled && (flags & LEDGER_TRANSFER_POST_PENDING) != 0 &&
               (int64_t)amount <= e->amount;
    case LEDGER_PENDING_VOIDED:
        e->state = STORE_ESCROW_CANCELED;
        e->settled_ns = ts;
        return settled && (flags & LEDGER_TRANSFER_VOID_PENDING) != 0;
    default:
        e->state = STORE_ESCROW_EXPIRED;
        return !settled;
    }
}

static bool decode_escrow(sqlite3_stmt *stmt, void *row)
{
    struct store_escrow *e = row;
    uint64_t currency = 0, mode = 0;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == ECOL_COUNT);
    memset(e, 0, sizeof(*e));
    ok = col_id(stmt, ECOL_ID, &e->id);
    ok = ok && col_id(stmt, ECOL_PAYER_ID, &e->payer_id);
    ok = ok && col_id(stmt, ECOL_PAYEE_ID, &e->payee_id);
    ok = ok && col_id(stmt, ECOL_PAYER_WALLET, &e->payer_wallet);
    ok = ok && col_id(stmt, ECOL_PAYEE_WALLET, &e->payee_wallet);
    ok = ok && store_sqlite_col_i64(stmt, ECOL_AMOUNT, &e->amount) && e->amount > 0;
    ok = ok && col_uint(stmt, ECOL_CURRENCY, 1, 999, &currency);
    ok = ok && col_uint(stmt, ECOL_RELEASE_MODE, 1, 3, &mode);
    ok = ok && col_uint(stmt, ECOL_RELEASE_AT_NS, 0, INT64_MAX, &e->release_at_ns);
    ok = ok && col_uint(stmt, ECOL_EXPIRES_NS, 1, INT64_MAX, &e->expires_ns);
    ok = ok && col_id(stmt, ECOL_SETTLE_ID, &e->settle_id);
    ok = ok && col_uint(stmt, ECOL_PAYER_APPROVED_NS, 0, INT64_MAX, &e->payer_approved_ns);
    ok = ok && col_uint(stmt, ECOL_PAYEE_APPROVED_NS, 0, INT64_MAX, &e->payee_approved_ns);
    ok = ok && col_text(stmt, ECOL_TO_TEXT, e->to_text, sizeof(e->to_text), false);
    ok = ok && col_text(stmt, ECOL_NOTE, e->note, sizeof(e->note), true);
    ok = ok && col_uint(stmt, ECOL_CREATED_NS, 1, INT64_MAX, &e->created_ns);
    e->currency = (uint16_t)currency;
    e->release_mode = (uint8_t)mode;
    ok = ok && decode_escrow_state(stmt, e);
    return ok && !id128_eq(e->payer_id, e->payee_id) &&
           (mode == STORE_ESCROW_RELEASE_AT) == (e->release_at_ns != 0);
}

static bool decode_schedule(sqlite3_stmt *stmt, void *row)
{
    struct store_schedule *s = row;
    uint64_t currency = 0, repeat = 0, interval = 0, end_count = 0, next_index = 0;
    bool ok;

    TL_ASSERT(sqlite3_column_count(stmt) == SCOL_COUNT);
    memset(s, 0, sizeof(*s));
    ok = col_id(stmt, SCOL_ID, &s->id);
    ok = ok && col_id(stmt, SCOL_USER_ID, &s->user_id);
    ok = ok && col_id(stmt, SCOL_TO_USER, &s->to_user);
    ok = ok && store_sqlite_col_i64(stmt, SCOL_AMOUNT, &s->amount) && s->amount > 0;
    ok = ok && col_uint(stmt, SCOL_CURRENCY, 1, 999, &currency);
    ok = ok && col_uint(stmt, SCOL_REPEAT, 1, 4, &repeat);
    ok = ok && col_uint(stmt, SCOL_INTERVAL_S, 0, UINT32_MAX, &interval);
    ok = ok && col_uint(stmt, SCOL_START_NS, 1, INT64_MAX, &s->start_ns);
    ok = ok && col_uint(stmt, SCOL_END_COUNT, 0, UINT32_MAX, &end_count);
    ok = ok && col_uint(stmt, SCOL_END_NS, 0, INT64_MAX, &s->end_ns);
    ok = ok && col_text(stmt, SCOL_TO_TEXT, s->to_text, sizeof(s->to_text), false);
    ok = ok && col_text(stmt, SCOL_NOTE, s->note, sizeof(s->note), true);
    ok = ok && col_uint(stmt, SCOL_CREATED_NS, 1, INT64_MAX, &s->created_ns);
    ok = ok && col_uint(stmt, SCOL_CANCELED_NS, 0, INT64_MAX, &s->canceled_ns);
    ok = ok && col_uint(stmt, SCOL_NEXT_INDEX, 0, UINT32_MAX, &next_index);
    ok = ok && col_uint(stmt, SCOL_NEXT_DUE_NS, 0, INT64_MAX, &s->next_due_ns);
    s->currency = (uint16_t)currency;
    s->repeat = (uint8_t)repeat;
    s->interval_s = (uint32_t)interval;
    s->end_count = (uint32_t)end_count;
    s->next_index = (uint32_t)next_index;
    return ok && !id128_eq(s->user_id, s->to_user) &&
           (repeat == STORE_SCHEDULE_EVERY_SECONDS) == (interval != 0) &&
           (s->next_due_ns == 0 || s->next_due_ns >= s->start_ns) &&
           (s->end_ns == 0 || s->end_ns >= s->start_ns);
}

/* An occurrence row; with_paid: the statement also has the payment's time (lists). */
static bool decode_occurrence_cols(sqlite3_stmt *stmt, struct store_occurrence *o,
                                   bool with_paid)
{
    uint64_t index = 0, status = 0;
    bool ok;

    memset(o, 0, sizeof(*o));
    ok = col_id(stmt, OCOL_SCHEDULE_ID, &o->schedule_id);
    ok = ok && col_uint(stmt, OCOL_INDEX, 0, UINT32_MAX - 1, &index);
    ok = ok && col_uint(stmt, OCOL_DUE_NS, 1, INT64_MAX, &o->due_ns);
    ok = ok && col_id(stmt, OCOL_PAYMENT_ID, &o->payment_id);
    ok = ok && col_uint(stmt, OCOL_STATUS, 1, 3, &status);
    ok = ok && col_text(stmt, OCOL_REASON, o->reason, sizeof(o->reason), true);
    ok = ok && col_uint(stmt, OCOL_CLAIMED_NS, 1, INT64_MAX, &o->claimed_ns);
    ok = ok && col_uint(stmt, OCOL_DONE_NS, 0, INT64_MAX, &o->done_ns);
    o->index = (uint32_t)index;
    o->status = (uint8_t)status;
    ok = ok && (status == STORE_OCCURRENCE_RUNNING) == (o->done_ns == 0);
    ok = ok && (status == STORE_OCCURRENCE_SKIPPED) == (o->reason[0] != '\0');
    if (ok && with_paid && sqlite3_column_type(stmt, OCOL_PAID_NS) != SQLITE_NULL) {
        /* The money says it succeeded, whatever the row says (a crash before the finish). */
        ok = col_uint(stmt, OCOL_PAID_NS, 1, INT64_MAX, &o->done_ns);
        o->status = STORE_OCCURRENCE_SUCCEEDED;
        o->reason[0] = '\0';
    }
    return ok;
}

/* Reads up to max rows of a bound statement into out (item_bytes each) with decode, plus one
 * row more to say *has_more (NULL: no extra row is asked for), then finalizes it. */
static enum tl_err plans_read(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                              store_sqlite_decode_fn decode, void *out, size_t item_bytes,
                              uint32_t max, uint32_t *out_count, bool *has_more)
{
    enum tl_err err = TL_OK;
    uint32_t count = 0;
    bool more = false;
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == max) {
            more = true;
            continue;
        }
        if (!decode(stmt, (char *)out + (size_t)count * item_bytes)) {
            err = store_sqlite_corrupt(what);
            goto out;
        }
        count++;
    }
    if (rc != SQLITE_DONE) {
        err = store_sqlite_fail(db, rc, what);
        goto out;
    }
    *out_count = count;
    if (has_more != NULL) {
        *has_more = more;
    }
out:
    sqlite3_finalize(stmt);
    return err;
}

/* Runs a bound statement that returns no rows, finalizes it, and says whether it changed
 * exactly one row (changed may be NULL). */
static enum tl_err plans_exec(sqlite3 *db, sqlite3_stmt *stmt, const char *what, bool *changed)
{
    int rc = store_sqlite_run(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, what);
    }
    if (changed != NULL) {
        *changed = sqlite3_changes(db) == 1;
    }
    return TL_OK;
}

/* ---- Escrows ---- */

static enum tl_err sqlite_escrow_create(struct store *store, const struct store_escrow *e)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[6][ID128_BYTES];
    TL_ASSERT(sqlite3_get_autocommit(db));
    enum tl_err err = plans_prepare(
        db,
        "INSERT INTO escrows (id, payer_id, payee_id, payer_wallet, payee_wallet, amount, "
        "currency, release_mode, release_at_ns, expires_ns, settle_id, payer_approved_ns, "
        "payee_approved_ns, to_text, note, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "?9, ?10, ?11, 0, 0, ?12, ?13, ?14)",
        "escrow_create", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, e->id, bytes[0]);
    bind_id(stmt, 2, e->payer_id, bytes[1]);
    bind_id(stmt, 3, e->payee_id, bytes[2]);
    bind_id(stmt, 4, e->payer_wallet, bytes[3]);
    bind_id(stmt, 5, e->payee_wallet, bytes[4]);
    store_sqlite_bind_i64(stmt, 6, e->amount);
    store_sqlite_bind_i64(stmt, 7, e->currency);
    store_sqlite_bind_i64(stmt, 8, e->release_mode);
    store_sqlite_bind_u64(stmt, 9, e->release_at_ns);
    store_sqlite_bind_u64(stmt, 10, e->expires_ns);
    bind_id(stmt, 11, e->settle_id, bytes[5]);
    bind_text(stmt, 12, e->to_text);
    bind_text(stmt, 13, e->note);
    store_sqlite_bind_u64(stmt, 14, e->created_ns);
    return plans_exec(db, stmt, "escrow_create", NULL);
}

static enum tl_err sqlite_escrow_delete(struct store *store, struct id128 id)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = plans_prepare(db, "DELETE FROM escrows WHERE id = ?1", "escrow_delete",
                                    &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes);
    return plans_exec(db, stmt, "escrow_delete", NULL);
}

static enum tl_err sqlite_escrow_get(struct store *store, struct id128 id,
                                     struct store_escrow *out, bool *found)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = plans_prepare(db, ESCROW_SELECT "WHERE e.id = ?1", "escrow_get", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes);
    err = store_sqlite_step_one(db, stmt, "escrow_get", decode_escrow, out, found);
    sqlite3_finalize(stmt);
    return err;
}

static enum tl_err sqlite_escrows_list(struct store *store, struct id128 user_id,
                                       enum store_escrow_role role,
                                       const struct store_request_page *page,
                                       struct store_escrow *out, uint32_t *out_count,
                                       bool *has_more)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    bool newer = !id128_is_zero(page->ending_before);
    enum tl_err err = plans_prepare(
        db,
        newer ? ESCROW_SELECT ESCROWS_ROLE "AND e.id > ?3 ORDER BY e.id ASC LIMIT ?4"
              : ESCROW_SELECT ESCROWS_ROLE "AND e.id < ?3 ORDER BY e.id DESC LIMIT ?4",
        "escrows_list", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, user_id, bytes[0]);
    store_sqlite_bind_i64(stmt, 2, (int64_t)role);
    bind_cursor(stmt, 3, page, bytes[1]);
    store_sqlite_bind_i64(stmt, 4, (int64_t)page->limit + 1);
    err = plans_read(db, stmt, "escrows_list", decode_escrow, out, sizeof(*out), page->limit,
                     out_count, has_more);
    if (err == TL_OK && newer) {
        store_sqlite_reverse(out, *out_count, sizeof(*out));
    }
    return err;
}

static enum tl_err sqlite_escrow_approve(struct store *store, struct id128 id,
                                         struct id128 user_id, uint64_t now_ns, bool *changed)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    TL_ASSERT(sqlite3_get_autocommit(db));
    enum tl_err err = plans_prepare(
        db,
        "UPDATE escrows SET payer_approved_ns = CASE WHEN payer_id = ?2 AND payer_approved_ns = "
        "0 THEN ?3 ELSE payer_approved_ns END, payee_approved_ns = CASE WHEN payee_id = ?2 AND "
        "payee_approved_ns = 0 THEN ?3 ELSE payee_approved_ns END WHERE id = ?1 AND "
        "((payer_id = ?2 AND payer_approved_ns = 0) OR (payee_id = ?2 AND payee_approved_ns = 0))",
        "escrow_approve", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes[0]);
    bind_id(stmt, 2, user_id, bytes[1]);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    return plans_exec(db, stmt, "escrow_approve", changed);
}

static enum tl_err sqlite_escrows_due(struct store *store, uint64_t now_ns, uint32_t limit,
                                      struct store_escrow *out, uint32_t *out_count)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = plans_prepare(
        db,
        ESCROW_SELECT "WHERE h.pending_status = 1 AND e.expires_ns > ?1 AND ((e.release_mode = "
                      "3 AND e.release_at_ns <= ?1) OR (e.release_mode = 2 AND "
                      "e.payer_approved_ns > 0 AND e.payee_approved_ns > 0)) ORDER BY "
                      "e.release_at_ns, e.id LIMIT ?2",
        "escrows_due", &stmt);
    if (err != TL_OK) {
        return err;
    }
    store_sqlite_bind_u64(stmt, 1, now_ns);
    store_sqlite_bind_i64(stmt, 2, limit);
    return plans_read(db, stmt, "escrows_due", decode_escrow, out, sizeof(*out), limit, out_count,
                      NULL);
}

/* ---- Scheduled payments ---- */

static enum tl_err sqlite_schedule_create(struct store *store, const struct store_schedule *s)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[3][ID128_BYTES];
    TL_ASSERT(sqlite3_get_autocommit(db));
    enum tl_err err = plans_prepare(db,
                                    "INSERT INTO schedules (" SCHEDULE_COLUMNS ") VALUES (?1, ?2, "
                                    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, 0, ?8)",
                                    "schedule_create", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, s->id, bytes[0]);
    bind_id(stmt, 2, s->user_id, bytes[1]);
    bind_id(stmt, 3, s->to_user, bytes[2]);
    store_sqlite_bind_i64(stmt, 4, s->amount);
    store_sqlite_bind_i64(stmt, 5, s->currency);
    store_sqlite_bind_i64(stmt, 6, s->repeat);
    store_sqlite_bind_i64(stmt, 7, s->interval_s);
    store_sqlite_bind_u64(stmt, 8, s->start_ns);
    store_sqlite_bind_i64(stmt, 9, s->end_count);
    store_sqlite_bind_u64(stmt, 10, s->end_ns);
    bind_text(stmt, 11, s->to_text);
    bind_text(stmt, 12, s->note);
    store_sqlite_bind_u64(stmt, 13, s->created_ns);
    return plans_exec(db, stmt, "schedule_create", NULL);
}

static enum tl_err sqlite_schedule_get(struct store *store, struct id128 id,
                                       struct store_schedule *out, bool *found)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = plans_prepare(db, "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE id = ?1",
                                    "schedule_get", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes);
    err = store_sqlite_step_one(db, stmt, "schedule_get", decode_schedule, out, found);
    sqlite3_finalize(stmt);
    return err;
}

static enum tl_err sqlite_schedules_list(struct store *store, struct id128 user_id,
                                         const struct store_request_page *page,
                                         struct store_schedule *out, uint32_t *out_count,
                                         bool *has_more)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    bool newer = !id128_is_zero(page->ending_before);
    enum tl_err err = plans_prepare(
        db,
        newer ? "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE user_id = ?1 AND id > ?2 "
                "ORDER BY id ASC LIMIT ?3"
              : "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE user_id = ?1 AND id < ?2 "
                "ORDER BY id DESC LIMIT ?3",
        "schedules_list", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, user_id, bytes[0]);
    bind_cursor(stmt, 2, page, bytes[1]);
    store_sqlite_bind_i64(stmt, 3, (int64_t)page->limit + 1);
    err = plans_read(db, stmt, "schedules_list", decode_schedule, out, sizeof(*out), page->limit,
                     out_count, has_more);
    if (err == TL_OK && newer) {
        store_sqlite_reverse(out, *out_count, sizeof(*out));
    }
    return err;
}

static enum tl_err sqlite_schedule_cancel(struct store *store, struct id128 id,
                                          struct id128 user_id, uint64_t now_ns, bool *canceled)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    enum tl_err err = plans_prepare(db,
                                    "UPDATE schedules SET canceled_ns = ?3 WHERE id = ?1 AND "
                                    "user_id = ?2 AND canceled_ns = 0",
                                    "schedule_cancel", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes[0]);
    bind_id(stmt, 2, user_id, bytes[1]);
    store_sqlite_bind_u64(stmt, 3, now_ns);
    return plans_exec(db, stmt, "schedule_cancel", canceled);
}

static enum tl_err sqlite_schedules_due(struct store *store, uint64_t now_ns, uint32_t limit,
                                        struct store_schedule *out, uint32_t *out_count)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = plans_prepare(db,
                                    "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE "
                                    "canceled_ns = 0 AND next_due_ns > 0 AND next_due_ns <= ?1 "
                                    "ORDER BY next_due_ns LIMIT ?2",
                                    "schedules_due", &stmt);
    if (err != TL_OK) {
        return err;
    }
    store_sqlite_bind_u64(stmt, 1, now_ns);
    store_sqlite_bind_i64(stmt, 2, limit);
    return plans_read(db, stmt, "schedules_due", decode_schedule, out, sizeof(*out), limit,
                      out_count, NULL);
}

static enum tl_err sqlite_run_sql(sqlite3 *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(db, rc, what);
}

/* The conditional move of the schedule's next occurrence, then the occurrence's row. */
static enum tl_err schedule_claim_body(sqlite3 *db, const struct store_occurrence *o,
                                       uint64_t next_due_ns, bool *claimed)
{
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[2][ID128_BYTES];
    enum tl_err err = plans_prepare(db,
                                    "UPDATE schedules SET next_index = ?2 + 1, next_due_ns = ?3 "
                                    "WHERE id = ?1 AND next_index = ?2 AND canceled_ns = 0",
                                    "schedule_claim", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, o->schedule_id, bytes[0]);
    store_sqlite_bind_i64(stmt, 2, o->index);
    store_sqlite_bind_u64(stmt, 3, next_due_ns);
    err = plans_exec(db, stmt, "schedule_claim", claimed);
    if (err != TL_OK || !*claimed) {
        return err;
    }
    err = plans_prepare(db,
                        "INSERT INTO schedule_occurrences (" OCCURRENCE_COLUMNS ") VALUES (?1, "
                        "?2, ?3, ?4, 1, '', ?5, 0)",
                        "schedule_claim", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, o->schedule_id, bytes[0]);
    store_sqlite_bind_i64(stmt, 2, o->index);
    store_sqlite_bind_u64(stmt, 3, o->due_ns);
    bind_id(stmt, 4, o->payment_id, bytes[1]);
    store_sqlite_bind_u64(stmt, 5, o->claimed_ns);
    return plans_exec(db, stmt, "schedule_claim", NULL);
}

static enum tl_err sqlite_schedule_claim(struct store *store, const struct store_occurrence *o,
                                         uint64_t next_due_ns, bool *claimed)
{
    sqlite3 *db = store_sqlite_db(store);
    bool won = false;
    TL_ASSERT(sqlite3_get_autocommit(db));
    enum tl_err err = sqlite_run_sql(db, "BEGIN IMMEDIATE", "schedule_claim: begin");
    if (err != TL_OK) {
        return err;
    }
    err = schedule_claim_body(db, o, next_due_ns, &won);
    if (err == TL_OK) {
        err = sqlite_run_sql(db, "COMMIT", "schedule_claim: commit");
    }
    if (err != TL_OK) {
        if (!sqlite3_get_autocommit(db)) {
            (void)sqlite_run_sql(db, "ROLLBACK", "schedule_claim: rollback");
        }
        return err;
    }
    *claimed = won;
    return TL_OK;
}

static enum tl_err sqlite_occurrence_finish(struct store *store, struct id128 schedule_id,
                                            uint32_t index, uint8_t status, const char *reason,
                                            uint64_t done_ns)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = plans_prepare(db,
                                    "UPDATE schedule_occurrences SET status = ?3, reason = ?4, "
                                    "done_ns = ?5 WHERE schedule_id = ?1 AND idx = ?2 AND "
                                    "status = 1",
                                    "occurrence_finish", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, schedule_id, bytes);
    store_sqlite_bind_i64(stmt, 2, index);
    store_sqlite_bind_i64(stmt, 3, status);
    bind_text(stmt, 4, reason);
    store_sqlite_bind_u64(stmt, 5, done_ns);
    return plans_exec(db, stmt, "occurrence_finish", NULL);
}

static bool decode_occurrence(sqlite3_stmt *stmt, void *row)
{
    TL_ASSERT(sqlite3_column_count(stmt) == OCOL_COUNT - 1);
    return decode_occurrence_cols(stmt, row, false);
}

static bool decode_occurrence_paid(sqlite3_stmt *stmt, void *row)
{
    TL_ASSERT(sqlite3_column_count(stmt) == OCOL_COUNT);
    return decode_occurrence_cols(stmt, row, true);
}

static enum tl_err sqlite_occurrence_reclaim(struct store *store, uint64_t stale_before_ns,
                                             uint64_t now_ns, struct store_occurrence *out,
                                             bool *found)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    TL_ASSERT(sqlite3_get_autocommit(db));
    enum tl_err err = plans_prepare(
        db,
        "UPDATE schedule_occurrences SET claimed_ns = ?2 WHERE rowid = (SELECT rowid FROM "
        "schedule_occurrences WHERE status = 1 AND claimed_ns < ?1 ORDER BY claimed_ns LIMIT 1) "
        "RETURNING " OCCURRENCE_COLUMNS,
        "occurrence_reclaim", &stmt);
    if (err != TL_OK) {
        return err;
    }
    store_sqlite_bind_u64(stmt, 1, stale_before_ns);
    store_sqlite_bind_u64(stmt, 2, now_ns);
    err = store_sqlite_step_one(db, stmt, "occurrence_reclaim", decode_occurrence, out, found);
    sqlite3_finalize(stmt);
    return err;
}

static enum tl_err sqlite_occurrences_list(struct store *store, struct id128 schedule_id,
                                           struct store_occurrence *out, uint32_t max,
                                           uint32_t *out_count)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = plans_prepare(
        db,
        "SELECT o.schedule_id, o.idx, o.due_ns, o.payment_id, o.status, o.reason, o.claimed_ns, "
        "o.done_ns, p.created_ns FROM schedule_occurrences o LEFT JOIN payments p ON p.id = "
        "o.payment_id WHERE o.schedule_id = ?1 ORDER BY o.idx DESC LIMIT ?2",
        "occurrences_list", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, schedule_id, bytes);
    store_sqlite_bind_i64(stmt, 2, max);
    return plans_read(db, stmt, "occurrences_list", decode_occurrence_paid, out, sizeof(*out),
                      max, out_count, NULL);
}

const struct store_plans_ops store_sqlite_plans_ops = {
    .escrow_create = sqlite_escrow_create,
    .escrow_delete = sqlite_escrow_delete,
    .escrow_get = sqlite_escrow_get,
    .escrows_list = sqlite_escrows_list,
    .escrow_approve = sqlite_escrow_approve,
    .escrows_due = sqlite_escrows_due,
    .schedule_create = sqlite_schedule_create,
    .schedule_get = sqlite_schedule_get,
    .schedules_list = sqlite_schedules_list,
    .schedule_cancel = sqlite_schedule_cancel,
    .schedules_due = sqlite_schedules_due,
    .schedule_claim = sqlite_schedule_claim,
    .occurrence_finish = sqlite_occurrence_finish,
    .occurrence_reclaim = sqlite_occurrence_reclaim,
    .occurrences_list = sqlite_occurrences_list,
};
