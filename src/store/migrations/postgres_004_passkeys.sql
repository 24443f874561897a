-- Schema version 4, passkeys part: the same tables and columns as sqlite_004_passkeys.sql, in
-- PostgreSQL types. No secret is stored: a passkey row holds a public key, and a challenge is
-- kept only as its SHA-256.

CREATE TABLE passkeys (
    id bytea NOT NULL CHECK (length(id) = 16),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    credential_id bytea NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 1023),
    algorithm integer NOT NULL CHECK (algorithm IN (-7, -8)),
    public_key bytea NOT NULL CHECK (length(public_key) IN (32, 65)),
    sign_count bigint NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    aaguid bytea NOT NULL CHECK (length(aaguid) = 16),
    name text NOT NULL,
    created_ns bigint NOT NULL,
    last_used_ns bigint NOT NULL CHECK (last_used_ns >= 0),
    revoked_ns bigint NOT NULL CHECK (revoked_ns >= 0),
    CONSTRAINT passkeys_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX passkeys_credential ON passkeys (credential_id);
CREATE INDEX passkeys_user ON passkeys (user_id, created_ns);

CREATE TABLE webauthn_challenges (
    challenge_hash bytea NOT NULL CHECK (length(challenge_hash) = 32),
    kind integer NOT NULL CHECK (kind IN (1, 2)),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    created_ns bigint NOT NULL,
    expires_ns bigint NOT NULL,
    CONSTRAINT webauthn_challenges_pkey PRIMARY KEY (challenge_hash)
);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_ns);
