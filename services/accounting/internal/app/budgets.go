package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

// Budgets is the store of budgets and reservations.
type Budgets interface {
	Set(ctx context.Context, b domain.Budget, now time.Time) (domain.Budget, error)
	List(ctx context.Context, period string, now time.Time) ([]domain.Budget, error)
	// Reserve holds r's amount against its budget until expires, deciding
	// under the budget's lock; budgeted is false when there is no budget
	// (no limit). A refusal is a domain.OverBudget.
	Reserve(ctx context.Context, r Reservation, expires, now time.Time) (b domain.Budget, budgeted bool, err error)
}

// Reservation is approval's request to hold budget for a claim it is about
// to approve.
type Reservation struct {
	ExpenseID  string
	CostCenter string
	Period     string
	Amount     domain.Money
}

// ReservationTTL is how long a reservation holds budget without the
// approval it was made for: long enough for approval to commit and for its
// event to reach accounting, short enough that a crash between reserve and
// commit does not hold budget for long.
const ReservationTTL = 15 * time.Minute

// SetBudget creates or changes a budget (finance).
func (a *App) SetBudget(ctx context.Context, caller auth.Principal, costCenter, period, currency string, limitMinor int64) (domain.Budget, error) {
	if _, err := Access.Allow(caller, SetBudget); err != nil {
		return domain.Budget{}, err
	}
	b, err := domain.NewBudget(costCenter, period, currency, limitMinor)
	if err != nil {
		return domain.Budget{}, err
	}
	return a.budgets.Set(ctx, b, a.now())
}

// ListBudgets returns the budgets of a month ("" for all), with what is
// reserved and spent against each.
func (a *App) ListBudgets(ctx context.Context, caller auth.Principal, period string) ([]domain.Budget, error) {
	if _, err := Access.Allow(caller, ListBudgets); err != nil {
		return nil, err
	}
	return a.budgets.List(ctx, period, a.now())
}

// Reserve holds budget for a claim approval is about to approve: the one
// synchronous call between services (docs/patterns/events-commands-requests.md).
// The caller is a service, authenticated by its own token; only approval
// reserves. Idempotent per expense id.
func (a *App) Reserve(ctx context.Context, r Reservation) (domain.Budget, bool, error) {
	if _, err := domain.NewBudget(r.CostCenter, r.Period, r.Amount.Currency, r.Amount.AmountMinor); err != nil {
		return domain.Budget{}, false, err
	}
	now := a.now()
	return a.budgets.Reserve(ctx, r, now.Add(ReservationTTL), now)
}
