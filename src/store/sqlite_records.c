/*
 * sqlite_records.c - the rows of records.h (conversions) on SQLite (table of migration 006).
 *
 * Conversions are few next to payments, so each call prepares its statement on the handle's
 * connection and finalizes it (like sqlite_plans.c). The insert runs inside the writer's
 * batch transaction (sqlite_app.c's record_write sends STORE_RECORD_CONVERSION here). Driver
 * errors are logged with the "store.sqlite:" prefix and never returned.
 */
#include <string.h>

#include "store/backend.h"
#include "store/records_backend.h"
#include "store/sqlite_private.h"
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
#define CONVERSIONS_OLDER                                                                          \
    "SELECT " CONVERSION_COLUMNS " FROM conversions WHERE user_id = ?1 AND created_ns < ?2 "      \
    "ORDER BY created_ns DESC LIMIT ?3"
#define CONVERSIONS_NEWER                                                                          \
    "SELECT " CONVERSION_COLUMNS " FROM conversions WHERE user_id = ?1 AND created_ns > ?2 "      \
    "ORDER BY created_ns ASC LIMIT ?3"

static enum tl_err records_prepare(sqlite3 *db, const char *sql, const char *what,
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

static bool col_id(sqlite3_stmt *stmt, int index, struct id128 *out)
{
    return store_sqlite_col_id(stmt, index, out) && !id128_is_zero(*out);
}

static bool col_range(sqlite3_stmt *stmt, int index, int64_t min, int64_t max, int64_t *out)
{
    return store_sqlite_col_i64(stmt, index, out) && *out >= min && *out <= max;
}

static bool decode_conversion(sqlite3_stmt *stmt, void *row)
{
    struct store_conversion *c = row;
    int64_t from = 0, to = 0, created = 0;
    bool ok;
    memset(c, 0, sizeof(*c));
    ok = col_id(stmt, CCOL_ID, &c->id) && col_id(stmt, CCOL_USER_ID, &c->user_id);
    ok = ok && col_id(stmt, CCOL_FROM_WALLET, &c->from_wallet);
    ok = ok && col_id(stmt, CCOL_TO_WALLET, &c->to_wallet);
    if (ok && sqlite3_column_type(stmt, CCOL_QUOTE_ID) != SQLITE_NULL) {
        ok = col_id(stmt, CCOL_QUOTE_ID, &c->quote_id);
    }
    ok = ok && col_range(stmt, CCOL_FROM_CURRENCY, 1, 999, &from);
    ok = ok && col_range(stmt, CCOL_TO_CURRENCY, 1, 999, &to) && from != to;
    ok = ok && col_range(stmt, CCOL_PRINCIPAL, 1, INT64_MAX, &c->principal);
    ok = ok && col_range(stmt, CCOL_FEE, 0, INT64_MAX - c->principal, &c->fee);
    ok = ok && col_range(stmt, CCOL_RECEIVED, 1, INT64_MAX, &c->received);
    ok = ok && col_range(stmt, CCOL_RATE_NUM, 1, INT64_MAX, &c->rate_num);
    ok = ok && col_range(stmt, CCOL_RATE_DEN, 1, INT64_MAX, &c->rate_den);
    ok = ok && store_sqlite_col_i64(stmt, CCOL_FROM_AFTER, &c->from_balance_after);
    ok = ok && store_sqlite_col_i64(stmt, CCOL_TO_AFTER, &c->to_balance_after);
    ok = ok && col_range(stmt, CCOL_CREATED_NS, 1, INT64_MAX, &created);
    c->from_currency = (uint16_t)from;
    c->to_currency = (uint16_t)to;
    c->created_ns = (uint64_t)created;
    return ok;
}

static enum tl_err sqlite_conversion_get(struct store *store, struct id128 id,
                                         struct store_conversion *out, bool *found)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[ID128_BYTES];
    enum tl_err err = records_prepare(
        db, "SELECT " CONVERSION_COLUMNS " FROM conversions WHERE id = ?1", "conversion_get",
        &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, id, bytes);
    err = store_sqlite_step_one(db, stmt, "conversion_get", decode_conversion, out, found);
    sqlite3_finalize(stmt);
    return err;
}

static enum tl_err sqlite_conversions_list(struct store *store, struct id128 user_id,
                                           const struct store_page *page,
                                           struct store_conversion *out, uint32_t *out_count,
                                           bool *has_more)
{
    sqlite3 *db = store_sqlite_db(store);
    sqlite3_stmt *stmt = NULL;
    bool newer = page->ending_before_ts != 0;
    enum tl_err err = records_prepare(db, newer ? CONVERSIONS_NEWER : CONVERSIONS_OLDER,
                                      "conversions_list", &stmt);
    if (err != TL_OK) {
        return err;
    }
    err = store_sqlite_page_read(db, stmt, "conversions_list", user_id, page, decode_conversion,
                                 out, sizeof(*out), out_count, has_more);
    sqlite3_finalize(stmt);
    return err;
}

static enum tl_err sqlite_conversion_insert(sqlite3 *db, const struct store_conversion *c)
{
    sqlite3_stmt *stmt = NULL;
    uint8_t bytes[5][ID128_BYTES];
    TL_ASSERT(!sqlite3_get_autocommit(db)); /* inside the batch */
    enum tl_err err = records_prepare(db,
                                      "INSERT INTO conversions (" CONVERSION_COLUMNS
                                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                      "?12, ?13, ?14, ?15)",
                                      "records_write: conversion", &stmt);
    if (err != TL_OK) {
        return err;
    }
    bind_id(stmt, 1, c->id, bytes[0]);
    bind_id(stmt, 2, c->user_id, bytes[1]);
    bind_id(stmt, 3, c->from_wallet, bytes[2]);
    bind_id(stmt, 4, c->to_wallet, bytes[3]);
    if (!id128_is_zero(c->quote_id)) {
        bind_id(stmt, 5, c->quote_id, bytes[4]);
    }
    store_sqlite_bind_i64(stmt, 6, c->from_currency);
    store_sqlite_bind_i64(stmt, 7, c->to_currency);
    store_sqlite_bind_i64(stmt, 8, c->principal);
    store_sqlite_bind_i64(stmt, 9, c->fee);
    store_sqlite_bind_i64(stmt, 10, c->received);
    store_sqlite_bind_i64(stmt, 11, c->rate_num);
    store_sqlite_bind_i64(stmt, 12, c->rate_den);
    store_sqlite_bind_i64(stmt, 13, c->from_balance_after);
    store_sqlite_bind_i64(stmt, 14, c->to_balance_after);
    store_sqlite_bind_u64(stmt, 15, c->created_ns);
    int rc = store_sqlite_run(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "records_write: conversion");
    }
    TL_ASSERT(sqlite3_changes(db) == 1);
    return TL_OK;
}

static enum tl_err sqlite_records_write(struct store *store, const struct store_record *records,
                                        uint32_t count)
{
    sqlite3 *db = store_sqlite_db(store);
    enum tl_err err = TL_OK;
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        if (records[i].kind == STORE_RECORD_CONVERSION) {
            struct store_conversion c;
            store_record_conversion_decode(&records[i], &c);
            err = sqlite_conversion_insert(db, &c);
        }
    }
    return err;
}

const struct store_records_ops store_sqlite_records_ops = {
    .conversion_get = sqlite_conversion_get,
    .conversions_list = sqlite_conversions_list,
    .records_write = sqlite_records_write,
};
