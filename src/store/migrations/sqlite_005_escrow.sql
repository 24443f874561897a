-- Schema version 5 (part): escrows (api/escrow.c).
--
-- An escrow is a ledger hold: the pending transfer payer wallet -> payee wallet whose id is the
-- escrow's id. Like quotes and payment requests, the row carries no status that a write sets:
-- whether it is held, released, canceled or expired is read from the ledger (the hold's
-- pending_status, and the transfer with settle_id: a post is a release, a void a cancel), so it
-- can never disagree with the money. settle_id is reserved at creation for the one post or void
-- that may ever resolve the hold; the ledger refuses a second transfer with that id, so a
-- release racing a cancel (on one node or many) resolves once.
--
-- release_mode: 1 payer (the payer releases), 2 both (released when both parties approved),
-- 3 at (tallyd releases at release_at_ns). The approvals are the only columns written after
-- the insert (0 until that party approved). expires_ns is when the hold's timeout ends.
CREATE TABLE escrows (
    id BLOB PRIMARY KEY NOT NULL,
    payer_id BLOB NOT NULL,
    payee_id BLOB NOT NULL,
    payer_wallet BLOB NOT NULL,
    payee_wallet BLOB NOT NULL,
    amount INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    release_mode INTEGER NOT NULL,
    release_at_ns INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL,
    settle_id BLOB NOT NULL UNIQUE,
    payer_approved_ns INTEGER NOT NULL,
    payee_approved_ns INTEGER NOT NULL,
    to_text TEXT NOT NULL,
    note TEXT NOT NULL,
    created_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX escrows_payer ON escrows (payer_id, id);
CREATE INDEX escrows_payee ON escrows (payee_id, id);
-- What the scheduler looks at: timed releases by time, and escrows both parties approved.
CREATE INDEX escrows_release_at ON escrows (release_at_ns) WHERE release_mode = 3;
CREATE INDEX escrows_approved ON escrows (payee_approved_ns)
    WHERE release_mode = 2 AND payer_approved_ns > 0 AND payee_approved_ns > 0;
