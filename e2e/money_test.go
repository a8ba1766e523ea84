package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestCompetingInstancesPostAndPayEachApprovalOnce scales accounting and
// reimbursement to two instances each on the same queues and databases,
// approves 500 claims in three currencies while payout batches run
// concurrently on both reimbursement instances, re-delivers a share of the
// approval and payment events, and then checks the money:
//   - one reimbursement per approved expense, none paid twice at the gateway;
//   - one approval entry per expense and one settlement per payment;
//   - every entry balances, and so do total debits and credits per currency;
//   - reimbursements_payable equals what is approved but not yet paid.
//
// The simulated gateway fails 20 % of attempts transiently and retries only
// an hour later, so some payouts are still open at the end and the payable
// balance is not trivially zero.
func TestCompetingInstancesPostAndPayEachApprovalOnce(t *testing.T) {
	const n = 500
	s := startStack(t, map[string][]string{"reimbursement": {
		"GATEWAY_TRANSIENT_FAILURE_RATE=0.2", "PAYOUT_RETRY_BASE=1h",
	}})
	accounting2, reimbursement2 := s.AddInstance("accounting"), s.AddInstance("reimbursement")
	payers := []string{"reimbursement", reimbursement2}

	// Payout batches on both instances, concurrently, all along.
	stop := make(chan struct{})
	var batches sync.WaitGroup
	var payoutErrors, batchesRun atomic.Int32
	for _, payer := range payers {
		batches.Add(1)
		go func() {
			defer batches.Done()
			c := testinfra.Client{T: t, Base: s.procs[payer].url}
			for {
				select {
				case <-stop:
					return
				case <-time.After(150 * time.Millisecond):
				}
				if r := c.Call("POST", "/v1/payouts", "carol", nil, nil); r.StatusCode != http.StatusOK {
					payoutErrors.Add(1)
				}
				batchesRun.Add(1)
			}
		}()
	}

	// 500 claims submitted and approved by 8 concurrent clients.
	currencies := []string{"EUR", "USD", "GBP"}
	approval := s.Client("approval")
	jobs := make(chan int)
	var workers sync.WaitGroup
	for range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range jobs {
				employee, manager := []string{"alice", "erin"}[i%2], []string{"bob", "frank"}[i%2]
				var e expense
				r := approval.Call("POST", "/v1/expenses", employee, map[string]any{
					"amount_minor": 100 + rand.IntN(100_000), "currency": currencies[i%3], "category": "travel",
					"description": fmt.Sprintf("trip %d", i), "incurred_on": time.Now().UTC().Format(time.DateOnly),
				}, &e)
				if r.StatusCode != http.StatusCreated {
					t.Errorf("submit %d: %d", i, r.StatusCode)
					continue
				}
				if r := approval.Call("POST", "/v1/expenses/"+e.ID+"/approve", manager, nil, nil); r.StatusCode != http.StatusOK {
					t.Errorf("approve %d: %d", i, r.StatusCode)
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	workers.Wait()

	// Every approval reaches both services; then re-deliver a fifth of the
	// approvals and of the payments already made, as a broker would after a
	// lost ack.
	testinfra.Eventually(t, 2*time.Minute, "all approvals are scheduled", func() bool {
		return countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements") == n
	})
	audit := s.Client("audit")
	for _, eventType := range []string{"expense.approved.v1", "reimbursement.paid.v1"} {
		stored := list[map[string]any](t, audit, "/v1/audit/events?type="+eventType, "dave")
		for i, ev := range stored {
			if i%5 == 0 {
				republish(t, s, auditEvent{ID: ev["id"].(string), Type: eventType}, ev)
			}
		}
	}
	ran := batchesRun.Load()
	testinfra.Eventually(t, deadline, "a few more batches run against the duplicates", func() bool { return batchesRun.Load() >= ran+6 })
	close(stop)
	batches.Wait()
	s.WaitQuiet()
	if payoutErrors.Load() > 0 {
		t.Errorf("%d payout batches failed", payoutErrors.Load())
	}

	// Both instances of each service really competed for the messages.
	queues, err := s.Broker.Queues()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queues {
		if (q.Name == "accounting.expense-approved" || q.Name == "reimbursement.expense-approved") && q.Consumers != 2 {
			t.Errorf("%s has %d consumers, want 2", q.Name, q.Consumers)
		}
	}

	// One reimbursement per expense, none paid twice at the gateway.
	if got := countRows(t, s, "reimbursement", "SELECT count(DISTINCT expense_id) FROM reimbursements"); got != n {
		t.Errorf("%d expenses have a reimbursement, want %d", got, n)
	}
	paid := countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements WHERE status = 'paid'")
	if got := countRows(t, s, "reimbursement", "SELECT count(DISTINCT reimbursement_id) FROM gateway_payments"); got != paid {
		t.Errorf("the gateway paid %d reimbursements, %d are marked paid", got, paid)
	}
	if paid == 0 || paid == n {
		t.Errorf("%d of %d paid: the test wants some paid and some still open", paid, n)
	}
	t.Logf("%d of %d reimbursements paid, the rest retrying", paid, n)

	// The ledger: one entry per approval and per payment, everything balanced.
	if got := countRows(t, s, "accounting", "SELECT count(*) FROM journal_entries WHERE kind = 'approval'"); got != n {
		t.Errorf("%d approval entries, want %d", got, n)
	}
	if got := countRows(t, s, "accounting", "SELECT count(*) FROM journal_entries WHERE kind = 'settlement'"); got != paid {
		t.Errorf("%d settlement entries, want %d", got, paid)
	}
	if got := countRows(t, s, "accounting", `SELECT count(*) FROM (SELECT entry_id FROM journal_lines
		GROUP BY entry_id, currency HAVING sum(debit_minor) <> sum(credit_minor)) unbalanced`); got != 0 {
		t.Errorf("%d entries do not balance", got)
	}
	balances := list[balance](t, testinfra.Client{T: t, Base: s.procs[accounting2].url}, "/v1/ledger/balances", "dave")
	if got := countRows(t, s, "accounting", `SELECT count(*) FROM (
		SELECT account, currency, sum(debit_minor - credit_minor) FROM journal_lines GROUP BY account, currency
		EXCEPT SELECT account, currency, debit_minor - credit_minor FROM account_balances) differ`); got != 0 {
		t.Errorf("the balances read model differs from the journal on %d accounts", got)
	}
	open := openAmounts(t, s)
	for _, cur := range currencies {
		var total int64
		for _, b := range balances {
			if b.Currency == cur {
				total += b.BalanceMinor
			}
		}
		if total != 0 {
			t.Errorf("%s: debits and credits differ by %d", cur, total)
		}
		if got := balanceIn(balances, "reimbursements_payable", cur); got != -open[cur] {
			t.Errorf("%s: reimbursements_payable is %d, approved but unpaid is %d", cur, got, open[cur])
		}
	}
	s.CheckInvariants(t, nil)
}

// TestPermanentGatewayFailure: the gateway refuses the payout for good, the
// reimbursement fails with reimbursement.failed.v1, the claim shows
// payment_failed, and the employee and finance are told.
func TestPermanentGatewayFailure(t *testing.T) {
	s := startStack(t, map[string][]string{"reimbursement": {"GATEWAY_PERMANENT_FAILURE_RATE=1"}})
	e := submit(t, s, "alice", 4250)
	approve(t, s, "bob", e.ID)
	testinfra.Eventually(t, deadline, "the payout is scheduled", func() bool {
		return len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements", "carol")) == 1
	})
	var sum struct{ Failed int }
	s.Client("reimbursement").Call("POST", "/v1/payouts", "carol", nil, &sum)
	if sum.Failed != 1 {
		t.Fatalf("payout summary: %+v", sum)
	}
	testinfra.Eventually(t, deadline, "the claim shows payment_failed", func() bool {
		return viewStatus(t, s, "alice", e.ID) == "payment_failed"
	})
	testinfra.Eventually(t, deadline, "audit has reimbursement.failed.v1; alice and carol are told", func() bool {
		story := auditTypes(list[auditEvent](t, s.Client("audit"), "/v1/audit/events?expense_id="+e.ID, "dave"))
		alice := types(list[notification](t, s.Client("notification"), "/v1/notifications", "alice"))
		carol := types(list[notification](t, s.Client("notification"), "/v1/notifications", "carol"))
		return containsAll(story, []string{"reimbursement.failed.v1"}) &&
			containsAll(alice, []string{"reimbursement.failed.v1"}) && containsAll(carol, []string{"reimbursement.failed.v1"})
	})
	if got := countRows(t, s, "reimbursement", "SELECT count(*) FROM gateway_payments"); got != 0 {
		t.Fatalf("a refused payout left %d payments at the gateway", got)
	}
}

func countRows(t *testing.T, s *Stack, service, query string) int {
	t.Helper()
	var n int
	if err := s.DB(service).QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// openAmounts sums, per currency, what is approved but not paid.
func openAmounts(t *testing.T, s *Stack) map[string]int64 {
	t.Helper()
	rows, err := s.DB("reimbursement").Query(`SELECT currency, sum(amount_minor) FROM reimbursements WHERE status <> 'paid' GROUP BY currency`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var cur string
		var sum int64
		if err := rows.Scan(&cur, &sum); err != nil {
			t.Fatal(err)
		}
		out[cur] = sum
	}
	return out
}

func balanceIn(bs []balance, account, currency string) int64 {
	for _, b := range bs {
		if b.Account == account && b.Currency == currency {
			return b.BalanceMinor
		}
	}
	return 0
}
