package app

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

// Entries returns a page of journal entries in a stable order (by id, a
// time-ordered UUIDv7), optionally only those of one expense.
func (a *App) Entries(ctx context.Context, caller auth.Principal, expenseID string, limit int, afterID string) ([]domain.Entry, error) {
	if _, err := Access.Allow(caller, ListEntries); err != nil {
		return nil, err
	}
	return a.journal.Entries(ctx, expenseID, limit, afterID)
}

// Balances returns the balance of every account in every currency it holds.
func (a *App) Balances(ctx context.Context, caller auth.Principal) ([]Balance, error) {
	if _, err := Access.Allow(caller, ListBalances); err != nil {
		return nil, err
	}
	return a.journal.Balances(ctx)
}
