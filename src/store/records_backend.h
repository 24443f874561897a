/*
 * records_backend.h - what a storage backend implements for the rows of records.h; private to
 * src/store/.
 *
 * records.c is the only caller of the reads; the batch commit of each backend calls the
 * record writer for STORE_RECORD_CONVERSION records. A backend's struct store_app_ops points
 * .records at one const struct store_records_ops. Errors as in app_backend.h.
 */
#ifndef TL_STORE_RECORDS_BACKEND_H
#define TL_STORE_RECORDS_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "store/records.h"

struct store_records_ops {
    enum tl_err (*conversion_get)(struct store *store, struct id128 id,
                                  struct store_conversion *out, bool *found);
    /* page checked: limit 1..TL_PAGE_LIMIT_MAX, at most one cursor. */
    enum tl_err (*conversions_list)(struct store *store, struct id128 user_id,
                                    const struct store_page *page, struct store_conversion *out,
                                    uint32_t *out_count, bool *has_more);
    /* Inside the batch: the conversion rows among records[0..count) (SQLite writes one
     * record per call, count 1; PostgreSQL sends all of them as one statement). */
    enum tl_err (*records_write)(struct store *store, const struct store_record *records,
                                 uint32_t count);
};

extern const struct store_records_ops store_sqlite_records_ops;
extern const struct store_records_ops store_postgres_records_ops;

#endif
