package e2e

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestConsumersKilledWhileApprovingLoseNothing kills reimbursement with
// SIGKILL in the middle of a burst of approvals, keeps approving while it is
// down, then kills accounting as the last approvals go out, restarts both,
// and checks every approval had its effect exactly once: events waited in
// their durable queues, and whatever was in flight at the kill was
// redelivered and deduplicated. (Accounting is killed only once the
// approvals are in: approving asks it for budget first, and without an
// answer approves nothing — docs/adr/0018-budget-check-fails-closed.md.)
func TestConsumersKilledWhileApprovingLoseNothing(t *testing.T) {
	const n = 30
	s := startStack(t)
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, submit(t, s, "erin", int64(1000+i)).ID)
	}
	var total int64
	for i, id := range ids {
		if i == n/3 {
			s.Kill("reimbursement")
		}
		approve(t, s, "frank", id)
		total += int64(1000 + i)
	}
	s.Kill("accounting") // its share of the last approvals' events still on their way
	s.Restart("accounting")
	s.Restart("reimbursement")

	accounting, reimbursements := s.Client("accounting"), s.Client("reimbursement")
	testinfra.Eventually(t, deadline, "every approval is posted and scheduled", func() bool {
		return len(list[ledgerEntry](t, accounting, "/v1/ledger/entries", "carol")) >= n &&
			len(list[reimbursement](t, reimbursements, "/v1/reimbursements", "carol")) >= n
	})
	s.WaitQuiet()
	entries := list[ledgerEntry](t, accounting, "/v1/ledger/entries", "carol")
	rs := list[reimbursement](t, reimbursements, "/v1/reimbursements", "carol")
	if len(entries) != n || len(rs) != n {
		t.Fatalf("want %d entries and %d reimbursements, got %d and %d", n, n, len(entries), len(rs))
	}
	balanced(t, entries)
	perExpense := map[string]int{}
	for _, e := range entries {
		perExpense[e.ExpenseID]++
	}
	for _, id := range ids {
		if perExpense[id] != 1 {
			t.Errorf("expense %s has %d approval entries", id, perExpense[id])
		}
	}
	if got := balanceOf(list[balance](t, accounting, "/v1/ledger/balances", "carol"), "reimbursements_payable"); got != -total {
		t.Errorf("payable balance %d, want %d", got, -total)
	}
	s.CheckInvariants(t, nil)
}
