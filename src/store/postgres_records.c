/*
 * postgres_records.c - the rows of records.h (conversions) on PostgreSQL (table of migration
 * 006).
 *
 * The statements below are prepared by postgres.c on every connection. The batch's
 * conversion rows go out as one INSERT .. unnest in the commit pipeline (postgres_app.c's
 * records send calls records_write with every record of the batch), so they commit with the
 * legs that moved their money. Driver errors are logged by postgres.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/postgres_private.h"
#include "store/records_backend.h"
#include "util/assert.h"
#include "util/limits.h"

#define CONVERSION_COLUMNS                                                                         \
    "id, user_id, from_wallet, to_wallet, quote_id, from_currency, to_currency, principal, fee, "  \
    "received, rate_num, rate_den, from_balance_after, to_balance_after, created_ns"
enum conversion_column {
    CCOL_ID,
    CCOL_USER_ID,
    CCOL_FROM_WALLET,
    CCOL_TO_WALLET,
    CCOL_QUOTE_ID,
    CCOL_FROM_CURRENCY,
    CCOL_TO_CURRENCY,
    CCOL_PRINCIPAL,
    CCOL_FEE,
    CCOL_RECEIVED,
    CCOL_RATE_NUM,
    CCOL_RATE_DEN,
    CCOL_FROM_AFTER,
    CCOL_TO_AFTER,
    CCOL_CREATED_NS,
    CCOL_COUNT
};

#define RECORDS_STMT_TABLE(X)                                                                      \
    X(RSTMT_CONVERSION_GET,                                                                        \
      "SELECT " CONVERSION_COLUMNS " FROM conversions WHERE id = $1::bytea")                       \
    X(RSTMT_CONVERSIONS_OLDER,                                                                     \
      "SELECT " CONVERSION_COLUMNS " FROM conversions WHERE user_id = $1::bytea AND created_ns "   \
      "< $2::bigint ORDER BY created_ns DESC LIMIT $3::bigint")                                    \
    X(RSTMT_CONVERSIONS_NEWER,                                                                     \
      "SELECT " CONVERSION_COLUMNS " FROM conversions WHERE user_id = $1::bytea AND created_ns "   \
      "> $2::bigint ORDER BY created_ns ASC LIMIT $3::bigint")                                     \
    X(RSTMT_CONVERSIONS_WRITE,                                                                     \
      "INSERT INTO conversions (" CONVERSION_COLUMNS ") SELECT * FROM unnest($1::bytea[], "        \
      "$2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::integer[], $7::integer[], "         \
      "$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], "   \
      "$14::bigint[], $15::bigint[])")

enum records_stmt {
#define RECORDS_STMT_ENUM(id, sql) id,
    RECORDS_STMT_TABLE(RECORDS_STMT_ENUM)
#undef RECORDS_STMT_ENUM
        RSTMT_COUNT
};

const struct pg_stmt store_postgres_records_stmts[RSTMT_COUNT] = {
#define RECORDS_STMT_ROW(id, sql) {#id, sql},
    RECORDS_STMT_TABLE(RECORDS_STMT_ROW)
#undef RECORDS_STMT_ROW
};
const uint32_t store_postgres_records_stmt_count = RSTMT_COUNT;

static bool col_id(const PGresult *res, int row, int col, struct id128 *out)
{
    return pg_col_id(res, row, col, out) && !id128_is_zero(*out);
}

static bool col_range(const PGresult *res, int row, int col, int64_t min, int64_t max,
                      int64_t *out)
{
    return pg_col_i64(res, row, col, out) && *out >= min && *out <= max;
}

static bool decode_conversion(const PGresult *res, int row, struct store_conversion *c)
{
    int32_t from = 0, to = 0;
    uint64_t created = 0;
    bool ok;
    TL_ASSERT(PQnfields(res) == CCOL_COUNT);
    memset(c, 0, sizeof(*c));
    ok = col_id(res, row, CCOL_ID, &c->id) && col_id(res, row, CCOL_USER_ID, &c->user_id);
    ok = ok && col_id(res, row, CCOL_FROM_WALLET, &c->from_wallet);
    ok = ok && col_id(res, row, CCOL_TO_WALLET, &c->to_wallet);
    ok = ok && pg_col_id_optional(res, row, CCOL_QUOTE_ID, &c->quote_id);
    ok = ok && pg_col_int_range(res, row, CCOL_FROM_CURRENCY, 1, 999, &from);
    ok = ok && pg_col_int_range(res, row, CCOL_TO_CURRENCY, 1, 999, &to) && from != to;
    ok = ok && col_range(res, row, CCOL_PRINCIPAL, 1, INT64_MAX, &c->principal);
    ok = ok && col_range(res, row, CCOL_FEE, 0, INT64_MAX - c->principal, &c->fee);
    ok = ok && col_range(res, row, CCOL_RECEIVED, 1, INT64_MAX, &c->received);
    ok = ok && col_range(res, row, CCOL_RATE_NUM, 1, INT64_MAX, &c->rate_num);
    ok = ok && col_range(res, row, CCOL_RATE_DEN, 1, INT64_MAX, &c->rate_den);
    ok = ok && pg_col_i64(res, row, CCOL_FROM_AFTER, &c->from_balance_after);
    ok = ok && pg_col_i64(res, row, CCOL_TO_AFTER, &c->to_balance_after);
    ok = ok && pg_col_uint(res, row, CCOL_CREATED_NS, 1, INT64_MAX, &created);
    c->from_currency = (uint16_t)from;
    c->to_currency = (uint16_t)to;
    c->created_ns = created;
    return ok;
}

/* Decodes up to max rows; reverse: they came oldest first and are stored newest first. */
static enum tl_err records_rows(struct store *store, enum records_stmt which,
                                const struct pg_params *p, struct store_conversion *out,
                                uint32_t max, bool reverse, uint32_t *out_count, bool *has_more)
{
    const char *name = store_postgres_records_stmts[which].name;
    PGresult *res = NULL;
    enum tl_err err = store_postgres_run(store, name, p, name, &res);
    if (err != TL_OK) {
        return err;
    }
    int rows = PQntuples(res);
    uint32_t count = rows > (int)max ? max : (uint32_t)rows;
    for (uint32_t i = 0; i < count; i++) {
        if (!decode_conversion(res, (int)i, &out[reverse ? count - 1 - i : i])) {
            err = store_postgres_corrupt(name);
            break;
        }
    }
    PQclear(res);
    if (err == TL_OK) {
        *out_count = count;
        if (has_more != NULL) {
            *has_more = rows > (int)max;
        }
    }
    return err;
}

static enum tl_err pg_conversion_get(struct store *store, struct id128 id,
                                     struct store_conversion *out, bool *found)
{
    struct pg_params p;
    uint32_t count = 0;
    pg_params_init(&p);
    pg_param_id(&p, id);
    enum tl_err err = records_rows(store, RSTMT_CONVERSION_GET, &p, out, 1, false, &count, NULL);
    if (err == TL_OK) {
        *found = count == 1;
    }
    return err;
}

static enum tl_err pg_conversions_list(struct store *store, struct id128 user_id,
                                       const struct store_page *page,
                                       struct store_conversion *out, uint32_t *out_count,
                                       bool *has_more)
{
    bool newer = page->ending_before_ts != 0;
    uint64_t cursor = newer ? page->ending_before_ts : page->starting_after_ts;
    struct pg_params p;
    if (cursor == 0 || cursor > (uint64_t)INT64_MAX) {
        cursor = (uint64_t)INT64_MAX; /* "older than" it is everything */
    }
    pg_params_init(&p);
    pg_param_id(&p, user_id);
    pg_param_i64(&p, (int64_t)cursor);
    pg_param_i64(&p, (int64_t)page->limit + 1);
    return records_rows(store, newer ? RSTMT_CONVERSIONS_NEWER : RSTMT_CONVERSIONS_OLDER, &p, out,
                        page->limit, newer, out_count, has_more);
}

/* Every conversion row among the batch's records, as one statement in the commit pipeline. */
static enum tl_err pg_records_write(struct store *store, const struct store_record *records,
                                    uint32_t count)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        n += records[i].kind == STORE_RECORD_CONVERSION ? 1u : 0u;
    }
    if (n == 0) {
        return TL_OK;
    }
    struct store_conversion *rows = malloc((size_t)n * sizeof(*rows));
    struct pg_buf *buf = store_postgres_buf(store);
    struct pg_params p;
    uint32_t at = 0;
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (records[i].kind == STORE_RECORD_CONVERSION) {
            store_record_conversion_decode(&records[i], &rows[at++]);
        }
    }
    TL_ASSERT(at == n);
    enum tl_err err = pg_buf_reset(buf, 15 * pg_array_bytes_max(n, ID128_BYTES));
    if (err != TL_OK) {
        free(rows);
        return err;
    }
    pg_params_init(&p);
#define CONVERSION_ARRAY(oid, append)                                                              \
    do {                                                                                           \
        pg_array_begin(&p, buf, oid, n);                                                           \
        for (uint32_t i = 0; i < n; i++) {                                                         \
            const struct store_conversion *x = &rows[i];                                           \
            append;                                                                                \
        }                                                                                          \
    } while (0)
    CONVERSION_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->id));
    CONVERSION_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->user_id));
    CONVERSION_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->from_wallet));
    CONVERSION_ARRAY(PG_OID_BYTEA, pg_array_id(buf, x->to_wallet));
    CONVERSION_ARRAY(PG_OID_BYTEA, pg_array_id_optional(buf, x->quote_id));
    CONVERSION_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->from_currency));
    CONVERSION_ARRAY(PG_OID_INT4, pg_array_i32(buf, x->to_currency));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->principal));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->fee));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->received));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->rate_num));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->rate_den));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->from_balance_after));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, x->to_balance_after));
    CONVERSION_ARRAY(PG_OID_INT8, pg_array_i64(buf, (int64_t)x->created_ns));
#undef CONVERSION_ARRAY
    free(rows);
    pg_params_resolve(&p, buf);
    return store_postgres_pipeline_send(store, "RSTMT_CONVERSIONS_WRITE", &p,
                                        "records_write: conversion", PG_EXPECT_EXACT, n,
                                        TL_ERR_STORAGE);
}

const struct store_records_ops store_postgres_records_ops = {
    .conversion_get = pg_conversion_get,
    .conversions_list = pg_conversions_list,
    .records_write = pg_records_write,
};
