-- The outbox tables in the layout watermill-sql's DefaultPostgreSQLSchema and
-- DefaultPostgreSQLOffsetsAdapter expect. Rows are ordered by the writing
-- transaction's id (xid8) and an offset; the relay reads only transactions
-- older than every open one, so a slow commit is never skipped.

-- +goose Up
CREATE TABLE watermill_outbox (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON        DEFAULT NULL,
    metadata       JSON        DEFAULT NULL,
    transaction_id xid8        NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);

CREATE TABLE watermill_offsets_outbox (
    consumer_group                VARCHAR(255) NOT NULL PRIMARY KEY,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8 NOT NULL
);

-- +goose Down
DROP TABLE watermill_offsets_outbox;
DROP TABLE watermill_outbox;
