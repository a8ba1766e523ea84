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
	// SettleNextDue locks the first reimbursement still scheduled and due at
	// dueAt that no other transaction holds (locked ones are skipped, not
	// waited for), runs settle on it, and stores the new state and settle's
	// events in that same transaction. It returns nil when none is due.
	SettleNextDue(ctx context.Context, dueAt time.Time, settle func(*domain.Reimbursement) ([]events.Envelope, error)) (*domain.Reimbursement, error)
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
func (a *App) event(ctx context.Context, r *domain.Reimbursement, p events.Payload) (events.Envelope, error) {
	m := correlation.Stamp(ctx, events.Meta{
		ID: a.newID(), Source: events.SourceReimbursement, Time: a.now(), Sequence: r.Sequence(),
	})
	if flow := r.CorrelationID(); flow != "" {
		m.CorrelationID = flow
	}
	return events.New(p, m)
}
