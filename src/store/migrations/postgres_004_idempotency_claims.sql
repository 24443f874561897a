-- Schema version 4 (part): idempotency claims, so that one Idempotency-Key executes once even
-- when its duplicates reach different tallyd nodes (api/idempotency.c). The same table and
-- meaning as sqlite_004_idempotency_claims.sql.
--
-- A claim says "a request with this fingerprint is running under this key". The node whose
-- insert wins runs the handler; another request for the key finds the claim and answers 409
-- idempotency_key_in_progress (or idempotency_key_reused for another fingerprint). owner is a
-- random 16-byte token naming one claim: only its holder releases it, and the batch that
-- commits the answer with the money deletes it by owner in the same transaction, so a request
-- whose claim expired and was taken over by another node cannot commit its money (the batch
-- fails instead). expires_ns bounds how long a crashed node blocks the key; an expired claim
-- is taken over by the next request and deleted by the pruner.
--
-- UNLOGGED: a claim lives for one request, so it is not worth a WAL flush per keyed request.
-- After a crash of the database the table is empty, which is safe: every request that held a
-- claim lost its connection with the crash, and its batch, if any, with it (and a committed
-- answer is in idempotency, which is logged). A promoted replica starts with no claims for
-- the same reason.
CREATE UNLOGGED TABLE idempotency_claims (
    scope text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
    owner bytea NOT NULL CHECK (length(owner) = 16),
    expires_ns bigint NOT NULL,
    CONSTRAINT idempotency_claims_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_claims_expires ON idempotency_claims (expires_ns);
