-- Schema version 9: payments without per-user indexes (docs/architecture.md, "Payment
-- lists without indexes").
--
-- The indexes payments_sent (from_user), payments_received (to_user) and payments_pair
-- (from_user, to_user) put one random B-tree leaf per user into every writer batch. A user's
-- payments are found instead by walking the history chains of their wallets: every payments
-- row's main transfer (timestamp = created_ns, id = the payment id) debits from_wallet, a
-- wallet of from_user, and credits to_wallet, a wallet of to_user (sqlite_paylists.c).
--
-- "Has this user paid that user before?" (step-up's new-recipient rule) reads payment_pairs:
-- one row per (payer, payee) that ever had a payment, inserted with INSERT OR IGNORE in the
-- writer batch of each payment, so only a pair's first payment writes a page. Filled here in
-- key order from the pair index, before that index goes.
CREATE TABLE payment_pairs (
    from_user BLOB NOT NULL,
    to_user BLOB NOT NULL,
    PRIMARY KEY (from_user, to_user)
) STRICT, WITHOUT ROWID;

INSERT INTO payment_pairs (from_user, to_user)
SELECT DISTINCT from_user, to_user FROM payments ORDER BY from_user, to_user;

DROP INDEX payments_sent;
DROP INDEX payments_received;
DROP INDEX payments_pair;
