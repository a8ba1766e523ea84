-- +goose Up

-- The write model: one row per claim, changed only by the command handlers.
CREATE TABLE expenses (
    id           UUID        PRIMARY KEY,
    employee_id  TEXT        NOT NULL,
    amount_minor BIGINT      NOT NULL CHECK (amount_minor BETWEEN 1 AND 10000000),
    currency     CHAR(3)     NOT NULL,
    category     TEXT        NOT NULL,
    description  TEXT        NOT NULL,
    incurred_on  DATE        NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected', 'withdrawn')),
    version      BIGINT      NOT NULL CHECK (version >= 1),
    decided_by   TEXT        NOT NULL DEFAULT '',
    reason       TEXT        NOT NULL DEFAULT '',
    submitted_at TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- The read model: built only by the projection from events. A row may start
-- from any event of the claim (they can arrive out of order), so most columns
-- have neutral defaults until the event that brings them arrives.
CREATE TABLE expense_views (
    id               UUID        PRIMARY KEY,
    employee_id      TEXT        NOT NULL DEFAULT '',
    amount_minor     BIGINT      NOT NULL DEFAULT 0,
    currency         TEXT        NOT NULL DEFAULT '',
    category         TEXT        NOT NULL DEFAULT '',
    description      TEXT        NOT NULL DEFAULT '',
    incurred_on      TEXT        NOT NULL DEFAULT '',
    status           TEXT        NOT NULL DEFAULT '',
    public_status    TEXT        NOT NULL DEFAULT '',
    version          BIGINT      NOT NULL DEFAULT 0,
    decided_by       TEXT        NOT NULL DEFAULT '',
    reason           TEXT        NOT NULL DEFAULT '',
    reimbursement_id TEXT        NOT NULL DEFAULT '',
    payment_status   TEXT        NOT NULL DEFAULT '',
    payment_sequence BIGINT      NOT NULL DEFAULT 0,
    submitted_at     TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX expense_views_employee ON expense_views (employee_id, id);
CREATE INDEX expense_views_status ON expense_views (public_status, id);

-- +goose Down
DROP TABLE expense_views;
DROP TABLE expenses;
