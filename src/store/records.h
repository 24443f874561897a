/*
 * records.h - rows that record a money movement next to the ledger (schema v6,
 * migrations *_006_records.sql): today one row per conversion between a user's own wallets.
 *
 * A conversion row is never written on its own: the conversion's writer hook serializes it
 * into a batch record (store_record_conversion, kind STORE_RECORD_CONVERSION) that commits in
 * the same transaction as the conversion's legs, so a row exists exactly when the money moved.
 * Rows are immutable. Reads are by id and by user, newest first, keyed by the ledger
 * timestamp of the conversion's first leg (unique, and growing in commit order on every
 * backend).
 *
 * Never: write a conversion row outside the batch of its money, or hold PII.
 */
#ifndef TL_STORE_RECORDS_H
#define TL_STORE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"
#include "util/id128.h"

struct store_conversion {
    struct id128 id;           /* "conv_...": the id of the first leg (a quote's reserved id) */
    struct id128 user_id;
    struct id128 from_wallet;
    struct id128 to_wallet;
    struct id128 quote_id;     /* zero without a quote */
    uint16_t from_currency;    /* ISO 4217 numbers, different */
    uint16_t to_currency;
    int64_t principal;         /* from-currency minor units converted (> 0) */
    int64_t fee;               /* from-currency minor units of fee (>= 0); sent = principal + fee */
    int64_t received;          /* to-currency minor units (> 0) */
    int64_t rate_num;          /* the customer rate, from -> to, exactly num / den (> 0) */
    int64_t rate_den;
    int64_t from_balance_after; /* both wallets' available balances right after */
    int64_t to_balance_after;
    uint64_t created_ns;       /* the ledger timestamp of the first leg */
};

/* Serializes a conversion row into a batch record. buf must hold
 * STORE_RECORD_CONVERSION_BYTES and outlive the attach; out->data points into buf. Cannot fail. */
#define STORE_RECORD_CONVERSION_BYTES (sizeof(struct store_conversion))
void store_record_conversion(const struct store_conversion *row, void *buf,
                             struct store_record *out);
/* The row of a STORE_RECORD_CONVERSION record (backends). Cannot fail. */
void store_record_conversion_decode(const struct store_record *record,
                                    struct store_conversion *out);

/* The conversion with that id. TL_ERR_STORAGE. */
enum tl_err store_conversion_get(struct store *store, struct id128 id,
                                 struct store_conversion *out, bool *found);
/* A user's conversions, newest first; page cursors are conversions' created_ns
 * (store.h: struct store_page). TL_ERR_INVALID_REQUEST for a bad page, TL_ERR_STORAGE. */
enum tl_err store_conversions_list(struct store *store, struct id128 user_id,
                                   const struct store_page *page, struct store_conversion *out,
                                   uint32_t *out_count, bool *has_more);

#endif
