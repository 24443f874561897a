-- Schema version 1: accounts, transfers (postings) and the outbox.
--
-- Ids are 16-byte big-endian BLOBs (memcmp order is numeric order). Timestamps are the
-- ledger's nanoseconds; the ledger never gives two objects the same one, so they double as
-- compact integer keys. Money columns are int64 minor units. Tables are STRICT so a value of
-- the wrong type is refused on write instead of found on read.

-- One row per account. The key is the account's ledger timestamp: new accounts append at the
-- right edge, and transfers refer to accounts by this integer instead of the 16-byte id, which
-- keeps the history indexes small and their comparisons cheap. The writer updates the final
-- balances of every account a batch changed; nothing else changes after creation.
CREATE TABLE accounts (
    timestamp INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    user_data BLOB NOT NULL,
    debits_pending INTEGER NOT NULL,
    debits_posted INTEGER NOT NULL,
    credits_pending INTEGER NOT NULL,
    credits_posted INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    flags INTEGER NOT NULL
) STRICT;

-- One row per posting. The ledger timestamp is unique and increasing, so it is the rowid and
-- every insert appends at the right edge of the table's B-tree. debit_account_ts and
-- credit_account_ts are accounts.timestamp. The balances of both accounts right after the
-- transfer are kept (debit_* and credit_*) so history needs no replay. pending_status is 0
-- (not a hold) or the hold's state, updated when it is posted, voided or expired. pending_id
-- and user_ref are NULL when zero.
CREATE TABLE transfers (
    timestamp INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    debit_account_ts INTEGER NOT NULL,
    credit_account_ts INTEGER NOT NULL,
    pending_id BLOB,
    user_ref BLOB,
    amount INTEGER NOT NULL,
    timeout_s INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    code INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    pending_status INTEGER NOT NULL,
    debit_debits_pending INTEGER NOT NULL,
    debit_debits_posted INTEGER NOT NULL,
    debit_credits_pending INTEGER NOT NULL,
    debit_credits_posted INTEGER NOT NULL,
    credit_debits_pending INTEGER NOT NULL,
    credit_debits_posted INTEGER NOT NULL,
    credit_credits_pending INTEGER NOT NULL,
    credit_credits_posted INTEGER NOT NULL
) STRICT;

-- History: every SQLite index entry ends with the rowid, which is the transfer's timestamp, so
-- these are the (account, timestamp) indexes without storing the timestamp twice.
CREATE INDEX transfers_debit_history ON transfers (debit_account_ts);
CREATE INDEX transfers_credit_history ON transfers (credit_account_ts);

-- Open holds that can expire, by expiry time (then timestamp). Queries must spell the
-- expression exactly like this for SQLite to use the index.
CREATE INDEX transfers_open_expiry ON transfers (timestamp + timeout_s * 1000000000)
    WHERE pending_status = 1 AND timeout_s > 0;

-- Events for notifications and webhooks, committed with the batch that caused them. seq
-- never goes back, even after delivered rows are deleted (AUTOINCREMENT). created is the
-- wall clock at commit, in nanoseconds.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL,
    topic TEXT NOT NULL,
    data BLOB NOT NULL,
    created INTEGER NOT NULL
) STRICT;
