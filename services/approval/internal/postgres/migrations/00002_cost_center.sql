-- +goose Up
-- Claims are booked to a cost center (expense.submitted.v2). Claims made
-- before, and the views of their v1 events, belong to 'general' — the same
-- default the v1 → v2 upcaster uses, so a rebuilt view matches a live one.
ALTER TABLE expenses ADD COLUMN cost_center TEXT NOT NULL DEFAULT 'general';
ALTER TABLE expense_views ADD COLUMN cost_center TEXT NOT NULL DEFAULT 'general';

-- +goose Down
ALTER TABLE expense_views DROP COLUMN cost_center;
ALTER TABLE expenses DROP COLUMN cost_center;
