// Package postgres is the approval service's persistence: the expenses table
// (write model) with its outbox writes, and the expense_views table (read
// model) maintained by the projection.
package postgres

import (
	"context"
	"embed"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the approval schema.
var Migrations = postgres.EmbeddedMigrations("approval", migrationFiles, "migrations")

// Expenses is the write-model store.
type Expenses struct{ db *gorm.DB }

// NewExpenses returns the write-model store on db.
func NewExpenses(db *gorm.DB) *Expenses { return &Expenses{db: db} }

type expenseRow struct {
	ID          string `gorm:"primaryKey"`
	EmployeeID  string
	AmountMinor int64
	Currency    string
	Category    string
	CostCenter  string
	Description string
	IncurredOn  time.Time
	Status      string
	Version     int64
	DecidedBy   string
	Reason      string
	SubmittedAt time.Time
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"` // the domain's clock, not gorm's
}

func (expenseRow) TableName() string { return "expenses" }

// Add inserts a new expense and its events in one transaction.
func (s *Expenses) Add(ctx context.Context, e *domain.Expense, evs ...events.Envelope) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := toRow(e.Snapshot())
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return outbox.Publish(ctx, tx, evs...)
	})
}

// Update applies change with optimistic concurrency: the row is written only
// if its version is still the one that was read, so of two concurrent
// decisions exactly one wins and the other gets a Conflict.
func (s *Expenses) Update(ctx context.Context, id string, change func(*domain.Expense) ([]events.Envelope, error)) (*domain.Expense, error) {
	var e *domain.Expense
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row expenseRow
		if err := tx.Take(&row, "id = ?", id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return apperr.New(apperr.NotFound, "expense %s not found", id)
			}
			return err
		}
		e = domain.Restore(fromRow(row))
		evs, err := change(e)
		if err != nil || len(evs) == 0 {
			return err
		}
		next := toRow(e.Snapshot())
		res := tx.Model(&expenseRow{}).Where("id = ? AND version = ?", id, row.Version).
			Select("*").Omit("id").Updates(&next)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.New(apperr.Conflict, "expense %s was changed concurrently; reload and retry", id)
		}
		return outbox.Publish(ctx, tx, evs...)
	})
	return e, err
}

func toRow(s domain.Snapshot) expenseRow {
	return expenseRow{
		ID: s.ID, EmployeeID: s.EmployeeID, AmountMinor: s.AmountMinor, Currency: s.Currency,
		Category: s.Category, CostCenter: s.CostCenter, Description: s.Description, IncurredOn: s.IncurredOn,
		Status: string(s.Status), Version: s.Version, DecidedBy: s.DecidedBy, Reason: s.Reason,
		SubmittedAt: s.SubmittedAt, UpdatedAt: s.UpdatedAt,
	}
}

func fromRow(r expenseRow) domain.Snapshot {
	return domain.Snapshot{
		ID: r.ID, EmployeeID: r.EmployeeID, AmountMinor: r.AmountMinor, Currency: r.Currency,
		Category: r.Category, CostCenter: r.CostCenter, Description: r.Description, IncurredOn: r.IncurredOn,
		Status: domain.Status(r.Status), Version: r.Version, DecidedBy: r.DecidedBy, Reason: r.Reason,
		SubmittedAt: r.SubmittedAt, UpdatedAt: r.UpdatedAt,
	}
}

// Views is the read-model store.
type Views struct{ db *gorm.DB }

// NewViews returns the read-model store on db.
func NewViews(db *gorm.DB) *Views { return &Views{db: db} }

type viewRow struct {
	ID              string `gorm:"primaryKey"`
	EmployeeID      string
	AmountMinor     int64
	Currency        string
	Category        string
	CostCenter      string
	Description     string
	IncurredOn      string
	Status          string
	PublicStatus    string
	Version         int64
	DecidedBy       string
	Reason          string
	ReimbursementID string
	PaymentStatus   string
	PaymentSequence int64
	SubmittedAt     *time.Time
	UpdatedAt       time.Time `gorm:"autoUpdateTime:false"` // the newest event's time, set by the projection
}

func (viewRow) TableName() string { return "expense_views" }

// Project creates the view row if needed, locks it, applies the event and
// saves it — in the same transaction as the inbox record, so a redelivered
// event is skipped and a crash halfway leaves nothing behind.
func (s *Views) Project(ctx context.Context, key inbox.Key, expenseID string, apply func(*app.View)) error {
	return inbox.Once(ctx, s.db, key, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&viewRow{ID: expenseID}).Error; err != nil {
			return err
		}
		var row viewRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, "id = ?", expenseID).Error; err != nil {
			return err
		}
		v := row.view()
		apply(&v)
		next := fromView(v)
		return tx.Select("*").Save(&next).Error
	})
}

// Rebuild runs replay against an emptied read model in one transaction.
// It first locks the inbox and the view table (in that order, the order the
// live projection writes them, so the two cannot deadlock): the live
// projection waits until the rebuild commits, readers keep reading the old
// rows meanwhile.
func (s *Views) Rebuild(ctx context.Context, consumer string, replay func(app.Rebuilding) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The replay reads the audit feed over HTTP while this transaction
		// is open; exempt it from the idle-in-transaction guard.
		for _, stmt := range []string{
			"SET LOCAL idle_in_transaction_session_timeout = 0",
			"LOCK TABLE inbox, expense_views IN EXCLUSIVE MODE",
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		var applied []string
		if err := tx.Raw("SELECT event_id FROM inbox WHERE consumer = ?", consumer).Scan(&applied).Error; err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM expense_views").Error; err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM inbox WHERE consumer = ?", consumer).Error; err != nil {
			return err
		}
		r := &rebuilding{Views: Views{db: tx}, missing: map[string]bool{}}
		for _, id := range applied {
			r.missing[id] = true
		}
		return replay(r)
	})
}

// rebuilding is the read model inside a rebuild's transaction; it tracks
// which previously applied events have been replayed.
type rebuilding struct {
	Views
	missing map[string]bool
}

func (r *rebuilding) Project(ctx context.Context, key inbox.Key, expenseID string, apply func(*app.View)) error {
	delete(r.missing, key.EventID)
	return r.Views.Project(ctx, key, expenseID, apply)
}

func (r *rebuilding) Missing() int { return len(r.missing) }

// Get returns one view.
func (s *Views) Get(ctx context.Context, id string) (app.View, error) {
	var row viewRow
	err := s.db.WithContext(ctx).Take(&row, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return app.View{}, apperr.New(apperr.NotFound, "expense %s not found", id)
	}
	return row.view(), err
}

// List returns up to limit+1 views after afterID (keyset pagination by id).
func (s *Views) List(ctx context.Context, f app.ListFilter, limit int, afterID string) ([]app.View, error) {
	q := s.db.WithContext(ctx).Order("id").Limit(limit + 1)
	if f.Status != "" {
		q = q.Where("public_status = ?", f.Status)
	}
	if f.EmployeeID != "" {
		q = q.Where("employee_id = ?", f.EmployeeID)
	}
	if afterID != "" {
		q = q.Where("id > ?", afterID)
	}
	var rows []viewRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	views := make([]app.View, len(rows))
	for i, r := range rows {
		views[i] = r.view()
	}
	return views, nil
}

func (r viewRow) view() app.View {
	return app.View{
		ID: r.ID, EmployeeID: r.EmployeeID, AmountMinor: r.AmountMinor, Currency: r.Currency,
		Category: r.Category, CostCenter: r.CostCenter, Description: r.Description, IncurredOn: r.IncurredOn,
		Status: r.Status, Version: r.Version, DecidedBy: r.DecidedBy, Reason: r.Reason,
		ReimbursementID: r.ReimbursementID, PaymentStatus: r.PaymentStatus, PaymentSequence: r.PaymentSequence,
		SubmittedAt: r.SubmittedAt, UpdatedAt: r.UpdatedAt,
	}
}

func fromView(v app.View) viewRow {
	return viewRow{
		ID: v.ID, EmployeeID: v.EmployeeID, AmountMinor: v.AmountMinor, Currency: v.Currency,
		Category: v.Category, CostCenter: v.CostCenter, Description: v.Description, IncurredOn: v.IncurredOn,
		Status: v.Status, PublicStatus: v.PublicStatus(), Version: v.Version, DecidedBy: v.DecidedBy, Reason: v.Reason,
		ReimbursementID: v.ReimbursementID, PaymentStatus: v.PaymentStatus, PaymentSequence: v.PaymentSequence,
		SubmittedAt: v.SubmittedAt, UpdatedAt: v.UpdatedAt,
	}
}
