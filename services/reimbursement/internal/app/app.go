// Package app holds the reimbursement service's use cases: scheduling a
// payout when an expense is approved, running payout batches through the
// payment gateway, and the queries of the read API. Every state change and
// the event announcing it go to the store together, so they commit together.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
)

// Reimbursements is the store.
type Reimbursements interface {
	// Schedule stores a new reimbursement and its events in one transaction
	// with the inbox record of key. It stores nothing, and returns nil, if key
	// was handled before or the expense already has a reimbursement.
	Schedule(ctx context.Context, key inbox.Key, r *domain.Reimbursement, evs ...events.Envelope) error
	// ClaimNextDue claims, and commits the claim of, the first reimbursement
	// still scheduled and due at dueAt that no other batch holds: claims of
	// other batches are passed over until they expire at their until. It
	// returns nil when none is due, else the reimbursement and the claim's
	// token, which Settle and Release need.
	ClaimNextDue(ctx context.Context, dueAt, until time.Time) (r *domain.Reimbursement, claim string, err error)
	// Settle stores r's new state and evs in one transaction and ends the
	// claim. It returns ErrClaimLost, storing nothing, if the claim expired
	// and another batch has taken the row since.
	Settle(ctx context.Context, r *domain.Reimbursement, claim string, evs ...events.Envelope) error
	// StopPayout decides a stop request for expenseID under its
	// reimbursement's lock, in one transaction with the inbox record of key:
	// decide gets the reimbursement (nil if there is none yet) and returns
	// what to store and announce. It returns ErrPaymentInFlight while a
	// payout batch holds the reimbursement.
	StopPayout(ctx context.Context, key inbox.Key, expenseID string,
		decide func(r *domain.Reimbursement) (*domain.Reimbursement, []events.Envelope, error)) error
	// Release ends a claim without a change, so the row is due again at once.
	Release(ctx context.Context, id, claim string) error
	Get(ctx context.Context, id string) (domain.Snapshot, error)
	List(ctx context.Context, f ListFilter, limit int, afterID string) ([]domain.Snapshot, error)
}

// PaymentGateway moves money to employees. Its contract:
//   - Pay is idempotent per Payment.Key: a repeated call returns the first
//     call's payment reference and never pays twice, so retrying after any
//     error, or after a crash before our commit, is safe;
//   - an error wrapping ErrPaymentDeclined is permanent: retrying cannot help;
//   - any other error is transient: the payment may succeed later.
type PaymentGateway interface {
	Pay(ctx context.Context, p Payment) (paymentRef string, err error)
}

// Payment is one payout order.
type Payment struct {
	Key         string // idempotency key: the reimbursement id
	EmployeeID  string
	AmountMinor int64
	Currency    string
}

// ErrClaimLost means a batch's claim on a reimbursement expired and another
// batch took it over: that batch records the outcome (the gateway, being
// idempotent, gives it the same payment).
var ErrClaimLost = errors.New("the claim on the reimbursement expired and was taken over")

// ErrPaymentInFlight: a payout batch holds the reimbursement a stop request
// is about. The payment is finished first, and its outcome decides; the
// request is tried again (a transient error to the router).
var ErrPaymentInFlight = errors.New("a payment of this reimbursement is in flight; the stop is decided once it is settled")

// ErrPaymentDeclined is wrapped by a gateway error that retrying cannot fix.
var ErrPaymentDeclined = errors.New("payment declined")

// App wires the use cases to their store, gateway, retry policy, clock and
// id source.
type App struct {
	store   Reimbursements
	gateway PaymentGateway
	policy  domain.RetryPolicy
	now     func() time.Time
	newID   func() string
}

// New returns the reimbursement application.
func New(store Reimbursements, gateway PaymentGateway, policy domain.RetryPolicy, now func() time.Time, newID func() string) *App {
	return &App{store: store, gateway: gateway, policy: policy, now: now, newID: newID}
}

// event wraps a payload about r in an envelope. Its correlation id is the
// flow that approved the expense, whatever triggered the change (a message,
// a payout request, the timer); its causation id is that trigger.
// reply is the envelope of p answering a command: it belongs to the flow
// that sent the command (a void), whose correlation id ctx carries, and is
// caused by the command.
func (a *App) reply(ctx context.Context, r *domain.Reimbursement, p events.Payload) (events.Envelope, error) {
	return events.New(p, correlation.Stamp(ctx, events.Meta{
		ID: a.newID(), Source: events.SourceReimbursement, Time: a.now(), Sequence: r.Sequence(),
	}))
}

func (a *App) event(ctx context.Context, r *domain.Reimbursement, p events.Payload) (events.Envelope, error) {
	m := correlation.Stamp(ctx, events.Meta{
		ID: a.newID(), Source: events.SourceReimbursement, Time: a.now(), Sequence: r.Sequence(),
	})
	if flow := r.CorrelationID(); flow != "" {
		m.CorrelationID = flow
	}
	return events.New(p, m)
}
