-- +goose Up

-- "What was said about this claim?": the question of whoever follows one
-- claim through the system (support, a dashboard, the soak and bench
-- drivers waiting for the employee's notification). Without this index it
-- reads the whole table; `make bench` measured that lookup as most of the
-- database's time in a run.
CREATE INDEX notifications_expense ON notifications (expense_id, event_type);

-- +goose Down
DROP INDEX notifications_expense;
