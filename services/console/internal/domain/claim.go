// Package domain decides what the console shows about one claim: for each
// effect the claim's state should have had by now, whether it has arrived
// (done), is still on its way (processing), went wrong, or cannot be known
// because its owner did not answer. It is pure: the facts come from the
// services that own them (package backend), read at the moment the page is
// drawn, and nothing here guesses ahead of them. A learner sees eventual
// consistency as it is: each effect arrives on its own, in its own time.
package domain

import (
	"encoding/json"
	"time"

	"fmt"
	"strings"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// State is how far one effect has got.
type State string

const (
	Done       State = "done"
	Processing State = "processing" // expected, not arrived yet
	Waiting    State = "waiting"    // needs an earlier step first (e.g. a payout batch)
	Failed     State = "failed"
	Unknown    State = "unknown" // its owner did not answer
)

// Effect is one thing the claim's state implies somewhere in the system.
type Effect struct {
	Name   string // what, e.g. "reimbursement scheduled"
	Owner  string // the service that owns it
	State  State
	Detail string
}

// Facts is what the owners said about the claim, each with the error of
// asking, if any. Written is the version the user's last command from this
// console produced (0 when they did none): the read model must reach it.
type Facts struct {
	Expense          Expense
	Written          int64
	Reimbursement    *Reimbursement
	ReimbursementErr error
	Entries          []LedgerEntry
	EntriesErr       error
	Notifications    []Notification
	NotificationsErr error
	Audit            []AuditEvent
	AuditErr         error
	Void             *VoidSaga // nil unless the claim is voiding or voided
	VoidErr          error
}

// View is the claim page's status panel.
type View struct {
	Status     string // the approval read model's status
	Processing bool   // some effect is still on its way
	Effects    []Effect
}

// Approved reports whether a status comes after an approval: money is owed.
func Approved(status string) bool {
	return status == "approved" || status == "paid" || status == "payment_failed"
}

// Build lists the effects the claim's status implies and how far each has got.
func Build(f Facts) View {
	e := f.Expense
	v := View{Status: e.Status}
	add := func(x Effect) {
		v.Effects = append(v.Effects, x)
		if x.State == Processing {
			v.Processing = true
		}
	}
	add(readModel(f))
	add(audited(f))
	if e.Status == "voiding" || e.Status == "voided" {
		add(voidSaga(f))
		add(voidEntry(f))
	}
	if Approved(e.Status) {
		add(scheduled(f))
		add(entry(f, "approval", "ledger: approval entry", "expense.approved", true))
		add(payout(f))
		paid := f.Reimbursement != nil && f.Reimbursement.Status == "paid"
		add(entry(f, "settlement", "ledger: settlement entry", "reimbursement.paid", paid))
	}
	if who, event := told(e.Status, f.Reimbursement); event != "" {
		add(notified(f, who, event))
	}
	return v
}

// readModel: the approval service's projection answers queries; it must
// reach the version the user's command wrote, and show a payment once the
// reimbursement service has made one.
func readModel(f Facts) Effect {
	x := Effect{Name: "read model", Owner: "approval", State: Done, Detail: fmt.Sprintf("version %d, %s", f.Expense.Version, f.Expense.Status)}
	switch {
	case f.Written > f.Expense.Version:
		x.State, x.Detail = Processing, fmt.Sprintf("at version %d; your change is version %d", f.Expense.Version, f.Written)
	case f.Reimbursement != nil && f.Reimbursement.Status == "paid" && f.Expense.Status != "paid":
		x.State, x.Detail = Processing, "the payment is made; the read model has not heard reimbursement.paid yet"
	case f.Reimbursement != nil && f.Reimbursement.Status == "failed" && f.Expense.Status != "payment_failed":
		x.State, x.Detail = Processing, "the payment failed; the read model has not heard reimbursement.failed yet"
	}
	return x
}

// audited: the audit log records every event; it holds this claim's
// latest expense event once it has an expense.* event at the latest
// version anyone has seen (the read model's, or the user's own write).
func audited(f Facts) Effect {
	x := Effect{Name: "audit log", Owner: "audit"}
	if f.AuditErr != nil {
		return unknown(x, f.AuditErr)
	}
	latest := max(f.Expense.Version, f.Written)
	for _, ev := range f.Audit {
		if ev.Subject == f.Expense.ID && strings.HasPrefix(ev.Type, "expense.") && ev.Sequence >= latest {
			x.State, x.Detail = Done, fmt.Sprintf("%d events of this claim, the latest at seq %d", len(f.Audit), f.Audit[len(f.Audit)-1].Seq)
			return x
		}
	}
	x.State, x.Detail = Processing, fmt.Sprintf("waiting for the expense's version %d to be recorded", latest)
	return x
}

func scheduled(f Facts) Effect {
	x := Effect{Name: "reimbursement scheduled", Owner: "reimbursement"}
	if f.ReimbursementErr != nil {
		return unknown(x, f.ReimbursementErr)
	}
	if f.Reimbursement == nil {
		x.State, x.Detail = Processing, "waiting for reimbursement to hear expense.approved"
		return x
	}
	x.State, x.Detail = Done, "reimbursement "+f.Reimbursement.ID
	return x
}

func payout(f Facts) Effect {
	x := Effect{Name: "payout", Owner: "reimbursement"}
	r := f.Reimbursement
	switch {
	case f.ReimbursementErr != nil:
		return unknown(x, f.ReimbursementErr)
	case r == nil:
		x.State, x.Detail = Waiting, "after the reimbursement is scheduled"
	case r.Status == "paid":
		x.State, x.Detail = Done, "paid, payment "+r.PaymentRef
	case r.Status == "failed":
		x.State, x.Detail = Failed, r.FailureReason
	case r.Status == "cancelled":
		x.State, x.Detail = Done, "cancelled: the claim was voided before anything was paid"
	default:
		x.State, x.Detail = Waiting, "waiting for a payout batch (the timer, or finance: run payouts)"
		if r.Attempts > 0 {
			x.State, x.Detail = Processing, fmt.Sprintf("%d attempts so far; the gateway failed transiently, retrying", r.Attempts)
		}
	}
	return x
}

// entry: accounting posts a journal entry of kind on hearing event; due
// says whether that event should have happened by now.
func entry(f Facts, kind, name, event string, due bool) Effect {
	x := Effect{Name: name, Owner: "accounting"}
	if f.EntriesErr != nil {
		return unknown(x, f.EntriesErr)
	}
	for _, e := range f.Entries {
		if e.Kind == kind {
			var amount int64
			currency := ""
			for _, l := range e.Lines {
				amount += l.DebitMinor
				currency = l.Currency
			}
			x.State, x.Detail = Done, fmt.Sprintf("entry %s, %s", e.ID, Money(amount, currency))
			return x
		}
	}
	if !due {
		x.State, x.Detail = Waiting, "after "+event
		return x
	}
	x.State, x.Detail = Processing, "waiting for accounting to hear "+event
	return x
}

// told says who the notification service tells about the claim's latest
// step, and on which event; "" when it tells nobody (a withdrawal).
func told(status string, r *Reimbursement) (who, event string) {
	switch status {
	case "submitted":
		return "the managers", "expense.submitted"
	case "approved":
		if r != nil && r.Status == "paid" {
			return "the employee", "reimbursement.paid"
		}
		return "the employee", "expense.approved"
	case "rejected":
		return "the employee", "expense.rejected"
	case "paid":
		return "the employee", "reimbursement.paid"
	case "payment_failed":
		return "the employee and finance", "reimbursement.failed"
	case "voided":
		return "the employee (and finance, for a recovery)", "expense.voided"
	}
	return "", ""
}

func notified(f Facts, who, event string) Effect {
	x := Effect{Name: "notifications", Owner: "notification"}
	if f.NotificationsErr != nil {
		return unknown(x, f.NotificationsErr)
	}
	var to []string
	for _, n := range f.Notifications {
		if strings.HasPrefix(n.EventType, event+".") {
			to = append(to, n.RecipientID+" ("+n.DeliveryStatus+")")
		}
	}
	if len(to) == 0 {
		x.State, x.Detail = Processing, fmt.Sprintf("waiting for %s to be told of %s", who, event)
		return x
	}
	x.State, x.Detail = Done, event+" told to "+strings.Join(to, ", ")
	return x
}

// voidSaga: approval's orchestrator, step by step.
func voidSaga(f Facts) Effect {
	x := Effect{Name: "void saga", Owner: "approval"}
	switch v := f.Void; {
	case f.VoidErr != nil:
		return unknown(x, f.VoidErr)
	case v == nil:
		x.State, x.Detail = Processing, "waiting for the saga to start"
	case v.Step == "done":
		x.State, x.Detail = Done, "done: "+v.Outcome
	case v.Stuck:
		x.State, x.Detail = Failed, "stuck at "+v.Step+": sent again and again without an answer"
	case v.Step == "stop_payout":
		x.State, x.Detail = Processing, "asked reimbursement to stop the payout; waiting for its answer"
	default:
		x.State, x.Detail = Processing, v.Outcome+": asked accounting to post the "+map[bool]string{true: "recovery", false: "reversal"}[v.Outcome == "recovery_required"]
	}
	return x
}

// voidEntry: the entry that takes the approval back, once the outcome is known.
func voidEntry(f Facts) Effect {
	if f.Void == nil || f.Void.Outcome == "" {
		return Effect{Name: "ledger: reversal or recovery", Owner: "accounting", State: Waiting, Detail: "after reimbursement's answer"}
	}
	kind := "reversal"
	if f.Void.Outcome == "recovery_required" {
		kind = "recovery"
	}
	return entry(f, kind, "ledger: "+kind+" entry", "accounting.post_void_entry", true)
}

func unknown(x Effect, err error) Effect {
	x.State, x.Detail = Unknown, x.Owner+" did not answer: "+err.Error()
	return x
}

// Money formats minor units for people: 4250 EUR is "42.50 EUR", 4250 JPY
// is "4250 JPY" (the yen has no minor unit, ISO 4217).
func Money(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	if currency == "JPY" {
		return fmt.Sprintf("%s%d %s", sign, minor, currency)
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, currency)
}

// The facts, as their owners' read APIs give them.

// Expense is the approval read model's expense.
type Expense struct {
	ID              string    `json:"id"`
	EmployeeID      string    `json:"employee_id"`
	AmountMinor     int64     `json:"amount_minor"`
	Currency        string    `json:"currency"`
	Category        string    `json:"category"`
	Description     string    `json:"description"`
	IncurredOn      string    `json:"incurred_on"`
	Status          string    `json:"status"`
	Version         int64     `json:"version"`
	DecidedBy       string    `json:"decided_by"`
	Reason          string    `json:"reason"`
	ReimbursementID string    `json:"reimbursement_id"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Claim is what a user submits.
type Claim struct {
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
	Description string `json:"description"`
	IncurredOn  string `json:"incurred_on"`
}

// Reimbursement is the reimbursement service's record of paying a claim.
type Reimbursement struct {
	ID            string    `json:"id"`
	Status        string    `json:"status"`
	Attempts      int       `json:"attempts"`
	PaymentRef    string    `json:"payment_ref"`
	FailureReason string    `json:"failure_reason"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// LedgerEntry is one balanced journal entry of accounting.
type LedgerEntry struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	PostedAt time.Time `json:"posted_at"`
	Lines    []struct {
		Account     string `json:"account"`
		DebitMinor  int64  `json:"debit_minor"`
		CreditMinor int64  `json:"credit_minor"`
		Currency    string `json:"currency"`
	} `json:"lines"`
}

// Notification is one message the notification service made about a claim.
type Notification struct {
	EventType      string    `json:"event_type"`
	RecipientID    string    `json:"recipient_id"`
	Subject        string    `json:"subject"`
	DeliveryStatus string    `json:"delivery_status"`
	CreatedAt      time.Time `json:"created_at"`
}

// AuditEvent is an event as the audit log stored it: the envelope, its
// position in the log and its link in the hash chain. Raw keeps the whole
// entry for the timeline's "envelope" view.
type AuditEvent struct {
	events.Envelope
	Seq        int64     `json:"seq"`
	Hash       string    `json:"hash"`
	ReceivedAt time.Time `json:"received_at"`
	Raw        json.RawMessage
}

// UnmarshalJSON reads the envelope as pkg/events does (sequence may be a
// number or a string on the wire) and the audit log's own fields beside it.
func (e *AuditEvent) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &e.Envelope); err != nil {
		return err
	}
	var own struct {
		Seq        int64     `json:"seq"`
		Hash       string    `json:"hash"`
		ReceivedAt time.Time `json:"received_at"`
	}
	if err := json.Unmarshal(b, &own); err != nil {
		return err
	}
	e.Seq, e.Hash, e.ReceivedAt = own.Seq, own.Hash, own.ReceivedAt
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// VoidSaga is approval's void saga of a claim, as far as the console shows it.
type VoidSaga struct {
	Step    string `json:"step"`
	Outcome string `json:"outcome"`
	Stuck   bool   `json:"stuck"`
}
