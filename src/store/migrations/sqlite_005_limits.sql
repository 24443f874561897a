-- Schema version 5, limits part (src/core/limits.h, src/api/kyc.h): each user's verification
-- tier. A user without a row is unverified (tier 0); an operator's change upserts the row.
-- The windows of the send and receive limits are not stored apart: they are sums over the
-- payments rows (indexes payments_sent and payments_received), which commit in the same batch
-- as their money, so a window can never disagree with the ledger.
CREATE TABLE user_tiers (
    user_id BLOB PRIMARY KEY NOT NULL CHECK (length(user_id) = 16),
    tier INTEGER NOT NULL CHECK (tier BETWEEN 0 AND 2),
    updated_ns INTEGER NOT NULL CHECK (updated_ns > 0)
) STRICT, WITHOUT ROWID;
