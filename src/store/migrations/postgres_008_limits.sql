-- Schema version 8, limits part. PostgreSQL keeps adding to limit_totals in the batch's
-- transaction (schema 6): its rows are not pages of one writer's WAL, and every node reads the
-- table. Only the SQLite backend appends to a log and rewrites the totals lazily
-- (sqlite_008_limits.sql); the version is shared so that version 8 names one schema
-- generation on both backends.
COMMENT ON TABLE limit_totals IS
    'Running totals of the limit windows: one row per user, currency, direction and bucket end';
