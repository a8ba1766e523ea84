-- +goose Up

-- A delivery run claims a notification (committed) before it talks to the
-- SMTP server, and records the outcome in a second transaction: no
-- transaction stays open during the conversation. A run that died mid-way
-- leaves a claim that expires; the mail is then sent again (at least once,
-- with the notification id as Message-ID for the receiver to deduplicate).
ALTER TABLE notifications
    ADD COLUMN claim_token   TEXT        NOT NULL DEFAULT '',
    ADD COLUMN claimed_until TIMESTAMPTZ;

-- +goose Down
ALTER TABLE notifications DROP COLUMN claim_token, DROP COLUMN claimed_until;
