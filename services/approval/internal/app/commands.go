package app

import (
	"context"
	"errors"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/services/approval/internal/budget"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

// Submit files a claim for the caller (any signed-in user, for themselves).
func (a *App) Submit(ctx context.Context, caller auth.Principal, c domain.Claim) (domain.Snapshot, error) {
	if err := Access.Check(caller, SubmitExpense, caller.UserID); err != nil {
		return domain.Snapshot{}, err
	}
	now := a.now()
	e, err := domain.Submit(a.newID(), caller.UserID, c, now)
	if err != nil {
		return domain.Snapshot{}, err
	}
	s := e.Snapshot()
	ev, err := a.event(ctx, e, events.ExpenseSubmittedV2{
		ExpenseID: s.ID, EmployeeID: s.EmployeeID, AmountMinor: s.AmountMinor, Currency: s.Currency,
		Category: s.Category, CostCenter: s.CostCenter, Description: s.Description, IncurredOn: s.IncurredOn.Format("2006-01-02"),
		SubmittedAt: now,
	})
	if err != nil {
		return domain.Snapshot{}, err
	}
	return s, a.expenses.Add(ctx, e, ev)
}

// Approve is a manager's approval; see domain.Expense.Approve for the rules.
// The claim's budget is reserved at accounting first (reserve), then the
// approval and its event commit in one transaction of their own.
func (a *App) Approve(ctx context.Context, caller auth.Principal, id string) (domain.Snapshot, error) {
	if err := a.reserve(ctx, caller, id); err != nil {
		return domain.Snapshot{}, err
	}
	return a.change(ctx, caller, ApproveExpense, id, func(e *domain.Expense) (bool, events.Payload, error) {
		now := a.now()
		changed, err := e.Approve(caller.UserID, now)
		s := e.Snapshot()
		return changed, events.ExpenseApprovedV1{
			ExpenseID: s.ID, EmployeeID: s.EmployeeID, ApproverID: caller.UserID,
			AmountMinor: s.AmountMinor, Currency: s.Currency, Category: s.Category, ApprovedAt: now,
		}, err
	})
}

// Reject is a manager's rejection with a reason.
func (a *App) Reject(ctx context.Context, caller auth.Principal, id, reason string) (domain.Snapshot, error) {
	return a.change(ctx, caller, RejectExpense, id, func(e *domain.Expense) (bool, events.Payload, error) {
		now := a.now()
		changed, err := e.Reject(caller.UserID, reason, now)
		s := e.Snapshot()
		return changed, events.ExpenseRejectedV1{
			ExpenseID: s.ID, EmployeeID: s.EmployeeID, ApproverID: caller.UserID, Reason: reason, RejectedAt: now,
		}, err
	})
}

// Withdraw lets the submitter take back a claim still awaiting a decision.
func (a *App) Withdraw(ctx context.Context, caller auth.Principal, id string) (domain.Snapshot, error) {
	return a.change(ctx, caller, WithdrawExpense, id, func(e *domain.Expense) (bool, events.Payload, error) {
		now := a.now()
		changed, err := e.Withdraw(caller.UserID, now)
		return changed, events.ExpenseWithdrawnV1{ExpenseID: e.ID(), EmployeeID: caller.UserID, WithdrawnAt: now}, err
	})
}

// change runs one decision on a stored expense, if Access lets the caller
// take action on it. The role is checked before the store is touched (a
// wrong role gets 403 whether or not the claim exists), ownership once the
// claim is loaded. The decision reports whether it changed anything and the
// event announcing it; an unchanged expense (a repeated decision) is neither
// written nor announced again.
func (a *App) change(ctx context.Context, caller auth.Principal, action, id string, decide func(*domain.Expense) (bool, events.Payload, error)) (domain.Snapshot, error) {
	if _, err := Access.Allow(caller, action); err != nil {
		return domain.Snapshot{}, err
	}
	e, err := a.expenses.Update(ctx, id, func(e *domain.Expense) ([]events.Envelope, error) {
		if err := Access.Check(caller, action, e.Snapshot().EmployeeID); err != nil {
			return nil, notFoundAs(err, id)
		}
		changed, payload, err := decide(e)
		if err != nil || !changed {
			return nil, err
		}
		ev, err := a.event(ctx, e, payload)
		return []events.Envelope{ev}, err
	})
	if err != nil {
		return domain.Snapshot{}, err
	}
	return e.Snapshot(), nil
}

// event wraps a payload about e in an envelope whose sequence is e's version.
func (a *App) event(ctx context.Context, e *domain.Expense, p events.Payload) (events.Envelope, error) {
	return events.New(p, correlation.Stamp(ctx, events.Meta{
		ID: a.newID(), Source: events.SourceApproval, Time: a.now(), Sequence: e.Version(),
	}))
}

// OverBudget refuses an approval the claim's budget has no room for: a
// Conflict (409) whose problem says what remains (remaining_minor).
type OverBudget struct {
	Refusal        *apperr.Error
	RemainingMinor int64
}

func (e OverBudget) Error() string { return e.Refusal.Error() }
func (e OverBudget) Unwrap() error { return e.Refusal }

// reserve holds the claim's amount in its budget before the approval
// commits — a call to accounting, made before any transaction opens, never
// inside one. It is skipped when approving would change nothing (a repeat)
// or be refused anyway: the approval's own checks then answer. If the
// approval then fails to commit (a concurrent decision), the reservation
// expires at accounting. Fail closed: without an answer, no approval.
func (a *App) reserve(ctx context.Context, caller auth.Principal, id string) error {
	if a.budget == nil {
		return nil
	}
	if _, err := Access.Allow(caller, ApproveExpense); err != nil {
		return err
	}
	e, err := a.expenses.Get(ctx, id)
	if err != nil {
		return err
	}
	s := e.Snapshot()
	if err := Access.Check(caller, ApproveExpense, s.EmployeeID); err != nil {
		return notFoundAs(err, id)
	}
	if changed, err := e.Approve(caller.UserID, a.now()); err != nil || !changed {
		return nil // refused or a repeat: the approval itself will say so
	}
	err = a.budget.Reserve(ctx, budget.Reservation{ExpenseID: s.ID, CostCenter: s.CostCenter,
		Period: s.IncurredOn.Format("2006-01"), AmountMinor: s.AmountMinor, Currency: s.Currency})
	var over *budget.OverBudget
	switch {
	case errors.As(err, &over):
		return OverBudget{Refusal: apperr.New(apperr.Conflict, "over budget: cost center %s has %d %s left in %s",
			s.CostCenter, over.RemainingMinor, s.Currency, s.IncurredOn.Format("2006-01")), RemainingMinor: over.RemainingMinor}
	case err != nil:
		return apperr.New(apperr.Unavailable, "the budget check is unavailable, so nothing was approved; try again shortly")
	}
	return nil
}
