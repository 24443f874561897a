-- Schema version 1: accounts, transfers (postings) and the outbox. The same tables and columns
-- as sqlite_001_ledger.sql, in PostgreSQL types.
--
-- Ids are 16-byte big-endian bytea (byte order is numeric order). Timestamps are the ledger's
-- nanoseconds in bigint: they stay below 2^63, and the ledger never gives two objects the
-- same one, so they double as compact integer keys. Money columns are bigint minor units.
-- Fields that are uint16 in C are integer (smallint would stop at 32767), uint32 fields are
-- bigint; CHECKs keep each in its C range, so a value the code could not have written is
-- refused on write instead of found on read.

-- One row per account, keyed by its ledger timestamp; transfers refer to accounts by it. The
-- writer updates the balances of every account a batch changed; nothing else changes after
-- creation.
CREATE TABLE accounts (
    timestamp bigint PRIMARY KEY CHECK (timestamp > 0),
    id bytea NOT NULL CHECK (length(id) = 16),
    user_data bytea NOT NULL CHECK (length(user_data) = 16),
    debits_pending bigint NOT NULL,
    debits_posted bigint NOT NULL,
    credits_pending bigint NOT NULL,
    credits_posted bigint NOT NULL,
    currency integer NOT NULL CHECK (currency BETWEEN 0 AND 65535),
    kind integer NOT NULL CHECK (kind BETWEEN 0 AND 65535),
    flags bigint NOT NULL CHECK (flags BETWEEN 0 AND 4294967295),
    CONSTRAINT accounts_id_key UNIQUE (id)
);

-- One row per posting, keyed by its ledger timestamp. debit_account_ts and credit_account_ts
-- are accounts.timestamp. The balances of both accounts right after the transfer are kept
-- (debit_* and credit_*) so history needs no replay. pending_status is 0 (not a hold) or the
-- hold's state, updated when it is posted, voided or expired. pending_id and user_ref are NULL
-- when zero.
CREATE TABLE transfers (
    timestamp bigint PRIMARY KEY CHECK (timestamp > 0),
    id bytea NOT NULL CHECK (length(id) = 16),
    debit_account_ts bigint NOT NULL,
    credit_account_ts bigint NOT NULL,
    pending_id bytea CHECK (length(pending_id) = 16),
    user_ref bytea CHECK (length(user_ref) = 16),
    amount bigint NOT NULL,
    timeout_s bigint NOT NULL CHECK (timeout_s BETWEEN 0 AND 4294967295),
    currency integer NOT NULL CHECK (currency BETWEEN 0 AND 65535),
    code integer NOT NULL CHECK (code BETWEEN 0 AND 65535),
    flags integer NOT NULL CHECK (flags BETWEEN 0 AND 65535),
    pending_status integer NOT NULL CHECK (pending_status BETWEEN 0 AND 4),
    debit_debits_pending bigint NOT NULL,
    debit_debits_posted bigint NOT NULL,
    debit_credits_pending bigint NOT NULL,
    debit_credits_posted bigint NOT NULL,
    credit_debits_pending bigint NOT NULL,
    credit_debits_posted bigint NOT NULL,
    credit_credits_pending bigint NOT NULL,
    credit_credits_posted bigint NOT NULL,
    CONSTRAINT transfers_id_key UNIQUE (id)
);

-- History: (account, timestamp) on either side, walked from a cursor in either direction.
CREATE INDEX transfers_debit_history ON transfers (debit_account_ts, timestamp);
CREATE INDEX transfers_credit_history ON transfers (credit_account_ts, timestamp);

-- Open holds that can expire, by expiry time (then timestamp). Queries must spell the
-- expression exactly like this for the planner to use the index.
CREATE INDEX transfers_open_expiry ON transfers ((timestamp + timeout_s * 1000000000), timestamp)
    WHERE pending_status = 1 AND timeout_s > 0;

-- Events for notifications and webhooks, committed with the batch that caused them. seq never
-- goes back (an identity never reuses a value, even after rows are deleted); with several
-- nodes writing, seq orders rows by insert, and a row becomes visible at its batch's commit.
-- created is the wall clock at commit, in nanoseconds.
CREATE TABLE outbox (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key bytea NOT NULL CHECK (length(key) = 16),
    topic text NOT NULL,
    data bytea NOT NULL,
    created bigint NOT NULL
);
