// Package app holds the approval service's use cases: commands that change a
// claim (submit, approve, reject, withdraw) and emit its event through the
// outbox, the projection that builds the read model from events, and the
// queries served from that read model.
package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/approval/internal/budget"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

// Expenses is the write model's store.
type Expenses interface {
	// Add stores a new expense and its events in one transaction.
	Add(ctx context.Context, e *domain.Expense, evs ...events.Envelope) error
	// Update loads the expense, runs change on it and, if change returns
	// events, stores the new state and the events in one transaction. The
	// store re-reads and re-runs change when another writer got in first.
	Update(ctx context.Context, id string, change func(*domain.Expense) ([]events.Envelope, error)) (*domain.Expense, error)
	// Owner returns the employee who submitted the expense; NotFound if
	// there is none with that id.
	Owner(ctx context.Context, id string) (string, error)
	// Get reads the expense, outside any transaction.
	Get(ctx context.Context, id string) (*domain.Expense, error)
}

// BudgetCheck reserves a claim's amount in its cost center's budget, at
// accounting, before an approval commits: nil when it fits (or there is no
// budget), a *budget.OverBudget when it does not, budget.ErrUnavailable
// when accounting cannot answer. Nil switches the check off.
type BudgetCheck interface {
	Reserve(ctx context.Context, r budget.Reservation) error
}

// Views is the read model's store.
type Views interface {
	// Project applies one event to the view of expenseID, at most once per
	// delivery key, in one transaction with the inbox record.
	Project(ctx context.Context, key inbox.Key, expenseID string, apply func(*View)) error
	// Get and List return only views whose submission has been applied:
	// a view started by a later event has no facts yet, and is not shown.
	Get(ctx context.Context, id string) (View, error)
	List(ctx context.Context, f ListFilter, limit int, afterID string) ([]View, error)
	// Rebuild starts an empty read model beside this one, for the
	// projection consumer, to replay the history into and then Commit.
	Rebuild(ctx context.Context, consumer string) (Rebuilding, error)
}

// App wires the use cases to their stores, clock and id source.
type App struct {
	expenses Expenses
	views    Views
	voids    Voids
	budget   BudgetCheck
	now      func() time.Time
	newID    func() string
	// maxWait bounds how long a read waits for the projection to catch up.
	maxWait time.Duration
}

// New returns the approval application.
func New(expenses Expenses, views Views, voids Voids, budgetCheck BudgetCheck, now func() time.Time, newID func() string, maxWait time.Duration) *App {
	return &App{expenses: expenses, views: views, voids: voids, budget: budgetCheck, now: now, newID: newID, maxWait: maxWait}
}
