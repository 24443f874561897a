-- Schema version 10, limits part: PostgreSQL deletes the rows of limit_totals that no window
-- can count again (core/limits.h, limits_dead_before), as the SQLite backend has done since
-- schema 8. The writer's batch finds them by their end, the newest end included, so the
-- table gets an index on end_ns: both the newest end and the dead rows are index ranges.
CREATE INDEX limit_totals_end ON limit_totals (end_ns);
