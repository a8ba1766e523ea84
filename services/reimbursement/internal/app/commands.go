package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
)

// payTimeout bounds one gateway call; a timeout is a transient failure, and
// the retry is safe: Pay is idempotent.
//
// payoutLease is how long a batch holds the reimbursement it pays. No
// transaction is open during the call (docs/patterns/transactional-outbox.md
// says what a long one costs every service on the server): the claim is a
// committed row. A batch that dies mid-payment leaves a claim that expires
// after payoutLease, and a later batch pays again under the same key, which
// the gateway answers with the first payment. So the lease outlasts the
// longest call (payTimeout) with room for the two commits around it, or two
// batches could call the gateway at once (harmless, only wasteful); and no
// longer, because a claim left by a crash holds its payment back that long
// (a soak that killed reimbursement mid-batch waited the whole lease).
const (
	payTimeout  = 10 * time.Second
	payoutLease = payTimeout + 5*time.Second
)

// Schedule creates the reimbursement for an approved expense and announces it.
// Invalid data is an apperr.Invalid error, which dead-letters the message.
func (a *App) Schedule(ctx context.Context, key inbox.Key, p events.ExpenseApprovedV1) error {
	r, err := domain.Schedule(a.newID(), domain.Payout{
		ExpenseID: p.ExpenseID, EmployeeID: p.EmployeeID, AmountMinor: p.AmountMinor, Currency: p.Currency,
		CorrelationID: correlation.From(ctx).CorrelationID,
	}, a.now())
	if err != nil {
		return err
	}
	ev, err := a.event(ctx, r, events.ReimbursementScheduledV1{
		ReimbursementID: r.ID(), ExpenseID: p.ExpenseID, EmployeeID: p.EmployeeID,
		AmountMinor: p.AmountMinor, Currency: p.Currency,
	})
	if err != nil {
		return err
	}
	return a.store.Schedule(ctx, key, r, ev)
}

// StopPayout answers the void orchestrator's stop request: the race
// between a void and the payout is decided here, under the reimbursement's
// lock, and nowhere else. Nothing is paid after reimbursement.cancelled:
// a payout batch only takes scheduled rows, and a payment in flight is
// settled before the request is decided (ErrPaymentInFlight).
func (a *App) StopPayout(ctx context.Context, key inbox.Key, c events.StopPayoutV1) error {
	return a.store.StopPayout(ctx, key, c.ExpenseID, func(r *domain.Reimbursement) (*domain.Reimbursement, []events.Envelope, error) {
		now := a.now()
		outcome := domain.Stopped
		if r == nil { // the approval has not reached us yet: it never will be scheduled
			var err error
			r, err = domain.StoppedBeforeScheduled(a.newID(), domain.Payout{
				ExpenseID: c.ExpenseID, EmployeeID: c.EmployeeID, AmountMinor: c.AmountMinor, Currency: c.Currency,
				CorrelationID: correlation.From(ctx).CorrelationID,
			}, now)
			if err != nil {
				return nil, nil, err
			}
		} else {
			outcome = r.Stop(now)
		}
		s := r.Snapshot()
		var p events.Payload = events.ReimbursementCancelledV1{
			ReimbursementID: s.ID, ExpenseID: s.ExpenseID, EmployeeID: s.EmployeeID,
			AmountMinor: s.AmountMinor, Currency: s.Currency, CancelledAt: now,
		}
		if outcome == domain.AlreadyPaid {
			p = events.ReimbursementCancellationDeclinedV1{
				ReimbursementID: s.ID, ExpenseID: s.ExpenseID, EmployeeID: s.EmployeeID,
				AmountMinor: s.AmountMinor, Currency: s.Currency, PaymentRef: s.PaymentRef, DeclinedAt: now,
			}
		}
		ev, err := a.reply(ctx, r, p)
		return r, []events.Envelope{ev}, err
	})
}

// PayoutSummary counts what a batch did with the reimbursements it took.
type PayoutSummary struct {
	Paid     int
	Failed   int
	Retrying int // a transient failure: still scheduled, due again later
}

// RunPayouts runs a payout batch now on behalf of a finance user.
func (a *App) RunPayouts(ctx context.Context, caller auth.Principal) (PayoutSummary, error) {
	if _, err := Access.Allow(caller, RunPayoutBatch); err != nil {
		return PayoutSummary{}, err
	}
	return a.PayoutBatch(ctx)
}

// PayoutBatch pays every reimbursement that is due when the batch starts.
// Batches may run concurrently, in this process or in other instances: a
// claim hands a row to one batch at a time. A batch ends because every row
// it settles is then final, or due only after the batch started; so no row
// is tried twice in one batch.
func (a *App) PayoutBatch(ctx context.Context) (PayoutSummary, error) {
	var sum PayoutSummary
	start := a.now()
	for {
		r, err := a.payNext(ctx, start)
		if errors.Is(err, ErrClaimLost) {
			continue // the batch that took the row over records its outcome
		}
		if err != nil || r == nil {
			return sum, err
		}
		switch r.Status() {
		case domain.Paid:
			sum.Paid++
		case domain.Failed:
			sum.Failed++
		default:
			sum.Retrying++
		}
	}
}

// payNext pays the next reimbursement due at dueAt, in three steps of which
// only the first and the last touch the database, each in a short
// transaction of its own: claim it (commit), call the gateway (nothing
// open), store the outcome and its event (commit). It returns nil when
// nothing is due.
func (a *App) payNext(ctx context.Context, dueAt time.Time) (*domain.Reimbursement, error) {
	r, claim, err := a.store.ClaimNextDue(ctx, dueAt, a.now().Add(payoutLease))
	if err != nil || r == nil {
		return nil, err
	}
	evs, err := a.pay(ctx, r)
	if err != nil {
		// Shutting down, or the outcome could not be applied: the row is due
		// again at once, for this or another batch. (A release that fails
		// leaves a claim that expires: slower, never lost.)
		return nil, errors.Join(err, a.store.Release(context.WithoutCancel(ctx), r.ID(), claim))
	}
	if err := a.store.Settle(ctx, r, claim, evs...); err != nil {
		return nil, err
	}
	return r, nil
}

// pay makes one payment attempt for r and returns the event announcing its
// outcome: paid, failed for good, or none while a retry is pending.
func (a *App) pay(ctx context.Context, r *domain.Reimbursement) ([]events.Envelope, error) {
	s := r.Snapshot()
	callCtx, cancel := context.WithTimeout(ctx, payTimeout)
	ref, err := a.gateway.Pay(callCtx, Payment{Key: s.ID, EmployeeID: s.EmployeeID, AmountMinor: s.AmountMinor, Currency: s.Currency})
	cancel()
	if ctx.Err() != nil {
		return nil, ctx.Err() // shutting down or the client left: not the payment's fault, change nothing
	}
	now := a.now()
	if err == nil {
		err = r.MarkPaid(ref, now)
	} else {
		err = r.RecordFailure(err.Error(), errors.Is(err, ErrPaymentDeclined), a.policy, now)
	}
	if err != nil {
		return nil, err
	}
	var p events.Payload
	switch r.Status() {
	case domain.Paid:
		p = events.ReimbursementPaidV1{
			ReimbursementID: s.ID, ExpenseID: s.ExpenseID, EmployeeID: s.EmployeeID,
			AmountMinor: s.AmountMinor, Currency: s.Currency, PaymentRef: ref, PaidAt: now,
		}
	case domain.Failed:
		p = events.ReimbursementFailedV1{
			ReimbursementID: s.ID, ExpenseID: s.ExpenseID, EmployeeID: s.EmployeeID,
			AmountMinor: s.AmountMinor, Currency: s.Currency, Reason: r.Snapshot().FailureReason, FailedAt: now,
		}
	default:
		return nil, nil // retrying: the new attempt count and due time are stored, nothing to announce
	}
	ev, err := a.event(ctx, r, p)
	return []events.Envelope{ev}, err
}

// PayoutTick is one run of the payout timer (platform.Every): a payout
// batch, with its outcome logged. A failed batch loses nothing: whatever it
// did not settle is still scheduled in the database, and the next tick
// tries again.
//
// Each batch is the root span of a new trace, from tracer: nothing upstream
// caused it, so the paid and failed events it publishes start their trace
// here, as an HTTP request starts a command's. (Their correlation id still
// names the flow that approved the expense; see event.) A tick that finds
// nothing due is a short trace of its own with nothing paid.
func (a *App) PayoutTick(ctx context.Context, log *slog.Logger, tracer trace.Tracer) {
	sum, err := a.tracedBatch(ctx, tracer)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		log.ErrorContext(ctx, "payout batch failed; the next one retries", "error", err)
	case sum != PayoutSummary{}:
		log.InfoContext(ctx, "payout batch done", "paid", sum.Paid, "failed", sum.Failed, "retrying", sum.Retrying)
	}
}

// tracedBatch runs PayoutBatch as the root span "payout batch", which records
// what the batch did.
func (a *App) tracedBatch(ctx context.Context, tracer trace.Tracer) (sum PayoutSummary, err error) {
	ctx, span := tracer.Start(ctx, "payout batch", trace.WithNewRoot())
	defer func() {
		span.SetAttributes(attribute.Int("expenseflow.payout.paid", sum.Paid),
			attribute.Int("expenseflow.payout.failed", sum.Failed),
			attribute.Int("expenseflow.payout.retrying", sum.Retrying))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	return a.PayoutBatch(ctx)
}
