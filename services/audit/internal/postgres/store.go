// Package postgres is the audit service's persistence: the append-only
// audit_events table.
package postgres

import (
	"context"
	"embed"
	"time"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/audit/internal/app"
	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the audit schema.
var Migrations = postgres.EmbeddedMigrations("audit", migrationFiles, "migrations")

// Events is the audit log store.
type Events struct{ db *gorm.DB }

// NewEvents returns the store on db.
func NewEvents(db *gorm.DB) *Events { return &Events{db: db} }

type eventRow struct {
	Seq           int64 `gorm:"primaryKey"`
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

// Append adds r as entry MAX(seq)+1, under a transaction-level advisory lock
// held until commit. The lock is what makes seq trustworthy for the feed:
// appends cannot interleave, so seq order is commit order and a reader never
// sees seq N+1 before N exists (with competing consumers too, at the cost of
// one append at a time, about one commit per fsync). Computing seq under the
// lock inside the transaction also keeps it gap-free: a rolled-back append
// uses up no number. The hash chain needs the same: the previous entry's
// hash is read under the lock, so two appends can never link to one parent.
//
// Duplicates: the unique event_id with ON CONFLICT DO NOTHING is the whole
// idempotency mechanism here. The table is itself the record of handled
// events, so pkg/inbox would only store each event id a second time.
func (s *Events) Append(ctx context.Context, r domain.Record, receivedAt time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", appendLock).Error; err != nil {
			return err
		}
		var last eventRow
		err := tx.Select("seq", "hash").Order("seq DESC").Limit(1).Find(&last).Error
		if err != nil {
			return err
		}
		prev := domain.Genesis
		if last.Seq > 0 {
			prev = last.Hash
		}
		// PostgreSQL keeps microseconds (and rounds the rest): cut the times
		// to what will be read back, so the hash can be recomputed.
		r.Time = r.Time.Truncate(time.Microsecond)
		link := domain.Chain(prev, domain.Entry{Seq: last.Seq + 1, Record: r, ReceivedAt: receivedAt.Truncate(time.Microsecond)})
		return tx.Exec(`INSERT INTO audit_events
			(seq, event_id, type, source, subject, correlation_id, expense_id, event_time, envelope, received_at, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (event_id) DO NOTHING`,
			link.Seq, r.EventID, r.Type, r.Source, r.Subject, r.CorrelationID, r.ExpenseID, r.Time, r.Envelope,
			link.ReceivedAt, link.PrevHash, link.Hash).Error
	})
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
		out[i] = app.Stored{Seq: r.Seq, Envelope: r.Envelope, ReceivedAt: r.ReceivedAt}
	}
	return out, nil
}
