package app

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// NewEndpoint is what finance asks for when registering a receiver.
type NewEndpoint struct {
	URL         string
	EventTypes  []string
	Description string
}

// CreateEndpoint registers a receiver; the result carries its secret, which
// is shown this once.
func (a *App) CreateEndpoint(ctx context.Context, caller auth.Principal, in NewEndpoint) (*domain.Endpoint, error) {
	if _, err := Access.Allow(caller, CreateEndpoint); err != nil {
		return nil, err
	}
	e, err := domain.NewEndpoint(a.newID(), in.URL, in.EventTypes, in.Description, caller.UserID, a.now())
	if err != nil {
		return nil, err
	}
	// Bound before it exists: every event published once it exists reaches
	// the queue (bindings.go).
	release, err := a.bound.LockBindings(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := a.bindFor(ctx, e); err != nil {
		return nil, err
	}
	return e, a.store.CreateEndpoint(ctx, e)
}

// Endpoints lists every endpoint.
func (a *App) Endpoints(ctx context.Context, caller auth.Principal) ([]domain.Endpoint, error) {
	if _, err := Access.Allow(caller, ListEndpoints); err != nil {
		return nil, err
	}
	return a.store.Endpoints(ctx)
}

// Endpoint returns one endpoint.
func (a *App) Endpoint(ctx context.Context, caller auth.Principal, id string) (*domain.Endpoint, error) {
	if _, err := Access.Allow(caller, ReadEndpoint); err != nil {
		return nil, err
	}
	return a.store.Endpoint(ctx, id)
}

// DeleteEndpoint removes an endpoint and its deliveries: nothing more is
// sent to it, not even a retry due in a second.
func (a *App) DeleteEndpoint(ctx context.Context, caller auth.Principal, id string) error {
	if _, err := Access.Allow(caller, DeleteEndpoint); err != nil {
		return err
	}
	if err := a.store.DeleteEndpoint(ctx, id); err != nil {
		return err
	}
	// What no endpoint wants any more is unbound now, or, if the broker
	// cannot be reached, by the next reconciliation: the endpoint is gone
	// either way.
	_ = a.ReconcileBindings(ctx)
	return nil
}

// RotateSecret gives an endpoint a new secret, returned this once; the old
// one keeps signing alongside it for the configured overlap.
func (a *App) RotateSecret(ctx context.Context, caller auth.Principal, id string) (*domain.Endpoint, error) {
	if _, err := Access.Allow(caller, RotateSecret); err != nil {
		return nil, err
	}
	return a.store.UpdateEndpoint(ctx, id, func(e *domain.Endpoint) error {
		e.RotateSecret(a.now(), a.cfg.RotationOverlap)
		return nil
	})
}

// EnableEndpoint lets a disabled endpoint receive deliveries again, and
// sends what failed only because it was disabled.
func (a *App) EnableEndpoint(ctx context.Context, caller auth.Principal, id string) (*domain.Endpoint, error) {
	if _, err := Access.Allow(caller, EnableEndpoint); err != nil {
		return nil, err
	}
	e, err := a.store.UpdateEndpoint(ctx, id, func(e *domain.Endpoint) error {
		e.Enable()
		return nil
	})
	if err == nil {
		a.Wake()
	}
	return e, err
}

// Deliveries lists an endpoint's deliveries, newest first, up to limit+1
// (the extra one tells httpx.NewPage there is a next page).
func (a *App) Deliveries(ctx context.Context, caller auth.Principal, endpointID, status string, limit int, beforeID string) ([]domain.Delivery, error) {
	if _, err := Access.Allow(caller, ListDeliveries); err != nil {
		return nil, err
	}
	switch status {
	case "", domain.DeliveryPending, domain.DeliveryDelivered, domain.DeliveryFailed:
	default:
		return nil, apperr.Fields([]apperr.FieldError{{Field: "status", Message: "must be pending, delivered or failed"}})
	}
	if _, err := a.store.Endpoint(ctx, endpointID); err != nil {
		return nil, err // an unknown endpoint is 404, not an empty list
	}
	return a.store.Deliveries(ctx, endpointID, status, limit+1, beforeID)
}

// Delivery returns one delivery with every attempt made of it.
func (a *App) Delivery(ctx context.Context, caller auth.Principal, id string) (*domain.Delivery, []domain.Attempt, error) {
	if _, err := Access.Allow(caller, ReadDelivery); err != nil {
		return nil, nil, err
	}
	return a.store.Delivery(ctx, id)
}

// Redeliver sends a delivery again, whatever became of it, with a fresh
// set of attempts: for a receiver that has been fixed, or that lost what
// it was sent. The webhook-id is the same, so a receiver that did process
// it recognises it.
func (a *App) Redeliver(ctx context.Context, caller auth.Principal, id string) (*domain.Delivery, error) {
	if _, err := Access.Allow(caller, RedeliverAction); err != nil {
		return nil, err
	}
	d, err := a.store.Redeliver(ctx, id, func(d *domain.Delivery, e *domain.Endpoint) error {
		return d.Redeliver(e, a.now())
	})
	if err == nil {
		a.Wake()
	}
	return d, err
}
