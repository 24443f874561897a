-- Schema version 7, audit part. SQLite replaces its two per-user audit indexes with chains
-- of links and lazily written heads (sqlite_007_audit.sql). PostgreSQL keeps its indexes: the
-- interface and the listings are the same on both backends, only the SQLite write path
-- changes. This version exists here so that version numbers mean the same on both.
COMMENT ON TABLE audit_log IS
    'Append-only hash chain of security actions and money movements (schema v5; v7 unchanged)';
