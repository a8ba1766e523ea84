package events

import (
	"fmt"
	"slices"
	"time"
)

// Outcomes of a void: the payout was stopped in time (nothing was paid,
// the approval's entry is reversed), or the money had already gone out
// (the employee owes it back: a recovery).
const (
	VoidPayoutCancelled  = "payout_cancelled"
	VoidRecoveryRequired = "recovery_required"
)

// Ledger entry kinds a void posts (accounting, on PostVoidEntryV1).
const (
	EntryKindReversal = "reversal" // nothing was paid: debit payable, credit expense
	EntryKindRecovery = "recovery" // it was paid: debit the employee's receivable, credit expense
)

// MaxVoidReason bounds the reason finance gives for a void.
const MaxVoidReason = 500

// ExpenseVoidRequestedV1: finance asked to take an approval back; the
// claim is "voiding" while approval's orchestrator stops the payout and
// corrects the books.
type ExpenseVoidRequestedV1 struct {
	ExpenseID   string    `json:"expense_id"`
	EmployeeID  string    `json:"employee_id"`
	RequestedBy string    `json:"requested_by"`
	Reason      string    `json:"reason"`
	RequestedAt time.Time `json:"requested_at"`
}

// ExpenseVoidedV1: the void is complete, with its outcome.
type ExpenseVoidedV1 struct {
	ExpenseID   string    `json:"expense_id"`
	EmployeeID  string    `json:"employee_id"`
	Outcome     string    `json:"outcome"`
	Reason      string    `json:"reason"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	VoidedAt    time.Time `json:"voided_at"`
}

// ReimbursementCancelledV1: the payout of a voided claim was stopped
// before any money went out; nothing will be paid for it, ever.
type ReimbursementCancelledV1 struct {
	ReimbursementID string    `json:"reimbursement_id"`
	ExpenseID       string    `json:"expense_id"`
	EmployeeID      string    `json:"employee_id"`
	AmountMinor     int64     `json:"amount_minor"`
	Currency        string    `json:"currency"`
	CancelledAt     time.Time `json:"cancelled_at"`
}

// ReimbursementCancellationDeclinedV1: a payout could not be stopped, because
// it had been paid (PaymentRef).
type ReimbursementCancellationDeclinedV1 struct {
	ReimbursementID string    `json:"reimbursement_id"`
	ExpenseID       string    `json:"expense_id"`
	EmployeeID      string    `json:"employee_id"`
	AmountMinor     int64     `json:"amount_minor"`
	Currency        string    `json:"currency"`
	PaymentRef      string    `json:"payment_ref"`
	DeclinedAt      time.Time `json:"declined_at"`
}

// StopPayoutV1 (command, approval → reimbursement): do not pay this claim;
// answer reimbursement.cancelled or, if it was paid, cancellation_declined.
// It carries what a reimbursement needs, so a stop that arrives before the
// approval it stops can still be recorded.
type StopPayoutV1 struct {
	ExpenseID   string `json:"expense_id"`
	EmployeeID  string `json:"employee_id"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
}

// PostVoidEntryV1 (command, approval → accounting): post the entry that
// takes a claim's approval back, of Kind reversal or recovery; answered by
// ledger.entry_posted of that kind.
type PostVoidEntryV1 struct {
	ExpenseID   string `json:"expense_id"`
	EmployeeID  string `json:"employee_id"`
	Category    string `json:"category"`
	Kind        string `json:"kind"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

func (ExpenseVoidRequestedV1) EventType() string   { return ExpenseVoidRequestedV1Type }
func (ExpenseVoidedV1) EventType() string          { return ExpenseVoidedV1Type }
func (ReimbursementCancelledV1) EventType() string { return ReimbursementCancelledV1Type }
func (ReimbursementCancellationDeclinedV1) EventType() string {
	return ReimbursementCancellationDeclinedV1Type
}
func (StopPayoutV1) EventType() string    { return StopPayoutV1Type }
func (PostVoidEntryV1) EventType() string { return PostVoidEntryV1Type }

func (p ExpenseVoidRequestedV1) SubjectID() string              { return p.ExpenseID }
func (p ExpenseVoidedV1) SubjectID() string                     { return p.ExpenseID }
func (p ReimbursementCancelledV1) SubjectID() string            { return p.ReimbursementID }
func (p ReimbursementCancellationDeclinedV1) SubjectID() string { return p.ReimbursementID }
func (p StopPayoutV1) SubjectID() string                        { return p.ExpenseID }
func (p PostVoidEntryV1) SubjectID() string                     { return p.ExpenseID }

func (p ExpenseVoidRequestedV1) Validate() error {
	return check(id("expense_id", p.ExpenseID), required("employee_id", p.EmployeeID),
		required("requested_by", p.RequestedBy), reason(p.Reason))
}

func (p ExpenseVoidedV1) Validate() error {
	return check(id("expense_id", p.ExpenseID), required("employee_id", p.EmployeeID),
		oneOf("outcome", p.Outcome, VoidPayoutCancelled, VoidRecoveryRequired), reason(p.Reason),
		money(p.AmountMinor, p.Currency))
}

func (p ReimbursementCancelledV1) Validate() error {
	return check(id("reimbursement_id", p.ReimbursementID), id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID), money(p.AmountMinor, p.Currency))
}

func (p ReimbursementCancellationDeclinedV1) Validate() error {
	return check(id("reimbursement_id", p.ReimbursementID), id("expense_id", p.ExpenseID),
		required("employee_id", p.EmployeeID), money(p.AmountMinor, p.Currency), required("payment_ref", p.PaymentRef))
}

func (p StopPayoutV1) Validate() error {
	return check(id("expense_id", p.ExpenseID), required("employee_id", p.EmployeeID),
		money(p.AmountMinor, p.Currency), reason(p.Reason))
}

func (p PostVoidEntryV1) Validate() error {
	return check(id("expense_id", p.ExpenseID), required("employee_id", p.EmployeeID),
		required("category", p.Category), oneOf("kind", p.Kind, EntryKindReversal, EntryKindRecovery),
		money(p.AmountMinor, p.Currency))
}

// reason: a void says why, briefly.
func reason(r string) error {
	if r == "" || len([]rune(r)) > MaxVoidReason {
		return fmt.Errorf("reason: 1 to %d characters", MaxVoidReason)
	}
	return nil
}

func oneOf(field, value string, allowed ...string) error {
	if !slices.Contains(allowed, value) {
		return fmt.Errorf("%s: must be one of %v", field, allowed)
	}
	return nil
}
