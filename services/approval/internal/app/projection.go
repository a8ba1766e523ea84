package app

import (
	"cmp"
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
)

// View is one row of the read model: the claim as clients see it, including
// what happened to its payment. It is built only from events.
type View struct {
	ID              string
	EmployeeID      string
	AmountMinor     int64
	Currency        string
	Category        string
	CostCenter      string
	Description     string
	IncurredOn      string
	Status          string // the claim's own status, from expense.* events
	Version         int64  // sequence of the newest expense.* event applied
	DecidedBy       string
	Reason          string
	ReimbursementID string
	PaymentStatus   string // scheduled, paid, failed or cancelled, from reimbursement.* events
	PaymentSequence int64  // sequence of the newest reimbursement.* event applied
	VoidOutcome     string // payout_cancelled or recovery_required, once voided
	SubmittedAt     *time.Time
	UpdatedAt       time.Time
}

// Public statuses added by the payment side.
const (
	StatusPaid          = "paid"
	StatusPaymentFailed = "payment_failed"
)

// PublicStatus folds the payment into the status clients see.
func (v View) PublicStatus() string {
	if v.Status == "approved" {
		switch v.PaymentStatus {
		case "paid":
			return StatusPaid
		case "failed":
			return StatusPaymentFailed
		}
	}
	return v.Status
}

// Project applies one event to the read model. It is order-tolerant and
// idempotent: the facts of a claim (employee, amount, …) never change and
// come only from expense.submitted, the status moves only forward —
// an event older than what the view already shows (lower sequence) changes
// nothing — and the payment fields come only from reimbursement events. So
// any permutation of an expense's events, with duplicates, yields the same
// row, and no event sets a field its type does not own (a payout event
// cannot rename the claim's employee).
func (a *App) Project(ctx context.Context, key inbox.Key, e events.Event) error {
	expenseID := expenseIDOf(e.Payload)
	if expenseID == "" {
		return nil // not about an expense (e.g. a ledger event): nothing to show
	}
	return a.views.Project(ctx, key, expenseID, func(v *View) { apply(v, e) })
}

// apply folds one event into a view. It uses nothing but the event — not
// even the clock (updated_at is the newest event time seen) — so replaying
// the same events rebuilds the very same row.
func apply(v *View, e events.Event) {
	// Newer wins. Two different events at the same sequence cannot both
	// come from a correct producer; whichever order they arrive in, the
	// same one wins (the greater by its fields), so every replica and every
	// rebuild shows the same row.
	expenseStatus := func(status, decidedBy, reason string) {
		if e.Sequence > v.Version || e.Sequence == v.Version &&
			cmp.Compare(status+"\x00"+decidedBy+"\x00"+reason, v.Status+"\x00"+v.DecidedBy+"\x00"+v.Reason) > 0 {
			v.Status, v.Version, v.DecidedBy, v.Reason = status, e.Sequence, decidedBy, reason
		}
	}
	payment := func(reimbursementID, status string) {
		if e.Sequence > v.PaymentSequence || e.Sequence == v.PaymentSequence &&
			cmp.Compare(status+"\x00"+reimbursementID, v.PaymentStatus+"\x00"+v.ReimbursementID) > 0 {
			v.ReimbursementID, v.PaymentStatus, v.PaymentSequence = reimbursementID, status, e.Sequence
		}
	}
	switch p := e.Payload.(type) {
	case events.ExpenseSubmittedV2:
		v.EmployeeID, v.AmountMinor, v.Currency = p.EmployeeID, p.AmountMinor, p.Currency
		v.Category, v.CostCenter, v.Description, v.IncurredOn = p.Category, p.CostCenter, p.Description, p.IncurredOn
		submittedAt := p.SubmittedAt
		v.SubmittedAt = &submittedAt
		expenseStatus("submitted", "", "")
	case events.ExpenseApprovedV1:
		expenseStatus("approved", p.ApproverID, "")
	case events.ExpenseRejectedV1:
		expenseStatus("rejected", p.ApproverID, p.Reason)
	case events.ExpenseWithdrawnV1:
		expenseStatus("withdrawn", "", "")
	case events.ExpenseVoidRequestedV1:
		expenseStatus("voiding", v.DecidedBy, p.Reason)
	case events.ExpenseVoidedV1:
		expenseStatus("voided", v.DecidedBy, p.Reason)
		v.VoidOutcome = p.Outcome // one outcome per claim: voided is announced once
	case events.ReimbursementScheduledV1:
		payment(p.ReimbursementID, "scheduled")
	case events.ReimbursementPaidV1:
		payment(p.ReimbursementID, "paid")
	case events.ReimbursementFailedV1:
		payment(p.ReimbursementID, "failed")
	case events.ReimbursementCancelledV1:
		payment(p.ReimbursementID, "cancelled")
	}
	if e.Time.After(v.UpdatedAt) {
		v.UpdatedAt = e.Time
	}
}

func expenseIDOf(p events.Payload) string {
	switch p := p.(type) {
	case events.ExpenseSubmittedV2:
		return p.ExpenseID
	case events.ExpenseApprovedV1:
		return p.ExpenseID
	case events.ExpenseRejectedV1:
		return p.ExpenseID
	case events.ExpenseWithdrawnV1:
		return p.ExpenseID
	case events.ExpenseVoidRequestedV1:
		return p.ExpenseID
	case events.ExpenseVoidedV1:
		return p.ExpenseID
	case events.ReimbursementCancelledV1:
		return p.ExpenseID
	case events.ReimbursementScheduledV1:
		return p.ExpenseID
	case events.ReimbursementPaidV1:
		return p.ExpenseID
	case events.ReimbursementFailedV1:
		return p.ExpenseID
	}
	return ""
}
