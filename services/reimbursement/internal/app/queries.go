package app

import (
	"context"
	"slices"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
)

// ListFilter narrows a list of reimbursements.
type ListFilter struct {
	Status     domain.Status
	EmployeeID string
	ExpenseID  string // the one reimbursement of a claim, if it has one yet
}

// Get returns one reimbursement. For a caller who may not see it, it does
// not exist: a 404 tells nothing about other people's money.
func (a *App) Get(ctx context.Context, caller auth.Principal, id string) (domain.Snapshot, error) {
	if _, err := Access.Allow(caller, GetReimbursement); err != nil {
		return domain.Snapshot{}, err
	}
	s, err := a.store.Get(ctx, id)
	if err == nil {
		err = Access.Check(caller, GetReimbursement, s.EmployeeID)
	}
	if apperr.KindOf(err) == apperr.NotFound { // missing or not theirs: the same words, no oracle
		return domain.Snapshot{}, apperr.New(apperr.NotFound, "reimbursement %s not found", id)
	}
	return s, err
}

// List returns up to limit+1 reimbursements after afterID, in id order (ids
// are time-ordered UUIDv7). Callers whose scope is Own (employees and
// managers) are limited to their own.
func (a *App) List(ctx context.Context, caller auth.Principal, f ListFilter, limit int, afterID string) ([]domain.Snapshot, error) {
	scope, err := Access.Allow(caller, ListReimbursements)
	if err != nil {
		return nil, err
	}
	if f.Status != "" && !slices.Contains(domain.Statuses, f.Status) {
		return nil, apperr.Fields([]apperr.FieldError{{Field: "status", Message: "must be scheduled, paid, failed or cancelled"}})
	}
	if scope == authz.Own {
		if f.EmployeeID != "" && f.EmployeeID != caller.UserID {
			return []domain.Snapshot{}, nil
		}
		f.EmployeeID = caller.UserID
	}
	return a.store.List(ctx, f, limit, afterID)
}
