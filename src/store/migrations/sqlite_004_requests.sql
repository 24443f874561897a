-- Schema version 4 (part): quotes and payment requests (api/quotes.c, api/requests.c).
--
-- Same conventions as before: 16-byte BLOB ids, nanosecond times, int64 minor units, STRICT.
-- Neither table holds a "used" or "paid" flag: each row reserves the id of the payment that
-- will use it (payment_id), and it is used or paid exactly when a payments row with that id
-- exists. That row commits in the writer's batch with the money, and the ledger refuses a
-- second transfer with the same id, so a quote is used once and a request is paid once, on any
-- number of nodes, without a marker that could disagree with the money.

-- The exact terms of a later movement. operation is core/fees.h's enum fees_operation.
-- amount is what the recipient receives (receive_currency), fee and sent are in send_currency
-- (sent = amount + fee when both currencies are the same). The rate is the exact rational
-- receive/send = rate_num/rate_den (1/1 in one currency), so FX quotes fit without a float.
-- recipient_id is NULL when the quote names no recipient.
CREATE TABLE quotes (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL,
    operation INTEGER NOT NULL,
    recipient_id BLOB,
    send_currency INTEGER NOT NULL,
    receive_currency INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    rate_num INTEGER NOT NULL,
    rate_den INTEGER NOT NULL,
    payment_id BLOB NOT NULL UNIQUE,
    created_ns INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL
) STRICT;

-- A request from requester to payer for amount of currency. status is enum store_request_status
-- (1 open, 2 declined, 3 canceled); paid and expired are derived (a payment with payment_id
-- exists; expires_ns has passed). pay_claim_ns is the time a pay began (0: none): a decline or
-- cancel waits until a claim is stale, so neither answers while the money may still move.
-- split_id groups the requests of one split (NULL for a single request). Lists walk the
-- (payer_id, id) and (requester_id, id) indexes (UUIDv7 ids grow with time).
CREATE TABLE payment_requests (
    id BLOB PRIMARY KEY NOT NULL,
    requester_id BLOB NOT NULL,
    payer_id BLOB NOT NULL,
    amount INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    status INTEGER NOT NULL,
    from_text TEXT NOT NULL,
    note TEXT NOT NULL,
    split_id BLOB,
    payment_id BLOB NOT NULL UNIQUE,
    created_ns INTEGER NOT NULL,
    expires_ns INTEGER NOT NULL,
    closed_ns INTEGER NOT NULL,
    pay_claim_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX payment_requests_payer ON payment_requests (payer_id, id);
CREATE INDEX payment_requests_requester ON payment_requests (requester_id, id);
