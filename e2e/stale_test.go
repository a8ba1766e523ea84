package e2e

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestStaleSubmissionChangesNothing: after a claim was approved and paid,
// its expense.submitted arrives again under a new event id (a producer that
// re-published it, a replay tool), so no inbox recognises it. Every consumer
// must see it is old news by its sequence: no read model changes, and no
// manager is asked to review a claim that is long decided. Only the audit
// log, which keeps everything that was published, records it.
func TestStaleSubmissionChangesNothing(t *testing.T) {
	s := startStack(t)
	e := submit(t, s, "alice", 2500)
	approve(t, s, "bob", e.ID)
	testinfra.Eventually(t, deadline, "the payout is scheduled", func() bool {
		return countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements") == 1
	})
	payout(t, s)
	testinfra.Eventually(t, deadline, "the claim shows as paid", func() bool { return viewStatus(t, s, "alice", e.ID) == "paid" })
	s.WaitQuiet()
	before := dumpReadModels(t, s)

	var submitted page[map[string]any]
	s.Client("audit").Call("GET", "/v1/audit/events?type=expense.submitted.v2&expense_id="+e.ID, "dave", nil, &submitted)
	if len(submitted.Items) != 1 {
		t.Fatalf("audit holds %d submissions of the claim, want 1", len(submitted.Items))
	}
	stale := clone(submitted.Items[0])
	stale["id"] = uuid.NewString()
	republish(t, s, auditEvent{ID: stale["id"].(string), Type: "expense.submitted.v2"}, stale)
	testinfra.Eventually(t, deadline, "audit records the re-published event", func() bool {
		return len(list[auditEvent](t, s.Client("audit"), "/v1/audit/events?type=expense.submitted.v2&expense_id="+e.ID, "dave")) == 2
	})
	s.WaitQuiet()

	if after := dumpReadModels(t, s); withoutAudit(after) != withoutAudit(before) {
		t.Fatalf("a stale event changed a read model:\nbefore %s\nafter  %s", before, after)
	}
	s.CheckInvariants(t, nil)
}

func withoutAudit(dump string) string {
	var keep []string
	for _, line := range strings.Split(dump, "\n") {
		if !strings.HasPrefix(line, "audit:") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
