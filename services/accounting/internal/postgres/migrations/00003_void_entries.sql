-- +goose Up

-- A voided claim's approval is taken back by one entry: a reversal when
-- nothing was paid, a recovery when the money had gone out. Never both, and
-- never twice: the orchestrator decides one outcome per claim.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('approval', 'settlement', 'reversal', 'recovery'));
CREATE UNIQUE INDEX journal_entries_one_void_per_expense ON journal_entries (expense_id)
    WHERE kind IN ('reversal', 'recovery');

-- +goose Down
DROP INDEX journal_entries_one_void_per_expense;
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('approval', 'settlement'));
