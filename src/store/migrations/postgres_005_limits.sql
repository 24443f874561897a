-- Schema version 5, limits part: the same table as sqlite_005_limits.sql, in PostgreSQL types.
-- A user without a row is unverified (tier 0). Send and receive windows are sums over the
-- payments rows, which commit with their money.
CREATE TABLE user_tiers (
    user_id bytea PRIMARY KEY CHECK (length(user_id) = 16),
    tier integer NOT NULL CHECK (tier BETWEEN 0 AND 2),
    updated_ns bigint NOT NULL CHECK (updated_ns > 0)
);
