// Package app holds accounting's use cases: posting the journal entry an
// event calls for, together with its ledger.entry_posted event, and the
// ledger queries for finance and auditors.
package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

// Journal is the store of entries.
type Journal interface {
	// Post stores e and the event announcing it in one transaction that also
	// records key in the inbox. It does nothing if key was recorded before,
	// and returns a Conflict if the expense already has an entry of e's kind.
	Post(ctx context.Context, key inbox.Key, e domain.Entry, posted events.Envelope) error
	// Entries returns up to limit+1 entries in id order, those with an id
	// greater than afterID ("" from the start), of expenseID ("" for all).
	Entries(ctx context.Context, expenseID string, limit int, afterID string) ([]domain.Entry, error)
	// Balances returns every account's balance per currency, ordered by
	// account then currency.
	Balances(ctx context.Context) ([]Balance, error)
}

// Balance is an account's position in one currency: debits minus credits,
// signed. A liability such as reimbursements_payable is negative while money
// is owed; cash goes negative as reimbursements are paid out.
type Balance struct {
	Account      string
	Currency     string
	BalanceMinor int64
}

// App wires the use cases to the journal, the clock and the id source.
type App struct {
	journal Journal
	budgets Budgets
	now     func() time.Time
	newID   func() string
}

// New returns the accounting application.
func New(journal Journal, budgets Budgets, now func() time.Time, newID func() string) *App {
	return &App{journal: journal, budgets: budgets, now: now, newID: newID}
}
