// Package postgres is the notification service's persistence: the
// notifications table, written once per event and recipient.
package postgres

import (
	"context"
	"embed"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/notification/internal/app"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the notification schema.
var Migrations = postgres.EmbeddedMigrations("notification", migrationFiles, "migrations")

// Notifications is the store of app.Notification.
type Notifications struct{ db *gorm.DB }

// NewNotifications returns the store on db.
func NewNotifications(db *gorm.DB) *Notifications { return &Notifications{db: db} }

type row struct {
	ID             string `gorm:"primaryKey"`
	EventID        string
	EventType      string
	ExpenseID      string
	RecipientID    string
	Subject        string
	Body           string
	Read           bool
	DeliveryStatus string
	CreatedAt      time.Time

	Email            string
	DeliveryAttempts int
	NextDeliveryAt   time.Time
	DeliveredAt      *time.Time
	DeliveryError    string
}

func (row) TableName() string { return "notifications" }

// Add inserts ns in the transaction that records the delivery key and the
// subject's position, so a redelivered or stale event is skipped and a crash
// halfway leaves nothing behind.
func (s *Notifications) Add(ctx context.Context, key inbox.Key, at inbox.Position, ns []app.Notification) error {
	rows := make([]row, len(ns))
	for i, n := range ns {
		rows[i] = row(n)
	}
	return inbox.OnceIfNewer(ctx, s.db, key, at, func(tx *gorm.DB) error {
		if len(rows) == 0 {
			return nil // nobody to tell; the position still moved
		}
		return tx.Create(&rows).Error
	})
}

// List returns up to n of recipientID's notifications, newest first, older
// than beforeID when set (keyset pagination by id).
func (s *Notifications) List(ctx context.Context, recipientID string, unreadOnly bool, n int, beforeID string) ([]app.Notification, error) {
	q := s.db.WithContext(ctx).Where("recipient_id = ?", recipientID).Order("id DESC").Limit(n)
	if unreadOnly {
		q = q.Where("NOT read")
	}
	if beforeID != "" {
		q = q.Where("id < ?", beforeID)
	}
	return find(q)
}

// About returns up to n notifications about expenseID, oldest first, only
// recipientID's unless it is empty (notifications (expense_id, event_type)
// is the index).
func (s *Notifications) About(ctx context.Context, expenseID, recipientID string, n int) ([]app.Notification, error) {
	q := s.db.WithContext(ctx).Where("expense_id = ?", expenseID).Order("id").Limit(n)
	if recipientID != "" {
		q = q.Where("recipient_id = ?", recipientID)
	}
	return find(q)
}

// find runs a query of notifications.
func find(q *gorm.DB) ([]app.Notification, error) {
	var rows []row
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]app.Notification, len(rows))
	for i, r := range rows {
		out[i] = app.Notification(r)
	}
	return out, nil
}

// MarkRead sets read on one of recipientID's notifications. Matching the
// recipient in the same statement makes the ownership check race-free.
func (s *Notifications) MarkRead(ctx context.Context, recipientID, id string) (app.Notification, error) {
	var r row
	res := postgres.Conn(ctx, s.db).Model(&r).Clauses(clause.Returning{}).
		Where("id = ? AND recipient_id = ?", id, recipientID).Update("read", true)
	if res.Error != nil {
		return app.Notification{}, res.Error
	}
	if res.RowsAffected == 0 {
		return app.Notification{}, apperr.New(apperr.NotFound, "notification %s not found", id)
	}
	return app.Notification(r), nil
}

// ClaimNextDelivery claims the first pending notification due at dueAt that
// no run holds (no claim, or one expired by dueAt), while the mail is sent.
func (s *Notifications) ClaimNextDelivery(ctx context.Context, dueAt, until time.Time) (*app.Notification, string, error) {
	var claimed []row
	claim, err := postgres.ClaimNext(ctx, s.db, &claimed, "notifications", "delivery_status = ? AND next_delivery_at <= ?",
		"next_delivery_at, id", dueAt, until, app.DeliveryPending, dueAt)
	if err != nil || claim == "" {
		return nil, "", err
	}
	n := app.Notification(claimed[0])
	return &n, claim, nil
}

// RecordDelivery saves n's delivery state and ends the claim, if it still
// holds the row.
func (s *Notifications) RecordDelivery(ctx context.Context, n *app.Notification, claim string) error {
	return s.db.WithContext(ctx).Model(&row{}).Where("id = ? AND claim_token = ?", n.ID, claim).Updates(map[string]any{
		"delivery_status": n.DeliveryStatus, "delivery_attempts": n.DeliveryAttempts,
		"next_delivery_at": n.NextDeliveryAt, "delivered_at": n.DeliveredAt,
		"delivery_error": n.DeliveryError, "claim_token": "", "claimed_until": nil,
	}).Error
}
