package app

import (
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
	PaymentStatus   string // scheduled, paid or failed, from reimbursement.* events
	PaymentSequence int64  // sequence of the newest reimbursement.* event applied
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
// idempotent: facts that never change (employee, amount, …) are copied from
// whichever event brings them first, and the status moves only forward —
// an event older than what the view already shows (lower sequence) changes
// nothing. So any permutation of an expense's events, with duplicates, yields
// the same row.
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
	claim := func(employee string, amount int64, currency string) {
		v.EmployeeID, v.AmountMinor, v.Currency = employee, amount, currency
	}
	expenseStatus := func(status, decidedBy, reason string) {
		if e.Sequence > v.Version {
			v.Status, v.Version, v.DecidedBy, v.Reason = status, e.Sequence, decidedBy, reason
		}
	}
	payment := func(reimbursementID, status string) {
		v.ReimbursementID = reimbursementID
		if e.Sequence > v.PaymentSequence {
			v.PaymentStatus, v.PaymentSequence = status, e.Sequence
		}
	}
	switch p := e.Payload.(type) {
	case events.ExpenseSubmittedV2:
		claim(p.EmployeeID, p.AmountMinor, p.Currency)
		v.Category, v.CostCenter, v.Description, v.IncurredOn = p.Category, p.CostCenter, p.Description, p.IncurredOn
		submittedAt := p.SubmittedAt
		v.SubmittedAt = &submittedAt
		expenseStatus("submitted", "", "")
	case events.ExpenseApprovedV1:
		claim(p.EmployeeID, p.AmountMinor, p.Currency)
		v.Category = p.Category
		expenseStatus("approved", p.ApproverID, "")
	case events.ExpenseRejectedV1:
		v.EmployeeID = p.EmployeeID
		expenseStatus("rejected", p.ApproverID, p.Reason)
	case events.ExpenseWithdrawnV1:
		v.EmployeeID = p.EmployeeID
		expenseStatus("withdrawn", "", "")
	case events.ReimbursementScheduledV1:
		claim(p.EmployeeID, p.AmountMinor, p.Currency)
		payment(p.ReimbursementID, "scheduled")
	case events.ReimbursementPaidV1:
		claim(p.EmployeeID, p.AmountMinor, p.Currency)
		payment(p.ReimbursementID, "paid")
	case events.ReimbursementFailedV1:
		claim(p.EmployeeID, p.AmountMinor, p.Currency)
		payment(p.ReimbursementID, "failed")
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
	case events.ReimbursementScheduledV1:
		return p.ExpenseID
	case events.ReimbursementPaidV1:
		return p.ExpenseID
	case events.ReimbursementFailedV1:
		return p.ExpenseID
	}
	return ""
}
