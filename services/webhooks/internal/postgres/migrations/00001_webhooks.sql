-- +goose Up

-- The receivers finance registered. The secret is kept as is: signing with
-- HMAC needs it, as the receiver's verifying does.
CREATE TABLE webhook_endpoints (
    id               UUID        PRIMARY KEY,
    url              TEXT        NOT NULL,
    event_types      JSONB       NOT NULL,
    description      TEXT        NOT NULL DEFAULT '',
    status           TEXT        NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason  TEXT        NOT NULL DEFAULT '',
    failed_in_a_row  INTEGER     NOT NULL DEFAULT 0 CHECK (failed_in_a_row >= 0),
    times_disabled   INTEGER     NOT NULL DEFAULT 0 CHECK (times_disabled >= 0),
    secret           TEXT        NOT NULL,
    previous_secret  TEXT        NOT NULL DEFAULT '',
    previous_until   TIMESTAMPTZ,
    created_by       TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

-- Each event some endpoint subscribes to, exactly as it came off the bus:
-- every attempt of every delivery sends (and signs) these bytes.
CREATE TABLE webhook_messages (
    event_id    UUID        PRIMARY KEY,
    event_type  TEXT        NOT NULL,
    body        BYTEA       NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One event on its way to one endpoint, with its persisted schedule
-- (next_attempt_at) and the claim of the dispatcher sending it now.
CREATE TABLE webhook_deliveries (
    id               UUID        PRIMARY KEY,
    endpoint_id      UUID        NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    event_id         UUID        NOT NULL REFERENCES webhook_messages,
    event_type       TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status_code INTEGER     NOT NULL DEFAULT 0,
    last_error       TEXT        NOT NULL DEFAULT '',
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    claim_token      TEXT        NOT NULL DEFAULT '',
    claimed_until    TIMESTAMPTZ,
    -- The inbox makes accepting an event idempotent; this makes a second
    -- delivery of one event to one endpoint impossible whatever the code does.
    UNIQUE (endpoint_id, event_id),
    CONSTRAINT webhook_delivered_has_time CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);

-- What the dispatcher scans: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
-- An endpoint's deliveries, newest first (ids are UUIDv7).
CREATE INDEX webhook_deliveries_of_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every POST made, for the people finding out why a receiver is unhappy.
CREATE TABLE webhook_attempts (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  UUID        NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL,
    status_code  INTEGER     NOT NULL,
    error        TEXT        NOT NULL,
    duration_ms  INTEGER     NOT NULL
);
CREATE INDEX webhook_attempts_of_delivery ON webhook_attempts (delivery_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
