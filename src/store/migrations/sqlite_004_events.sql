-- Schema version 4 (part): a user's events in the outbox (api/events.c).
--
-- The API's money events (payment.created, deposit.created) are outbox rows whose key is the
-- id of the user the event is for, so a user's event stream resumes (Last-Event-ID) with one
-- range of this index. Every SQLite index entry ends with the rowid, which is seq, so this is
-- the (key, seq) index without storing seq twice.
CREATE INDEX outbox_key ON outbox (key);
