package domain

import (
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// Void is the saga that takes a claim's approval back, orchestrated from
// here: one place holds its state and decides each next step, and each
// step is a command to the service that owns the change, answered by an
// event (docs/patterns/choreography-and-orchestration.md).
//
//	stop_payout  → reimbursement: reimbursement.stop_payout
//	               answered by reimbursement.cancelled (nothing paid)
//	               or reimbursement.cancellation_declined (it was paid)
//	post_entry   → accounting: accounting.post_void_entry (a reversal if
//	               nothing was paid, a recovery if it was), answered by
//	               ledger.entry_posted of that kind
//	done         → the claim is voided: expense.voided with the outcome
//
// A step whose answer does not come within its timeout sends its command
// again — the same command, with the same id, so its receiver's inbox makes
// the repeat harmless — with a growing timeout; after MaxVoidSends sends
// the saga is stuck and says so (GET /v1/voids?state=stuck, a metric).
type Void struct {
	ExpenseID   string
	EmployeeID  string
	Category    string
	AmountMinor int64
	Currency    string
	Reason      string
	RequestedBy string
	// CorrelationID is the void's flow: the request's, carried by every
	// command and reply.
	CorrelationID string
	Step          VoidStep
	// Outcome is known once reimbursement has answered.
	Outcome string
	// The commands' ids: fixed when the step starts, the same on every send.
	StopCommandID  string
	EntryCommandID string
	// Sends of the current step's command, and when it times out.
	Sends         int
	NextAttemptAt time.Time
	// When each thing happened, for GET /v1/expenses/{id}/void.
	RequestedAt      time.Time
	PayoutAnsweredAt *time.Time
	EntryPostedAt    *time.Time
	CompletedAt      *time.Time
	UpdatedAt        time.Time
}

// VoidStep is where a void saga is.
type VoidStep string

const (
	StepStopPayout VoidStep = "stop_payout"
	StepPostEntry  VoidStep = "post_entry"
	StepDone       VoidStep = "done"
)

// The retry schedule of a step: its first timeout, doubling after each send
// up to the last, and how many sends before the saga is reported stuck.
// With these, a step is sent at 0 s, 10 s, 30 s, 70 s, 150 s, 310 s, 610 s
// and 910 s, and is stuck after about 20 minutes without an answer.
const (
	VoidStepTimeout    = 10 * time.Second
	VoidStepTimeoutMax = 5 * time.Minute
	MaxVoidSends       = 8
)

// StartVoid begins the saga for e, which RequestVoid has just moved to
// voiding: its first step, stopping the payout, is due now.
func StartVoid(e *Expense, requestedBy, reason, correlationID, stopCommandID string, now time.Time) *Void {
	return &Void{
		ExpenseID: e.id, EmployeeID: e.employeeID, Category: e.category, AmountMinor: e.amountMinor, Currency: e.currency,
		Reason: reason, RequestedBy: requestedBy, CorrelationID: correlationID,
		Step: StepStopPayout, StopCommandID: stopCommandID,
		Sends: 1, NextAttemptAt: now.Add(VoidStepTimeout), RequestedAt: now, UpdatedAt: now,
	}
}

// PayoutAnswered records reimbursement's answer and moves to posting the
// entry (a recovery if the money went out, else a reversal), whose command
// gets entryCommandID. An answer to a step already past changes nothing.
func (v *Void) PayoutAnswered(paid bool, entryCommandID string, now time.Time) (changed bool) {
	if v.Step != StepStopPayout {
		return false
	}
	v.Outcome = events.VoidPayoutCancelled
	if paid {
		v.Outcome = events.VoidRecoveryRequired
	}
	v.Step, v.EntryCommandID = StepPostEntry, entryCommandID
	v.PayoutAnsweredAt = &now
	v.startStep(now)
	return true
}

// EntryKind is the ledger entry that takes the approval back.
func (v *Void) EntryKind() string {
	if v.Outcome == events.VoidRecoveryRequired {
		return events.EntryKindRecovery
	}
	return events.EntryKindReversal
}

// EntryPosted records accounting's answer, an entry of kind: the saga is
// done. An entry of another kind, or an answer to a step already past,
// changes nothing.
func (v *Void) EntryPosted(kind string, now time.Time) (changed bool) {
	if v.Step != StepPostEntry || kind != v.EntryKind() {
		return false
	}
	v.Step = StepDone
	v.EntryPostedAt, v.CompletedAt = &now, &now
	v.UpdatedAt = now
	return true
}

// Due reports whether the current step has timed out and its command
// should be sent again.
func (v *Void) Due(now time.Time) bool {
	return v.Step != StepDone && !now.Before(v.NextAttemptAt)
}

// Resent records one more send of the current step's command, and its
// next timeout: each twice the last, up to VoidStepTimeoutMax.
func (v *Void) Resent(now time.Time) {
	v.Sends++
	timeout := VoidStepTimeout
	for i := 1; i < v.Sends && timeout < VoidStepTimeoutMax; i++ {
		timeout *= 2
	}
	v.NextAttemptAt = now.Add(min(timeout, VoidStepTimeoutMax))
	v.UpdatedAt = now
}

// Stuck reports whether the saga has given up waiting: its step was sent
// MaxVoidSends times without an answer. A person must look (the command
// may be among its receiver's dead letters); it keeps trying meanwhile.
func (v *Void) Stuck() bool {
	return v.Step != StepDone && v.Sends >= MaxVoidSends
}

func (v *Void) startStep(now time.Time) {
	v.Sends = 1
	v.NextAttemptAt = now.Add(VoidStepTimeout)
	v.UpdatedAt = now
}
