-- The simulated provider's ledger: one row per payment it made. It stands for
-- the external system's own records; only package gateway touches it. The
-- primary key on the idempotency key (the reimbursement id) is what makes
-- paying twice impossible, whatever the caller does.

-- +goose Up
CREATE TABLE gateway_payments (
    reimbursement_id TEXT        PRIMARY KEY,
    payment_ref      TEXT        NOT NULL UNIQUE,
    amount_minor     BIGINT      NOT NULL CHECK (amount_minor > 0),
    currency         CHAR(3)     NOT NULL,
    paid_at          TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE gateway_payments;
