-- +goose Up

-- E-mail delivery of each notification: where to, how often it was tried,
-- when the next try is due, and how it ended. Delivery is retried with
-- backoff while the SMTP server is away; the inbox does not depend on it.
ALTER TABLE notifications
    ADD COLUMN email             TEXT        NOT NULL DEFAULT '',
    ADD COLUMN delivery_attempts INTEGER     NOT NULL DEFAULT 0 CHECK (delivery_attempts >= 0),
    ADD COLUMN next_delivery_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN delivered_at      TIMESTAMPTZ,
    ADD COLUMN delivery_error    TEXT        NOT NULL DEFAULT '',
    ADD CONSTRAINT notifications_sent_has_time CHECK ((delivery_status = 'sent') = (delivered_at IS NOT NULL));

-- What a delivery run scans: pending notifications by due time.
CREATE INDEX notifications_due ON notifications (next_delivery_at, id) WHERE delivery_status = 'pending';

-- +goose Down
DROP INDEX notifications_due;
ALTER TABLE notifications
    DROP CONSTRAINT notifications_sent_has_time,
    DROP COLUMN delivery_error,
    DROP COLUMN delivered_at,
    DROP COLUMN next_delivery_at,
    DROP COLUMN delivery_attempts,
    DROP COLUMN email;
