-- Schema version 4 (part): idempotency claims, so that one Idempotency-Key executes once even
-- when its duplicates reach different tallyd nodes (api/idempotency.c).
--
-- A claim says "a request with this fingerprint is running under this key". The node that
-- inserts it runs the handler; another request for the key finds the claim and answers 409
-- idempotency_key_in_progress (or idempotency_key_reused for another fingerprint). owner is a
-- random 16-byte token naming one claim: only its holder releases it, and the batch that
-- commits the answer with the money deletes it by owner in the same transaction, so a request
-- whose claim expired and was taken over by another node cannot commit its money (the batch
-- fails instead). expires_ns bounds how long a crashed node blocks the key; an expired claim
-- is taken over by the next request and deleted by the pruner.
CREATE TABLE idempotency_claims (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    owner BLOB NOT NULL,
    expires_ns INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
CREATE INDEX idempotency_claims_expires ON idempotency_claims (expires_ns);
