package service_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/messaging"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/service"
)

// stop sends the void orchestrator's command for expenseID, as approval
// sends it, and returns it.
func (e *env) stop(t *testing.T, expenseID, employeeID string) events.Envelope {
	t.Helper()
	cmd, err := events.New(events.StopPayoutV1{ExpenseID: expenseID, EmployeeID: employeeID, AmountMinor: 4250, Currency: "EUR", Reason: "duplicate receipt"},
		events.Meta{ID: uuid.NewString(), Source: events.SourceApproval, Time: time.Now(), Sequence: 3, CorrelationID: "void-" + expenseID})
	if err != nil {
		t.Fatal(err)
	}
	testinfra.PublishEvent(t, e.cfg.AMQPURL, cmd)
	return cmd
}

func (e *env) reimbursementOf(t *testing.T, expenseID string) reimbursement {
	t.Helper()
	var p page
	e.Call("GET", "/v1/reimbursements?expense_id="+expenseID, "carol", nil, &p)
	if len(p.Items) != 1 {
		t.Fatalf("expense %s has %d reimbursements", expenseID, len(p.Items))
	}
	return p.Items[0]
}

// A scheduled payout stopped before any batch ran is cancelled, announced
// once (a duplicated command changes nothing), and never paid by a later
// batch.
func TestAStoppedPayoutIsNeverPaid(t *testing.T) {
	e := start(t, nil)
	r, approval := e.scheduled(t, "alice")
	cmd := e.stop(t, approval.Subject, "alice")
	testinfra.PublishEvent(t, e.cfg.AMQPURL, cmd) // delivered twice
	cancelled := e.await(t, events.ReimbursementCancelledV1Type, 1)[0]
	if p := cancelled.Payload.(events.ReimbursementCancelledV1); p.ReimbursementID != r.ID || p.ExpenseID != approval.Subject ||
		cancelled.CorrelationID != cmd.CorrelationID || cancelled.CausationID != cmd.ID {
		t.Fatalf("reimbursement.cancelled %+v (correlation %s, causation %s)", p, cancelled.CorrelationID, cancelled.CausationID)
	}
	if got := e.payout(t, "carol"); got != (summary{}) {
		t.Fatalf("a batch after the stop: %+v, want nothing paid", got)
	}
	if got := e.reimbursementOf(t, approval.Subject); got.Status != "cancelled" || got.PaymentRef != "" {
		t.Fatalf("after the stop: %+v", got)
	}
	if n := len(e.published.Events()); n != 2 { // scheduled, cancelled
		t.Fatalf("%d events published, want scheduled and cancelled only", n)
	}
}

// A stop that overtakes the approval (they travel in different queues)
// leaves a reimbursement born cancelled; the approval, when it arrives,
// schedules nothing.
func TestAStopBeforeTheApprovalCancelsItInAdvance(t *testing.T) {
	e := start(t, nil)
	expenseID := uuid.NewString()
	e.stop(t, expenseID, "alice")
	e.await(t, events.ReimbursementCancelledV1Type, 1)
	e.approve(t, expenseID, "alice")
	e.stop(t, uuid.NewString(), "erin") // a marker behind the approval in time
	e.await(t, events.ReimbursementCancelledV1Type, 2)
	testinfra.Eventually(t, wait, "the approval is handled", func() bool {
		return e.count(t, "SELECT count(*) FROM inbox WHERE consumer = $1", messaging.ScheduleHandler) == 1
	})
	if got := e.reimbursementOf(t, expenseID); got.Status != "cancelled" {
		t.Fatalf("after the late approval: %+v", got)
	}
	if n := len(e.published.Events()); n != 2 {
		t.Fatalf("%d events, want the two cancellations only: the late approval scheduled something", n)
	}
	if got := e.payout(t, "carol"); got != (summary{}) {
		t.Fatalf("a batch: %+v, want nothing paid", got)
	}
}

// Paid first: the stop is declined with the payment's reference, and the
// reimbursement stays paid.
func TestAStopAfterThePaymentIsDeclined(t *testing.T) {
	e := start(t, nil)
	_, approval := e.scheduled(t, "alice")
	if got := e.payout(t, "carol"); got.Paid != 1 {
		t.Fatalf("payout: %+v", got)
	}
	e.stop(t, approval.Subject, "alice")
	declined := e.await(t, events.ReimbursementCancellationDeclinedV1Type, 1)[0].Payload.(events.ReimbursementCancellationDeclinedV1)
	paid := e.reimbursementOf(t, approval.Subject)
	if paid.Status != "paid" || declined.PaymentRef != paid.PaymentRef {
		t.Fatalf("declined %+v; reimbursement %+v", declined, paid)
	}
	if n := len(e.published.Events()); n != 3 {
		t.Fatalf("%d events, want scheduled, paid, declined", n)
	}
}

// The race: the stop arrives while the gateway is paying. The payment is
// finished first, then the stop is declined; nothing is ever announced as
// both paid and cancelled.
func TestAStopDuringThePaymentWaitsForItsOutcome(t *testing.T) {
	e := start(t, func(c *service.Config) { c.Gateway.Latency = 2 * time.Second })
	_, approval := e.scheduled(t, "alice")
	var wg sync.WaitGroup
	var batch summary
	wg.Go(func() { batch = e.payout(t, "carol") })
	testinfra.Eventually(t, wait, "the batch holds the reimbursement", func() bool {
		return e.count(t, "SELECT count(*) FROM reimbursements WHERE claim_token <> ''") == 1
	})
	e.stop(t, approval.Subject, "alice")
	wg.Wait()
	if batch.Paid != 1 {
		t.Fatalf("the batch in flight: %+v, want it finished and paid", batch)
	}
	e.await(t, events.ReimbursementCancellationDeclinedV1Type, 1)
	for _, ev := range e.published.Events() {
		if ev.Type == events.ReimbursementCancelledV1Type {
			t.Fatal("a paid reimbursement was announced cancelled")
		}
	}
}

// Only approval's orchestrator may stop a payout: the same command from
// another broker user is dead-lettered and stops nothing.
func TestOnlyApprovalMayStopAPayout(t *testing.T) {
	e := start(t, nil)
	_, approval := e.scheduled(t, "alice")
	cmd, err := events.New(events.StopPayoutV1{ExpenseID: approval.Subject, EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR", Reason: "mine"},
		events.Meta{ID: uuid.NewString(), Source: events.SourceApproval, Time: time.Now(), Sequence: 3, CorrelationID: "forged"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := events.Encode(cmd)
	testinfra.PublishAs(t, e.cfg.AMQPURL, "", cmd.Type, cmd.ID, body) // the test's administrator, no user-id
	testinfra.Eventually(t, wait, "the forged stop is dead-lettered", func() bool {
		return len(testinfra.DeadLetters(t, e.cfg.AMQPURL, "reimbursement")) == 1
	})
	if got := e.reimbursementOf(t, approval.Subject); got.Status != "scheduled" {
		t.Fatalf("after a forged stop: %+v", got)
	}
	if r := e.Call("GET", "/v1/reimbursements?status=cancelled", "carol", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("filtering by cancelled: %d", r.StatusCode)
	}
}
