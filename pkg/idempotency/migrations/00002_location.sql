-- +goose Up
-- The Location header of a 201 is part of the response a replay repeats.
ALTER TABLE idempotency_keys ADD COLUMN location TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN location;
