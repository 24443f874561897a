-- Schema version 8, limits part (src/store/sqlite_limits.c): the running totals of the limit
-- windows are written as appends. Each movement's addition to its bucket (a
-- STORE_RECORD_LIMIT_USAGE record) is appended to this log in the transaction of its batch,
-- and the writing process keeps every bucket's total in memory. The totals of limit_totals
-- (schema 6) are rewritten lazily: once the log holds enough rows, one batch writes every
-- bucket they changed, in key order, and deletes those log rows in the same transaction. So
-- at every commit:
--     a bucket's total = its limit_totals row (0 when none) + the log rows of that bucket,
-- which is how a process that does not write the file reads a window, and what the writer
-- replays when it opens the file after a crash. seq is the rowid: the log is appended at its
-- end and deleted from its beginning, so neither touches a random page.
CREATE TABLE limit_usage_log (
    seq INTEGER PRIMARY KEY,
    user_id BLOB NOT NULL CHECK (length(user_id) = 16),
    currency INTEGER NOT NULL CHECK (currency > 0),
    direction INTEGER NOT NULL CHECK (direction IN (1, 2)),
    end_ns INTEGER NOT NULL CHECK (end_ns > 0),
    amount INTEGER NOT NULL CHECK (amount > 0)
) STRICT;
