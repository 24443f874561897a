-- Schema version 5 (part): scheduled and recurring payments (api/schedules.c, api/scheduler.c).
--
-- A schedule pays to_user amount of currency at start_ns and then every week, month (same day
-- of the month, clamped to the month's last day) or interval_s seconds (a test-only repeat),
-- until end_count occurrences or end_ns (0: no such limit). next_index and next_due_ns are the
-- next occurrence to run (next_due_ns 0: none left); a scheduler claims it with one conditional
-- UPDATE of both (WHERE next_index = the index it read), so on any number of nodes one claim
-- wins, and inserts the occurrence row in the same transaction.
CREATE TABLE schedules (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL,
    to_user BLOB NOT NULL,
    amount INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    repeat INTEGER NOT NULL,
    interval_s INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_count INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    to_text TEXT NOT NULL,
    note TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    canceled_ns INTEGER NOT NULL,
    next_index INTEGER NOT NULL,
    next_due_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX schedules_user ON schedules (user_id, id);
CREATE INDEX schedules_due ON schedules (next_due_ns) WHERE canceled_ns = 0 AND next_due_ns > 0;

-- One row per occurrence a scheduler claimed. payment_id is the payment it makes, derived from
-- (schedule, index): the ledger refuses a second transfer with that id, so an occurrence pays
-- at most once even when it is run again after a crash. status: 1 running (claimed at
-- claimed_ns), 2 succeeded, 3 skipped (reason says why). Succeeded is also read from the
-- payments row with payment_id, which commits with the money.
CREATE TABLE schedule_occurrences (
    schedule_id BLOB NOT NULL,
    idx INTEGER NOT NULL,
    due_ns INTEGER NOT NULL,
    payment_id BLOB NOT NULL UNIQUE,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    claimed_ns INTEGER NOT NULL,
    done_ns INTEGER NOT NULL,
    PRIMARY KEY (schedule_id, idx)
) STRICT;
CREATE INDEX schedule_occurrences_running ON schedule_occurrences (claimed_ns) WHERE status = 1;
