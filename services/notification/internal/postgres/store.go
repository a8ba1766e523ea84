// Package postgres is the notification service's persistence: the
// notifications table, written once per event and recipient.
package postgres

import (
	"context"
	"embed"
	"errors"
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

// Add inserts ns in the transaction that records the delivery key, so a
// redelivered event is skipped and a crash halfway leaves nothing behind.
func (s *Notifications) Add(ctx context.Context, key inbox.Key, ns []app.Notification) error {
	rows := make([]row, len(ns))
	for i, n := range ns {
		rows[i] = row(n)
	}
	return inbox.Once(ctx, s.db, key, func(tx *gorm.DB) error {
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
	res := s.db.WithContext(ctx).Model(&r).Clauses(clause.Returning{}).
		Where("id = ? AND recipient_id = ?", id, recipientID).Update("read", true)
	if res.Error != nil {
		return app.Notification{}, res.Error
	}
	if res.RowsAffected == 0 {
		return app.Notification{}, apperr.New(apperr.NotFound, "notification %s not found", id)
	}
	return app.Notification(r), nil
}

// DeliverNextDue claims one due pending notification with FOR UPDATE SKIP
// LOCKED — a notification another run is sending is passed over, not sent
// twice — and holds the lock until the outcome of the attempt is saved.
func (s *Notifications) DeliverNextDue(ctx context.Context, dueAt time.Time, deliver func(*app.Notification)) (*app.Notification, error) {
	var n *app.Notification
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r row
		err := tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).
			Where("delivery_status = ? AND next_delivery_at <= ?", app.DeliveryPending, dueAt).
			Order("next_delivery_at, id").Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		current := app.Notification(r)
		deliver(&current)
		n = &current
		return tx.Model(&row{}).Where("id = ?", r.ID).Updates(map[string]any{
			"delivery_status": current.DeliveryStatus, "delivery_attempts": current.DeliveryAttempts,
			"next_delivery_at": current.NextDeliveryAt, "delivered_at": current.DeliveredAt,
			"delivery_error": current.DeliveryError,
		}).Error
	})
	return n, err
}
