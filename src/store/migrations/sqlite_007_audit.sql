-- Schema version 7, audit part: a user's audit entries as a chain instead of two indexes.
--
-- Every entry links to the previous entry of each of its parties (either role): user_prev is
-- the seq of the newest older entry naming user_id as user or counterparty, counterparty_prev
-- the same for counterparty_id (0 = none, and 0 without a counterparty). A user's entries are
-- the newest one (its "head") followed back through the links, so an append writes no random
-- index leaf: audit_log_user and audit_log_counterparty, two random 4 KiB leaves per payment,
-- are gone. The links are index data derived from the rows, outside the hash chain (its
-- encoding never includes them); they are set at insert and never change.
--
-- The heads are kept in memory by the writing process (src/store/sqlite_audit_heads.c) and
-- written lazily to audit_heads, in slices in key order, with store_meta.audit_replay_after
-- kept in the same transaction: every audit_heads row reflects every entry with a seq at or
-- below it; the entries after it carry the newer heads (a writer replays them at open, a
-- reader in another process reads them beside the row).
CREATE TABLE audit_log_v7 (
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
    hash BLOB CHECK (hash IS NULL OR length(hash) = 32),
    user_prev INTEGER NOT NULL CHECK (user_prev >= 0 AND user_prev < seq),
    counterparty_prev INTEGER NOT NULL CHECK (counterparty_prev >= 0 AND counterparty_prev < seq
        AND (counterparty_id IS NOT NULL OR counterparty_prev = 0))
) STRICT;

-- Each party of each entry, with the party's entry before it (an entry whose counterparty is
-- its user counts once, like the listing's union did).
CREATE TEMP TABLE audit_links_v7 (
    party BLOB NOT NULL,
    seq INTEGER NOT NULL,
    prev INTEGER NOT NULL,
    PRIMARY KEY (seq, party)
) WITHOUT ROWID;
WITH sides (seq, party) AS (
    SELECT seq, user_id FROM audit_log
    UNION
    SELECT seq, counterparty_id FROM audit_log WHERE counterparty_id IS NOT NULL
)
INSERT INTO audit_links_v7 (party, seq, prev)
    SELECT party, seq, coalesce(lag(seq) OVER (PARTITION BY party ORDER BY seq), 0) FROM sides;

INSERT INTO audit_log_v7 (seq, created_ns, user_id, kind, subject, counterparty_id, amount,
                          currency, request_id, ip, prev_hash, hash, user_prev, counterparty_prev)
    SELECT a.seq, a.created_ns, a.user_id, a.kind, a.subject, a.counterparty_id, a.amount,
           a.currency, a.request_id, a.ip, a.prev_hash, a.hash, u.prev, coalesce(c.prev, 0)
    FROM audit_log a
    JOIN audit_links_v7 u ON u.seq = a.seq AND u.party = a.user_id
    LEFT JOIN audit_links_v7 c ON c.seq = a.seq AND c.party = a.counterparty_id
    ORDER BY a.seq;

-- Dropping a table drops its indexes (audit_log_user, audit_log_counterparty) and triggers.
DROP TABLE audit_log;
ALTER TABLE audit_log_v7 RENAME TO audit_log;

-- An unsealed (copied version 4) entry may still gain its hashes; nothing else ever changes.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    WHEN OLD.hash IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.created_ns IS NOT OLD.created_ns
        OR NEW.user_id IS NOT OLD.user_id OR NEW.kind IS NOT OLD.kind
        OR NEW.subject IS NOT OLD.subject OR NEW.counterparty_id IS NOT OLD.counterparty_id
        OR NEW.amount IS NOT OLD.amount OR NEW.currency IS NOT OLD.currency
        OR NEW.request_id IS NOT OLD.request_id OR NEW.ip IS NOT OLD.ip
        OR NEW.user_prev IS NOT OLD.user_prev
        OR NEW.counterparty_prev IS NOT OLD.counterparty_prev
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The newest entry of each party, as of store_meta.audit_replay_after.
CREATE TABLE audit_heads (
    user_id BLOB PRIMARY KEY NOT NULL CHECK (length(user_id) = 16),
    seq INTEGER NOT NULL CHECK (seq > 0)
) STRICT, WITHOUT ROWID;
INSERT INTO audit_heads (user_id, seq)
    SELECT party, max(seq) FROM audit_links_v7 GROUP BY party ORDER BY party;
INSERT INTO store_meta (name, value)
    VALUES ('audit_replay_after', coalesce((SELECT max(seq) FROM audit_log), 0));
DROP TABLE audit_links_v7;
