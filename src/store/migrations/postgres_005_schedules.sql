-- Schema version 5 (part): scheduled and recurring payments (api/schedules.c,
-- api/scheduler.c).
--
-- The same tables as sqlite_005_schedules.sql (see there for what each column means).
CREATE TABLE schedules (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    user_id bytea NOT NULL CHECK (length(user_id) = 16),
    to_user bytea NOT NULL CHECK (length(to_user) = 16),
    amount bigint NOT NULL CHECK (amount > 0),
    currency integer NOT NULL CHECK (currency BETWEEN 1 AND 999),
    repeat integer NOT NULL CHECK (repeat BETWEEN 1 AND 4),
    interval_s bigint NOT NULL CHECK (interval_s >= 0),
    start_ns bigint NOT NULL CHECK (start_ns > 0),
    end_count bigint NOT NULL CHECK (end_count >= 0),
    end_ns bigint NOT NULL CHECK (end_ns >= 0),
    to_text text NOT NULL,
    note text NOT NULL,
    created_ns bigint NOT NULL CHECK (created_ns > 0),
    canceled_ns bigint NOT NULL CHECK (canceled_ns >= 0),
    next_index bigint NOT NULL CHECK (next_index >= 0),
    next_due_ns bigint NOT NULL CHECK (next_due_ns >= 0)
);
CREATE INDEX schedules_user ON schedules (user_id, id);
CREATE INDEX schedules_due ON schedules (next_due_ns) WHERE canceled_ns = 0 AND next_due_ns > 0;

CREATE TABLE schedule_occurrences (
    schedule_id bytea NOT NULL CHECK (length(schedule_id) = 16),
    idx bigint NOT NULL CHECK (idx >= 0),
    due_ns bigint NOT NULL CHECK (due_ns > 0),
    payment_id bytea NOT NULL UNIQUE CHECK (length(payment_id) = 16),
    status integer NOT NULL CHECK (status BETWEEN 1 AND 3),
    reason text NOT NULL,
    claimed_ns bigint NOT NULL CHECK (claimed_ns > 0),
    done_ns bigint NOT NULL CHECK (done_ns >= 0),
    PRIMARY KEY (schedule_id, idx)
);
CREATE INDEX schedule_occurrences_running ON schedule_occurrences (claimed_ns)
    WHERE status = 1;
