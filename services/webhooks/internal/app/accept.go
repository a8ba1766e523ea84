package app

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// Accept makes a delivery of event e for every endpoint that subscribes to
// its type, in one transaction with the inbox record (a redelivered event
// makes none twice), and wakes the dispatcher. body is the envelope exactly
// as it came off the bus: what every attempt sends and signs.
//
// Events are not ordered here, and need not be: receivers get no order
// promise from webhooks anyway (a retry overtakes nothing and is overtaken
// by everything), and each event carries its aggregate's sequence for a
// receiver that cares.
func (a *App) Accept(ctx context.Context, key inbox.Key, e events.Envelope, body []byte) error {
	now := a.now()
	err := a.store.Accept(ctx, key, Message{EventID: e.ID, EventType: e.Type, Body: body}, func(endpoints []domain.Endpoint) []domain.Delivery {
		var ds []domain.Delivery
		for i := range endpoints {
			if endpoints[i].Subscribes(e.Type) {
				ds = append(ds, domain.NewDelivery(a.newID(), &endpoints[i], e.ID, e.Type, now))
			}
		}
		return ds
	})
	if err == nil {
		a.Wake()
	}
	return err
}
