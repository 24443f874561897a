-- Schema version 4, passkeys part (WebAuthn Level 2, src/auth/webauthn.h): the credentials
-- users registered and the challenges of ceremonies in progress. Same conventions as before:
-- 16-byte BLOB ids, nanosecond times, STRICT tables. No secret is stored: a passkey row holds
-- a public key, and a challenge is kept only as its SHA-256.

-- One registered credential. credential_id is the authenticator's id (unique across users);
-- public_key is 0x04 || x || y of a P-256 point (algorithm -7, ES256) or an Ed25519 key
-- (algorithm -8, EdDSA); sign_count is the newest counter an assertion presented. A revoked
-- passkey keeps its row (revoked_ns > 0) and never signs anyone in again.
CREATE TABLE passkeys (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id BLOB NOT NULL CHECK (length(user_id) = 16),
    credential_id BLOB NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 1023),
    algorithm INTEGER NOT NULL CHECK (algorithm IN (-7, -8)),
    public_key BLOB NOT NULL CHECK (length(public_key) IN (32, 65)),
    sign_count INTEGER NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    aaguid BLOB NOT NULL CHECK (length(aaguid) = 16),
    name TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    last_used_ns INTEGER NOT NULL CHECK (last_used_ns >= 0),
    revoked_ns INTEGER NOT NULL CHECK (revoked_ns >= 0)
) STRICT;
CREATE UNIQUE INDEX passkeys_credential ON passkeys (credential_id);
CREATE INDEX passkeys_user ON passkeys (user_id, created_ns);

-- Challenges issued by POST /v1/me/passkeys/options (kind 1, bound to the user) and
-- POST /v1/sessions/passkey/options (kind 2; user_id is 16 zero bytes when no login was named).
-- Using one deletes it; expired rows are deleted when new ones are made.
CREATE TABLE webauthn_challenges (
    challenge_hash BLOB PRIMARY KEY NOT NULL CHECK (length(challenge_hash) = 32),
    kind INTEGER NOT NULL CHECK (kind IN (1, 2)),
    user_id BLOB NOT NULL CHECK (length(user_id) = 16),
    created_ns INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_ns);
