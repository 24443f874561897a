-- Schema version 5 (part): escrows (api/escrow.c).
--
-- The same table as sqlite_005_escrow.sql (see there for what each column means): bytea ids,
-- bigint times and money, integer for small enums, CHECKs on every range. The state is read
-- from the ledger: the hold (transfer id = escrow id) and the transfer with settle_id.
CREATE TABLE escrows (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    payer_id bytea NOT NULL CHECK (length(payer_id) = 16),
    payee_id bytea NOT NULL CHECK (length(payee_id) = 16),
    payer_wallet bytea NOT NULL CHECK (length(payer_wallet) = 16),
    payee_wallet bytea NOT NULL CHECK (length(payee_wallet) = 16),
    amount bigint NOT NULL CHECK (amount > 0),
    currency integer NOT NULL CHECK (currency BETWEEN 1 AND 999),
    release_mode integer NOT NULL CHECK (release_mode BETWEEN 1 AND 3),
    release_at_ns bigint NOT NULL CHECK (release_at_ns >= 0),
    expires_ns bigint NOT NULL CHECK (expires_ns > 0),
    settle_id bytea NOT NULL UNIQUE CHECK (length(settle_id) = 16),
    payer_approved_ns bigint NOT NULL CHECK (payer_approved_ns >= 0),
    payee_approved_ns bigint NOT NULL CHECK (payee_approved_ns >= 0),
    to_text text NOT NULL,
    note text NOT NULL,
    created_ns bigint NOT NULL CHECK (created_ns > 0)
);
CREATE INDEX escrows_payer ON escrows (payer_id, id);
CREATE INDEX escrows_payee ON escrows (payee_id, id);
CREATE INDEX escrows_release_at ON escrows (release_at_ns) WHERE release_mode = 3;
CREATE INDEX escrows_approved ON escrows (payee_approved_ns)
    WHERE release_mode = 2 AND payer_approved_ns > 0 AND payee_approved_ns > 0;
