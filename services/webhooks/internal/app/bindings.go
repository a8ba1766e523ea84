package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// The service's queue is bound only to what its endpoints subscribe to
// (domain.Bindings), so an event no endpoint wants is never delivered here:
// with no endpoint, the queue receives nothing at all.
//
// The order of the steps is what keeps every event an endpoint wants:
//   - creating an endpoint binds its patterns first, then commits it, so
//     everything published after the endpoint exists reaches the queue (a
//     failed commit leaves a binding nobody wants: harmless, and the next
//     reconciliation removes it);
//   - a binding is removed only after the last endpoint wanting it is gone;
//   - both hold one lock (Store.LockBindings), so a removal cannot decide on
//     an endpoint list that a creation is about to change;
//   - a pattern is recorded as bound before it is bound, and forgotten only
//     after it is unbound, so a crash in between leaves a record, and the
//     next reconciliation unbinds what no endpoint wants.

// Bindings is the queue's side of the broker: bind to patterns, unbind
// from stale.
type Bindings interface {
	Rebind(patterns, stale []string) error
}

// BindingStore is where the lock is, and what is recorded as bound.
type BindingStore interface {
	LockBindings(ctx context.Context) (release func(), err error)
	Bound(ctx context.Context) ([]string, error)
	RecordBound(ctx context.Context, added, removed []string) error
}

// bindFor binds the queue to what e needs, under the lock the caller holds.
func (a *App) bindFor(ctx context.Context, e *domain.Endpoint) error {
	patterns := domain.Bindings(e.EventTypes, a.families)
	if err := a.bound.RecordBound(ctx, patterns, nil); err != nil {
		return err
	}
	if err := a.bindings.Rebind(patterns, nil); err != nil {
		return fmt.Errorf("%w (%v)", apperr.New(apperr.Unavailable, "the message broker could not subscribe the endpoint; try again"), err)
	}
	return nil
}

// ReconcileBindings binds the queue to everything the endpoints want (again:
// a broker rebuilt from its definitions has lost them) and unbinds what was
// bound and no endpoint wants any more.
func (a *App) ReconcileBindings(ctx context.Context) error {
	release, err := a.bound.LockBindings(ctx)
	if err != nil {
		return err
	}
	defer release()
	endpoints, err := a.store.Endpoints(ctx)
	if err != nil {
		return err
	}
	var patterns []string
	for _, e := range endpoints {
		patterns = append(patterns, e.EventTypes...)
	}
	wanted := domain.Bindings(patterns, a.families)
	bound, err := a.bound.Bound(ctx)
	if err != nil {
		return err
	}
	stale := slices.DeleteFunc(bound, func(p string) bool { return slices.Contains(wanted, p) })
	if err := a.bound.RecordBound(ctx, wanted, nil); err != nil {
		return err
	}
	if err := a.bindings.Rebind(wanted, stale); err != nil {
		return err
	}
	return a.bound.RecordBound(ctx, nil, stale)
}

// KeepBindings reconciles the bindings at start, until that succeeds, and
// then every interval: a binding lost on the broker's side comes back, and
// one a failed deletion left behind goes.
func (a *App) KeepBindings(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = interval
		if err := a.ReconcileBindings(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "webhooks: could not reconcile the queue's bindings; trying again", "error", err)
			wait = 5 * time.Second
		}
	}
}
