package e2e

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestServicesStartInAnyOrder: a new environment where only approval and
// accounting are up (the others still deploying; approving asks accounting
// for budget, so it must be there — docs/adr/0018-budget-check-fails-closed.md).
// Claims are submitted and approved; then the other three start, and every
// effect arrives: the broker setup declared their queues before anything
// ran, so each event waited for its consumer.
func TestServicesStartInAnyOrder(t *testing.T) {
	s := newStack(t, func(string) []map[string][]string { return nil }, "approval", "accounting")
	published := testinfra.NewTap(t, s.AMQPURL, "expense.#")
	var ids []string
	for range 3 {
		e := submit(t, s, "alice", 1500)
		approve(t, s, "bob", e.ID)
		ids = append(ids, e.ID)
	}
	testinfra.Eventually(t, deadline, "approval's relay publishes every event", func() bool {
		return len(published.Events()) == 2*len(ids)
	})

	for _, name := range services[2:] {
		s.Restart(name)
	}
	for _, id := range ids {
		testinfra.Eventually(t, deadline, "every effect of "+id+" arrives", func() bool {
			c := snapshot(t, s, id)
			return c.Entries == 1 && c.AuditEvents == 4 && c.Status == "approved" // submitted, approved, entry posted, scheduled
		})
	}
	s.WaitQuiet()
	if n := len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements", "carol")); n != len(ids) {
		t.Errorf("%d reimbursements, want %d", n, len(ids))
	}
	alice := types(list[notification](t, s.Client("notification"), "/v1/notifications", "alice"))
	bob := types(list[notification](t, s.Client("notification"), "/v1/notifications", "bob"))
	if count(alice, "expense.approved.v1") != len(ids) || count(bob, "expense.submitted.v2") != len(ids) {
		t.Errorf("notifications: alice %v, bob %v", alice, bob)
	}
	s.CheckInvariants(t, nil)
}

func count(values []string, want string) (n int) {
	for _, v := range values {
		if v == want {
			n++
		}
	}
	return n
}
