// Package app holds the notification service's use cases: turning an event
// into notifications (Notify) and a user's inbox (Inbox, MarkRead).
package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/inbox"
)

// DeliveryPending is the delivery status of a new notification. E-mail
// delivery (a later issue) moves it on; until then every notification waits
// here, and the inbox works regardless.
const DeliveryPending = "pending"

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
}

// Store keeps the notifications.
type Store interface {
	// Add stores ns, at most once per delivery key, in one transaction with
	// the inbox record: a redelivered event adds nothing.
	Add(ctx context.Context, key inbox.Key, ns []Notification) error
	// List returns up to n notifications of recipientID, newest first, older
	// than beforeID when it is set.
	List(ctx context.Context, recipientID string, unreadOnly bool, n int, beforeID string) ([]Notification, error)
	// MarkRead marks one of recipientID's notifications read and returns it;
	// NotFound when recipientID has no notification with that id.
	MarkRead(ctx context.Context, recipientID, id string) (Notification, error)
}

// App wires the use cases to their store, the user directory, clock and ids.
type App struct {
	store Store
	dir   directory.Directory
	now   func() time.Time
	newID func() string
}

// New returns the notification application.
func New(store Store, dir directory.Directory, now func() time.Time, newID func() string) *App {
	return &App{store: store, dir: dir, now: now, newID: newID}
}
