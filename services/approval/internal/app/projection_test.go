package app

import (
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// The story of one paid claim, as the projection receives it.
func paidStory() []events.Event {
	ev := func(seq int64, p events.Payload) events.Event {
		return events.Event{Envelope: events.Envelope{Sequence: seq, Time: t0.Add(time.Duration(seq) * time.Minute)}, Payload: p}
	}
	return []events.Event{
		ev(1, events.ExpenseSubmittedV2{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR", Category: "travel", CostCenter: "sales", Description: "Train", IncurredOn: "2026-11-20", SubmittedAt: t0}),
		ev(2, events.ExpenseApprovedV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", ApproverID: "bob", AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: t0}),
		ev(1, events.ReimbursementScheduledV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR"}),
		ev(2, events.ReimbursementPaidV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR", PaymentRef: "p-1", PaidAt: t0}),
	}
}

// Any order, with duplicates, converges on the same row (docs/patterns/cqrs-projections.md).
func TestProjectionConvergesWhateverTheOrder(t *testing.T) {
	story := paidStory()
	var want View
	for _, e := range story {
		apply(&want, e)
	}
	if want.PublicStatus() != StatusPaid || want.Version != 2 || want.Description != "Train" {
		t.Fatalf("in-order result: %+v", want)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 500; i++ {
		delivered := append([]events.Event{}, story...)
		for range rng.Intn(4) { // duplicates
			delivered = append(delivered, story[rng.Intn(len(story))])
		}
		rng.Shuffle(len(delivered), func(a, b int) { delivered[a], delivered[b] = delivered[b], delivered[a] })
		var got View
		for _, e := range delivered {
			apply(&got, e)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d converged on\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

func TestPublicStatus(t *testing.T) {
	cases := []struct{ status, payment, want string }{
		{"submitted", "", "submitted"},
		{"approved", "", "approved"},
		{"approved", "scheduled", "approved"},
		{"approved", "paid", "paid"},
		{"approved", "failed", "payment_failed"},
		{"rejected", "", "rejected"},
	}
	for _, c := range cases {
		if got := (View{Status: c.status, PaymentStatus: c.payment}).PublicStatus(); got != c.want {
			t.Errorf("%s/%s: got %s, want %s", c.status, c.payment, got, c.want)
		}
	}
}

// Each field comes only from the event type that owns it: the claim's facts
// from expense.submitted, so a payout event naming another employee or
// amount (a bug upstream, a forgery) changes neither.
func TestFieldsComeOnlyFromTheirOwner(t *testing.T) {
	story := paidStory()
	v := View{ID: "00000000-0000-4000-8000-00000000e001"}
	for _, e := range story {
		apply(&v, e)
	}
	want := v
	forged := story[3]
	forged.Sequence = 3
	forged.Payload = events.ReimbursementPaidV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "mallory", AmountMinor: 9_999_999, Currency: "USD", PaymentRef: "p-2", PaidAt: t0}
	apply(&v, forged)
	if v.EmployeeID != want.EmployeeID || v.AmountMinor != want.AmountMinor || v.Currency != want.Currency {
		t.Fatalf("a reimbursement event rewrote the claim: %+v", v)
	}
	approved := story[1]
	approved.Sequence = 3
	approved.Payload = events.ExpenseApprovedV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "mallory", ApproverID: "bob", AmountMinor: 1, Currency: "GBP", Category: "other", ApprovedAt: t0}
	apply(&v, approved)
	if v.EmployeeID != want.EmployeeID || v.AmountMinor != want.AmountMinor || v.Category != want.Category {
		t.Fatalf("an approval rewrote the claim's facts: %+v", v)
	}
}

// Two different events at the same sequence (only a faulty or forged
// producer sends them) end in the same row whichever arrives first.
func TestEqualSequencesResolveTheSameWay(t *testing.T) {
	story := paidStory()
	rejected := story[1]
	rejected.Payload = events.ExpenseRejectedV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", ApproverID: "frank", Reason: "no receipt", RejectedAt: t0}
	otherPayout := story[3]
	otherPayout.Payload = events.ReimbursementFailedV1{ReimbursementID: "00000000-0000-4000-8000-00000000a002", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR", Reason: "closed", FailedAt: t0}
	project := func(evs ...events.Event) View {
		v := View{ID: "00000000-0000-4000-8000-00000000e001"}
		for _, e := range evs {
			apply(&v, e)
		}
		return v
	}
	a := project(story[0], story[1], rejected, story[2], story[3], otherPayout)
	b := project(story[0], rejected, story[1], story[2], otherPayout, story[3])
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the order decided the row:\n%+v\n%+v", a, b)
	}
}
