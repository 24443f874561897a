-- Schema version 4, identity part: the same tables and columns as sqlite_004_identity.sql, in
-- PostgreSQL types. No secret is stored in the clear: TOTP secrets are sealed by the API with a
-- key derived from the server secret; recovery codes and challenges are keyed hashes.

ALTER TABLE sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';

CREATE TABLE mfa_totp (
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    sealed bytea NOT NULL,
    active integer NOT NULL CHECK (active IN (0, 1)),
    last_step bigint NOT NULL CHECK (last_step >= 0),
    created_ns bigint NOT NULL,
    CONSTRAINT mfa_totp_pkey PRIMARY KEY (user_id)
);

CREATE TABLE mfa_recovery_codes (
    user_id bytea NOT NULL,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    used_ns bigint NOT NULL,
    CONSTRAINT mfa_recovery_codes_pkey PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    challenge_hash bytea NOT NULL CHECK (length(challenge_hash) = 32),
    user_id bytea NOT NULL,
    created_ns bigint NOT NULL,
    expires_ns bigint NOT NULL,
    used integer NOT NULL CHECK (used IN (0, 1)),
    CONSTRAINT mfa_challenges_pkey PRIMARY KEY (challenge_hash)
);
CREATE INDEX mfa_challenges_expires ON mfa_challenges (expires_ns);

-- Append-only: a statement trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    id bytea NOT NULL CHECK (length(id) = 16),
    user_id bytea NOT NULL,
    created_ns bigint NOT NULL,
    action text NOT NULL,
    subject text NOT NULL,
    request_id text NOT NULL,
    ip text NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
