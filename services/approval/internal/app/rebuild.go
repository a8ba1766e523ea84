package app

import (
	"context"
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

// Rebuilding is the read model during a rebuild: emptied, locked against the
// live projection, inside one transaction.
type Rebuilding interface {
	Views
	// Missing counts the events the projection had applied before the
	// rebuild that have not been replayed yet.
	Missing() int
}

// RebuildProjection empties the read model and replays the whole history
// through the same Project code the live consumer uses, in one transaction:
// readers see the old table until the new one commits, and the live
// consumer waits meanwhile (its events stay queued).
//
// The archive may lag behind the live projection by a moment (both consume
// the same events independently). Committing a rebuild without an event the
// live projection had applied would lose it for good — it was acked long
// ago — so the rebuild keeps reading the archive until every such event has
// been replayed, or gives up after wait without changing anything.
func (a *App) RebuildProjection(ctx context.Context, history History, wait time.Duration) (replayed int, err error) {
	err = a.views.Rebuild(ctx, ProjectionName, func(views Rebuilding) error {
		replay := &App{views: views}
		deadline := time.Now().Add(wait)
		var after int64
		for {
			evs, next, err := history.Read(ctx, after, feedPage)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if err := replay.Project(ctx, inbox.Key{Consumer: ProjectionName, EventID: e.ID}, e); err != nil {
					return fmt.Errorf("replaying %s %s: %w", e.Type, e.ID, err)
				}
				replayed++
			}
			after = next
			switch {
			case len(evs) > 0:
				continue
			case views.Missing() == 0:
				return nil
			case time.Now().After(deadline):
				return fmt.Errorf("the audit log still lacks %d events the projection had applied; it may be behind or down: nothing was changed, try again", views.Missing())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
	return replayed, err
}
