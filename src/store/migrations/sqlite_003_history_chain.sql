-- Schema version 3: history as one chain per account, and account rows that may lag.
--
-- Every posting links to the previous posting of each of its accounts (debit_prev,
-- credit_prev: that posting's timestamp, 0 = none), and every account names its newest
-- posting (posting_last). An account's history is posting_last followed back through the
-- links, so the write path only appends: the two history indexes, whose random inserts were
-- most of a large batch's commit, are gone.
--
-- Account rows are a snapshot: a batch rewrites only a slice of the accounts it changed (see
-- src/store/sqlite_shared.c). store_meta.replay_after is kept in the same transaction as every
-- batch: each account row reflects every posting with a timestamp at or below it, and the
-- postings after it carry the newer balances, which a writer replays onto the rows at open.

ALTER TABLE accounts ADD COLUMN posting_last INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transfers ADD COLUMN debit_prev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transfers ADD COLUMN credit_prev INTEGER NOT NULL DEFAULT 0;

-- Link the postings written before this version (the history indexes still exist here).
WITH sides (account_ts, timestamp) AS (
    SELECT debit_account_ts, timestamp FROM transfers
    UNION ALL
    SELECT credit_account_ts, timestamp FROM transfers
), linked (account_ts, timestamp, prev) AS (
    SELECT account_ts, timestamp,
           coalesce(lag(timestamp) OVER (PARTITION BY account_ts ORDER BY timestamp), 0)
    FROM sides
)
UPDATE transfers SET
    debit_prev = (SELECT prev FROM linked l
                  WHERE l.account_ts = transfers.debit_account_ts
                    AND l.timestamp = transfers.timestamp),
    credit_prev = (SELECT prev FROM linked l
                   WHERE l.account_ts = transfers.credit_account_ts
                     AND l.timestamp = transfers.timestamp);

UPDATE accounts SET posting_last = coalesce(
    (SELECT max(timestamp) FROM transfers
     WHERE debit_account_ts = accounts.timestamp OR credit_account_ts = accounts.timestamp), 0);

DROP INDEX transfers_debit_history;
DROP INDEX transfers_credit_history;

CREATE TABLE store_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

INSERT INTO store_meta (name, value)
    VALUES ('replay_after', coalesce((SELECT max(timestamp) FROM transfers), 0));
