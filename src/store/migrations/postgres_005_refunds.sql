-- Schema version 5 (part): refunds, operator reversals and disputes. The same tables and
-- meaning as sqlite_005_refunds.sql (read its comments): a refunds row succeeded exactly when a
-- transfer with its id exists; at most one open dispute per payment.
CREATE TABLE refunds (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    payment_id bytea NOT NULL CHECK (length(payment_id) = 16),
    kind integer NOT NULL CHECK (kind BETWEEN 1 AND 2),
    actor_id bytea CHECK (length(actor_id) = 16),
    amount bigint NOT NULL CHECK (amount > 0),
    from_wallet bigint NOT NULL CHECK (from_wallet >= 0),
    shortfall bigint NOT NULL CHECK (shortfall >= 0),
    currency integer NOT NULL CHECK (currency BETWEEN 1 AND 999),
    reason text NOT NULL,
    dispute_id bytea CHECK (length(dispute_id) = 16),
    created_ns bigint NOT NULL CHECK (created_ns > 0)
);
CREATE INDEX refunds_payment ON refunds (payment_id, id);

CREATE TABLE disputes (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    payment_id bytea NOT NULL CHECK (length(payment_id) = 16),
    payer_id bytea NOT NULL CHECK (length(payer_id) = 16),
    payee_id bytea NOT NULL CHECK (length(payee_id) = 16),
    status integer NOT NULL CHECK (status BETWEEN 1 AND 3),
    reason text NOT NULL,
    note text NOT NULL,
    reversal_id bytea CHECK (length(reversal_id) = 16),
    created_ns bigint NOT NULL CHECK (created_ns > 0),
    resolved_ns bigint NOT NULL CHECK (resolved_ns >= 0)
);
CREATE UNIQUE INDEX disputes_open ON disputes (payment_id) WHERE status = 1;
CREATE INDEX disputes_payment ON disputes (payment_id, id);
CREATE INDEX disputes_status ON disputes (status, id);
