-- +goose Up
-- For consumers whose effect is right only for the newest news about an
-- aggregate: the highest sequence each has acted on, per subject
-- (inbox.OnceIfNewer).
CREATE TABLE inbox_positions (
    consumer TEXT   NOT NULL,
    subject  TEXT   NOT NULL,
    sequence BIGINT NOT NULL,
    PRIMARY KEY (consumer, subject)
);

-- +goose Down
DROP TABLE inbox_positions;
