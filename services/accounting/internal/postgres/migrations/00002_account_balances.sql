-- +goose Up

-- The balances read model: one row per account and currency, kept up to date
-- by every posting in the posting's own transaction, so GET /v1/ledger/balances
-- reads one small table instead of summing the whole journal. It is derived
-- data: this migration fills it from the journal, and it could be dropped and
-- refilled the same way at any time.
CREATE TABLE account_balances (
    account      TEXT    NOT NULL,
    currency     CHAR(3) NOT NULL,
    debit_minor  BIGINT  NOT NULL DEFAULT 0 CHECK (debit_minor >= 0),
    credit_minor BIGINT  NOT NULL DEFAULT 0 CHECK (credit_minor >= 0),
    PRIMARY KEY (account, currency)
);

INSERT INTO account_balances (account, currency, debit_minor, credit_minor)
SELECT account, currency, sum(debit_minor), sum(credit_minor)
FROM journal_lines
GROUP BY account, currency;

-- +goose Down
DROP TABLE account_balances;
