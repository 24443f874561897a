-- Schema version 5, audit part: the audit log becomes a hash chain (api/audit.h,
-- store/audit_chain.h) and gains the money events, and signed checkpoints of its head.
--
-- Every entry has a global, gap-free seq (1, 2, ...: the rowid, so appends go to the right
-- edge of the B-tree), prev_hash (the hash of entry seq - 1; 32 zero bytes for seq 1) and hash,
-- the SHA-256 of the entry's canonical encoding (docs/api.md). The chain holds ids, never PII:
-- user_id and counterparty_id are user ids, subject is a reference ("pay_...", "sess_...").
-- ip is kept beside the chain, not in it (it is personal data). One row per event: a payment
-- is one row with the payer as user_id and the payee as counterparty_id, and each of them
-- lists it (index audit_log_counterparty).
--
-- The version 4 rows are copied in id order with seq 1..n and no hashes; the first writable
-- open seals them (store/audit_chain.c), in seq order, before anything else is appended. An
-- unsealed row may only gain its hashes: the triggers refuse any change to a sealed row or to
-- anything but the hashes, and every DELETE. The sealer seals only rows below every sealed one
-- (so an unsealed row inserted later is never sealed: the verifier reports it).
CREATE TABLE audit_log_v5 (
    seq INTEGER PRIMARY KEY NOT NULL CHECK (seq > 0),
    created_ns INTEGER NOT NULL CHECK (created_ns > 0),
    user_id BLOB NOT NULL CHECK (length(user_id) = 16),
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 39),
    subject TEXT NOT NULL,
    counterparty_id BLOB CHECK (counterparty_id IS NULL OR length(counterparty_id) = 16),
    amount INTEGER NOT NULL,
    currency INTEGER NOT NULL CHECK (currency BETWEEN 0 AND 65535),
    request_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    prev_hash BLOB CHECK (prev_hash IS NULL OR length(prev_hash) = 32),
    hash BLOB CHECK (hash IS NULL OR length(hash) = 32)
) STRICT;
INSERT INTO audit_log_v5 (seq, created_ns, user_id, kind, subject, counterparty_id, amount,
                          currency, request_id, ip, prev_hash, hash)
    SELECT row_number() OVER (ORDER BY id), created_ns, user_id, action, subject, NULL, 0, 0,
           request_id, ip, NULL, NULL
    FROM audit_log;
-- Dropping a table drops its index and triggers; DROP fires no DELETE trigger.
DROP TABLE audit_log;
ALTER TABLE audit_log_v5 RENAME TO audit_log;
-- A user's entries: every index entry ends with the rowid (seq), so this is (user_id, seq).
CREATE INDEX audit_log_user ON audit_log (user_id);
CREATE INDEX audit_log_counterparty ON audit_log (counterparty_id)
    WHERE counterparty_id IS NOT NULL;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    WHEN OLD.hash IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.created_ns IS NOT OLD.created_ns
        OR NEW.user_id IS NOT OLD.user_id OR NEW.kind IS NOT OLD.kind
        OR NEW.subject IS NOT OLD.subject OR NEW.counterparty_id IS NOT OLD.counterparty_id
        OR NEW.amount IS NOT OLD.amount OR NEW.currency IS NOT OLD.currency
        OR NEW.request_id IS NOT OLD.request_id OR NEW.ip IS NOT OLD.ip
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Signed checkpoints of the chain's head: mac is HMAC-SHA-256, keyed with a key derived from
-- the server secret, over (seq, hash, created_ns) (docs/api.md). A database writer without the
-- secret cannot make one, so rewriting the chain before a checkpoint, or cutting it below
-- one, is detected. Append-only like the log.
CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY NOT NULL CHECK (seq > 0),
    created_ns INTEGER NOT NULL CHECK (created_ns > 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    mac BLOB NOT NULL CHECK (length(mac) = 32)
) STRICT;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
