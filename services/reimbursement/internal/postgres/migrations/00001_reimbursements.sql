-- +goose Up

-- One row per approved expense. The unique expense_id is the last line of
-- defence, behind the inbox, against paying an expense twice: a second
-- expense.approved event for it (a replay, a re-publication under a new id)
-- finds its reimbursement already there.
CREATE TABLE reimbursements (
    id              UUID        PRIMARY KEY,
    expense_id      TEXT        NOT NULL UNIQUE,
    employee_id     TEXT        NOT NULL,
    amount_minor    BIGINT      NOT NULL CHECK (amount_minor > 0),
    currency        CHAR(3)     NOT NULL,
    status          TEXT        NOT NULL CHECK (status IN ('scheduled', 'paid', 'failed')),
    attempts        INTEGER     NOT NULL CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL,
    payment_ref     TEXT        NOT NULL DEFAULT '',
    failure_reason  TEXT        NOT NULL DEFAULT '',
    correlation_id  TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CHECK ((status = 'paid') = (payment_ref <> ''))
);

-- What a payout batch scans: the scheduled rows, by due time.
CREATE INDEX reimbursements_due ON reimbursements (next_attempt_at, id) WHERE status = 'scheduled';
CREATE INDEX reimbursements_employee ON reimbursements (employee_id, id);
CREATE INDEX reimbursements_status ON reimbursements (status, id);

-- +goose Down
DROP TABLE reimbursements;
