package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

const deadline = 30 * time.Second

// TestExpenseIsPaidAcrossAllServices follows one claim through the flow of docs/architecture.md:
// submit → approve → payout, then asks every service's read API about it.
// Then it delivers copies of real events again and checks nothing changed.
func TestExpenseIsPaidAcrossAllServices(t *testing.T) {
	s := startStack(t)
	e := submit(t, s, "alice", 4250)
	approved := approve(t, s, "bob", e.ID)
	if approved.Status != "approved" || approved.Version != 2 {
		t.Fatalf("approve answered %+v", approved)
	}

	// Reimbursement schedules a payout on its own, from the event.
	reimbursements := s.Client("reimbursement")
	testinfra.Eventually(t, deadline, "a reimbursement is scheduled", func() bool {
		rs := list[reimbursement](t, reimbursements, "/v1/reimbursements?employee_id=alice", "carol")
		return len(rs) == 1 && rs[0].ExpenseID == e.ID && rs[0].Status == "scheduled"
	})
	payout(t, s)

	testinfra.Eventually(t, deadline, "the claim shows as paid", func() bool {
		return viewStatus(t, s, "alice", e.ID) == "paid"
	})

	accounting := s.Client("accounting")
	var entries []ledgerEntry
	testinfra.Eventually(t, deadline, "two ledger entries", func() bool {
		entries = list[ledgerEntry](t, accounting, "/v1/ledger/entries?expense_id="+e.ID, "carol")
		return len(entries) == 2
	})
	balanced(t, entries)
	bs := list[balance](t, accounting, "/v1/ledger/balances", "dave")
	if balanceOf(bs, "expense:travel") != 4250 || balanceOf(bs, "reimbursements_payable") != 0 || balanceOf(bs, "cash") != -4250 {
		t.Errorf("balances: %+v", bs)
	}

	notifications := s.Client("notification")
	testinfra.Eventually(t, deadline, "alice is told about approval and payment; bob about the submission", func() bool {
		mine := types(list[notification](t, notifications, "/v1/notifications", "alice"))
		bobs := types(list[notification](t, notifications, "/v1/notifications", "bob"))
		return slices.Contains(mine, "expense.approved.v1") && slices.Contains(mine, "reimbursement.paid.v1") &&
			slices.Contains(bobs, "expense.submitted.v2")
	})

	audit := s.Client("audit")
	wantStory := []string{"expense.submitted.v2", "expense.approved.v1", "reimbursement.scheduled.v1", "reimbursement.paid.v1", "ledger.entry_posted.v1"}
	var story []auditEvent
	testinfra.Eventually(t, deadline, "the audit timeline holds the whole story", func() bool {
		story = list[auditEvent](t, audit, "/v1/audit/events?expense_id="+e.ID, "dave")
		return len(story) == 6 && containsAll(auditTypes(story), wantStory)
	})
	// Submitting and approving are two flows; everything the approval set
	// off, down to the payment and its ledger entry, carries its correlation id.
	approvalFlow := ""
	for _, ev := range story {
		if ev.Type == "expense.approved.v1" {
			approvalFlow = ev.CorrelationID
		}
	}
	for _, ev := range story {
		if ev.Type != "expense.submitted.v2" && ev.CorrelationID != approvalFlow {
			t.Errorf("%s has correlation id %q, the approval's flow is %q", ev.Type, ev.CorrelationID, approvalFlow)
		}
	}

	requireSchemaValid(t, s)

	t.Run("delivering the same events again changes nothing", func(t *testing.T) {
		s.WaitQuiet()
		before := snapshot(t, s, e.ID)
		for _, ev := range story {
			if ev.Type == "expense.approved.v1" || ev.Type == "reimbursement.paid.v1" {
				var one page[map[string]any]
				s.Client("audit").Call("GET", "/v1/audit/events?type="+ev.Type+"&expense_id="+e.ID, "dave", nil, &one)
				republish(t, s, ev, one.Items[0])
			}
		}
		s.WaitQuiet()
		if after := snapshot(t, s, e.ID); after != before {
			t.Fatalf("a duplicate delivery changed something:\nbefore %+v\nafter  %+v", before, after)
		}
	})
}

// counts of what one expense produced in every service.
type counts struct {
	Entries, Reimbursements, AliceNotifications, BobNotifications, AuditEvents int
	Status                                                                     string
}

func snapshot(t *testing.T, s *Stack, expenseID string) counts {
	t.Helper()
	var e expense
	s.Client("approval").Call("GET", "/v1/expenses/"+expenseID, "alice", nil, &e)
	return counts{
		Entries:            len(list[ledgerEntry](t, s.Client("accounting"), "/v1/ledger/entries?expense_id="+expenseID, "carol")),
		Reimbursements:     len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements", "carol")),
		AliceNotifications: len(list[notification](t, s.Client("notification"), "/v1/notifications", "alice")),
		BobNotifications:   len(list[notification](t, s.Client("notification"), "/v1/notifications", "bob")),
		AuditEvents:        len(list[auditEvent](t, s.Client("audit"), "/v1/audit/events?expense_id="+expenseID, "dave")),
		Status:             e.Status,
	}
}

// republish puts a stored envelope back on the exchange, exactly as it was
// first delivered: same id, same type — a duplicate delivery.
func republish(t *testing.T, s *Stack, ev auditEvent, stored map[string]any) {
	t.Helper()
	delete(stored, "seq")
	delete(stored, "received_at")
	delete(stored, "hash")
	body, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	testinfra.Publish(t, s.AMQPURL, ev.Type, ev.ID, body)
}

func types(ns []notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.EventType
	}
	return out
}

func auditTypes(es []auditEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Type
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// viewStatus is the claim's status in approval's read model as user sees
// it, "" while the view does not have the claim yet (404): the projection
// follows the write model a moment later.
func viewStatus(t *testing.T, s *Stack, user, id string) string {
	t.Helper()
	var got map[string]any
	s.Client("approval").Call("GET", "/v1/expenses/"+id, user, nil, &got)
	status, _ := got["status"].(string)
	return status
}
