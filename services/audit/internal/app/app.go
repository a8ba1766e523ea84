// Package app holds the audit service's use cases: recording each event as
// received, and reading the log back, searched or as an ordered feed.
// Every read checks Access (access.go) before anything else.
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
)

// Stored is one entry of the log.
type Stored struct {
	Seq        int64           // position in the log: 1, 2, 3, … in commit order, no gaps
	Envelope   json.RawMessage // the event as received
	ReceivedAt time.Time
	Hash       []byte // this entry's link in the hash chain (domain.Link)
}

// Filter narrows a search; empty fields match everything.
type Filter struct {
	Subject       string
	ExpenseID     string // the expense's whole story: see events.Envelope.ExpenseID
	CorrelationID string
	Type          string
	From, To      time.Time // event time in [From, To); a zero bound is open
}

// Query is a search as the client wrote it: From and To are RFC 3339 times,
// or empty. Events validates it only once the caller may search at all, so
// that nobody but an auditor learns anything from the answer, not even which
// parameters are wrong.
type Query struct {
	Subject, ExpenseID, CorrelationID, Type string
	From, To                                string
}

func (q Query) filter() (Filter, error) {
	f := Filter{Subject: q.Subject, ExpenseID: q.ExpenseID, CorrelationID: q.CorrelationID, Type: q.Type}
	var errs []apperr.FieldError
	parse := func(field, s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			errs = append(errs, apperr.FieldError{Field: field, Message: "must be an RFC 3339 time, e.g. 2026-11-22T15:00:00Z"})
		}
		return t
	}
	f.From, f.To = parse("from", q.From), parse("to", q.To)
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		errs = append(errs, apperr.FieldError{Field: "to", Message: "must be after from"})
	}
	return f, apperr.Fields(errs)
}

// Store is the append-only log.
type Store interface {
	// Append stores r as the next entry of the log unless an event with its
	// id is stored already; then it does nothing (a redelivery).
	Append(ctx context.Context, r domain.Record, receivedAt time.Time) error
	// Read returns up to n entries matching f with seq > afterSeq, by seq.
	Read(ctx context.Context, f Filter, afterSeq int64, n int) ([]Stored, error)
	// Links returns up to n entries with seq > afterSeq, by seq, with their
	// stored hashes.
	Links(ctx context.Context, afterSeq int64, n int) ([]domain.Link, error)
	// Head returns the newest entry's seq and stored hash (seq 0 and the
	// genesis hash for an empty log).
	Head(ctx context.Context) (domain.Checkpoint, error)
}

// App wires the use cases to the store and the clock.
type App struct {
	store Store
	now   func() time.Time
}

// New returns the audit application.
func New(store Store, now func() time.Time) *App { return &App{store: store, now: now} }

// Record keeps one event, exactly once, with the body exactly as received.
func (a *App) Record(ctx context.Context, env events.Envelope, body []byte) error {
	return a.store.Append(ctx, domain.NewRecord(env, body), a.now())
}

// Events searches the log in seq order, returning up to limit+1 entries:
// the extra one tells httpx.NewPage that there is a next page.
func (a *App) Events(ctx context.Context, caller auth.Principal, q Query, limit int, afterSeq int64) ([]Stored, error) {
	if _, err := Access.Allow(caller, SearchEvents); err != nil {
		return nil, err
	}
	f, err := q.filter()
	if err != nil {
		return nil, err
	}
	return a.store.Read(ctx, f, afterSeq, limit+1)
}

// Feed returns up to limit entries after afterSeq, in seq order: the whole
// log, for rebuilding projections. Because seq has no gaps and follows
// commit order, a reader that resumes after the last seq it saw misses nothing.
func (a *App) Feed(ctx context.Context, caller auth.Principal, afterSeq int64, limit int) ([]Stored, error) {
	if _, err := Access.Allow(caller, ReadFeed); err != nil {
		return nil, err
	}
	return a.store.Read(ctx, Filter{}, afterSeq, limit)
}

// Verification is the outcome of recomputing the hash chain.
type Verification struct {
	Checked int64             // entries examined, the broken one included
	Broken  *domain.Break     // nil when the whole chain holds
	Head    domain.Checkpoint // the last entry verified: keep it outside the audit database
}

// Verify recomputes the hash chain from the first entry to the last and
// reports the first link that does not hold, or a checkpoint the log no
// longer matches. It reads in pages, so the log can be any size; entries
// appended meanwhile are verified too.
func (a *App) Verify(ctx context.Context, caller auth.Principal, checkpoints ...domain.Checkpoint) (Verification, error) {
	if _, err := Access.Allow(caller, VerifyChain); err != nil {
		return Verification{}, err
	}
	v := domain.NewVerifier(checkpoints...)
	var after int64
	for {
		links, err := a.store.Links(ctx, after, 1000)
		if err != nil {
			return Verification{}, err
		}
		for _, l := range links {
			if !v.Check(l) {
				return Verification{Checked: v.Checked, Broken: v.Broken, Head: v.Head()}, nil
			}
			after = l.Seq
		}
		if len(links) == 0 {
			v.End()
			return Verification{Checked: v.Checked, Broken: v.Broken, Head: v.Head()}, nil
		}
	}
}

// CheckpointTick writes the log's head to the service's own log, once per
// tick of the checkpoint timer (platform.Every). The log lines leave this
// service for a log pipeline the audit database cannot touch: whoever later
// rewrites or truncates the table cannot change the checkpoints already
// written, and GET /v1/audit/verify?checkpoint=<seq>:<hash> with one of them
// shows the change. The head is read as stored, not verified: verifying is
// verify's job, and a checkpoint of an already-broken log still pins it.
func (a *App) CheckpointTick(ctx context.Context, log *slog.Logger) {
	head, err := a.store.Head(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		log.ErrorContext(ctx, "audit checkpoint failed; the next tick tries again", "error", err)
	default:
		log.InfoContext(ctx, "audit checkpoint: keep it outside the audit database; GET /v1/audit/verify?checkpoint=<it> proves the log still holds it",
			"checkpoint", fmt.Sprintf("%d:%x", head.Seq, head.Hash))
	}
}
