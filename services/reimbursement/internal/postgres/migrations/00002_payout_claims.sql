-- +goose Up

-- A payout batch claims a row (committed) before it calls the payment
-- gateway, and records the outcome in a second transaction: no transaction
-- stays open during the call. claim_token names the batch holding the row
-- until claimed_until; a batch that died mid-payment leaves a claim that
-- expires, and the row is paid again under the same idempotency key.
ALTER TABLE reimbursements
    ADD COLUMN claim_token   TEXT        NOT NULL DEFAULT '',
    ADD COLUMN claimed_until TIMESTAMPTZ;

-- +goose Down
ALTER TABLE reimbursements DROP COLUMN claim_token, DROP COLUMN claimed_until;
