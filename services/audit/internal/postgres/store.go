// Package postgres is the audit service's persistence: the append-only
// audit_events table.
package postgres

import (
	"context"
	"embed"
	"errors"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/audit/internal/app"
	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the audit schema.
var Migrations = postgres.EmbeddedMigrations("audit", migrationFiles, "migrations")

// Events is the audit log store.
type Events struct {
	db *gorm.DB
	// Group commit: appends that arrive while one is being written wait in
	// pending and are written together by the next writer, in one
	// transaction under one lock (see Append).
	mu      sync.Mutex // guards pending
	pending []*appendRequest
	writer  sync.Mutex // held by the one appender writing a batch
}

// NewEvents returns the store on db.
func NewEvents(db *gorm.DB) *Events { return &Events{db: db} }

type eventRow struct {
	// Not auto-incremented: Append computes it. (Left to its default, gorm
	// adds RETURNING "seq" to the insert, and then, with gorm 1.31, reports
	// every row of a batch affected even when ON CONFLICT skipped one;
	// TestRedeliveriesAmidNewEventsKeepTheChainWhole caught it.)
	Seq           int64 `gorm:"primaryKey;autoIncrement:false"`
	EventID       string
	Type          string
	Source        string
	Subject       string
	CorrelationID string
	ExpenseID     string
	EventTime     time.Time
	Envelope      []byte
	ReceivedAt    time.Time
	PrevHash      []byte
	Hash          []byte
}

func (eventRow) TableName() string { return "audit_events" }

// appendLock names the transaction-level advisory lock that serialises appends.
const appendLock = "audit_events.append"

// maxBatch bounds how many appends one transaction writes.
const maxBatch = 64

type appendRequest struct {
	record     domain.Record
	receivedAt time.Time
	done       chan error // receives the outcome once written (or refused)
}

// Append adds r as the next entry, MAX(seq)+1, and returns once it is
// committed. Appends are serialised under a transaction-level advisory
// lock held until commit. The lock is what makes seq trustworthy for the
// feed: seq order is commit order and a reader never sees seq N+1 before N
// exists. Computing seq under the lock inside the transaction also keeps it
// gap-free: a rolled-back append uses up no number. The hash chain needs
// the same: the previous entry's hash is read under the lock, so two
// appends can never link to one parent.
//
// One writer at a time would cap the log at one commit per append, and the
// log receives every event of the system. So appends are group-committed:
// whoever takes the writer's turn writes every append waiting by then (up
// to maxBatch), in one transaction, and hands each its outcome. Nobody waits
// for a batch to fill: under light load a batch is one append, under heavy
// load it is whatever arrived during the previous commit. If a batch fails,
// its appends are written one by one, so one event the database refuses (a
// NUL character) fails alone instead of taking its batch with it.
//
// Duplicates: an event id already in the log (or earlier in the batch) is
// not appended again, and its Append succeeds. The unique event_id is the
// whole idempotency mechanism here: the table is itself the record of
// handled events, so pkg/inbox would only store each id a second time.
func (s *Events) Append(ctx context.Context, r domain.Record, receivedAt time.Time) error {
	req := &appendRequest{record: r, receivedAt: receivedAt, done: make(chan error, 1)}
	s.mu.Lock()
	s.pending = append(s.pending, req)
	s.mu.Unlock()
	for {
		s.writer.Lock()
		select {
		case err := <-req.done: // a writer before us took it along
			s.writer.Unlock()
			return err
		default:
		}
		s.mu.Lock()
		batch := s.pending[:min(len(s.pending), maxBatch)]
		s.pending = s.pending[len(batch):]
		s.mu.Unlock()
		s.write(ctx, batch)
		s.writer.Unlock()
	}
}

// write appends the batch and tells each request its outcome.
func (s *Events) write(ctx context.Context, batch []*appendRequest) {
	err := s.appendOrCheck(ctx, batch)
	if err == nil || len(batch) == 1 {
		for _, req := range batch {
			req.done <- err
		}
		return
	}
	for _, req := range batch { // find the one(s) to blame
		req.done <- s.appendOrCheck(ctx, []*appendRequest{req})
	}
}

// errAlreadyLogged says a batch written as if none of its events were in
// the log met one that was.
var errAlreadyLogged = errors.New("audit: an event of the batch is in the log already")

// appendOrCheck writes the batch assuming none of its events is in the log
// yet, which is true of everything but redeliveries; if one is, it writes
// the batch again, looking up first which events are.
//
// Why not always look them up: that lookup is a statement per batch, and
// the insert's own conflict check (ON CONFLICT on the unique event id)
// finds a redelivery anyway, always through the index. A batch with a
// redelivered event cannot simply skip it at insert time, though: each row's
// seq and hash were computed with the rows before it, so a skipped row
// would leave a gap in seq and a link to nothing. Hence: roll back, and do
// it again knowing which to leave out.
func (s *Events) appendOrCheck(ctx context.Context, batch []*appendRequest) error {
	err := s.appendAll(ctx, batch, false)
	if errors.Is(err, errAlreadyLogged) {
		err = s.appendAll(ctx, batch, true)
	}
	return err
}

// appendAll writes the batch in one transaction under the append lock,
// leaving out the events already in the log if lookUp, and failing with
// errAlreadyLogged if it did not look up and one was.
func (s *Events) appendAll(ctx context.Context, batch []*appendRequest, lookUp bool) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", appendLock).Error; err != nil {
			return err
		}
		var last eventRow
		if err := tx.Select("seq", "hash").Order("seq DESC").Limit(1).Find(&last).Error; err != nil {
			return err
		}
		seen := map[string]bool{}
		if lookUp {
			ids := make([]string, len(batch))
			for i, req := range batch {
				ids[i] = req.record.EventID
			}
			var stored []string
			if err := tx.Raw("SELECT event_id FROM audit_events WHERE event_id IN ?", ids).Scan(&stored).Error; err != nil {
				return err
			}
			for _, id := range stored {
				seen[id] = true
			}
		}
		prev, seq := domain.Genesis, last.Seq
		if seq > 0 {
			prev = last.Hash
		}
		var rows []eventRow
		for _, req := range batch {
			r := req.record
			if seen[r.EventID] {
				continue // a redelivery: already in the log (or earlier in the batch)
			}
			seen[r.EventID] = true
			// PostgreSQL keeps microseconds (and rounds the rest): cut the
			// times to what will be read back, so the hash can be recomputed.
			r.Time = r.Time.Truncate(time.Microsecond)
			seq++
			link := domain.Chain(prev, domain.Entry{Seq: seq, Record: r, ReceivedAt: req.receivedAt.Truncate(time.Microsecond)})
			prev = link.Hash
			rows = append(rows, eventRow{
				Seq: link.Seq, EventID: r.EventID, Type: r.Type, Source: r.Source, Subject: r.Subject,
				CorrelationID: r.CorrelationID, ExpenseID: r.ExpenseID, EventTime: r.Time, Envelope: r.Envelope,
				ReceivedAt: link.ReceivedAt, PrevHash: link.PrevHash, Hash: link.Hash,
			})
		}
		if len(rows) == 0 {
			return nil
		}
		created := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "event_id"}}, DoNothing: true}).Create(&rows)
		if created.Error == nil && created.RowsAffected < int64(len(rows)) {
			return errAlreadyLogged // rolls the batch back
		}
		return created.Error
	})
	if errors.Is(err, errAlreadyLogged) {
		return err
	}
	return postgres.Classify(err)
}

// Links returns up to n stored entries after afterSeq, in seq order, with
// their hashes, for verification.
func (s *Events) Links(ctx context.Context, afterSeq int64, n int) ([]domain.Link, error) {
	var rows []eventRow
	if err := s.db.WithContext(ctx).Where("seq > ?", afterSeq).Order("seq").Limit(n).Find(&rows).Error; err != nil {
		return nil, err
	}
	links := make([]domain.Link, len(rows))
	for i, r := range rows {
		links[i] = domain.Link{
			Entry: domain.Entry{Seq: r.Seq, ReceivedAt: r.ReceivedAt, Record: domain.Record{
				EventID: r.EventID, Type: r.Type, Source: r.Source, Subject: r.Subject,
				CorrelationID: r.CorrelationID, ExpenseID: r.ExpenseID, Time: r.EventTime, Envelope: r.Envelope,
			}},
			PrevHash: r.PrevHash, Hash: r.Hash,
		}
	}
	return links, nil
}

// Head returns the newest entry's seq and hash.
func (s *Events) Head(ctx context.Context) (domain.Checkpoint, error) {
	var rows []eventRow
	if err := s.db.WithContext(ctx).Order("seq DESC").Limit(1).Find(&rows).Error; err != nil {
		return domain.Checkpoint{}, err
	}
	if len(rows) == 0 {
		return domain.Checkpoint{Hash: domain.Genesis}, nil
	}
	return domain.Checkpoint{Seq: rows[0].Seq, Hash: rows[0].Hash}, nil
}

// Read returns up to n entries matching f after afterSeq, by seq.
func (s *Events) Read(ctx context.Context, f app.Filter, afterSeq int64, n int) ([]app.Stored, error) {
	q := s.db.WithContext(ctx).Where("seq > ?", afterSeq).Order("seq").Limit(n)
	equals := func(column, value string) {
		if value != "" {
			q = q.Where(column+" = ?", value)
		}
	}
	equals("subject", f.Subject)
	equals("expense_id", f.ExpenseID)
	equals("correlation_id", f.CorrelationID)
	equals("type", f.Type)
	if !f.From.IsZero() {
		q = q.Where("event_time >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("event_time < ?", f.To)
	}
	var rows []eventRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]app.Stored, len(rows))
	for i, r := range rows {
		out[i] = app.Stored{Seq: r.Seq, Envelope: r.Envelope, ReceivedAt: r.ReceivedAt, Hash: r.Hash}
	}
	return out, nil
}
