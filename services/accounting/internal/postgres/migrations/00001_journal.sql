-- The journal: accounting's write model. The double-entry rules are enforced
-- here as well as in Go, so no code path (a bug, a hand-written fix in psql)
-- can leave the books unbalanced or post an expense twice.

-- +goose Up
CREATE TABLE journal_entries (
    id              UUID        PRIMARY KEY,
    expense_id      TEXT        NOT NULL,
    kind            TEXT        NOT NULL CHECK (kind IN ('approval', 'settlement')),
    source_event_id TEXT        NOT NULL,
    posted_at       TIMESTAMPTZ NOT NULL,
    -- Second line of defence behind the inbox: even an event that arrives
    -- under a new id cannot book an expense's approval or settlement twice.
    CONSTRAINT journal_entries_once_per_expense UNIQUE (expense_id, kind)
);

CREATE TABLE journal_lines (
    entry_id     UUID     NOT NULL REFERENCES journal_entries (id),
    line_no      SMALLINT NOT NULL,
    account      TEXT     NOT NULL CHECK (account <> ''),
    debit_minor  BIGINT   NOT NULL CHECK (debit_minor >= 0),
    credit_minor BIGINT   NOT NULL CHECK (credit_minor >= 0),
    currency     CHAR(3)  NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    employee_id  TEXT,    -- on payable lines: whom the money is owed to
    PRIMARY KEY (entry_id, line_no),
    CONSTRAINT journal_lines_one_side CHECK ((debit_minor > 0) <> (credit_minor > 0))
);

-- An entry balances when, in each currency, its debits equal its credits.
-- The lines of an entry are inserted one by one, so the check is a constraint
-- trigger deferred to commit: only the complete entry has to balance.
-- +goose StatementBegin
CREATE FUNCTION journal_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM journal_lines WHERE entry_id = NEW.entry_id
               GROUP BY currency HAVING sum(debit_minor) <> sum(credit_minor)) THEN
        RAISE EXCEPTION 'journal entry % does not balance', NEW.entry_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER journal_lines_balanced
    AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_must_balance();

-- The journal is append-only, as on paper: a mistake is corrected by a new,
-- reversing entry. This also means only an insert can change a sum, which is
-- why the balance trigger above needs to watch inserts only.
-- +goose StatementBegin
CREATE FUNCTION journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: correct a posting with a reversing entry', TG_TABLE_NAME;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only();

-- +goose Down
DROP TABLE journal_lines;
DROP TABLE journal_entries;
DROP FUNCTION journal_is_append_only();
DROP FUNCTION journal_entry_must_balance();
