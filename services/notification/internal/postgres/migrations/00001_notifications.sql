-- +goose Up

-- One row per (event, recipient): an entry in the recipient's inbox and, once
-- e-mail delivery exists, the state of its delivery.
CREATE TABLE notifications (
    id              UUID        PRIMARY KEY,
    event_id        TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    expense_id      TEXT        NOT NULL,
    recipient_id    TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    body            TEXT        NOT NULL,
    read            BOOLEAN     NOT NULL DEFAULT false,
    delivery_status TEXT        NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'sent', 'failed')),
    created_at      TIMESTAMPTZ NOT NULL,
    -- The inbox table makes handling an event idempotent; this key makes a
    -- second notification of one person about one event impossible, whatever
    -- the code above it does.
    UNIQUE (event_id, recipient_id)
);

-- A user's inbox, newest first: ids are UUIDv7, so id order is creation order.
CREATE INDEX notifications_inbox ON notifications (recipient_id, id);

-- +goose Down
DROP TABLE notifications;
