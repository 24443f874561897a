-- Schema version 5, notes part: end-to-end encrypted payment notes and when a session was
-- last seen. The server never holds a key that opens a note: encryption_keys holds public
-- keys only, and payment_notes holds sealed boxes (libsodium crypto_box_seal) that only the
-- holders of the matching secret keys, the users' devices, can open.

-- One X25519 public key per user (32 raw bytes), replaced by a newer one.
CREATE TABLE encryption_keys (
    user_id BLOB PRIMARY KEY NOT NULL CHECK (length(user_id) = 16),
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL
) STRICT;

-- The sealed note of a payment: one copy sealed to the recipient's key and one to the
-- sender's (48 bytes of overhead and 1..1120 bytes of UTF-8 each). Inserted in the writer's
-- batch with the payment row, so a payment and its note commit together.
CREATE TABLE payment_notes (
    payment_id BLOB PRIMARY KEY NOT NULL CHECK (length(payment_id) = 16),
    recipient_box BLOB NOT NULL CHECK (length(recipient_box) BETWEEN 49 AND 1168),
    sender_box BLOB NOT NULL CHECK (length(sender_box) BETWEEN 49 AND 1168)
) STRICT;

-- When a session last authenticated a request, to the minute (0: not since it was made).
-- Written at most once a minute per session and node (see api/authn.c).
ALTER TABLE sessions ADD COLUMN last_seen_ns INTEGER NOT NULL DEFAULT 0;
