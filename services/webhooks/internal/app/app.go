// Package app holds the webhooks service's use cases: finance's endpoints
// (endpoints.go), turning each event into deliveries (accept.go), and the
// dispatcher that sends them (dispatch.go).
package app

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// Store keeps endpoints, the events they receive and their deliveries,
// and what the queue is bound to.
type Store interface {
	BindingStore
	CreateEndpoint(ctx context.Context, e *domain.Endpoint) error
	// Endpoints lists every endpoint, oldest first.
	Endpoints(ctx context.Context) ([]domain.Endpoint, error)
	// Endpoint returns one endpoint, or NotFound.
	Endpoint(ctx context.Context, id string) (*domain.Endpoint, error)
	// UpdateEndpoint runs change on the endpoint under its row lock and
	// saves it; an endpoint enabled by change also gets back the deliveries
	// that failed only because it was disabled.
	UpdateEndpoint(ctx context.Context, id string, change func(*domain.Endpoint) error) (*domain.Endpoint, error)
	// DeleteEndpoint deletes an endpoint and its deliveries; NotFound if
	// there is none.
	DeleteEndpoint(ctx context.Context, id string) error

	// Accept stores an event's body and the deliveries plan makes of it
	// for the endpoints there are, in one transaction with the inbox
	// record of key: a redelivered event adds nothing.
	Accept(ctx context.Context, key inbox.Key, m Message, plan func([]domain.Endpoint) []domain.Delivery) error

	// Deliveries lists an endpoint's deliveries, newest first, of one
	// status unless status is "", older than beforeID when it is set.
	Deliveries(ctx context.Context, endpointID, status string, n int, beforeID string) ([]domain.Delivery, error)
	// Delivery returns one delivery with its attempts, oldest first.
	Delivery(ctx context.Context, id string) (*domain.Delivery, []domain.Attempt, error)
	// Redeliver runs change on a delivery and its endpoint under their
	// row locks and saves the delivery.
	Redeliver(ctx context.Context, id string, change func(*domain.Delivery, *domain.Endpoint) error) (*domain.Delivery, error)

	// ClaimNext claims, and commits the claim of, the pending delivery due
	// at now that has waited longest, of an enabled endpoint not in skip,
	// unless another run holds it (a claim expires at until). It returns
	// nil when nothing is due.
	ClaimNext(ctx context.Context, now, until time.Time, skip []string) (*Work, error)
	// Record saves an attempt made under claim: the attempt itself, what
	// apply makes of the delivery and its endpoint, both locked, and the
	// events apply returns, through the outbox in the same transaction. It
	// saves nothing if the claim expired and another run took over.
	Record(ctx context.Context, claim string, a domain.Attempt, apply func(*domain.Delivery, *domain.Endpoint) ([]events.Envelope, error)) error
}

// Message is an event as it is sent: its id, type and the envelope JSON
// exactly as it came off the bus (what the signature covers).
type Message struct {
	EventID   string
	EventType string
	Body      []byte
}

// Work is a claimed delivery with what sending it needs.
type Work struct {
	Claim    string
	Delivery domain.Delivery
	Endpoint domain.Endpoint
	Body     []byte
}

// Request is one signed POST of a delivery.
type Request struct {
	URL       string
	ID        string // webhook-id: the event id
	Timestamp time.Time
	Signature string
	Body      []byte
}

// Sender makes one attempt and reports its outcome; it never errs, a
// failure is an outcome.
type Sender interface {
	Send(ctx context.Context, r Request) domain.Attempt
}

// Config is how deliveries are scheduled and run.
type Config struct {
	Schedule domain.Schedule
	// Workers bounds the attempts in flight at once; PerEndpoint bounds
	// those of one endpoint, so a slow receiver can hold at most that many
	// workers and the rest keep serving the others.
	Workers, PerEndpoint int
	// Lease is how long a claim holds a delivery: longer than an attempt
	// can take, so only a dispatcher that died lets another send it again.
	Lease time.Duration
	// Poll is how often the dispatcher looks for due deliveries when
	// nothing wakes it sooner (an accepted event or a finished attempt).
	Poll time.Duration
	// RotationOverlap is how long a rotated-out secret keeps signing.
	RotationOverlap time.Duration
}

// App wires the use cases to the store, the sender, the queue's bindings,
// clock and ids.
type App struct {
	store    Store
	bound    BindingStore // the store, seen as the bindings' record
	bindings Bindings
	families []string // what endpoints may receive (topology.WebhooksEvents)
	send     Sender
	cfg      Config
	metrics  *Metrics
	now      func() time.Time
	newID    func() string
	wake     chan struct{}
}

// New returns the webhooks application. families are the event families an
// endpoint may receive, as routing-key patterns; bindings binds the queue
// to those an endpoint wants.
func New(store Store, bindings Bindings, families []string, send Sender, cfg Config, metrics *Metrics, now func() time.Time, newID func() string) *App {
	return &App{store: store, bound: store, bindings: bindings, families: families, send: send, cfg: cfg, metrics: metrics,
		now: now, newID: newID, wake: make(chan struct{}, 1)}
}

// Wake tells the dispatcher there may be work now, without waiting for its
// next poll. It never blocks: one pending wake-up is as good as many.
func (a *App) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}
