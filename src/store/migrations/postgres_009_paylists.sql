-- Schema version 9: on SQLite, payment lists and step-up's new-recipient rule stop
-- using per-user indexes of payments (sqlite_009_paylists.sql). PostgreSQL keeps them: its
-- list queries and the pair probe read payments_sent, payments_received and payments_pair as
-- before, with the same answers. This statement only records that in the catalog, so that
-- version 9 names a migration on every backend.
COMMENT ON INDEX payments_pair IS
    'step-up new-recipient rule (SQLite reads payment_pairs instead since schema v9)';
