package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/authz"
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
// that version; stale tells the caller it gave up waiting. A claim the caller
// may not see (Access, GetExpense) does not exist for them.
//
// Before any wait, who may see the claim is settled from the write model,
// which knows every claim at once: otherwise a 404 at once (someone else's
// claim, already projected) and a 404 after the whole wait (no such claim)
// would tell a caller what they may not know.
func (a *App) Get(ctx context.Context, caller auth.Principal, id string, minVersion int64) (v View, stale bool, err error) {
	if _, err := Access.Allow(caller, GetExpense); err != nil {
		return View{}, false, err
	}
	if minVersion > 0 {
		owner, err := a.expenses.Owner(ctx, id)
		if err == nil {
			err = Access.Check(caller, GetExpense, owner)
		}
		if err != nil {
			return View{}, false, notFoundAs(err, id)
		}
	}
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
	if err == nil {
		err = Access.Check(caller, GetExpense, v.EmployeeID)
	}
	if err != nil {
		return View{}, false, notFoundAs(err, id)
	}
	return v, v.Version < minVersion, nil
}

// List returns a page of expenses in a stable order (by id, which is a
// time-ordered UUIDv7). Callers whose scope is Own are limited to their own.
func (a *App) List(ctx context.Context, caller auth.Principal, f ListFilter, limit int, afterID string) ([]View, error) {
	scope, err := Access.Allow(caller, ListExpenses)
	if err != nil {
		return nil, err
	}
	if scope == authz.Own {
		if f.EmployeeID != "" && f.EmployeeID != caller.UserID {
			return []View{}, nil
		}
		f.EmployeeID = caller.UserID
	}
	return a.views.List(ctx, f, limit, afterID)
}

// notFoundAs gives a claim that is missing and one the caller may not see
// the same answer, word for word: the message must not be an oracle either.
func notFoundAs(err error, id string) error {
	if apperr.KindOf(err) == apperr.NotFound {
		return apperr.New(apperr.NotFound, "expense %s not found", id)
	}
	return err
}
