// Package postgres is the reimbursement service's persistence: the
// reimbursements table, written together with the inbox and the outbox, and
// read directly by the API (one row per aggregate, already in the shape
// clients want, so a separate projection would only be a copy).
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
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/app"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the reimbursement schema.
var Migrations = postgres.EmbeddedMigrations("reimbursement", migrationFiles, "migrations")

// Store is the reimbursements store.
type Store struct{ db *gorm.DB }

// NewStore returns the store on db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

type row struct {
	ID            string `gorm:"primaryKey"`
	ExpenseID     string
	EmployeeID    string
	AmountMinor   int64
	Currency      string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	PaymentRef    string
	FailureReason string
	CorrelationID string
	// The times come from the app's clock, not gorm's.
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
}

func (row) TableName() string { return "reimbursements" }

// Schedule inserts r unless its expense has a reimbursement already, in the
// transaction that records key in the inbox; its events go to the outbox
// only when the row is new.
func (s *Store) Schedule(ctx context.Context, key inbox.Key, r *domain.Reimbursement, evs ...events.Envelope) error {
	return inbox.Once(ctx, s.db, key, func(tx *gorm.DB) error {
		next := toRow(r.Snapshot())
		res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "expense_id"}}, DoNothing: true}).Create(&next)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error // 0 rows: another event about this expense got here first, nothing to do
		}
		return outbox.Publish(ctx, tx, evs...)
	})
}

// StopPayout decides a stop request for expenseID under the lock of its
// reimbursement's row, in one transaction with the inbox record of key and
// the events decide returns. decide gets the reimbursement, or nil when the
// expense has none yet; what it returns is stored (inserted if new). A row
// a payout batch holds (a payment in flight, or a claim left by a batch
// that died mid-payment) is not decided: ErrPaymentInFlight, and the
// command is tried again once the payment is settled.
func (s *Store) StopPayout(ctx context.Context, key inbox.Key, expenseID string,
	decide func(r *domain.Reimbursement) (*domain.Reimbursement, []events.Envelope, error)) error {
	return inbox.Once(ctx, s.db, key, func(tx *gorm.DB) error {
		var found []row
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("expense_id = ?", expenseID).Find(&found).Error; err != nil {
			return err
		}
		var current *domain.Reimbursement
		if len(found) == 1 {
			var claims []string // the batch holding the row, "" for none
			if err := tx.Model(&row{}).Where("id = ?", found[0].ID).Pluck("claim_token", &claims).Error; err != nil {
				return err
			}
			if claims[0] != "" {
				return app.ErrPaymentInFlight
			}
			current = domain.Restore(found[0].snapshot())
		}
		r, evs, err := decide(current)
		if err != nil {
			return err
		}
		next := toRow(r.Snapshot())
		if current == nil {
			res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "expense_id"}}, DoNothing: true}).Create(&next)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 { // the approval got here meanwhile: decide again, on its row
				return app.ErrPaymentInFlight
			}
		} else if err := tx.Model(&row{}).Where("id = ?", next.ID).
			Updates(map[string]any{"status": next.Status, "updated_at": next.UpdatedAt}).Error; err != nil {
			return err
		}
		return outbox.Publish(ctx, tx, evs...)
	})
}

// ClaimNextDue claims the first row due at dueAt that no batch holds (no
// claim, or one expired by dueAt: one clock, the app's), in a transaction
// of its own: FOR UPDATE SKIP LOCKED lets concurrent batches
// pass over each other's candidates instead of queueing behind them, and
// the claim (a token and an expiry) keeps the row theirs after the commit,
// while the gateway is called.
func (s *Store) ClaimNextDue(ctx context.Context, dueAt, until time.Time) (*domain.Reimbursement, string, error) {
	var claimed []row
	claim, err := postgres.ClaimNext(ctx, s.db, &claimed, "reimbursements", "status = ? AND next_attempt_at <= ?",
		"next_attempt_at, id", dueAt, until, domain.Scheduled, dueAt)
	if err != nil || claim == "" {
		return nil, "", err
	}
	return domain.Restore(claimed[0].snapshot()), claim, nil
}

// Settle stores r and evs and ends the claim, in one transaction, provided
// the claim still holds the row.
func (s *Store) Settle(ctx context.Context, r *domain.Reimbursement, claim string, evs ...events.Envelope) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		next := toRow(r.Snapshot())
		res := tx.Model(&row{}).Where("id = ? AND claim_token = ?", next.ID, claim).Updates(map[string]any{
			"status": next.Status, "attempts": next.Attempts, "next_attempt_at": next.NextAttemptAt,
			"payment_ref": next.PaymentRef, "failure_reason": next.FailureReason, "updated_at": next.UpdatedAt,
			"claim_token": "", "claimed_until": nil,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return app.ErrClaimLost
		}
		return outbox.Publish(ctx, tx, evs...)
	})
}

// Release ends a claim, leaving the row as it was.
func (s *Store) Release(ctx context.Context, id, claim string) error {
	return s.db.WithContext(ctx).Model(&row{}).Where("id = ? AND claim_token = ?", id, claim).
		Updates(map[string]any{"claim_token": "", "claimed_until": nil}).Error
}

// Get returns one reimbursement.
func (s *Store) Get(ctx context.Context, id string) (domain.Snapshot, error) {
	var r row
	err := s.db.WithContext(ctx).Take(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Snapshot{}, apperr.New(apperr.NotFound, "reimbursement %s not found", id)
	}
	return r.snapshot(), err
}

// List returns up to limit+1 reimbursements after afterID (keyset pagination by id).
func (s *Store) List(ctx context.Context, f app.ListFilter, limit int, afterID string) ([]domain.Snapshot, error) {
	q := s.db.WithContext(ctx).Order("id").Limit(limit + 1)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.EmployeeID != "" {
		q = q.Where("employee_id = ?", f.EmployeeID)
	}
	if f.ExpenseID != "" {
		q = q.Where("expense_id = ?", f.ExpenseID)
	}
	if afterID != "" {
		q = q.Where("id > ?", afterID)
	}
	var rows []row
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Snapshot, len(rows))
	for i, r := range rows {
		out[i] = r.snapshot()
	}
	return out, nil
}

func toRow(s domain.Snapshot) row {
	return row{
		ID: s.ID, ExpenseID: s.ExpenseID, EmployeeID: s.EmployeeID, AmountMinor: s.AmountMinor, Currency: s.Currency,
		Status: string(s.Status), Attempts: s.Attempts, NextAttemptAt: s.NextAttemptAt,
		PaymentRef: s.PaymentRef, FailureReason: s.FailureReason, CorrelationID: s.CorrelationID,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

func (r row) snapshot() domain.Snapshot {
	return domain.Snapshot{
		ID: r.ID, ExpenseID: r.ExpenseID, EmployeeID: r.EmployeeID, AmountMinor: r.AmountMinor, Currency: r.Currency,
		Status: domain.Status(r.Status), Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt,
		PaymentRef: r.PaymentRef, FailureReason: r.FailureReason, CorrelationID: r.CorrelationID,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}
