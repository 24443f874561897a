-- Schema version 5, audit part: the same tables, columns and meaning as sqlite_005_audit.sql,
-- in PostgreSQL types. seq is assigned by the appender under the batch advisory lock
-- (PG_BATCH_LOCK_KEY), which every batch and every direct append takes, so seqs are gap-free
-- and the chain has one head across nodes.
CREATE TABLE audit_log_v5 (
    seq bigint NOT NULL CHECK (seq > 0),
    created_ns bigint NOT NULL CHECK (created_ns > 0),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 39),
    subject text NOT NULL,
    counterparty_id bytea CHECK (counterparty_id IS NULL OR length(counterparty_id) = 16),
    amount bigint NOT NULL,
    currency integer NOT NULL CHECK (currency BETWEEN 0 AND 65535),
    request_id text NOT NULL,
    ip text NOT NULL,
    prev_hash bytea CHECK (prev_hash IS NULL OR length(prev_hash) = 32),
    hash bytea CHECK (hash IS NULL OR length(hash) = 32),
    CONSTRAINT audit_log_seq_pkey PRIMARY KEY (seq)
);
INSERT INTO audit_log_v5 (seq, created_ns, user_id, kind, subject, counterparty_id, amount,
                          currency, request_id, ip, prev_hash, hash)
    SELECT row_number() OVER (ORDER BY id), created_ns, user_id, action, subject, NULL, 0, 0,
           request_id, ip, NULL, NULL
    FROM audit_log;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
ALTER TABLE audit_log_v5 RENAME TO audit_log;
CREATE INDEX audit_log_user ON audit_log (user_id, seq);
CREATE INDEX audit_log_counterparty ON audit_log (counterparty_id, seq)
    WHERE counterparty_id IS NOT NULL;

-- New rows must be sealed (NOT VALID: checked for every insert and update, not for the copied
-- rows); a sealed row never changes and an unsealed one may only gain its hashes (once, at
-- the first writable open after this migration); no DELETE or TRUNCATE. No trigger runs on
-- an insert, the hot path.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_sealed
    CHECK (hash IS NOT NULL AND prev_hash IS NOT NULL) NOT VALID;
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL
       AND (NEW.seq, NEW.created_ns, NEW.user_id, NEW.kind, NEW.subject, NEW.counterparty_id,
            NEW.amount, NEW.currency, NEW.request_id, NEW.ip)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.created_ns, OLD.user_id, OLD.kind, OLD.subject, OLD.counterparty_id,
            OLD.amount, OLD.currency, OLD.request_id, OLD.ip) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE audit_checkpoints (
    seq bigint NOT NULL CHECK (seq > 0),
    created_ns bigint NOT NULL CHECK (created_ns > 0),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    mac bytea NOT NULL CHECK (length(mac) = 32),
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (seq)
);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
