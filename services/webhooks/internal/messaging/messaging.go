// Package messaging is where events enter the webhooks service: it
// consumes the service's queue and hands each event, with its body as it
// came off the bus, to Accept.
package messaging

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/app"
)

// Wire names: the queue, its bindings and the handler (also the inbox
// consumer). The queue takes every event of every version; which of them
// an endpoint gets is its own patterns' business.
var (
	Events        = topology.WebhooksEvents
	Subscriptions = topology.All["webhooks"]
)

const acceptHandler = "webhooks.accept"

// consumers: accepting an event needs no order (receivers are promised
// none), so a few consumers keep the queue short under load.
const consumers = 4

// Register adds the handler to the router. The event is decoded before it
// is accepted: what reaches a receiver is an event this build knows, of a
// valid shape; anything else goes to the dead-letter queue with the reason.
func Register(r *amqpx.Router, a *app.App) {
	r.HandleEnvelopeConcurrently(acceptHandler, Events, consumers, func(ctx context.Context, env events.Envelope, body []byte) error {
		if _, err := events.DecodeData(env); err != nil {
			return err // permanent: ErrUndecodable
		}
		return a.Accept(ctx, inbox.Key{Consumer: acceptHandler, EventID: env.ID}, env, body)
	})
}
