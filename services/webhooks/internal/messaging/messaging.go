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

// Wire names: the queue, the families it may be bound to and the handler
// (also the inbox consumer). The queue is bound by this service to what its
// endpoints subscribe to (app/bindings.go), every version of it.
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

// Bindings binds the service's queue, as its own broker user (which may
// bind this queue and no other), to the patterns its endpoints want.
type Bindings struct{ AMQPURL string }

// Rebind binds the queue to patterns and unbinds it from stale.
func (b Bindings) Rebind(patterns, stale []string) error {
	return amqpx.Rebind(b.AMQPURL, Events, patterns, stale)
}
