-- +goose Up

-- A voided claim's payout is stopped: cancelled, final, never paid. A stop
-- that arrives before the approval leaves a row born cancelled, so that the
-- approval, when it comes, finds its expense taken and schedules nothing.
ALTER TABLE reimbursements DROP CONSTRAINT reimbursements_status_check;
ALTER TABLE reimbursements ADD CONSTRAINT reimbursements_status_check
    CHECK (status IN ('scheduled', 'paid', 'failed', 'cancelled'));

-- +goose Down
ALTER TABLE reimbursements DROP CONSTRAINT reimbursements_status_check;
ALTER TABLE reimbursements ADD CONSTRAINT reimbursements_status_check
    CHECK (status IN ('scheduled', 'paid', 'failed'));
