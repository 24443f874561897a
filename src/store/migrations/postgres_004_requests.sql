-- Schema version 4 (part): quotes and payment requests (api/quotes.c, api/requests.c).
--
-- The same tables as sqlite_004_requests.sql (see there for what each column means): bytea
-- ids, bigint times and money, integer for small enums, CHECKs on every range. Used and paid
-- are derived from the payments row whose id is payment_id, which commits with the money.
CREATE TABLE quotes (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    operation integer NOT NULL CHECK (operation BETWEEN 0 AND 4),
    recipient_id bytea CHECK (length(recipient_id) = 16),
    send_currency integer NOT NULL CHECK (send_currency BETWEEN 1 AND 999),
    receive_currency integer NOT NULL CHECK (receive_currency BETWEEN 1 AND 999),
    amount bigint NOT NULL CHECK (amount > 0),
    fee bigint NOT NULL CHECK (fee >= 0),
    sent bigint NOT NULL CHECK (sent > 0),
    rate_num bigint NOT NULL CHECK (rate_num > 0),
    rate_den bigint NOT NULL CHECK (rate_den > 0),
    payment_id bytea NOT NULL UNIQUE CHECK (length(payment_id) = 16),
    created_ns bigint NOT NULL CHECK (created_ns > 0),
    expires_ns bigint NOT NULL CHECK (expires_ns > 0)
);

CREATE TABLE payment_requests (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    requester_id bytea NOT NULL CHECK (length(requester_id) = 16),
    payer_id bytea NOT NULL CHECK (length(payer_id) = 16),
    amount bigint NOT NULL CHECK (amount > 0),
    currency integer NOT NULL CHECK (currency BETWEEN 1 AND 999),
    status integer NOT NULL CHECK (status BETWEEN 1 AND 3),
    from_text text NOT NULL,
    note text NOT NULL,
    split_id bytea CHECK (length(split_id) = 16),
    payment_id bytea NOT NULL UNIQUE CHECK (length(payment_id) = 16),
    created_ns bigint NOT NULL CHECK (created_ns > 0),
    expires_ns bigint NOT NULL CHECK (expires_ns > 0),
    closed_ns bigint NOT NULL CHECK (closed_ns >= 0),
    pay_claim_ns bigint NOT NULL CHECK (pay_claim_ns >= 0)
);
CREATE INDEX payment_requests_payer ON payment_requests (payer_id, id);
CREATE INDEX payment_requests_requester ON payment_requests (requester_id, id);
