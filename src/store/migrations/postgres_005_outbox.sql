-- Schema version 5 (part): the outbox is append-only again.
--
-- The outbox_key index of version 4 made every event an insert at a random place of a B-tree
-- (events are keyed by user), which cost more than the event row itself on the hot path of
-- POST /v1/payments (docs/performance.md). A stream resuming with Last-Event-ID now reads a
-- bounded range of seq and filters by key (store_outbox_list_key, api/events.c).
DROP INDEX outbox_key;
