-- Schema version 2: application rows (users, wallets, sessions, payments, idempotency).
--
-- The conventions of version 1 hold: ids are 16-byte big-endian BLOBs, times are nanoseconds,
-- money is int64 minor units, and tables are STRICT. PII (email, phone, display name) lives
-- only in users, never in ledger rows. These rows are not money: users, wallets and sessions
-- are written directly by API handles; payments and idempotency rows that describe a money
-- movement commit with the writer's batch.

-- handle and email are stored lower case (the store lowers them on insert and lookup); phone is
-- E.164 or NULL when the user gave none, so any number of users may have no phone.
-- password_hash is the Argon2id encoded string.
CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    handle TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    phone TEXT UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ns INTEGER NOT NULL
) STRICT;

-- The user-facing face of a ledger wallet account: id is the ledger account's id. One wallet
-- per user and currency; the unique index also serves listing and deleting a user's wallets.
CREATE TABLE wallets (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL,
    currency INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    UNIQUE (user_id, currency)
) STRICT;

-- Sessions by the keyed hash of their token (the token itself is never stored). revoked is 0
-- or 1.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY NOT NULL,
    id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    created_ns INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL,
    revoked INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);

-- What a user asked for; its money is the ledger transfer(s) with user_ref = id. created_ns
-- is the ledger timestamp of the main transfer: unique, so it is the rowid (inserts append at
-- the right edge) and the listing cursor; id is unique too. status is enum
-- store_payment_status. to_text is what the sender typed as recipient; note is '' when none.
CREATE TABLE payments (
    created_ns INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    from_user BLOB NOT NULL,
    to_user BLOB NOT NULL,
    from_wallet BLOB NOT NULL,
    to_wallet BLOB NOT NULL,
    amount INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    status INTEGER NOT NULL,
    sender_available_after INTEGER NOT NULL,
    recipient_available_after INTEGER NOT NULL,
    to_text TEXT NOT NULL,
    note TEXT NOT NULL
) STRICT;

-- A user's payments by time: every SQLite index entry ends with the rowid (created_ns), so
-- these are the (from_user, created_ns) and (to_user, created_ns) indexes without storing the
-- time twice.
CREATE INDEX payments_sent ON payments (from_user);
CREATE INDEX payments_received ON payments (to_user);

-- The response an idempotency key produced, per caller (scope), replayed for retries. The
-- first row for a key wins. Old rows are pruned by created_ns.
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
CREATE INDEX idempotency_created ON idempotency (created_ns);
