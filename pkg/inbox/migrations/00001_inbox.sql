-- +goose Up
CREATE TABLE inbox (
    consumer   TEXT        NOT NULL,
    event_id   TEXT        NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE inbox;
