-- +goose Up

-- What each cost center may spend in a month, in one currency. A cost
-- center with no budget for a month has no limit.
CREATE TABLE budgets (
    cost_center TEXT    NOT NULL,
    period      CHAR(7) NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    currency    CHAR(3) NOT NULL,
    limit_minor BIGINT  NOT NULL CHECK (limit_minor >= 0),
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cost_center, period)
);

-- One reservation per claim, made by approval before it commits an
-- approval: reserved until the approval arrives (spent) or the claim is
-- voided (released); a reservation still reserved past expires_at counts
-- no more — its approval never came (a crash between reserve and commit).
CREATE TABLE budget_reservations (
    expense_id   TEXT        PRIMARY KEY,
    cost_center  TEXT        NOT NULL,
    period       CHAR(7)     NOT NULL,
    amount_minor BIGINT      NOT NULL CHECK (amount_minor > 0),
    currency     CHAR(3)     NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('reserved', 'spent', 'released')),
    expires_at   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX budget_reservations_budget ON budget_reservations (cost_center, period, status);

-- +goose Down
DROP TABLE budget_reservations;
DROP TABLE budgets;
