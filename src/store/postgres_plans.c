/*
 * postgres_plans.c - the rows of plans.h (escrows, scheduled payments) on PostgreSQL (tables of
 * migration 005).
 *
 * The statements below are prepared by postgres.c on every connection, like postgres_app.c's.
 * Each write is one statement, so each is its own transaction: a claim of an occurrence is one
 * data-modifying WITH (the conditional UPDATE of the schedule feeds the INSERT of the
 * occurrence), so two nodes claiming one occurrence cannot both win: the second UPDATE waits
 * for the first's row lock, re-reads next_index and matches nothing. Escrow reads join the
 * ledger's transfers for the hold's state. Driver errors are logged by postgres.c.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ledger.h"
#include "store/backend.h"
#include "store/plans_backend.h"
#include "store/postgres_private.h"
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
    "WHERE (($2::integer & 1 <> 0 AND e.payer_id = $1::bytea) OR ($2::integer & 2 <> 0 AND "      \
    "e.payee_id = $1::bytea)) "

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
    OCOL_PAID_NS, /* lists only */
    OCOL_COUNT
};

#define PLANS_STMT_TABLE(X)                                                                        \
    X(PSTMT_ESCROW_CREATE,                                                                         \
      "INSERT INTO escrows (id, payer_id, payee_id, payer_wallet, payee_wallet, amount, "          \
      "currency, release_mode, release_at_ns, expires_ns, settle_id, payer_approved_ns, "          \
      "payee_approved_ns, to_text, note, created_ns) VALUES ($1::bytea, $2::bytea, $3::bytea, "    \
      "$4::bytea, $5::bytea, $6::bigint, $7::integer, $8::integer, $9::bigint, $10::bigint, "      \
      "$11::bytea, 0, 0, $12::text, $13::text, $14::bigint)")                                      \
    X(PSTMT_ESCROW_DELETE, "DELETE FROM escrows WHERE id = $1::bytea")                             \
    X(PSTMT_ESCROW_GET, ESCROW_SELECT "WHERE e.id = $1::bytea")                                    \
    X(PSTMT_ESCROWS_OLDER,                                                                         \
      ESCROW_SELECT ESCROWS_ROLE "AND e.id < $3::bytea ORDER BY e.id DESC LIMIT $4::bigint")      \
    X(PSTMT_ESCROWS_NEWER,                                                                         \
      ESCROW_SELECT ESCROWS_ROLE "AND e.id > $3::bytea ORDER BY e.id ASC LIMIT $4::bigint")       \
    X(PSTMT_ESCROW_APPROVE,                                                                        \
      "UPDATE escrows SET payer_approved_ns = CASE WHEN payer_id = $2::bytea AND "                 \
      "payer_approved_ns = 0 THEN $3::bigint ELSE payer_approved_ns END, payee_approved_ns = "     \
      "CASE WHEN payee_id = $2::bytea AND payee_approved_ns = 0 THEN $3::bigint ELSE "             \
      "payee_approved_ns END WHERE id = $1::bytea AND ((payer_id = $2::bytea AND "                 \
      "payer_approved_ns = 0) OR (payee_id = $2::bytea AND payee_approved_ns = 0))")               \
    X(PSTMT_ESCROWS_DUE,                                                                           \
      ESCROW_SELECT "WHERE h.pending_status = 1 AND e.expires_ns > $1::bigint AND "                \
                    "((e.release_mode = 3 AND e.release_at_ns <= $1::bigint) OR "                  \
                    "(e.release_mode = 2 AND e.payer_approved_ns > 0 AND e.payee_approved_ns > "   \
                    "0)) ORDER BY e.release_at_ns, e.id LIMIT $2::bigint")                         \
    X(PSTMT_SCHEDULE_CREATE,                                                                       \
      "INSERT INTO schedules (" SCHEDULE_COLUMNS ") VALUES ($1::bytea, $2::bytea, $3::bytea, "     \
      "$4::bigint, $5::integer, $6::integer, $7::bigint, $8::bigint, $9::bigint, $10::bigint, "    \
      "$11::text, $12::text, $13::bigint, 0, 0, $8::bigint)")                                      \
    X(PSTMT_SCHEDULE_GET, "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE id = $1::bytea")       \
    X(PSTMT_SCHEDULES_OLDER, "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE user_id = "         \
                             "$1::bytea AND id < $2::bytea ORDER BY id DESC LIMIT $3::bigint")     \
    X(PSTMT_SCHEDULES_NEWER, "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE user_id = "         \
                             "$1::bytea AND id > $2::bytea ORDER BY id ASC LIMIT $3::bigint")      \
    X(PSTMT_SCHEDULE_CANCEL, "UPDATE schedules SET canceled_ns = $3::bigint WHERE id = "           \
                             "$1::bytea AND user_id = $2::bytea AND canceled_ns = 0")              \
    X(PSTMT_SCHEDULES_DUE, "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE canceled_ns = 0 "     \
                           "AND next_due_ns > 0 AND next_due_ns <= $1::bigint ORDER BY "           \
                           "next_due_ns LIMIT $2::bigint")                                         \
    X(PSTMT_SCHEDULE_CLAIM,                                                                        \
      "WITH moved AS (UPDATE schedules SET next_index = $2::bigint + 1, next_due_ns = "            \
      "$3::bigint WHERE id = $1::bytea AND next_index = $2::bigint AND canceled_ns = 0 "           \
      "RETURNING id) INSERT INTO schedule_occurrences (" OCCURRENCE_COLUMNS ") SELECT id, "        \
      "$2::bigint, $4::bigint, $5::bytea, 1, '', $6::bigint, 0 FROM moved")                        \
    X(PSTMT_OCCURRENCE_FINISH,                                                                     \
      "UPDATE schedule_occurrences SET status = $3::integer, reason = $4::text, done_ns = "        \
      "$5::bigint WHERE schedule_id = $1::bytea AND idx = $2::bigint AND status = 1")              \
    X(PSTMT_OCCURRENCE_RECLAIM,                                                                    \
      "UPDATE schedule_occurrences o SET claimed_ns = $2::bigint FROM (SELECT schedule_id, idx "   \
      "FROM schedule_occurrences WHERE status = 1 AND claimed_ns < $1::bigint ORDER BY "           \
      "claimed_ns LIMIT 1 FOR UPDATE SKIP LOCKED) c WHERE o.schedule_id = c.schedule_id AND "      \
      "o.idx = c.idx AND o.status = 1 RETURNING o.schedule_id, o.idx, o.due_ns, o.payment_id, "    \
      "o.status, o.reason, o.claimed_ns, o.done_ns")                                               \
    X(PSTMT_OCCURRENCES_LIST,                                                                      \
      "SELECT o.schedule_id, o.idx, o.due_ns, o.payment_id, o.status, o.reason, o.claimed_ns, "    \
      "o.done_ns, p.created_ns FROM schedule_occurrences o LEFT JOIN payments p ON p.id = "        \
      "o.payment_id WHERE o.schedule_id = $1::bytea ORDER BY o.idx DESC LIMIT $2::bigint")

enum plans_stmt {
#define PLANS_STMT_ENUM(id, sql) id,
    PLANS_STMT_TABLE(PLANS_STMT_ENUM)
#undef PLANS_STMT_ENUM
        PSTMT_COUNT
};

const struct pg_stmt store_postgres_plans_stmts[PSTMT_COUNT] = {
#define PLANS_STMT_ROW(id, sql) {#id, sql},
    PLANS_STMT_TABLE(PLANS_STMT_ROW)
#undef PLANS_STMT_ROW
};
const uint32_t store_postgres_plans_stmt_count = PSTMT_COUNT;

static enum tl_err plans_run(struct store *store, enum plans_stmt which, const struct pg_params *p,
                             PGresult **out)
{
    const char *name = store_postgres_plans_stmts[which].name;
    return store_postgres_run(store, name, p, name, out);
}

/* Runs a write and says whether it changed exactly one row (changed may be NULL). */
static enum tl_err plans_write(struct store *store, enum plans_stmt which,
                               const struct pg_params *p, bool *changed)
{
    PGresult *res = NULL;
    TL_ASSERT(!store->in_batch);
    enum tl_err err = plans_run(store, which, p, &res);
    if (err == TL_OK && changed != NULL) {
        *changed = strcmp(PQcmdTuples(res), "1") == 0;
    }
    PQclear(res);
    return err;
}

typedef store_postgres_decode_fn plans_decode_fn;

/* Decodes up to max rows into out (item_bytes each); *has_more (may be NULL) when there are
 * more. reverse: the rows came oldest first (a newer page) and are stored newest first. */
static enum tl_err plans_rows(struct store *store, enum plans_stmt which,
                              const struct pg_params *p, plans_decode_fn decode, void *out,
                              size_t item_bytes, uint32_t max, bool reverse, uint32_t *out_count,
                              bool *has_more)
{
    PGresult *res = NULL;
    enum tl_err err = plans_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    err = store_postgres_rows_decode(res, store_postgres_plans_stmts[which].name, decode, out,
                                     item_bytes, max, reverse, out_count, has_more);
    PQclear(res);
    return err;
}

/* At most one row: *found says whether out was filled. */
static enum tl_err plans_one(struct store *store, enum plans_stmt which, const struct pg_params *p,
                             plans_decode_fn decode, void *out, size_t item_bytes, bool *found)
{
    uint32_t count = 0;
    enum tl_err err = plans_rows(store, which, p, decode, out, item_bytes, 1, false, &count, NULL);
    if (err == TL_OK) {
        *found = count == 1;
    }
    return err;
}

static void plans_param_cursor(struct pg_params *p, const struct store_request_page *page)
{
    static const uint8_t top[ID128_BYTES] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (!id128_is_zero(page->ending_before)) {
        pg_param_id(p, page->ending_before);
    } else if (!id128_is_zero(page->starting_after)) {
        pg_param_id(p, page->starting_after);
    } else {
        pg_param_bytes(p, top, ID128_BYTES); /* above every id */
    }
}

/* ---- Decoding ---- */

static bool col_id(const PGresult *res, int row, int col, struct id128 *out)
{
    return pg_col_id(res, row, col, out) && !id128_is_zero(*out);
}

static bool decode_escrow_state(const PGresult *res, int row, struct store_escrow *e)
{
    int32_t hold = 0, flags = 0;
    uint64_t amount = 0, ts = 0;
    bool settled = !PQgetisnull(res, row, ECOL_SETTLE_FLAGS);
    if (!pg_col_int_range(res, row, ECOL_HOLD_STATUS, LEDGER_PENDING_OPEN,
                          LEDGER_PENDING_EXPIRED, &hold)) {
        return false;
    }
    if (settled && (!pg_col_int_range(res, row, ECOL_SETTLE_FLAGS, 0, UINT16_MAX, &flags) ||
                    !pg_col_uint(res, row, ECOL_SETTLE_AMOUNT, 1, INT64_MAX, &amount) ||
                    !pg_col_uint(res, row, ECOL_SETTLE_TS, 1, INT64_MAX, &ts))) {
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
        return settled && ((uint32_t)flags & LEDGER_TRANSFER_POST_PENDING) != 0 &&
               (int64_t)amount <= e->amount;
    case LEDGER_PENDING_VOIDED:
        e->state = STORE_ESCROW_CANCELED;
        e->settled_ns = ts;
        return settled && ((uint32_t)flags & LEDGER_TRANSFER_VOID_PENDING) != 0;
    default:
        e->state = STORE_ESCROW_EXPIRED;
        return !settled;
    }
}

static bool decode_escrow(const PGresult *res, int row, void *out)
{
    struct store_escrow *e = out;
    int32_t currency = 0, mode = 0;
    uint64_t amount = 0;
    bool ok;

    TL_ASSERT(PQnfields(res) == ECOL_COUNT);
    memset(e, 0, sizeof(*e));
    ok = col_id(res, row, ECOL_ID, &e->id);
    ok = ok && col_id(res, row, ECOL_PAYER_ID, &e->payer_id);
    ok = ok && col_id(res, row, ECOL_PAYEE_ID, &e->payee_id);
    ok = ok && col_id(res, row, ECOL_PAYER_WALLET, &e->payer_wallet);
    ok = ok && col_id(res, row, ECOL_PAYEE_WALLET, &e->payee_wallet);
    ok = ok && pg_col_uint(res, row, ECOL_AMOUNT, 1, INT64_MAX, &amount);
    ok = ok && pg_col_int_range(res, row, ECOL_CURRENCY, 1, 999, &currency);
    ok = ok && pg_col_int_range(res, row, ECOL_RELEASE_MODE, 1, 3, &mode);
    ok = ok && pg_col_uint(res, row, ECOL_RELEASE_AT_NS, 0, INT64_MAX, &e->release_at_ns);
    ok = ok && pg_col_uint(res, row, ECOL_EXPIRES_NS, 1, INT64_MAX, &e->expires_ns);
    ok = ok && col_id(res, row, ECOL_SETTLE_ID, &e->settle_id);
    ok = ok && pg_col_uint(res, row, ECOL_PAYER_APPROVED_NS, 0, INT64_MAX, &e->payer_approved_ns);
    ok = ok && pg_col_uint(res, row, ECOL_PAYEE_APPROVED_NS, 0, INT64_MAX, &e->payee_approved_ns);
    ok = ok && pg_col_text(res, row, ECOL_TO_TEXT, e->to_text, sizeof(e->to_text), false);
    ok = ok && pg_col_text(res, row, ECOL_NOTE, e->note, sizeof(e->note), true);
    ok = ok && pg_col_uint(res, row, ECOL_CREATED_NS, 1, INT64_MAX, &e->created_ns);
    e->amount = (int64_t)amount;
    e->currency = (uint16_t)currency;
    e->release_mode = (uint8_t)mode;
    ok = ok && decode_escrow_state(res, row, e);
    return ok && !id128_eq(e->payer_id, e->payee_id) &&
           (mode == STORE_ESCROW_RELEASE_AT) == (e->release_at_ns != 0);
}

static bool decode_schedule(const PGresult *res, int row, void *out)
{
    struct store_schedule *s = out;
    int32_t currency = 0, repeat = 0;
    uint64_t amount = 0, interval = 0, end_count = 0, next_index = 0;
    bool ok;

    TL_ASSERT(PQnfields(res) == SCOL_COUNT);
    memset(s, 0, sizeof(*s));
    ok = col_id(res, row, SCOL_ID, &s->id);
    ok = ok && col_id(res, row, SCOL_USER_ID, &s->user_id);
    ok = ok && col_id(res, row, SCOL_TO_USER, &s->to_user);
    ok = ok && pg_col_uint(res, row, SCOL_AMOUNT, 1, INT64_MAX, &amount);
    ok = ok && pg_col_int_range(res, row, SCOL_CURRENCY, 1, 999, &currency);
    ok = ok && pg_col_int_range(res, row, SCOL_REPEAT, 1, 4, &repeat);
    ok = ok && pg_col_uint(res, row, SCOL_INTERVAL_S, 0, UINT32_MAX, &interval);
    ok = ok && pg_col_uint(res, row, SCOL_START_NS, 1, INT64_MAX, &s->start_ns);
    ok = ok && pg_col_uint(res, row, SCOL_END_COUNT, 0, UINT32_MAX, &end_count);
    ok = ok && pg_col_uint(res, row, SCOL_END_NS, 0, INT64_MAX, &s->end_ns);
    ok = ok && pg_col_text(res, row, SCOL_TO_TEXT, s->to_text, sizeof(s->to_text), false);
    ok = ok && pg_col_text(res, row, SCOL_NOTE, s->note, sizeof(s->note), true);
    ok = ok && pg_col_uint(res, row, SCOL_CREATED_NS, 1, INT64_MAX, &s->created_ns);
    ok = ok && pg_col_uint(res, row, SCOL_CANCELED_NS, 0, INT64_MAX, &s->canceled_ns);
    ok = ok && pg_col_uint(res, row, SCOL_NEXT_INDEX, 0, UINT32_MAX, &next_index);
    ok = ok && pg_col_uint(res, row, SCOL_NEXT_DUE_NS, 0, INT64_MAX, &s->next_due_ns);
    s->amount = (int64_t)amount;
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

static bool decode_occurrence_cols(const PGresult *res, int row, struct store_occurrence *o,
                                   bool with_paid)
{
    uint64_t index = 0;
    int32_t status = 0;
    bool ok;

    memset(o, 0, sizeof(*o));
    ok = col_id(res, row, OCOL_SCHEDULE_ID, &o->schedule_id);
    ok = ok && pg_col_uint(res, row, OCOL_INDEX, 0, UINT32_MAX - 1, &index);
    ok = ok && pg_col_uint(res, row, OCOL_DUE_NS, 1, INT64_MAX, &o->due_ns);
    ok = ok && col_id(res, row, OCOL_PAYMENT_ID, &o->payment_id);
    ok = ok && pg_col_int_range(res, row, OCOL_STATUS, 1, 3, &status);
    ok = ok && pg_col_text(res, row, OCOL_REASON, o->reason, sizeof(o->reason), true);
    ok = ok && pg_col_uint(res, row, OCOL_CLAIMED_NS, 1, INT64_MAX, &o->claimed_ns);
    ok = ok && pg_col_uint(res, row, OCOL_DONE_NS, 0, INT64_MAX, &o->done_ns);
    o->index = (uint32_t)index;
    o->status = (uint8_t)status;
    ok = ok && (status == STORE_OCCURRENCE_RUNNING) == (o->done_ns == 0);
    ok = ok && (status == STORE_OCCURRENCE_SKIPPED) == (o->reason[0] != '\0');
    if (ok && with_paid && !PQgetisnull(res, row, OCOL_PAID_NS)) {
        /* The money says it succeeded, whatever the row says (a crash before the finish). */
        ok = pg_col_uint(res, row, OCOL_PAID_NS, 1, INT64_MAX, &o->done_ns);
        o->status = STORE_OCCURRENCE_SUCCEEDED;
        o->reason[0] = '\0';
    }
    return ok;
}

static bool decode_occurrence(const PGresult *res, int row, void *out)
{
    TL_ASSERT(PQnfields(res) == OCOL_COUNT - 1);
    return decode_occurrence_cols(res, row, out, false);
}

static bool decode_occurrence_paid(const PGresult *res, int row, void *out)
{
    TL_ASSERT(PQnfields(res) == OCOL_COUNT);
    return decode_occurrence_cols(res, row, out, true);
}

/* ---- Escrows ---- */

static enum tl_err pg_escrow_create(struct store *store, const struct store_escrow *e)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, e->id);
    pg_param_id(&p, e->payer_id);
    pg_param_id(&p, e->payee_id);
    pg_param_id(&p, e->payer_wallet);
    pg_param_id(&p, e->payee_wallet);
    pg_param_i64(&p, e->amount);
    pg_param_i32(&p, e->currency);
    pg_param_i32(&p, e->release_mode);
    pg_param_u64_clamped(&p, e->release_at_ns);
    pg_param_u64_clamped(&p, e->expires_ns);
    pg_param_id(&p, e->settle_id);
    pg_param_text(&p, e->to_text);
    pg_param_text(&p, e->note);
    pg_param_u64_clamped(&p, e->created_ns);
    return plans_write(store, PSTMT_ESCROW_CREATE, &p, NULL);
}

static enum tl_err pg_escrow_delete(struct store *store, struct id128 id)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return plans_write(store, PSTMT_ESCROW_DELETE, &p, NULL);
}

static enum tl_err pg_escrow_get(struct store *store, struct id128 id, struct store_escrow *out,
                                 bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return plans_one(store, PSTMT_ESCROW_GET, &p, decode_escrow, out, sizeof(*out), found);
}

static enum tl_err pg_escrows_list(struct store *store, struct id128 user_id,
                                   enum store_escrow_role role,
                                   const struct store_request_page *page, struct store_escrow *out,
                                   uint32_t *out_count, bool *has_more)
{
    bool newer = !id128_is_zero(page->ending_before);
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i32(&p, (int32_t)role);
    plans_param_cursor(&p, page);
    pg_param_i64(&p, (int64_t)page->limit + 1);
    return plans_rows(store, newer ? PSTMT_ESCROWS_NEWER : PSTMT_ESCROWS_OLDER, &p,
                      decode_escrow, out, sizeof(*out), page->limit, newer, out_count, has_more);
}

static enum tl_err pg_escrow_approve(struct store *store, struct id128 id, struct id128 user_id,
                                     uint64_t now_ns, bool *changed)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, now_ns);
    return plans_write(store, PSTMT_ESCROW_APPROVE, &p, changed);
}

static enum tl_err pg_escrows_due(struct store *store, uint64_t now_ns, uint32_t limit,
                                  struct store_escrow *out, uint32_t *out_count)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_i64(&p, limit);
    return plans_rows(store, PSTMT_ESCROWS_DUE, &p, decode_escrow, out, sizeof(*out), limit,
                      false, out_count, NULL);
}

/* ---- Scheduled payments ---- */

static enum tl_err pg_schedule_create(struct store *store, const struct store_schedule *s)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, s->id);
    pg_param_id(&p, s->user_id);
    pg_param_id(&p, s->to_user);
    pg_param_i64(&p, s->amount);
    pg_param_i32(&p, s->currency);
    pg_param_i32(&p, s->repeat);
    pg_param_i64(&p, s->interval_s);
    pg_param_u64_clamped(&p, s->start_ns);
    pg_param_i64(&p, s->end_count);
    pg_param_u64_clamped(&p, s->end_ns);
    pg_param_text(&p, s->to_text);
    pg_param_text(&p, s->note);
    pg_param_u64_clamped(&p, s->created_ns);
    return plans_write(store, PSTMT_SCHEDULE_CREATE, &p, NULL);
}

static enum tl_err pg_schedule_get(struct store *store, struct id128 id,
                                   struct store_schedule *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return plans_one(store, PSTMT_SCHEDULE_GET, &p, decode_schedule, out, sizeof(*out), found);
}

static enum tl_err pg_schedules_list(struct store *store, struct id128 user_id,
                                     const struct store_request_page *page,
                                     struct store_schedule *out, uint32_t *out_count,
                                     bool *has_more)
{
    bool newer = !id128_is_zero(page->ending_before);
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    plans_param_cursor(&p, page);
    pg_param_i64(&p, (int64_t)page->limit + 1);
    return plans_rows(store, newer ? PSTMT_SCHEDULES_NEWER : PSTMT_SCHEDULES_OLDER, &p,
                      decode_schedule, out, sizeof(*out), page->limit, newer, out_count,
                      has_more);
}

static enum tl_err pg_schedule_cancel(struct store *store, struct id128 id, struct id128 user_id,
                                      uint64_t now_ns, bool *canceled)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_id(&p, user_id);
    pg_param_u64_clamped(&p, now_ns);
    return plans_write(store, PSTMT_SCHEDULE_CANCEL, &p, canceled);
}

static enum tl_err pg_schedules_due(struct store *store, uint64_t now_ns, uint32_t limit,
                                    struct store_schedule *out, uint32_t *out_count)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_u64_clamped(&p, now_ns);
    pg_param_i64(&p, limit);
    return plans_rows(store, PSTMT_SCHEDULES_DUE, &p, decode_schedule, out, sizeof(*out), limit,
                      false, out_count, NULL);
}

static enum tl_err pg_schedule_claim(struct store *store, const struct store_occurrence *o,
                                     uint64_t next_due_ns, bool *claimed)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, o->schedule_id);
    pg_param_i64(&p, o->index);
    pg_param_u64_clamped(&p, next_due_ns);
    pg_param_u64_clamped(&p, o->due_ns);
    pg_param_id(&p, o->payment_id);
    pg_param_u64_clamped(&p, o->claimed_ns);
    return plans_write(store, PSTMT_SCHEDULE_CLAIM, &p, claimed);
}

static enum tl_err pg_occurrence_finish(struct store *store, struct id128 schedule_id,
                                        uint32_t index, uint8_t status, const char *reason,
                                        uint64_t done_ns)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, schedule_id);
    pg_param_i64(&p, index);
    pg_param_i32(&p, status);
    pg_param_text(&p, reason);
    pg_param_u64_clamped(&p, done_ns);
    return plans_write(store, PSTMT_OCCURRENCE_FINISH, &p, NULL);
}

static enum tl_err pg_occurrence_reclaim(struct store *store, uint64_t stale_before_ns,
                                         uint64_t now_ns, struct store_occurrence *out,
                                         bool *found)
{
    struct pg_params p;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_u64_clamped(&p, stale_before_ns);
    pg_param_u64_clamped(&p, now_ns);
    return plans_one(store, PSTMT_OCCURRENCE_RECLAIM, &p, decode_occurrence, out, sizeof(*out),
                     found);
}

static enum tl_err pg_occurrences_list(struct store *store, struct id128 schedule_id,
                                       struct store_occurrence *out, uint32_t max,
                                       uint32_t *out_count)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, schedule_id);
    pg_param_i64(&p, max);
    return plans_rows(store, PSTMT_OCCURRENCES_LIST, &p, decode_occurrence_paid, out,
                      sizeof(*out), max, false, out_count, NULL);
}

const struct store_plans_ops store_postgres_plans_ops = {
    .escrow_create = pg_escrow_create,
    .escrow_delete = pg_escrow_delete,
    .escrow_get = pg_escrow_get,
    .escrows_list = pg_escrows_list,
    .escrow_approve = pg_escrow_approve,
    .escrows_due = pg_escrows_due,
    .schedule_create = pg_schedule_create,
    .schedule_get = pg_schedule_get,
    .schedules_list = pg_schedules_list,
    .schedule_cancel = pg_schedule_cancel,
    .schedules_due = pg_schedules_due,
    .schedule_claim = pg_schedule_claim,
    .occurrence_finish = pg_occurrence_finish,
    .occurrence_reclaim = pg_occurrence_reclaim,
    .occurrences_list = pg_occurrences_list,
};
