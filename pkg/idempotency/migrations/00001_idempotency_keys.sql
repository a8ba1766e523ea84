-- +goose Up
-- One row per (caller, Idempotency-Key): the request it was first used with
-- and, once answered, the response to replay. A row without a status is a
-- request still in progress (or one whose process died mid-way: see the
-- package comment of pkg/idempotency).
CREATE TABLE idempotency_keys (
    principal    TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    request_hash TEXT        NOT NULL,
    status       INT,
    content_type TEXT        NOT NULL DEFAULT '',
    body         BYTEA,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
