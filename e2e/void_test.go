package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

type voidSaga struct {
	ExpenseID string `json:"expense_id"`
	Step      string `json:"step"`
	Outcome   string `json:"outcome"`
	Stuck     bool   `json:"stuck"`
	Steps     []struct {
		Name   string     `json:"name"`
		Sends  int        `json:"sends"`
		DoneAt *time.Time `json:"done_at"`
	} `json:"steps"`
}

func void(t *testing.T, s *Stack, id string) expense {
	t.Helper()
	var e expense
	if r := s.Client("approval").Call("POST", "/v1/expenses/"+id+"/void", "carol", map[string]string{"reason": "duplicate receipt"}, &e); r.StatusCode != http.StatusAccepted {
		t.Fatalf("void %s: %d", id, r.StatusCode)
	}
	return e
}

// awaitVoided waits until the read model shows the claim voided, and
// returns how it ended.
func awaitVoided(t *testing.T, s *Stack, id string) string {
	t.Helper()
	var outcome string
	testinfra.Eventually(t, deadline, "the claim is voided", func() bool {
		var v map[string]any // a problem (404) until the read model has the claim
		s.Client("approval").Call("GET", "/v1/expenses/"+id, "carol", nil, &v)
		outcome, _ = v["void_outcome"].(string)
		return v["status"] == "voided"
	})
	return outcome
}

// voidLedger returns the kinds of a claim's entries and what it still owes
// the employee (reimbursements_payable, credits minus debits), checking
// that each entry balances.
func voidLedger(t *testing.T, s *Stack, id string) (kinds map[string]int, payable int64) {
	t.Helper()
	entries := list[ledgerEntry](t, s.Client("accounting"), "/v1/ledger/entries?expense_id="+id, "carol")
	balanced(t, entries)
	kinds = map[string]int{}
	for _, e := range entries {
		kinds[e.Kind]++
		for _, l := range e.Lines {
			if l.Account == "reimbursements_payable" {
				payable += l.CreditMinor - l.DebitMinor
			}
		}
	}
	return kinds, payable
}

// awaitScheduled waits until reimbursement has scheduled the claim's payout.
func awaitScheduled(t *testing.T, s *Stack, id string) {
	t.Helper()
	testinfra.Eventually(t, deadline, "the claim is scheduled for payment", func() bool {
		return len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements?expense_id="+id, "carol")) == 1
	})
}

func reimbursementOf(t *testing.T, s *Stack, id string) reimbursement {
	t.Helper()
	rs := list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements?expense_id="+id, "carol")
	if len(rs) != 1 {
		t.Fatalf("expense %s has %d reimbursements", id, len(rs))
	}
	return rs[0]
}

// Void before the payout: the payout is cancelled, the approval reversed,
// nothing is ever paid, and nothing is owed.
func TestVoidBeforeThePayoutCancelsIt(t *testing.T) {
	s := startStack(t)
	e := submit(t, s, "alice", 4250)
	approve(t, s, "bob", e.ID)
	voiding := void(t, s, e.ID)
	if voiding.Status != "voiding" || voiding.Version != 3 {
		t.Fatalf("void answered %+v, want voiding at version 3", voiding)
	}
	if again := void(t, s, e.ID); again.Version != 3 {
		t.Fatalf("voiding again changed the claim: %+v", again)
	}
	if outcome := awaitVoided(t, s, e.ID); outcome != "payout_cancelled" {
		t.Fatalf("outcome %q, want payout_cancelled", outcome)
	}
	payout(t, s)
	if r := reimbursementOf(t, s, e.ID); r.Status != "cancelled" {
		t.Fatalf("the reimbursement after the void and a payout run: %+v", r)
	}
	if n := countRows(t, s, "reimbursement", "SELECT count(*) FROM gateway_payments"); n != 0 {
		t.Fatalf("%d payments at the gateway, want none", n)
	}
	testinfra.Eventually(t, deadline, "the approval and its reversal are in the ledger", func() bool {
		kinds, payable := voidLedger(t, s, e.ID)
		return kinds["approval"] == 1 && kinds["reversal"] == 1 && len(kinds) == 2 && payable == 0
	})
	var saga voidSaga
	s.Client("approval").Call("GET", "/v1/expenses/"+e.ID+"/void", "alice", nil, &saga)
	if saga.Step != "done" || saga.Outcome != "payout_cancelled" || saga.Stuck || len(saga.Steps) != 4 || saga.Steps[3].DoneAt == nil {
		t.Fatalf("the saga as alice sees it: %+v", saga)
	}
	testinfra.Eventually(t, deadline, "alice is told; finance, with nothing to recover, is not", func() bool {
		return slices.Contains(types(list[notification](t, s.Client("notification"), "/v1/notifications", "alice")), "expense.voided.v1")
	})
	if slices.Contains(types(list[notification](t, s.Client("notification"), "/v1/notifications", "carol")), "expense.voided.v1") {
		t.Error("finance was told of a void with nothing to recover")
	}
	s.WaitQuiet()
	s.CheckInvariants(t, nil)
}

// Void after the payout: the money has gone out; the claim needs a
// recovery, which the ledger books as owed back by the employee.
func TestVoidAfterThePayoutRequiresARecovery(t *testing.T) {
	s := startStack(t)
	e := submit(t, s, "alice", 4250)
	approve(t, s, "bob", e.ID)
	awaitScheduled(t, s, e.ID)
	payout(t, s)
	void(t, s, e.ID)
	if outcome := awaitVoided(t, s, e.ID); outcome != "recovery_required" {
		t.Fatalf("outcome %q, want recovery_required", outcome)
	}
	if r := reimbursementOf(t, s, e.ID); r.Status != "paid" {
		t.Fatalf("the reimbursement: %+v, want it paid (the money went out)", r)
	}
	testinfra.Eventually(t, deadline, "approval, settlement and recovery are in the ledger", func() bool {
		kinds, payable := voidLedger(t, s, e.ID)
		return kinds["approval"] == 1 && kinds["settlement"] == 1 && kinds["recovery"] == 1 && payable == 0
	})
	bs := list[balance](t, s.Client("accounting"), "/v1/ledger/balances", "dave")
	if balanceOf(bs, "receivables:employees") != 4250 || balanceOf(bs, "expense:travel") != 0 {
		t.Fatalf("balances: %+v, want 4250 owed back and no expense", bs)
	}
	testinfra.Eventually(t, deadline, "alice and finance are told: the money is to be recovered", func() bool {
		return slices.Contains(types(list[notification](t, s.Client("notification"), "/v1/notifications", "alice")), "expense.voided.v1") &&
			slices.Contains(types(list[notification](t, s.Client("notification"), "/v1/notifications", "carol")), "expense.voided.v1")
	})
	s.WaitQuiet()
	s.CheckInvariants(t, nil)
}

// The race, many times: 50 approved claims voided while payout batches
// run. Every claim ends in exactly one consistent outcome — cancelled and
// never paid, or paid and to be recovered — the gateway paid exactly the
// claims that were not cancelled, every entry balances, and nothing is
// owed for any of them.
func TestVoidsRacingPayoutsEndConsistently(t *testing.T) {
	s := startStack(t, map[string][]string{"reimbursement": {"GATEWAY_LATENCY=100ms"}})
	const n = 50
	ids := make([]string, n)
	for i := range ids {
		ids[i] = submit(t, s, "alice", int64(1000+i)).ID
		approve(t, s, "bob", ids[i])
	}
	var stop atomic.Bool
	var batches sync.WaitGroup
	// (t.Fatal must not be called from these goroutines: they report with t.Error.)
	batches.Go(func() {
		for !stop.Load() {
			if r := s.Client("reimbursement").Call("POST", "/v1/payouts", "carol", nil, nil); r.StatusCode != http.StatusOK {
				t.Errorf("payout: %d", r.StatusCode)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	var voids sync.WaitGroup
	for _, id := range ids {
		voids.Go(func() {
			r := s.Client("approval").Call("POST", "/v1/expenses/"+id+"/void", "carol", map[string]string{"reason": "duplicate receipt"}, nil)
			if r.StatusCode != http.StatusAccepted {
				t.Errorf("void %s: %d", id, r.StatusCode)
			}
		})
		time.Sleep(10 * time.Millisecond) // spread over the batches
	}
	voids.Wait()
	outcomes := map[string]string{}
	for _, id := range ids {
		outcomes[id] = awaitVoided(t, s, id)
	}
	stop.Store(true)
	batches.Wait()
	payout(t, s) // one more: nothing voided may be paid by it

	cancelled := 0
	for _, id := range ids {
		r := reimbursementOf(t, s, id)
		switch outcomes[id] {
		case "payout_cancelled":
			cancelled++
			if r.Status != "cancelled" {
				t.Errorf("%s: payout_cancelled, but its reimbursement is %s", id, r.Status)
			}
		case "recovery_required":
			if r.Status != "paid" {
				t.Errorf("%s: recovery_required, but its reimbursement is %s", id, r.Status)
			}
		default:
			t.Errorf("%s: outcome %q", id, outcomes[id])
		}
		want := map[string]string{"payout_cancelled": "reversal", "recovery_required": "recovery"}[outcomes[id]]
		testinfra.Eventually(t, deadline, fmt.Sprintf("%s's void entry", id), func() bool {
			kinds, payable := voidLedger(t, s, id)
			return kinds[want] == 1 && kinds["reversal"]+kinds["recovery"] == 1 && payable == 0
		})
	}
	if paid := countRows(t, s, "reimbursement", "SELECT count(*) FROM gateway_payments"); paid != n-cancelled {
		t.Errorf("the gateway made %d payments; %d claims were not cancelled", paid, n-cancelled)
	}
	t.Logf("%d of %d voids stopped the payout in time, %d needed a recovery", cancelled, n, n-cancelled)
	s.WaitQuiet()
	s.CheckInvariants(t, nil)
}

// The orchestrator killed between steps, replies delivered again, a step
// whose answer is late: the saga resumes from its table, sends the late
// step's command again (the same command, so it is handled once), and ends
// in one outcome with one entry.
func TestVoidSagaSurvivesCrashesAndRepeatedReplies(t *testing.T) {
	s := startStack(t)
	e := submit(t, s, "alice", 4250)
	approve(t, s, "bob", e.ID)
	awaitScheduled(t, s, e.ID)

	// The stop waits in reimbursement's queue while approval dies.
	s.Kill("reimbursement")
	void(t, s, e.ID)
	s.Kill("approval")
	s.Restart("reimbursement") // answers the stop: cancelled, into approval's queue
	s.Kill("accounting")       // and the next step's command will find nobody
	s.Restart("approval")      // picks the reply up from its queue, sends the entry command

	var saga voidSaga
	testinfra.Eventually(t, deadline, "the entry step was sent again after its timeout", func() bool {
		s.Client("approval").Call("GET", "/v1/expenses/"+e.ID+"/void", "carol", nil, &saga)
		return saga.Step == "post_entry" && len(saga.Steps) == 4 && saga.Steps[2].Sends >= 2
	})
	s.Restart("accounting") // finds the entry command in its queue, more than once
	if outcome := awaitVoided(t, s, e.ID); outcome != "payout_cancelled" {
		t.Fatalf("outcome %q", outcome)
	}

	// Every reply of the saga delivered again changes nothing.
	replies := 0
	for _, stored := range list[map[string]any](t, s.Client("audit"), "/v1/audit/events?expense_id="+e.ID, "dave") {
		typ, _ := stored["type"].(string)
		id, _ := stored["id"].(string)
		if typ == "reimbursement.cancelled.v1" || typ == "ledger.entry_posted.v1" {
			republish(t, s, auditEvent{Type: typ, ID: id}, stored)
			replies++
		}
	}
	if replies != 3 { // cancelled; the approval's and the reversal's entries
		t.Fatalf("the audit log holds %d of the saga's replies, want 3", replies)
	}
	s.WaitQuiet()
	kinds, payable := voidLedger(t, s, e.ID)
	if kinds["reversal"] != 1 || len(kinds) != 2 || payable != 0 {
		t.Fatalf("ledger after the crashes: %v, owed %d", kinds, payable)
	}
	s.CheckInvariants(t, nil)
}
