-- Schema version 6, limits part: the same table and backfill as sqlite_006_limits.sql, in
-- PostgreSQL types. One row per user, currency, direction (1 sent, 2 received) and time bucket
-- named by its end; a window counts the rows whose end is inside it, whole (conservative).
CREATE TABLE limit_totals (
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    currency integer NOT NULL CHECK (currency > 0),
    direction integer NOT NULL CHECK (direction IN (1, 2)),
    end_ns bigint NOT NULL CHECK (end_ns > 0),
    amount bigint NOT NULL CHECK (amount >= 0),
    count bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (user_id, currency, direction, end_ns)
);

-- Backfill from schema 5 (see sqlite_006_limits.sql): payments count for both parties, an
-- escrow for its payer when created (its release's payment only for the payee); buckets of
-- one second; only what the longest window (366 days) can still count.
INSERT INTO limit_totals (user_id, currency, direction, end_ns, amount, count)
SELECT user_id, currency, direction, (at_ns / 1000000000 + 1) * 1000000000, sum(amount), count(*)
FROM (
    SELECT from_user AS user_id, currency, 1 AS direction, created_ns AS at_ns, amount
        FROM payments WHERE status = 1 AND id NOT IN (SELECT settle_id FROM escrows)
    UNION ALL
    SELECT payer_id, currency, 1, created_ns, amount FROM escrows
    UNION ALL
    SELECT to_user, currency, 2, created_ns, amount FROM payments WHERE status = 1
) AS moved
WHERE at_ns > (floor(extract(epoch FROM now()))::bigint - 366 * 86400) * 1000000000
GROUP BY user_id, currency, direction, (at_ns / 1000000000 + 1) * 1000000000;
