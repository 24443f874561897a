/*
 * postgres_refunds.c - the refunds, reversals and disputes rows of app.h on PostgreSQL (tables
 * of migration 005). Private to the PostgreSQL backend: store_postgres_app_ops points at these,
 * and postgres.c prepares store_postgres_refunds_stmts at every connect with the other
 * statements. Same meaning as sqlite_refunds.c: a refunds row succeeded exactly when a transfer
 * with its id exists; one open dispute per payment is the partial unique index disputes_open,
 * so two nodes cannot both open one. Driver errors are logged by postgres.c, never returned.
 */
#include <string.h>

#include "store/backend.h"
#include "store/postgres_private.h"
#include "util/assert.h"

#define REFUND_SELECT                                                                              \
    "SELECT r.id, r.payment_id, r.kind, r.actor_id, coalesce(t.amount, r.amount), "                \
    "r.from_wallet, r.shortfall, r.currency, r.reason, r.dispute_id, "                             \
    "coalesce(t.timestamp, r.created_ns), (t.timestamp IS NOT NULL)::integer "                     \
    "FROM refunds r LEFT JOIN transfers t ON t.id = r.id "
#define DISPUTE_SELECT                                                                             \
    "SELECT id, payment_id, payer_id, payee_id, status, reason, note, reversal_id, created_ns, "   \
    "resolved_ns FROM disputes "
/* $3 payment (NULL: any), $4 status (0: any). */
#define DISPUTES_FILTER                                                                            \
    "WHERE ($3::bytea IS NULL OR payment_id = $3::bytea) AND ($4::integer = 0 OR status = "        \
    "$4::integer OR ($4::integer = 4 AND status > 1)) "

#define REFUNDS_STMT_TABLE(X)                                                                      \
    X(RSTMT_REFUND_PUT,                                                                            \
      "INSERT INTO refunds (id, payment_id, kind, actor_id, amount, from_wallet, shortfall, "      \
      "currency, reason, dispute_id, created_ns) VALUES ($1::bytea, $2::bytea, $3::integer, "      \
      "$4::bytea, $5::bigint, $6::bigint, $7::bigint, $8::integer, $9::text, $10::bytea, "         \
      "$11::bigint) ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, from_wallet = "       \
      "excluded.from_wallet, shortfall = excluded.shortfall WHERE NOT EXISTS (SELECT 1 FROM "      \
      "transfers t WHERE t.id = refunds.id)")                                                      \
    X(RSTMT_REFUND_GET, REFUND_SELECT "WHERE r.id = $1::bytea")                                    \
    X(RSTMT_REFUNDS_OLDER, REFUND_SELECT "WHERE r.payment_id = $3::bytea AND r.id < $1::bytea "    \
                                         "AND t.timestamp IS NOT NULL ORDER BY r.id DESC "         \
                                         "LIMIT $2::bigint")                                       \
    X(RSTMT_REFUNDS_NEWER, REFUND_SELECT "WHERE r.payment_id = $3::bytea AND r.id > $1::bytea "    \
                                         "AND t.timestamp IS NOT NULL ORDER BY r.id ASC "          \
                                         "LIMIT $2::bigint")                                       \
    X(RSTMT_REFUND_TOTALS, "SELECT r.kind, sum(t.amount)::bigint FROM refunds r JOIN transfers t " \
                           "ON t.id = r.id WHERE r.payment_id = $1::bytea GROUP BY r.kind")        \
    X(RSTMT_DISPUTE_INSERT,                                                                        \
      "INSERT INTO disputes (id, payment_id, payer_id, payee_id, status, reason, note, "           \
      "reversal_id, created_ns, resolved_ns) VALUES ($1::bytea, $2::bytea, $3::bytea, "            \
      "$4::bytea, 1, $5::text, $6::text, NULL, $7::bigint, 0)")                                    \
    X(RSTMT_DISPUTE_GET, DISPUTE_SELECT "WHERE id = $1::bytea")                                    \
    X(RSTMT_DISPUTES_OLDER, DISPUTE_SELECT DISPUTES_FILTER "AND id < $1::bytea ORDER BY id DESC "  \
                                                           "LIMIT $2::bigint")                     \
    X(RSTMT_DISPUTES_NEWER, DISPUTE_SELECT DISPUTES_FILTER "AND id > $1::bytea ORDER BY id ASC "   \
                                                           "LIMIT $2::bigint")                     \
    X(RSTMT_DISPUTE_RESOLVE, "UPDATE disputes SET status = $2::integer, note = $3::text, "         \
                             "reversal_id = $4::bytea, resolved_ns = $5::bigint WHERE id = "       \
                             "$1::bytea AND status = 1")

enum refunds_stmt {
#define REFUNDS_STMT_ENUM(id, sql) id,
    REFUNDS_STMT_TABLE(REFUNDS_STMT_ENUM)
#undef REFUNDS_STMT_ENUM
        RSTMT_COUNT
};

const struct pg_stmt store_postgres_refunds_stmts[RSTMT_COUNT] = {
#define REFUNDS_STMT_ROW(id, sql) {#id, sql},
    REFUNDS_STMT_TABLE(REFUNDS_STMT_ROW)
#undef REFUNDS_STMT_ROW
};
const uint32_t store_postgres_refunds_stmt_count = RSTMT_COUNT;

static enum tl_err refunds_run(struct store *store, enum refunds_stmt which,
                               const struct pg_params *p, PGresult **out)
{
    TL_ASSERT(which < RSTMT_COUNT);
    return store_postgres_run(store, store_postgres_refunds_stmts[which].name, p,
                              store_postgres_refunds_stmts[which].name, out);
}

static void refunds_param_id_optional(struct pg_params *p, struct id128 id)
{
    if (id128_is_zero(id)) {
        pg_param_null(p);
    } else {
        pg_param_id(p, id);
    }
}

static bool refunds_row_refund(const PGresult *res, int row, void *item)
{
    struct store_refund *r = item;
    int32_t kind = 0;
    int32_t currency = 0;
    int32_t succeeded = 0;
    int64_t created = 0;
    memset(r, 0, sizeof(*r));
    bool ok = pg_col_id(res, row, 0, &r->id) && pg_col_id(res, row, 1, &r->payment_id) &&
              pg_col_i32(res, row, 2, &kind) && pg_col_id_optional(res, row, 3, &r->actor_id) &&
              pg_col_i64(res, row, 4, &r->amount) && pg_col_i64(res, row, 5, &r->from_wallet) &&
              pg_col_i64(res, row, 6, &r->shortfall) && pg_col_i32(res, row, 7, &currency) &&
              pg_col_text(res, row, 8, r->reason, sizeof(r->reason), true) &&
              pg_col_id_optional(res, row, 9, &r->dispute_id) &&
              pg_col_i64(res, row, 10, &created) && pg_col_i32(res, row, 11, &succeeded);
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

static bool refunds_row_dispute(const PGresult *res, int row, void *item)
{
    struct store_dispute *d = item;
    int32_t status = 0;
    int64_t created = 0;
    int64_t resolved = 0;
    memset(d, 0, sizeof(*d));
    bool ok = pg_col_id(res, row, 0, &d->id) && pg_col_id(res, row, 1, &d->payment_id) &&
              pg_col_id(res, row, 2, &d->payer_id) && pg_col_id(res, row, 3, &d->payee_id) &&
              pg_col_i32(res, row, 4, &status) &&
              pg_col_text(res, row, 5, d->reason, sizeof(d->reason), false) &&
              pg_col_text(res, row, 6, d->note, sizeof(d->note), true) &&
              pg_col_id_optional(res, row, 7, &d->reversal_id) &&
              pg_col_i64(res, row, 8, &created) && pg_col_i64(res, row, 9, &resolved);
    if (!ok || status < 1 || status > 3 || created <= 0 || resolved < 0) {
        return false;
    }
    d->status = (uint8_t)status;
    d->created_ns = (uint64_t)created;
    d->resolved_ns = (uint64_t)resolved;
    return true;
}

typedef bool (*refunds_decode_fn)(const PGresult *res, int row, void *item);

static enum tl_err refunds_lookup(struct store *store, enum refunds_stmt which,
                                  const struct pg_params *p, refunds_decode_fn decode, void *item,
                                  bool *found)
{
    PGresult *res = NULL;
    enum tl_err err = refunds_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    if (PQntuples(res) > 1 || (PQntuples(res) == 1 && !decode(res, 0, item))) {
        err = store_postgres_corrupt(store_postgres_refunds_stmts[which].name);
    } else {
        *found = PQntuples(res) == 1;
    }
    PQclear(res);
    return err;
}

/* One page by id (see sqlite_refunds.c): p already holds $1 cursor and $2 limit + 1 first. */
static enum tl_err refunds_page(struct store *store, enum refunds_stmt which,
                                const struct pg_params *p, const struct store_request_page *page,
                                bool newer, refunds_decode_fn decode, void *out, size_t item_bytes,
                                uint32_t *out_count, bool *has_more)
{
    PGresult *res = NULL;
    enum tl_err err = refunds_run(store, which, p, &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    uint32_t count = rows > (int)page->limit ? page->limit : (uint32_t)rows;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t at = newer ? count - 1 - i : i;
        if (!decode(res, (int)i, (char *)out + (size_t)at * item_bytes)) {
            err = store_postgres_corrupt(store_postgres_refunds_stmts[which].name);
            break;
        }
    }
    if (err == TL_OK) {
        *out_count = count;
        *has_more = rows > (int)page->limit;
    }
    PQclear(res);
    return err;
}

static void refunds_param_cursor(struct pg_params *p, const struct store_request_page *page)
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
    pg_param_i64(p, (int64_t)page->limit + 1);
}

enum tl_err store_postgres_refund_put(struct store *store, const struct store_refund *row)
{
    struct pg_params p;
    PGresult *res = NULL;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_id(&p, row->id);
    pg_param_id(&p, row->payment_id);
    pg_param_i32(&p, row->kind);
    refunds_param_id_optional(&p, row->actor_id);
    pg_param_i64(&p, row->amount);
    pg_param_i64(&p, row->from_wallet);
    pg_param_i64(&p, row->shortfall);
    pg_param_i32(&p, row->currency);
    pg_param_text(&p, row->reason);
    refunds_param_id_optional(&p, row->dispute_id);
    pg_param_u64_clamped(&p, row->created_ns);
    enum tl_err err = refunds_run(store, RSTMT_REFUND_PUT, &p, &res);
    PQclear(res);
    return err;
}

enum tl_err store_postgres_refund_get(struct store *store, struct id128 id,
                                      struct store_refund *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return refunds_lookup(store, RSTMT_REFUND_GET, &p, refunds_row_refund, out, found);
}

enum tl_err store_postgres_refunds_list(struct store *store, struct id128 payment_id,
                                        const struct store_request_page *page,
                                        struct store_refund *out, uint32_t *out_count,
                                        bool *has_more)
{
    struct pg_params p;
    bool newer = !id128_is_zero(page->ending_before);
    pg_params_init(&p);
    refunds_param_cursor(&p, page);
    pg_param_id(&p, payment_id);
    return refunds_page(store, newer ? RSTMT_REFUNDS_NEWER : RSTMT_REFUNDS_OLDER, &p, page, newer,
                        refunds_row_refund, out, sizeof(*out), out_count, has_more);
}

enum tl_err store_postgres_refund_totals(struct store *store, struct id128 payment_id,
                                         int64_t *out_refunded, int64_t *out_reversed)
{
    struct pg_params p;
    PGresult *res = NULL;
    int64_t totals[2] = {0, 0};
    pg_params_init(&p);
    pg_param_id(&p, payment_id);
    enum tl_err err = refunds_run(store, RSTMT_REFUND_TOTALS, &p, &res);
    if (err != TL_OK) {
        return err;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int32_t kind = 0;
        int64_t sum = 0;
        if (!pg_col_i32(res, i, 0, &kind) || !pg_col_i64(res, i, 1, &sum) || kind < 1 ||
            kind > 2 || sum < 0) {
            err = store_postgres_corrupt("RSTMT_REFUND_TOTALS");
            break;
        }
        totals[kind - 1] = sum;
    }
    PQclear(res);
    if (err == TL_OK) {
        *out_refunded = totals[0];
        *out_reversed = totals[1];
    }
    return err;
}

enum tl_err store_postgres_dispute_create(struct store *store, const struct store_dispute *d)
{
    struct pg_params p;
    PGresult *res = NULL;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_id(&p, d->id);
    pg_param_id(&p, d->payment_id);
    pg_param_id(&p, d->payer_id);
    pg_param_id(&p, d->payee_id);
    pg_param_text(&p, d->reason);
    pg_param_text(&p, d->note);
    pg_param_u64_clamped(&p, d->created_ns);
    enum tl_err err = store_postgres_run_unique(
        store, store_postgres_refunds_stmts[RSTMT_DISPUTE_INSERT].name, &p, "dispute_create",
        &res, NULL, 0);
    PQclear(res);
    return err;
}

enum tl_err store_postgres_dispute_get(struct store *store, struct id128 id,
                                       struct store_dispute *out, bool *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_param_id(&p, id);
    return refunds_lookup(store, RSTMT_DISPUTE_GET, &p, refunds_row_dispute, out, found);
}

enum tl_err store_postgres_disputes_list(struct store *store, struct id128 payment_id,
                                         uint8_t status, const struct store_request_page *page,
                                         struct store_dispute *out, uint32_t *out_count,
                                         bool *has_more)
{
    struct pg_params p;
    bool newer = !id128_is_zero(page->ending_before);
    pg_params_init(&p);
    refunds_param_cursor(&p, page);
    refunds_param_id_optional(&p, payment_id);
    pg_param_i32(&p, status);
    return refunds_page(store, newer ? RSTMT_DISPUTES_NEWER : RSTMT_DISPUTES_OLDER, &p, page,
                        newer, refunds_row_dispute, out, sizeof(*out), out_count, has_more);
}

enum tl_err store_postgres_dispute_resolve(struct store *store, struct id128 id, uint8_t status,
                                           const char *note, struct id128 reversal_id,
                                           uint64_t now_ns, bool *resolved)
{
    struct pg_params p;
    PGresult *res = NULL;
    TL_ASSERT(!store->in_batch);
    pg_params_init(&p);
    pg_param_id(&p, id);
    pg_param_i32(&p, status);
    pg_param_text(&p, note);
    refunds_param_id_optional(&p, reversal_id);
    pg_param_u64_clamped(&p, now_ns);
    enum tl_err err = refunds_run(store, RSTMT_DISPUTE_RESOLVE, &p, &res);
    if (err == TL_OK) {
        *resolved = strcmp(PQcmdTuples(res), "1") == 0;
    }
    PQclear(res);
    return err;
}
