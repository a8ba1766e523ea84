-- +goose Up

-- Finance may take an approval back: the claim is voiding while the void
-- saga runs, then voided.
ALTER TABLE expenses DROP CONSTRAINT expenses_status_check;
ALTER TABLE expenses ADD CONSTRAINT expenses_status_check
    CHECK (status IN ('submitted', 'approved', 'rejected', 'withdrawn', 'voiding', 'voided'));

-- The read model shows how a void ended.
ALTER TABLE expense_views ADD COLUMN void_outcome TEXT NOT NULL DEFAULT '';

-- The void saga's state, one row per voided claim: its current step, the
-- ids of its commands (the same on every send, so a receiver's inbox makes
-- a repeat harmless), when the step times out, and when each thing happened.
CREATE TABLE voids (
    expense_id         UUID        PRIMARY KEY REFERENCES expenses (id),
    employee_id        TEXT        NOT NULL,
    category           TEXT        NOT NULL,
    amount_minor       BIGINT      NOT NULL,
    currency           CHAR(3)     NOT NULL,
    reason             TEXT        NOT NULL,
    requested_by       TEXT        NOT NULL,
    correlation_id     TEXT        NOT NULL,
    step               TEXT        NOT NULL CHECK (step IN ('stop_payout', 'post_entry', 'done')),
    outcome            TEXT        NOT NULL DEFAULT '' CHECK (outcome IN ('', 'payout_cancelled', 'recovery_required')),
    stop_command_id    UUID        NOT NULL,
    entry_command_id   UUID,
    sends              INTEGER     NOT NULL,
    next_attempt_at    TIMESTAMPTZ NOT NULL,
    requested_at       TIMESTAMPTZ NOT NULL,
    payout_answered_at TIMESTAMPTZ,
    entry_posted_at    TIMESTAMPTZ,
    completed_at       TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL
);

-- What the retry timer scans: the unfinished sagas, by when they time out.
CREATE INDEX voids_due ON voids (next_attempt_at) WHERE step <> 'done';

-- +goose Down
DROP TABLE voids;
ALTER TABLE expense_views DROP COLUMN void_outcome;
ALTER TABLE expenses DROP CONSTRAINT expenses_status_check;
ALTER TABLE expenses ADD CONSTRAINT expenses_status_check
    CHECK (status IN ('submitted', 'approved', 'rejected', 'withdrawn'));
