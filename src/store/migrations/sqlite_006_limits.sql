-- Schema version 6, limits part (src/core/limits.h, src/api/kyc.h): running totals of the
-- send and receive windows, so that a limit check reads a few bucket rows instead of summing
-- every payment of the window.
--
-- One row per user, currency, direction (1 sent, 2 received) and time bucket, named by the
-- bucket's end: every movement added to a row happened before end_ns. A window that ends at t
-- counts the rows with end_ns > t - window, whole (conservative: a movement counts until
-- window after its bucket's end). The writer's hooks add to the rows with a record in the
-- batch of the money (STORE_RECORD_LIMIT_USAGE), so the totals never disagree with the ledger.
CREATE TABLE limit_totals (
    user_id BLOB NOT NULL CHECK (length(user_id) = 16),
    currency INTEGER NOT NULL CHECK (currency > 0),
    direction INTEGER NOT NULL CHECK (direction IN (1, 2)),
    end_ns INTEGER NOT NULL CHECK (end_ns > 0),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    count INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (user_id, currency, direction, end_ns)
) STRICT, WITHOUT ROWID;

-- Backfill from schema 5, with the rules of schema 6 (docs/api.md, "Limits"): a payment counts
-- toward its payer's send and its payee's receive window; an escrow counts toward its payer's
-- send window when it was created (its release's payment row then counts only as the payee's
-- receive). Buckets of one second: narrower than any configured width, so nothing frees later
-- than it would have. Only the longest window (366 days) can still count anything.
INSERT INTO limit_totals (user_id, currency, direction, end_ns, amount, count)
SELECT user_id, currency, direction, (at_ns / 1000000000 + 1) * 1000000000, sum(amount), count(*)
FROM (
    SELECT from_user AS user_id, currency, 1 AS direction, created_ns AS at_ns, amount
        FROM payments WHERE status = 1 AND id NOT IN (SELECT settle_id FROM escrows)
    UNION ALL
    SELECT payer_id, currency, 1, created_ns, amount FROM escrows
    UNION ALL
    SELECT to_user, currency, 2, created_ns, amount FROM payments WHERE status = 1
)
WHERE at_ns > (CAST(strftime('%s', 'now') AS INTEGER) - 366 * 86400) * 1000000000
GROUP BY user_id, currency, direction, (at_ns / 1000000000 + 1) * 1000000000;
