-- Schema version 6 (part): conversion rows (api/conversions.c, store/records.h).
--
-- One row per conversion between a user's own wallets, inserted by the writer in the batch
-- transaction of the conversion's legs (a STORE_RECORD_CONVERSION record), so a row exists
-- exactly when the money moved; rows are never updated. Keyed by created_ns, the ledger
-- timestamp of the first leg (unique, growing), so inserts append at the right edge and the
-- per-user index pages newest first. id is the first leg's transfer id ("conv_..."), quote_id
-- the fx quote it executed (NULL without one). Amounts: principal + fee left the from-wallet
-- (from_currency), received arrived in the to-wallet; the customer rate is rate_num/rate_den.
CREATE TABLE conversions (
    created_ns INTEGER PRIMARY KEY NOT NULL,
    id BLOB NOT NULL UNIQUE,
    user_id BLOB NOT NULL,
    from_wallet BLOB NOT NULL,
    to_wallet BLOB NOT NULL,
    quote_id BLOB,
    from_currency INTEGER NOT NULL,
    to_currency INTEGER NOT NULL,
    principal INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    received INTEGER NOT NULL,
    rate_num INTEGER NOT NULL,
    rate_den INTEGER NOT NULL,
    from_balance_after INTEGER NOT NULL,
    to_balance_after INTEGER NOT NULL
);
CREATE INDEX conversions_user ON conversions (user_id, created_ns);
