// Package domain holds the reimbursement aggregate and the payout rules: how
// a payment attempt's outcome moves a reimbursement on, and when a failed
// attempt is retried. It is pure: no database, broker or HTTP; time and ids
// come from the caller.
package domain

import (
	"regexp"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// Status is where a reimbursement is in its lifecycle. Scheduled is the only
// state that moves; paid, failed and cancelled are final.
type Status string

const (
	Scheduled Status = "scheduled"
	Paid      Status = "paid"
	Failed    Status = "failed"
	Cancelled Status = "cancelled" // its claim was voided before anything was paid
)

// Statuses lists every status, for validating filters.
var Statuses = []Status{Scheduled, Paid, Failed, Cancelled}

// Sequences of the events that announce a reimbursement: it is scheduled
// (1), then settled once, as paid or failed (2). Retries publish nothing, so
// they do not move the sequence.
const (
	SequenceScheduled int64 = 1
	SequenceSettled   int64 = 2
)

// MaxReason bounds a stored failure reason; it is shown to clients.
const MaxReason = 500

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Reimbursement is the payout owed for one approved expense. Fields are
// unexported so every change goes through a method that enforces the rules.
type Reimbursement struct {
	id            string
	expenseID     string
	employeeID    string
	amountMinor   int64
	currency      string
	status        Status
	attempts      int
	nextAttemptAt time.Time
	paymentRef    string
	failureReason string
	correlationID string
	createdAt     time.Time
	updatedAt     time.Time
}

// Payout is what an approved expense entitles its employee to.
type Payout struct {
	ExpenseID   string
	EmployeeID  string
	AmountMinor int64
	Currency    string
	// CorrelationID is the flow that approved the expense; every event about
	// the reimbursement carries it, even one a timer emits days later.
	CorrelationID string
}

// Schedule creates a reimbursement for p, due for payment at once. It reports
// every broken rule at once.
func Schedule(id string, p Payout, now time.Time) (*Reimbursement, error) {
	var errs []apperr.FieldError
	bad := func(field, msg string) { errs = append(errs, apperr.FieldError{Field: field, Message: msg}) }
	if p.ExpenseID == "" {
		bad("expense_id", "is required")
	}
	if p.EmployeeID == "" {
		bad("employee_id", "is required")
	}
	if p.AmountMinor <= 0 {
		bad("amount_minor", "must be positive")
	}
	if !currencyCode.MatchString(p.Currency) {
		bad("currency", "must be a three-letter ISO 4217 code")
	}
	if err := apperr.Fields(errs); err != nil {
		return nil, err
	}
	return &Reimbursement{
		id: id, expenseID: p.ExpenseID, employeeID: p.EmployeeID,
		amountMinor: p.AmountMinor, currency: p.Currency, correlationID: p.CorrelationID,
		status: Scheduled, nextAttemptAt: now, createdAt: now, updatedAt: now,
	}, nil
}

// StoppedBeforeScheduled is the reimbursement of a claim voided before its
// approval reached this service: it is born cancelled, so the approval,
// when it arrives, finds it and schedules nothing.
func StoppedBeforeScheduled(id string, p Payout, now time.Time) (*Reimbursement, error) {
	r, err := Schedule(id, p, now)
	if err != nil {
		return nil, err
	}
	r.status = Cancelled
	return r, nil
}

// StopOutcome is the answer to a request to stop a payout.
type StopOutcome int

const (
	// Stopped: nothing was paid and nothing will be.
	Stopped StopOutcome = iota + 1
	// AlreadyPaid: the money went out before the request; it stands.
	AlreadyPaid
)

// Stop answers a request to stop r's payout. The caller holds r's lock and
// has made sure no payment attempt is in flight (one is finished first:
// its outcome decides). A scheduled payout is cancelled; a failed one stays
// failed, and nothing was paid; a paid one cannot be stopped; a cancelled
// one was stopped before, and the answer is the same.
func (r *Reimbursement) Stop(now time.Time) StopOutcome {
	switch r.status {
	case Paid:
		return AlreadyPaid
	case Scheduled:
		r.status = Cancelled
		r.updatedAt = now
	}
	return Stopped
}

// MarkPaid records a successful payment attempt.
func (r *Reimbursement) MarkPaid(paymentRef string, now time.Time) error {
	if err := r.mustBeScheduled(); err != nil {
		return err
	}
	if paymentRef == "" {
		return apperr.New(apperr.Invalid, "a paid reimbursement needs a payment reference")
	}
	r.attempts++
	r.status, r.paymentRef, r.failureReason = Paid, paymentRef, ""
	r.updatedAt = now
	return nil
}

// RecordFailure records a failed payment attempt. A permanent failure, or the
// last attempt the policy allows, fails the reimbursement for good; any other
// failure keeps it scheduled and due again after the policy's backoff.
// The reason is kept either way, so clients can see why a payout is late.
func (r *Reimbursement) RecordFailure(reason string, permanent bool, policy RetryPolicy, now time.Time) error {
	if err := r.mustBeScheduled(); err != nil {
		return err
	}
	if runes := []rune(reason); len(runes) > MaxReason {
		reason = string(runes[:MaxReason])
	}
	r.attempts++
	r.failureReason = reason
	if permanent || policy.Exhausted(r.attempts) {
		r.status = Failed
	} else {
		r.nextAttemptAt = now.Add(policy.Backoff(r.attempts))
	}
	r.updatedAt = now
	return nil
}

func (r *Reimbursement) mustBeScheduled() error {
	if r.status != Scheduled {
		return apperr.New(apperr.Conflict, "reimbursement %s is already %s", r.id, r.status)
	}
	return nil
}

// Sequence is the sequence of the event announcing r's current state.
func (r *Reimbursement) Sequence() int64 {
	if r.status == Scheduled {
		return SequenceScheduled
	}
	return SequenceSettled
}

// ID returns the reimbursement id.
func (r *Reimbursement) ID() string { return r.id }

// Status returns where r is in its lifecycle.
func (r *Reimbursement) Status() Status { return r.status }

// CorrelationID returns the flow r belongs to.
func (r *Reimbursement) CorrelationID() string { return r.correlationID }
