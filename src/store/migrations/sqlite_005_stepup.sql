-- Schema version 5, step-up part (issue #5 "Strong identity"): step-up challenges for risky
-- actions, device keys (Ed25519 public keys of a user's wallets), the signatures they made
-- (kept until past the freshness window, so none is accepted twice) and, on each payment, the
-- device signature that authorised it. Same conventions as before: 16-byte BLOB ids,
-- nanosecond times, STRICT tables. No secret is stored: a device key row holds a public key,
-- a challenge binding is a keyed hash.

-- One step-up challenge (src/api/stepup.h). binding is keyed BLAKE2b-256 of the request that
-- hit a rule (method, path, body, Idempotency-Key); webauthn_hash is SHA-256 of the WebAuthn
-- challenge offered for a passkey (32 zero bytes when none was). completed_ns > 0 once a second
-- factor answered it (method 1 TOTP, 2 passkey); used_ns > 0 once the original request was let
-- through with it. Rows are deleted a day after they expire.
CREATE TABLE stepup_challenges (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id BLOB NOT NULL CHECK (length(user_id) = 16),
    session_id BLOB NOT NULL CHECK (length(session_id) = 16),
    binding BLOB NOT NULL CHECK (length(binding) = 32),
    webauthn_hash BLOB NOT NULL CHECK (length(webauthn_hash) = 32),
    rules INTEGER NOT NULL CHECK (rules > 0),
    created_ns INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL,
    completed_ns INTEGER NOT NULL CHECK (completed_ns >= 0),
    method INTEGER NOT NULL CHECK (method IN (0, 1, 2)),
    used_ns INTEGER NOT NULL CHECK (used_ns >= 0)
) STRICT;
CREATE INDEX stepup_challenges_binding ON stepup_challenges (user_id, binding);
CREATE INDEX stepup_challenges_session ON stepup_challenges (session_id);
CREATE INDEX stepup_challenges_expires ON stepup_challenges (expires_ns);

-- A device key: an Ed25519 public key (32 bytes) a user registered. A revoked key keeps its row
-- (revoked_ns > 0) so old payments still name it, and never signs again. A public key is
-- registered once across all users.
CREATE TABLE device_keys (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id BLOB NOT NULL CHECK (length(user_id) = 16),
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    name TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    revoked_ns INTEGER NOT NULL CHECK (revoked_ns >= 0)
) STRICT;
CREATE UNIQUE INDEX device_keys_public ON device_keys (public_key);
CREATE INDEX device_keys_user ON device_keys (user_id, created_ns);

-- Signatures accepted on money requests, by SHA-256 of the signature bytes, until expires_ns
-- (the end of their freshness window); a second request with one of them is a replay.
CREATE TABLE device_signatures (
    signature_hash BLOB PRIMARY KEY NOT NULL CHECK (length(signature_hash) = 32),
    key_id BLOB NOT NULL CHECK (length(key_id) = 16),
    expires_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX device_signatures_expires ON device_signatures (expires_ns);

-- The device signature a payment was made with (all NULL for an unsigned payment): the key,
-- the signed timestamp (Unix seconds), the 64-byte Ed25519 signature and SHA-256 of the body.
-- Written in the same batch as the payment.
ALTER TABLE payments ADD COLUMN device_key_id BLOB;
ALTER TABLE payments ADD COLUMN device_timestamp INTEGER;
ALTER TABLE payments ADD COLUMN device_signature BLOB;
ALTER TABLE payments ADD COLUMN device_body_hash BLOB;

-- "Has this user paid that user before?" (the new-recipient rule) in one index probe.
CREATE INDEX payments_pair ON payments (from_user, to_user);
