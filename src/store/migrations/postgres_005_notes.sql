-- Schema version 5, notes part: the same tables and columns as sqlite_005_notes.sql, in
-- PostgreSQL types. Public keys and sealed boxes only: nothing here opens a note.

CREATE TABLE encryption_keys (
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    created_ns bigint NOT NULL,
    updated_ns bigint NOT NULL,
    CONSTRAINT encryption_keys_pkey PRIMARY KEY (user_id)
);

CREATE TABLE payment_notes (
    payment_id bytea NOT NULL CHECK (length(payment_id) = 16),
    recipient_box bytea NOT NULL CHECK (length(recipient_box) BETWEEN 49 AND 1168),
    sender_box bytea NOT NULL CHECK (length(sender_box) BETWEEN 49 AND 1168),
    CONSTRAINT payment_notes_pkey PRIMARY KEY (payment_id)
);

ALTER TABLE sessions ADD COLUMN last_seen_ns bigint NOT NULL DEFAULT 0;
