package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestSlowPaymentDelaysNoOtherEvent: a payout batch waits 8 s on the payment
// gateway. No transaction is open meanwhile (the claim is committed before
// the call), so PostgreSQL's xmin horizon, which every outbox relay on the
// server reads behind, is not held back: a claim approved during the payment
// reaches audit and the ledger within 3 s, not after the payment returns.
func TestSlowPaymentDelaysNoOtherEvent(t *testing.T) {
	s := startStack(t, map[string][]string{"reimbursement": {"GATEWAY_LATENCY=8s"}})
	first := submit(t, s, "alice", 1200)
	approve(t, s, "bob", first.ID)
	testinfra.Eventually(t, deadline, "the first claim's payout is scheduled", func() bool {
		return len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements?status=scheduled", "carol")) == 1
	})

	paid := make(chan int, 1)
	req, err := http.NewRequest(http.MethodPost, s.procs["reimbursement"].url+"/v1/payouts", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testinfra.Token(t, "carol"))
	go func() { // the batch takes 8 s; the test goes on meanwhile
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			paid <- 0
			return
		}
		resp.Body.Close()
		paid <- resp.StatusCode
	}()
	testinfra.Eventually(t, deadline, "the batch has claimed the payout and is calling the gateway", func() bool {
		return countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements WHERE claim_token <> ''") == 1
	})

	second := submit(t, s, "erin", 3400)
	approvedAt := time.Now()
	approve(t, s, "frank", second.ID)
	testinfra.Eventually(t, deadline, "the second approval reaches audit and the ledger", func() bool {
		return len(list[ledgerEntry](t, s.Client("accounting"), "/v1/ledger/entries?expense_id="+second.ID, "carol")) == 1 &&
			len(list[auditEvent](t, s.Client("audit"), "/v1/audit/events?type=expense.approved.v1&expense_id="+second.ID, "dave")) == 1
	})
	took := time.Since(approvedAt)
	select {
	case <-paid:
		t.Fatalf("the payout returned before the check: the test did not overlap the slow payment")
	default:
	}
	if took > 3*time.Second {
		t.Errorf("the approval took %s to reach audit and the ledger while a payment was in flight, want < 3 s", took)
	}
	t.Logf("approve → audit and ledger during an 8 s payment: %s", took.Round(time.Millisecond))
	if code := <-paid; code != http.StatusOK {
		t.Fatalf("payout: %d", code)
	}
}
