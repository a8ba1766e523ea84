-- What the webhooks.events queue is bound to, as far as this service knows:
-- it binds the patterns its endpoints subscribe to before an endpoint is
-- created, and unbinds here what no endpoint wants any more. Before this
-- version the broker setup bound every family; they are listed so that the
-- first start unbinds those no endpoint wants.

-- +goose Up
CREATE TABLE webhook_bindings (
    pattern TEXT PRIMARY KEY
);
INSERT INTO webhook_bindings (pattern) VALUES ('expense.*.*'), ('reimbursement.*.*'), ('ledger.*.*');

-- +goose Down
DROP TABLE webhook_bindings;
