// Package app holds the notification service's use cases: turning an event
// into notifications (Notify), delivering them by e-mail (DeliverDue), and a
// user's inbox (Inbox, MarkRead).
package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/retry"
)

// Delivery statuses: a notification is pending until its e-mail was sent,
// or failed for good. The inbox shows it either way.
const (
	DeliveryPending = "pending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
)

// Notification is one message to one user about one event.
type Notification struct {
	ID             string // UUIDv7: id order is creation order
	EventID        string
	EventType      string
	ExpenseID      string
	RecipientID    string
	Subject        string
	Body           string
	Read           bool
	DeliveryStatus string
	CreatedAt      time.Time

	Email            string // the recipient's address when the notification was made
	DeliveryAttempts int
	NextDeliveryAt   time.Time
	DeliveredAt      *time.Time
	DeliveryError    string // the last failure, kept so operators can see why mail is late
}

// Store keeps the notifications.
type Store interface {
	// Add stores ns (perhaps none), at most once per delivery key and only
	// if at is newer than every event of its subject handled before, in one
	// transaction with the inbox record: a redelivered or stale event adds
	// nothing.
	Add(ctx context.Context, key inbox.Key, at inbox.Position, ns []Notification) error
	// List returns up to n notifications of recipientID, newest first, older
	// than beforeID when it is set.
	List(ctx context.Context, recipientID string, unreadOnly bool, n int, beforeID string) ([]Notification, error)
	// About returns up to n notifications about expenseID, oldest first:
	// only recipientID's unless it is empty.
	About(ctx context.Context, expenseID, recipientID string, n int) ([]Notification, error)
	// MarkRead marks one of recipientID's notifications read and returns it;
	// NotFound when recipientID has no notification with that id.
	MarkRead(ctx context.Context, recipientID, id string) (Notification, error)
	// ClaimNextDelivery claims, and commits the claim of, one pending
	// notification due at dueAt that no other run holds (claims expire at
	// their until). It returns nil when none is due, else the notification
	// and the claim's token.
	ClaimNextDelivery(ctx context.Context, dueAt, until time.Time) (n *Notification, claim string, err error)
	// RecordDelivery saves the outcome of an attempt on n and ends the claim;
	// it saves nothing if the claim expired and another run took n over.
	RecordDelivery(ctx context.Context, n *Notification, claim string) error
}

// App wires the use cases to their store, the user directory, the mailer,
// the retry policy for delivery, clock and ids.
type App struct {
	store  Store
	dir    directory.Directory
	mailer Mailer // nil: e-mail is switched off, notifications stay pending
	policy retry.Policy
	now    func() time.Time
	newID  func() string
}

// New returns the notification application.
func New(store Store, dir directory.Directory, mailer Mailer, policy retry.Policy, now func() time.Time, newID func() string) *App {
	return &App{store: store, dir: dir, mailer: mailer, policy: policy, now: now, newID: newID}
}
