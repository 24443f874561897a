-- Schema version 2: application rows (users, wallets, sessions, payments, idempotency). The
-- same tables and columns as sqlite_002_app.sql, in PostgreSQL types.
--
-- The conventions of version 1 hold: ids are 16-byte bytea, times are bigint nanoseconds,
-- money is bigint minor units. PII (email, phone, display name) lives only in users, never in
-- ledger rows. Users, wallets and sessions are written directly by API handles; payments and
-- idempotency rows that describe a money movement commit with the writer's batch. Constraint
-- names are spelled out: the backend maps a unique violation to the field by its name.

-- handle and email are stored lower case (ASCII; the store lowers them on insert and lookup);
-- phone is E.164 or NULL when the user gave none, so any number of users may have no phone.
-- password_hash is the Argon2id encoded string.
CREATE TABLE users (
    id bytea NOT NULL CHECK (length(id) = 16),
    handle text NOT NULL,
    email text NOT NULL,
    phone text,
    display_name text NOT NULL,
    password_hash text NOT NULL,
    created_ns bigint NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_handle_key UNIQUE (handle),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_phone_key UNIQUE (phone)
);

-- The user-facing face of a ledger wallet account: id is the ledger account's id. One wallet
-- per user and currency; the unique index also serves listing and deleting a user's wallets.
CREATE TABLE wallets (
    id bytea NOT NULL CHECK (length(id) = 16),
    user_id bytea NOT NULL,
    currency integer NOT NULL CHECK (currency BETWEEN 1 AND 65535),
    created_ns bigint NOT NULL,
    CONSTRAINT wallets_pkey PRIMARY KEY (id),
    CONSTRAINT wallets_user_currency_key UNIQUE (user_id, currency)
);

-- Sessions by the keyed hash of their token (the token itself is never stored). revoked is 0
-- or 1.
CREATE TABLE sessions (
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    id bytea NOT NULL,
    user_id bytea NOT NULL,
    created_ns bigint NOT NULL,
    expires_ns bigint NOT NULL,
    revoked integer NOT NULL CHECK (revoked IN (0, 1)),
    CONSTRAINT sessions_pkey PRIMARY KEY (token_hash)
);
CREATE INDEX sessions_user ON sessions (user_id);

-- What a user asked for; its money is the ledger transfer(s) with user_ref = id. created_ns is
-- the ledger timestamp of the main transfer: unique, the key and the listing cursor; id is
-- unique too. status is enum store_payment_status. to_text is what the sender typed as
-- recipient; note is '' when none.
CREATE TABLE payments (
    created_ns bigint NOT NULL,
    id bytea NOT NULL CHECK (length(id) = 16),
    from_user bytea NOT NULL,
    to_user bytea NOT NULL,
    from_wallet bytea NOT NULL,
    to_wallet bytea NOT NULL,
    amount bigint NOT NULL,
    fee bigint NOT NULL,
    currency integer NOT NULL CHECK (currency BETWEEN 1 AND 65535),
    status integer NOT NULL,
    sender_available_after bigint NOT NULL,
    recipient_available_after bigint NOT NULL,
    to_text text NOT NULL,
    note text NOT NULL,
    CONSTRAINT payments_pkey PRIMARY KEY (created_ns),
    CONSTRAINT payments_id_key UNIQUE (id)
);

-- A user's payments by time, walked from a cursor in either direction.
CREATE INDEX payments_sent ON payments (from_user, created_ns);
CREATE INDEX payments_received ON payments (to_user, created_ns);

-- The response an idempotency key produced, per caller (scope), replayed for retries. The
-- first row for a key wins. Old rows are pruned by created_ns.
CREATE TABLE idempotency (
    scope text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
    status integer NOT NULL CHECK (status BETWEEN 0 AND 65535),
    created_ns bigint NOT NULL,
    body bytea NOT NULL,
    CONSTRAINT idempotency_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_ns);
