package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
)

// ProjectionName names the projection: its inbox consumer name and its
// handlers' prefix. A wire constant.
const ProjectionName = "approval.expense-view-projection"

// feedPage is how many archived events a rebuild reads per request (the
// largest page the audit API serves).
const feedPage = 200

// History is the ordered archive of every event (the audit feed).
type History interface {
	// Read returns up to limit events after position after, in order, and
	// the position to resume from.
	Read(ctx context.Context, after int64, limit int) ([]events.Event, int64, error)
}

// Rebuilding is a new read model being built beside the live one, which
// readers and the live projection keep using meanwhile.
type Rebuilding interface {
	Views // the new read model: Project applies a replayed event to it
	// Commit replaces the live read model with the new one in one short
	// transaction, if by then the replay has applied every event the live
	// projection has; else it changes nothing and returns how many such
	// events the replay still lacks.
	Commit(ctx context.Context) (missing int, err error)
	// Discard drops the new read model (after a Commit, nothing is left).
	Discard(ctx context.Context) error
}

// RebuildProjection builds a new read model from the whole history, through
// the same Project code the live consumer uses, and swaps it in. The replay
// runs one short transaction per event beside the live read model, which
// readers and the live consumer keep using: no transaction stays open for
// the replay's length, since one would hold back every outbox relay on the
// server (docs/patterns/transactional-outbox.md). Only the swap locks the
// live projection out, for a moment.
//
// The archive may lag behind the live projection by a moment (both consume
// the same events independently). Swapping in a read model without an event
// the live projection had applied would lose it for good — it was acked long
// ago — so the rebuild keeps reading the archive until the swap finds every
// such event replayed, or gives up after wait without changing anything.
func (a *App) RebuildProjection(ctx context.Context, history History, wait time.Duration) (replayed int, err error) {
	views, err := a.views.Rebuild(ctx, ProjectionName)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, views.Discard(context.WithoutCancel(ctx)))
		}
	}()
	replay := &App{views: views}
	deadline := time.Now().Add(wait)
	var after int64
	for {
		evs, next, err := history.Read(ctx, after, feedPage)
		if err != nil {
			return replayed, err
		}
		for _, e := range evs {
			if err := replay.Project(ctx, inbox.Key{Consumer: ProjectionName, EventID: e.ID}, e); err != nil {
				return replayed, fmt.Errorf("replaying %s %s: %w", e.Type, e.ID, err)
			}
			replayed++
		}
		after = next
		if len(evs) > 0 {
			continue
		}
		missing, err := views.Commit(ctx)
		switch {
		case err != nil:
			return replayed, err
		case missing == 0:
			return replayed, nil
		case time.Now().After(deadline):
			return replayed, fmt.Errorf("the audit log still lacks %d events the projection had applied; it may be behind or down: nothing was changed, try again", missing)
		}
		select {
		case <-ctx.Done():
			return replayed, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
