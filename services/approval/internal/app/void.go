package app

import (
	"context"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

// Voids is the store of the void sagas.
type Voids interface {
	// Start runs request on the expense as Expenses.Update does and, when
	// request returns a saga, stores it with the expense and the events in
	// the same transaction.
	Start(ctx context.Context, id string, request func(*domain.Expense) ([]events.Envelope, *domain.Void, error)) (*domain.Expense, error)
	// Advance locks the saga of expenseID and its expense, runs step on
	// them and stores what changed with the events step returns, in one
	// transaction with the inbox record of key; no saga, nothing happens.
	Advance(ctx context.Context, key inbox.Key, expenseID string, step func(*domain.Expense, *domain.Void) ([]events.Envelope, error)) error
	// ResendDue passes up to n sagas whose step has timed out by now to
	// resend and stores each with the command resend returns.
	ResendDue(ctx context.Context, now time.Time, n int, resend func(*domain.Void) ([]events.Envelope, error)) (int, error)
	Get(ctx context.Context, expenseID string) (domain.Void, error)
	List(ctx context.Context, stuckOnly bool, limit int) ([]domain.Void, error)
}

// Void takes an approval back (finance): the claim goes to voiding and the
// saga's first step, stopping the payout, is sent in the same transaction.
// Voiding a claim that is voiding or voided already answers with it as it
// is and changes nothing.
func (a *App) Void(ctx context.Context, caller auth.Principal, id, reason string) (domain.Snapshot, error) {
	if _, err := Access.Allow(caller, VoidExpense); err != nil {
		return domain.Snapshot{}, err
	}
	if n := utf8.RuneCountInString(reason); n < 1 || n > events.MaxVoidReason {
		return domain.Snapshot{}, apperr.Fields([]apperr.FieldError{{Field: "reason", Message: "must be 1 to 500 characters"}})
	}
	e, err := a.voids.Start(ctx, id, func(e *domain.Expense) ([]events.Envelope, *domain.Void, error) {
		now := a.now()
		changed, err := e.RequestVoid(now)
		if err != nil || !changed {
			return nil, nil, err
		}
		s := e.Snapshot()
		stopID := a.newID()
		flow := correlation.From(ctx).CorrelationID
		if flow == "" {
			flow = stopID
		}
		v := domain.StartVoid(e, caller.UserID, reason, flow, stopID, now)
		requested, err := a.event(ctx, e, events.ExpenseVoidRequestedV1{
			ExpenseID: s.ID, EmployeeID: s.EmployeeID, RequestedBy: caller.UserID, Reason: reason, RequestedAt: now,
		})
		if err != nil {
			return nil, nil, err
		}
		stop, err := a.command(ctx, v)
		return []events.Envelope{requested, stop}, v, err
	})
	if err != nil {
		return domain.Snapshot{}, err
	}
	return e.Snapshot(), nil
}

// OnVoidReply advances a saga with a reply: reimbursement's answer to the
// stop, or accounting's entry. A ledger entry that is not a void's (every
// approval and settlement arrives here too) is passed over without a
// transaction.
func (a *App) OnVoidReply(ctx context.Context, key inbox.Key, e events.Event) error {
	var expenseID string
	var step func(*domain.Expense, *domain.Void) ([]events.Envelope, error)
	switch p := e.Payload.(type) {
	case events.ReimbursementCancelledV1:
		expenseID, step = p.ExpenseID, a.payoutAnswered(ctx, false)
	case events.ReimbursementCancellationDeclinedV1:
		expenseID, step = p.ExpenseID, a.payoutAnswered(ctx, true)
	case events.LedgerEntryPostedV1:
		if p.Kind != events.EntryKindReversal && p.Kind != events.EntryKindRecovery {
			return nil
		}
		expenseID, step = p.ExpenseID, a.entryPosted(ctx, p.Kind)
	default:
		return apperr.New(apperr.Invalid, "a void saga has no use for %s", e.Type)
	}
	return a.voids.Advance(ctx, key, expenseID, step)
}

func (a *App) payoutAnswered(ctx context.Context, paid bool) func(*domain.Expense, *domain.Void) ([]events.Envelope, error) {
	return func(_ *domain.Expense, v *domain.Void) ([]events.Envelope, error) {
		if !v.PayoutAnswered(paid, a.newID(), a.now()) {
			return nil, nil // an answer to a step already past
		}
		cmd, err := a.command(ctx, v)
		return []events.Envelope{cmd}, err
	}
}

func (a *App) entryPosted(ctx context.Context, kind string) func(*domain.Expense, *domain.Void) ([]events.Envelope, error) {
	return func(e *domain.Expense, v *domain.Void) ([]events.Envelope, error) {
		now := a.now()
		if !v.EntryPosted(kind, now) {
			return nil, nil
		}
		if _, err := e.CompleteVoid(now); err != nil {
			return nil, err
		}
		voided, err := a.event(ctx, e, events.ExpenseVoidedV1{
			ExpenseID: v.ExpenseID, EmployeeID: v.EmployeeID, Outcome: v.Outcome, Reason: v.Reason,
			AmountMinor: v.AmountMinor, Currency: v.Currency, VoidedAt: now,
		})
		return []events.Envelope{voided}, err
	}
}

// command is the current step's command of v. Every send of a step is the
// same command: the same id (fixed when the step began), so the receiver's
// inbox handles it once however often it is sent.
func (a *App) command(ctx context.Context, v *domain.Void) (events.Envelope, error) {
	// What caused this send (the request, a reply, the timer) and its
	// trace come with ctx; the flow is always the void's.
	meta := correlation.Stamp(ctx, events.Meta{Source: events.SourceApproval, Time: a.now(), Sequence: 1})
	meta.CorrelationID = v.CorrelationID
	switch v.Step {
	case domain.StepStopPayout:
		meta.ID = v.StopCommandID
		return events.New(events.StopPayoutV1{ExpenseID: v.ExpenseID, EmployeeID: v.EmployeeID,
			AmountMinor: v.AmountMinor, Currency: v.Currency, Reason: v.Reason}, meta)
	default:
		meta.ID, meta.Sequence = v.EntryCommandID, 2
		return events.New(events.PostVoidEntryV1{ExpenseID: v.ExpenseID, EmployeeID: v.EmployeeID, Category: v.Category,
			Kind: v.EntryKind(), AmountMinor: v.AmountMinor, Currency: v.Currency}, meta)
	}
}

// voidResendBatch bounds the sagas one tick sends again.
const voidResendBatch = 100

// ResendTimedOut is one tick of the void timer: every saga whose step has
// waited past its timeout gets its command again. It logs and returns;
// the next tick carries on from the database.
func (a *App) ResendTimedOut(ctx context.Context, log *slog.Logger) {
	n, err := a.voids.ResendDue(ctx, a.now(), voidResendBatch, func(v *domain.Void) ([]events.Envelope, error) {
		v.Resent(a.now())
		if v.Stuck() {
			log.WarnContext(ctx, "void saga stuck: its step was sent again and again without an answer",
				"expense_id", v.ExpenseID, "step", v.Step, "sends", v.Sends)
		}
		cmd, err := a.command(ctx, v)
		return []events.Envelope{cmd}, err
	})
	if err != nil && ctx.Err() == nil {
		log.ErrorContext(ctx, "void timer failed; the next tick retries", "error", err)
	} else if n > 0 {
		log.InfoContext(ctx, "void commands sent again after their timeout", "sagas", n)
	}
}

// VoidOf returns the saga of a claim the caller may see.
func (a *App) VoidOf(ctx context.Context, caller auth.Principal, id string) (domain.Void, error) {
	if _, err := Access.Allow(caller, GetVoid); err != nil {
		return domain.Void{}, err
	}
	v, err := a.voids.Get(ctx, id)
	if err != nil {
		return v, err
	}
	if err := Access.Check(caller, GetVoid, v.EmployeeID); err != nil {
		return domain.Void{}, notFoundAs(err, id)
	}
	return v, nil
}

// Voids lists the unfinished void sagas, or only the stuck ones.
func (a *App) Voids(ctx context.Context, caller auth.Principal, stuckOnly bool) ([]domain.Void, error) {
	if _, err := Access.Allow(caller, ListVoids); err != nil {
		return nil, err
	}
	return a.voids.List(ctx, stuckOnly, 200)
}
