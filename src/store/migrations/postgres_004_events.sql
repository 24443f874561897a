-- Schema version 4 (part): a user's events in the outbox (api/events.c). The same meaning as
-- sqlite_004_events.sql.
--
-- The API's money events (payment.created, deposit.created) are outbox rows whose key is the
-- id of the user the event is for, so a user's event stream resumes (Last-Event-ID) with one
-- range of this index.
CREATE INDEX outbox_key ON outbox (key, seq);
