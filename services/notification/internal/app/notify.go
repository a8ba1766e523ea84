package app

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/notification/internal/domain"
)

// Notify stores one notification per recipient of e, unless e is older
// news about its aggregate than an event handled before (by sequence): a
// late expense.submitted must not ask managers to review a claim already
// decided. An event nobody is told about is simply done: it is
// acknowledged, not an error.
func (a *App) Notify(ctx context.Context, key inbox.Key, e events.Event) error {
	m, err := domain.Compose(e, a.dir)
	if err != nil {
		return err
	}
	now := a.now()
	ns := make([]Notification, len(m.Recipients))
	for i, recipient := range m.Recipients {
		user, _ := a.dir.Lookup(recipient)
		ns[i] = Notification{
			ID: a.newID(), EventID: e.ID, EventType: e.Type, ExpenseID: m.ExpenseID, RecipientID: recipient,
			Subject: m.Subject, Body: m.Body, DeliveryStatus: DeliveryPending, CreatedAt: now,
			Email: user.Email, NextDeliveryAt: now,
		}
	}
	if len(ns) == 0 && e.Sequence == 1 {
		// The first event of its aggregate, telling nobody anything (a
		// reimbursement.scheduled, on every flow): there is nothing to
		// write, and no position to move, since nothing about its subject
		// can be older. So no transaction either: this consumer handles
		// every claim's events one at a time, and a commit for nothing
		// would cost each flow a round trip and a WAL flush here.
		return nil
	}
	return a.store.Add(ctx, key, inbox.Position{Subject: e.Subject, Sequence: e.Sequence}, ns)
}
