-- Schema version 5 (part): refunds, operator reversals and disputes (api/refunds.c,
-- api/reversals.c, api/disputes.c).
--
-- Same conventions as before: 16-byte BLOB ids, nanosecond times, int64 minor units, STRICT.
-- The money of a refund or reversal is in the ledger; a row here carries what the ledger does
-- not (who, why, which dispute). A row is written before its money moves and names the id of
-- the transfer that will move it (id): it succeeded exactly when a transfer with that id
-- exists (a JOIN with transfers), so the row can never disagree with the money, and a row whose
-- money never moved (refused, crashed) is simply not shown.

-- kind 1 is a refund by the payee (amount = the refund), kind 2 an operator reversal (amount =
-- what was taken back in all; from_wallet of it came out of the payee's wallet, the rest,
-- shortfall, became the payee's debt). The amounts are those of the last attempt, which is the
-- one that succeeded when the transfer exists; the ledger's amount is what reads return.
CREATE TABLE refunds (
    id BLOB PRIMARY KEY NOT NULL,
    payment_id BLOB NOT NULL,
    kind INTEGER NOT NULL,
    actor_id BLOB,
    amount INTEGER NOT NULL,
    from_wallet INTEGER NOT NULL,
    shortfall INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dispute_id BLOB,
    created_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX refunds_payment ON refunds (payment_id, id);

-- A payer's dispute of a payment. status 1 open, 2 resolved for the payer (the payment was
-- reversed: reversal_id), 3 resolved for the payee (kept). At most one open dispute per payment
-- (the partial unique index), whatever the number of nodes.
CREATE TABLE disputes (
    id BLOB PRIMARY KEY NOT NULL,
    payment_id BLOB NOT NULL,
    payer_id BLOB NOT NULL,
    payee_id BLOB NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    reversal_id BLOB,
    created_ns INTEGER NOT NULL,
    resolved_ns INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX disputes_open ON disputes (payment_id) WHERE status = 1;
CREATE INDEX disputes_payment ON disputes (payment_id, id);
CREATE INDEX disputes_status ON disputes (status, id);
