-- Schema version 3: the history chains. The same columns as sqlite_003_history_chain.sql.
--
-- Every posting links to the previous posting of each of its accounts (debit_prev,
-- credit_prev: that posting's timestamp, 0 = none), and every account names its newest posting
-- (posting_last). The backend stores and returns them exactly. It keeps serving history from
-- the (account, timestamp) indexes of version 1: here they cost little, keep a page to one
-- index range per side, and several nodes can append to them without touching a shared row.
--
-- SQLite's version 3 also lets account rows lag behind the postings (its store_meta table
-- says how far). Here every batch writes the accounts it changed, because other nodes read
-- them, so there is nothing to replay and no store_meta.

ALTER TABLE accounts ADD COLUMN posting_last bigint NOT NULL DEFAULT 0
    CHECK (posting_last >= 0);
ALTER TABLE transfers ADD COLUMN debit_prev bigint NOT NULL DEFAULT 0 CHECK (debit_prev >= 0);
ALTER TABLE transfers ADD COLUMN credit_prev bigint NOT NULL DEFAULT 0 CHECK (credit_prev >= 0);

-- Link the postings written before this version.
WITH sides (account_ts, timestamp) AS (
    SELECT debit_account_ts, timestamp FROM transfers
    UNION ALL
    SELECT credit_account_ts, timestamp FROM transfers
), linked (account_ts, timestamp, prev) AS (
    SELECT account_ts, timestamp,
           coalesce(lag(timestamp) OVER (PARTITION BY account_ts ORDER BY timestamp), 0)
    FROM sides
)
UPDATE transfers t SET debit_prev = d.prev, credit_prev = c.prev
FROM linked d, linked c
WHERE d.account_ts = t.debit_account_ts AND d.timestamp = t.timestamp
  AND c.account_ts = t.credit_account_ts AND c.timestamp = t.timestamp;

UPDATE accounts a SET posting_last = greatest(
    coalesce((SELECT max(timestamp) FROM transfers WHERE debit_account_ts = a.timestamp), 0),
    coalesce((SELECT max(timestamp) FROM transfers WHERE credit_account_ts = a.timestamp), 0));
