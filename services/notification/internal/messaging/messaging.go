// Package messaging is where events enter the notification service: it
// declares the service's queue and hands every decoded event to Notify.
package messaging

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/notification/internal/app"
)

// Wire names: the queue, its bindings and the handler (also the inbox
// consumer). The bindings take every version of every expense and
// reimbursement event, so a version this build does not know yet reaches the
// dead-letter queue instead of vanishing.
var (
	Events        = topology.NotificationEvents
	Subscriptions = topology.All["notification"]
)

const notifyHandler = "notification.notify"

// Register adds the notifier to the router.
func Register(r *amqpx.Router, a *app.App) {
	r.Handle(notifyHandler, Events, func(ctx context.Context, e events.Event) error {
		return a.Notify(ctx, inbox.Key{Consumer: notifyHandler, EventID: e.ID}, e)
	})
}
