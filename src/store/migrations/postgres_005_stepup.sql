-- Schema version 5, step-up part: the same tables and columns as sqlite_005_stepup.sql, in
-- PostgreSQL types. No secret is stored: a device key row holds a public key, a challenge
-- binding is a keyed hash.

CREATE TABLE stepup_challenges (
    id bytea NOT NULL CHECK (length(id) = 16),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    session_id bytea NOT NULL CHECK (length(session_id) = 16),
    binding bytea NOT NULL CHECK (length(binding) = 32),
    webauthn_hash bytea NOT NULL CHECK (length(webauthn_hash) = 32),
    rules integer NOT NULL CHECK (rules > 0),
    created_ns bigint NOT NULL,
    expires_ns bigint NOT NULL,
    completed_ns bigint NOT NULL CHECK (completed_ns >= 0),
    method integer NOT NULL CHECK (method IN (0, 1, 2)),
    used_ns bigint NOT NULL CHECK (used_ns >= 0),
    CONSTRAINT stepup_challenges_pkey PRIMARY KEY (id)
);
CREATE INDEX stepup_challenges_binding ON stepup_challenges (user_id, binding);
CREATE INDEX stepup_challenges_session ON stepup_challenges (session_id);
CREATE INDEX stepup_challenges_expires ON stepup_challenges (expires_ns);

CREATE TABLE device_keys (
    id bytea NOT NULL CHECK (length(id) = 16),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    name text NOT NULL,
    created_ns bigint NOT NULL,
    revoked_ns bigint NOT NULL CHECK (revoked_ns >= 0),
    CONSTRAINT device_keys_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX device_keys_public ON device_keys (public_key);
CREATE INDEX device_keys_user ON device_keys (user_id, created_ns);

CREATE TABLE device_signatures (
    signature_hash bytea NOT NULL CHECK (length(signature_hash) = 32),
    key_id bytea NOT NULL CHECK (length(key_id) = 16),
    expires_ns bigint NOT NULL,
    CONSTRAINT device_signatures_pkey PRIMARY KEY (signature_hash)
);
CREATE INDEX device_signatures_expires ON device_signatures (expires_ns);

ALTER TABLE payments ADD COLUMN device_key_id bytea;
ALTER TABLE payments ADD COLUMN device_timestamp bigint;
ALTER TABLE payments ADD COLUMN device_signature bytea;
ALTER TABLE payments ADD COLUMN device_body_hash bytea;

CREATE INDEX payments_pair ON payments (from_user, to_user);
