-- Schema version 4, identity part: the second factor (TOTP), login challenges, what a session
-- shows its owner, and the audit log. Same conventions as before: 16-byte BLOB ids, nanosecond
-- times, STRICT tables. No secret is stored in the clear: TOTP secrets are sealed by the API
-- with a key derived from the server secret; recovery codes and challenges are keyed hashes.

-- The client's User-Agent at login (printable ASCII, at most 128 bytes; '' when none), shown
-- in the owner's session list.
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- One TOTP secret per user: pending (active 0) from enrolment until a code confirms it, then
-- active (1). last_step is the newest 30 s step whose code was accepted: a code is accepted
-- only for a later step, so none is accepted twice.
CREATE TABLE mfa_totp (
    user_id BLOB PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    last_step INTEGER NOT NULL CHECK (last_step >= 0),
    created_ns INTEGER NOT NULL
) STRICT;

-- Recovery codes by keyed hash; used_ns is 0 until the code is used (once).
CREATE TABLE mfa_recovery_codes (
    user_id BLOB NOT NULL,
    code_hash BLOB NOT NULL,
    used_ns INTEGER NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- Logins waiting for their second factor, by keyed hash of the challenge; single use, short
-- lived. Expired rows are deleted when new ones are made.
CREATE TABLE mfa_challenges (
    challenge_hash BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL,
    created_ns INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL,
    used INTEGER NOT NULL CHECK (used IN (0, 1))
) STRICT;
CREATE INDEX mfa_challenges_expires ON mfa_challenges (expires_ns);

-- Security events of a user, append-only: the triggers refuse every UPDATE and DELETE. id is a
-- UUIDv7 (the order and the listing cursor). subject is a reference (a session id), never a
-- secret; request_id and ip say where it came from.
CREATE TABLE audit_log (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL,
    created_ns INTEGER NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    request_id TEXT NOT NULL,
    ip TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_user ON audit_log (user_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
