package app

import (
	"context"
	"slices"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
)

// ListFilter narrows a list of reimbursements.
type ListFilter struct {
	Status     domain.Status
	EmployeeID string
}

// Get returns one reimbursement. For a caller who may not see it, it does
// not exist: a 404 tells nothing about other people's money.
func (a *App) Get(ctx context.Context, caller auth.Principal, id string) (domain.Snapshot, error) {
	s, err := a.store.Get(ctx, id)
	if err == nil && !seesAll(caller) && s.EmployeeID != caller.UserID {
		err = apperr.New(apperr.NotFound, "reimbursement %s not found", id)
	}
	return s, err
}

// List returns up to limit+1 reimbursements after afterID, in id order (ids
// are time-ordered UUIDv7). Employees and managers are limited to their own.
func (a *App) List(ctx context.Context, caller auth.Principal, f ListFilter, limit int, afterID string) ([]domain.Snapshot, error) {
	if f.Status != "" && !slices.Contains(domain.Statuses, f.Status) {
		return nil, apperr.Fields([]apperr.FieldError{{Field: "status", Message: "must be scheduled, paid or failed"}})
	}
	if !seesAll(caller) {
		if f.EmployeeID != "" && f.EmployeeID != caller.UserID {
			return []domain.Snapshot{}, nil
		}
		f.EmployeeID = caller.UserID
	}
	return a.store.List(ctx, f, limit, afterID)
}

// seesAll: finance pays everyone and auditors check everyone; employees and
// managers are paid like anyone else and see only their own reimbursements.
func seesAll(caller auth.Principal) bool {
	return caller.Role == directory.RoleFinance || caller.Role == directory.RoleAuditor
}
