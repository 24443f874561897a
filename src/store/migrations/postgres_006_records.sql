-- Schema version 6 (part): conversion rows (api/conversions.c, store/records.h).
--
-- The same table as sqlite_006_records.sql (see there for what each column means): bytea ids,
-- bigint times and money, integer currencies, CHECKs on every range. Inserted only by the
-- writer's batch, with the conversion's money.
CREATE TABLE conversions (
    created_ns bigint PRIMARY KEY CHECK (created_ns > 0),
    id bytea NOT NULL UNIQUE CHECK (length(id) = 16),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    from_wallet bytea NOT NULL CHECK (length(from_wallet) = 16),
    to_wallet bytea NOT NULL CHECK (length(to_wallet) = 16),
    quote_id bytea CHECK (length(quote_id) = 16),
    from_currency integer NOT NULL CHECK (from_currency BETWEEN 1 AND 999),
    to_currency integer NOT NULL CHECK (to_currency BETWEEN 1 AND 999),
    principal bigint NOT NULL CHECK (principal > 0),
    fee bigint NOT NULL CHECK (fee >= 0),
    received bigint NOT NULL CHECK (received > 0),
    rate_num bigint NOT NULL CHECK (rate_num > 0),
    rate_den bigint NOT NULL CHECK (rate_den > 0),
    from_balance_after bigint NOT NULL,
    to_balance_after bigint NOT NULL,
    CHECK (from_currency <> to_currency)
);
CREATE INDEX conversions_user ON conversions (user_id, created_ns);
