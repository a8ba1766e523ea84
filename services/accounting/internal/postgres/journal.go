// Package postgres is accounting's persistence: the journal tables (whose
// migration makes the database itself refuse an unbalanced or doubled
// entry), the write of an entry with its inbox record and outbox event, and
// the ledger reads.
package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/accounting/internal/app"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the accounting schema.
var Migrations = postgres.EmbeddedMigrations("accounting", migrationFiles, "migrations")

// onePerExpense is the unique constraint on (expense_id, kind), and
// oneVoidPerExpense the unique index that allows one reversal or recovery
// per expense, not one of each.
const (
	onePerExpense     = "journal_entries_once_per_expense"
	oneVoidPerExpense = "journal_entries_one_void_per_expense"
)

// Journal is the store of journal entries.
type Journal struct{ db *gorm.DB }

// NewJournal returns the journal on db.
func NewJournal(db *gorm.DB) *Journal { return &Journal{db: db} }

type entryRow struct {
	ID            string `gorm:"primaryKey"`
	ExpenseID     string
	Kind          string
	SourceEventID string
	PostedAt      time.Time
}

func (entryRow) TableName() string { return "journal_entries" }

type lineRow struct {
	EntryID     string `gorm:"primaryKey"`
	LineNo      int    `gorm:"primaryKey"`
	Account     string
	DebitMinor  int64
	CreditMinor int64
	Currency    string
	EmployeeID  *string // NULL where no employee applies
}

func (lineRow) TableName() string { return "journal_lines" }

// Post writes the entry, its lines and its event in the inbox transaction of
// key: all of it commits, or none of it (the balance check runs at commit).
func (j *Journal) Post(ctx context.Context, key inbox.Key, e domain.Entry, posted events.Envelope) error {
	return inbox.Once(ctx, j.db, key, func(tx *gorm.DB) error {
		entry := entryRow{ID: e.ID, ExpenseID: e.ExpenseID, Kind: string(e.Kind), SourceEventID: e.SourceEventID, PostedAt: e.PostedAt}
		if err := tx.Create(&entry).Error; err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.ConstraintName == onePerExpense || pgErr.ConstraintName == oneVoidPerExpense) {
				return apperr.New(apperr.Conflict, "expense %s already has its %s entry", e.ExpenseID, e.Kind)
			}
			return err
		}
		src := e.Lines()
		lines := make([]lineRow, 0, len(src))
		for i, l := range src {
			lines = append(lines, lineRow{
				EntryID: e.ID, LineNo: i + 1, Account: l.Account, DebitMinor: l.DebitMinor,
				CreditMinor: l.CreditMinor, Currency: l.Currency, EmployeeID: nullable(l.EmployeeID),
			})
		}
		if err := tx.Create(&lines).Error; err != nil {
			return err
		}
		if err := addToBalances(tx, src); err != nil {
			return err
		}
		// The claim's budget reservation is spent by its approval and
		// released by its void, in the entry's transaction.
		if err := settleReservation(tx, e); err != nil {
			return err
		}
		return outbox.Publish(ctx, tx, posted)
	})
}

// Entries reads a page of entries (keyset pagination by id), then their lines.
func (j *Journal) Entries(ctx context.Context, expenseID string, limit int, afterID string) ([]domain.Entry, error) {
	q := j.db.WithContext(ctx).Order("id").Limit(limit + 1)
	if expenseID != "" {
		q = q.Where("expense_id = ?", expenseID)
	}
	if afterID != "" {
		q = q.Where("id > ?", afterID)
	}
	var rows []entryRow
	if err := q.Find(&rows).Error; err != nil || len(rows) == 0 {
		return []domain.Entry{}, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	// No transaction needed: an entry commits together with its lines and
	// never changes, so this later read finds every line of every entry above.
	var lines []lineRow
	if err := j.db.WithContext(ctx).Where("entry_id IN ?", ids).Order("entry_id, line_no").Find(&lines).Error; err != nil {
		return nil, err
	}
	linesOf := map[string][]domain.Line{}
	for _, l := range lines {
		linesOf[l.EntryID] = append(linesOf[l.EntryID], domain.Line{
			Account: l.Account, DebitMinor: l.DebitMinor, CreditMinor: l.CreditMinor,
			Currency: l.Currency, EmployeeID: deref(l.EmployeeID),
		})
	}
	entries := make([]domain.Entry, len(rows))
	for i, r := range rows {
		p := domain.Posting{ID: r.ID, ExpenseID: r.ExpenseID, SourceEventID: r.SourceEventID, PostedAt: r.PostedAt}
		e, err := domain.NewEntry(p, domain.Kind(r.Kind), linesOf[r.ID])
		if err != nil {
			// The database refuses unbalanced entries, so this is corruption:
			// an internal error (%v drops the Invalid kind, which would say 422).
			return nil, fmt.Errorf("stored journal entry %s is corrupt: %v", r.ID, err)
		}
		entries[i] = e
	}
	return entries, nil
}

// addToBalances adds an entry's lines to the balances read model, in the
// posting's transaction. Each upsert locks its balance row until commit, so
// competing consumers posting to the same account take turns there; rows are
// updated in (account, currency) order, so two postings can never wait on
// each other in a cycle.
func addToBalances(tx *gorm.DB, lines []domain.Line) error {
	sorted := slices.Clone(lines)
	slices.SortFunc(sorted, func(a, b domain.Line) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Currency, b.Currency))
	})
	for _, l := range sorted {
		err := tx.Exec(`INSERT INTO account_balances (account, currency, debit_minor, credit_minor) VALUES (?, ?, ?, ?)
			ON CONFLICT (account, currency) DO UPDATE SET
				debit_minor  = account_balances.debit_minor + EXCLUDED.debit_minor,
				credit_minor = account_balances.credit_minor + EXCLUDED.credit_minor`,
			l.Account, l.Currency, l.DebitMinor, l.CreditMinor).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// Balances reads the balances read model: debits minus credits, signed.
func (j *Journal) Balances(ctx context.Context) ([]app.Balance, error) {
	var balances []app.Balance
	err := j.db.WithContext(ctx).Raw(`
		SELECT account, currency, debit_minor - credit_minor AS balance_minor
		FROM account_balances
		ORDER BY account, currency`).Scan(&balances).Error
	return balances, err
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
