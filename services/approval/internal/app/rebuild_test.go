package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
)

// fakeArchive serves a fixed history, then whatever arrives late.
type fakeArchive struct {
	events []events.Event
	late   []events.Event // appended after the first read that reaches the end
	reads  int
}

func (f *fakeArchive) Read(_ context.Context, after int64, limit int) ([]events.Event, int64, error) {
	f.reads++
	if int(after) >= len(f.events) && len(f.late) > 0 {
		f.events, f.late = append(f.events, f.late...), nil
	}
	end := min(int(after)+limit, len(f.events))
	return f.events[after:end], int64(end), nil
}

// fakeRebuilding records projected views in memory, and which events the
// live projection had applied that the replay has not.
type fakeRebuilding struct {
	Views
	owner   *fakeViews
	views   map[string]*View
	missing map[string]bool
}

func (f *fakeRebuilding) Project(_ context.Context, key inbox.Key, id string, apply func(*View)) error {
	delete(f.missing, key.EventID)
	if f.views[id] == nil {
		f.views[id] = &View{ID: id}
	}
	apply(f.views[id])
	return nil
}

func (f *fakeRebuilding) Commit(context.Context) (int, error) {
	if len(f.missing) == 0 {
		f.owner.committed = f.views
	}
	return len(f.missing), nil
}

func (f *fakeRebuilding) Discard(context.Context) error { f.owner.discarded = true; return nil }

// fakeViews hands out a fakeRebuilding and records what it committed.
type fakeViews struct {
	Views
	applied   []string // event ids the live projection had applied
	committed map[string]*View
	discarded bool
}

func (f *fakeViews) Rebuild(context.Context, string) (Rebuilding, error) {
	r := &fakeRebuilding{owner: f, views: map[string]*View{}, missing: map[string]bool{}}
	for _, id := range f.applied {
		r.missing[id] = true
	}
	return r, nil
}

func withIDs(story []events.Event) []events.Event {
	for i := range story {
		story[i].ID = "ev-" + string(rune('a'+i))
	}
	return story
}

func TestRebuildWaitsForTheArchiveToCatchUp(t *testing.T) {
	story := withIDs(paidStory())
	archive := &fakeArchive{events: story[:3], late: story[3:]} // the payment reaches the archive late
	views := &fakeViews{applied: []string{"ev-a", "ev-b", "ev-c", "ev-d"}}
	a := &App{views: views}
	n, err := a.RebuildProjection(context.Background(), archive, 5*time.Second)
	if err != nil || n != 4 {
		t.Fatalf("replayed %d, err %v", n, err)
	}
	if v := views.committed["00000000-0000-4000-8000-00000000e001"]; v == nil || v.PublicStatus() != StatusPaid {
		t.Fatalf("rebuilt view: %+v", v)
	}
}

func TestRebuildGivesUpWithoutChangingAnything(t *testing.T) {
	story := withIDs(paidStory())
	archive := &fakeArchive{events: story[:2]} // the archive never gets the rest
	views := &fakeViews{applied: []string{"ev-a", "ev-b", "ev-c", "ev-d"}}
	a := &App{views: views}
	_, err := a.RebuildProjection(context.Background(), archive, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "lacks 2 events") {
		t.Fatalf("want a refusal naming the 2 missing events, got %v", err)
	}
	if views.committed != nil || !views.discarded {
		t.Fatal("a failed rebuild committed, or left its new read model behind")
	}
}

func TestRebuildStopsWithItsContext(t *testing.T) {
	views := &fakeViews{applied: []string{"never-archived"}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := (&App{views: views}).RebuildProjection(ctx, &fakeArchive{}, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
}
