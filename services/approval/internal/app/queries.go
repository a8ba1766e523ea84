package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// ListFilter narrows a list of views.
type ListFilter struct {
	Status     string // public status, as PublicStatus returns it
	EmployeeID string
}

// pollEvery is how often a read-your-writes read looks at the projection again.
const pollEvery = 50 * time.Millisecond

// Get returns one expense as the projection shows it. With minVersion > 0 it
// waits (up to the configured bound) until the projection has caught up to
// that version; stale tells the caller it gave up waiting. Employees see only
// their own claims: for them someone else's claim does not exist.
func (a *App) Get(ctx context.Context, caller auth.Principal, id string, minVersion int64) (v View, stale bool, err error) {
	deadline := time.Now().Add(a.maxWait)
	for {
		v, err = a.views.Get(ctx, id)
		if err != nil && apperr.KindOf(err) != apperr.NotFound {
			return View{}, false, err
		}
		caughtUp := err == nil && v.Version >= minVersion
		if caughtUp || minVersion == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return View{}, false, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	if err != nil || !canSee(caller, v.EmployeeID) {
		return View{}, false, apperr.New(apperr.NotFound, "expense %s not found", id)
	}
	return v, v.Version < minVersion, nil
}

// List returns a page of expenses in a stable order (by id, which is a
// time-ordered UUIDv7). Employees are limited to their own.
func (a *App) List(ctx context.Context, caller auth.Principal, f ListFilter, limit int, afterID string) ([]View, error) {
	if caller.Role == directory.RoleEmployee {
		if f.EmployeeID != "" && f.EmployeeID != caller.UserID {
			return []View{}, nil
		}
		f.EmployeeID = caller.UserID
	}
	return a.views.List(ctx, f, limit, afterID)
}

// canSee: employees see their own claims; managers, finance and auditors all.
func canSee(caller auth.Principal, employeeID string) bool {
	return caller.Role != directory.RoleEmployee || caller.UserID == employeeID
}
