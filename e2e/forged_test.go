package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestForgedEventsChangeNothing: someone with broker credentials publishes
// well-formed events that its service does not own. The broker itself
// refuses a user-id that is not the publisher's and a routing key the
// publisher does not own; what gets through — no user-id at all, or another
// service's event type under the publisher's own routing key — is
// dead-lettered by every consumer with the reason, and changes nothing: no
// ledger entry, no reimbursement, no payout, no read-model change. The claim
// the forgeries were about is then rejected by its manager, and stays
// unpaid.
func TestForgedEventsChangeNothing(t *testing.T) {
	s := startStack(t)
	subscribeToEverything(t, s)
	claim := submit(t, s, "alice", 4200)
	testinfra.Eventually(t, deadline, "the claim is in the read model", func() bool {
		return viewStatus(t, s, "alice", claim.ID) == "submitted"
	})
	now := time.Now().UTC().Format(time.RFC3339)
	envelope := func(id, eventType, data string) []byte {
		return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"type":%q,"source":"approval","subject":%q,"time":%q,`+
			`"datacontenttype":"application/json","correlationid":"forged","sequence":"0000000000000000099","data":%s}`,
			id, eventType, claim.ID, now, data)
	}
	approval := func(expenseID string) string {
		return fmt.Sprintf(`{"expense_id":%q,"employee_id":"alice","approver_id":"bob","amount_minor":4200,`+
			`"currency":"EUR","category":"travel","approved_at":%q}`, expenseID, now)
	}
	paid := fmt.Sprintf(`{"reimbursement_id":%q,"expense_id":%q,"employee_id":"erin","amount_minor":4200,`+
		`"currency":"EUR","payment_ref":"pay_forged","paid_at":%q}`, uuid.NewString(), claim.ID, now)

	// What the broker stops by itself.
	if err := testinfra.TryPublish(t, s.AMQPURL, "", "approval", "expense.approved.v1", "x", envelope(uuid.NewString(), "expense.approved.v1", approval(claim.ID))); err == nil {
		t.Error("the broker let an administrator publish with approval's user-id")
	}
	if err := testinfra.TryPublish(t, s.AMQPURL, "notification", "notification", "expense.approved.v1", "x", envelope(uuid.NewString(), "expense.approved.v1", approval(claim.ID))); err == nil {
		t.Error("the broker let notification publish to the events exchange")
	}
	if err := testinfra.TryPublish(t, s.AMQPURL, "approval", "approval", "reimbursement.paid.v1", "x", envelope(uuid.NewString(), "reimbursement.paid.v1", paid)); err == nil {
		t.Error("the broker let approval publish reimbursement's routing key")
	}

	// What only the consumers can stop.
	anonymous, ghost, rewrite := uuid.NewString(), uuid.NewString(), uuid.NewString()
	never := uuid.NewString() // a claim that was never submitted
	// 1. An approval of the real claim with no user-id (an administrator's
	//    credentials, or a broker that does not check).
	testinfra.PublishAs(t, s.AMQPURL, "", "expense.approved.v1", anonymous, envelope(anonymous, "expense.approved.v1", approval(claim.ID)))
	// 2. reimbursement's broker user, under its own routing key, carrying an
	//    approval of a claim nobody submitted.
	testinfra.PublishAs(t, s.AMQPURL, "reimbursement", "reimbursement.paid.v1", ghost, envelope(ghost, "expense.approved.v1", approval(never)))
	// 3. approval's broker user, under its own routing key, carrying a
	//    payment that hands the claim to another employee at a high sequence.
	testinfra.PublishAs(t, s.AMQPURL, "approval", "expense.approved.v1", rewrite, envelope(rewrite, "reimbursement.paid.v1", paid))

	// Who receives what: see pkg/topology.
	want := map[string][]string{
		"approval":      {anonymous, ghost, rewrite},
		"accounting":    {anonymous, ghost, rewrite},
		"reimbursement": {anonymous, rewrite},
		"notification":  {anonymous, ghost, rewrite},
		"audit":         {anonymous, ghost, rewrite},
		"webhooks":      {anonymous, ghost, rewrite},
	}
	s.WaitQuiet()
	s.CheckInvariants(t, want) // every letter where it belongs; the books still prove out
	for svc := range want {
		for _, d := range testinfra.DeadLetters(t, s.AMQPURL, svc) {
			reason := fmt.Sprint(d.Headers[amqpx.DeadLetterReasonKey])
			if !strings.Contains(reason, "not published by the owner of its event type") {
				t.Errorf("%s dead-lettered %s saying %q, want who may publish it", svc, d.MessageId, reason)
			}
			if d.MessageId == anonymous && !strings.Contains(reason, "carries no user-id") ||
				d.MessageId == ghost && !strings.Contains(reason, `broker user "reimbursement"`) ||
				d.MessageId == rewrite && !strings.Contains(reason, `broker user "approval"`) {
				t.Errorf("%s: the reason for %s does not say who published it: %q", svc, d.MessageId, reason)
			}
		}
	}

	// Nothing changed: the claim is alice's, submitted, with no money moved.
	var e expense
	if r := s.Client("approval").Call("GET", "/v1/expenses/"+claim.ID, "alice", nil, &e); r.StatusCode != http.StatusOK || e.Status != "submitted" {
		t.Fatalf("alice reads her claim: %d, status %q", r.StatusCode, e.Status)
	}
	if r := s.Client("approval").Call("GET", "/v1/expenses/"+claim.ID, "erin", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("erin reads alice's claim after the forged payment: %d", r.StatusCode)
	}
	if r := s.Client("approval").Call("GET", "/v1/expenses/"+never, "alice", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("the never-submitted claim exists: %d", r.StatusCode)
	}
	if n := countRows(t, s, "accounting", "SELECT count(*) FROM journal_entries"); n != 0 {
		t.Errorf("%d ledger entries after forged events", n)
	}
	if n := countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements"); n != 0 {
		t.Errorf("%d reimbursements after forged events", n)
	}

	// The manager rejects the claim; a payout run pays nothing.
	if r := s.Client("approval").Call("POST", "/v1/expenses/"+claim.ID+"/reject", "bob", map[string]any{"reason": "no receipt"}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("reject: %d", r.StatusCode)
	}
	payout(t, s)
	s.WaitQuiet()
	if n := countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements"); n != 0 {
		t.Errorf("a rejected claim was scheduled for payment (%d)", n)
	}
	if status := viewStatus(t, s, "alice", claim.ID); status != "rejected" {
		t.Errorf("read model says %q after the rejection", status)
	}
}
