package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// shutdownBound is how long a service may take to stop on SIGTERM: its HTTP
// grace (SHUTDOWN_GRACE=5s in the e2e stack) plus time to finish the message
// in hand and close connections.
const shutdownBound = 10 * time.Second

// TestGracefulShutdownUnderLoad sends SIGTERM to every consumer while claims
// are being submitted and approved, requires each to exit within the bound,
// restarts them, and checks that nothing was lost or doubled: the message a
// handler was working on is finished and acked or left in the queue.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	const n = 40
	s := startStack(t)
	done := burst(t, s, n, "erin", "frank")
	testinfra.Eventually(t, deadline, "the burst is under way", func() bool {
		return countRows(t, s, "accounting", "SELECT count(*) FROM journal_entries") >= 5
	})
	for _, name := range []string{"accounting", "reimbursement", "notification", "audit", "webhooks"} {
		start := time.Now()
		s.procs[name].stop(syscall.SIGTERM)
		if took := time.Since(start); took > shutdownBound {
			t.Errorf("%s took %s to stop on SIGTERM (bound %s)", name, took, shutdownBound)
		}
		if code := s.procs[name].cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM, want 0", name, code)
		}
	}
	done()
	for _, name := range []string{"accounting", "reimbursement", "notification", "audit", "webhooks"} {
		s.Restart(name)
	}
	// While accounting was down an approve could not reserve budget and
	// answered 503, committing nothing (docs/adr/0018-budget-check-fails-closed.md):
	// what was approved is what must arrive everywhere.
	approved := countRows(t, s, "approval", "SELECT count(*) FROM expenses WHERE status = 'approved'")
	if approved < 5 {
		t.Fatalf("only %d of %d claims were approved", approved, n)
	}
	testinfra.Eventually(t, deadline, "every approval reaches accounting and reimbursement", func() bool {
		return countRows(t, s, "accounting", "SELECT count(*) FROM journal_entries") == approved &&
			countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements") == approved
	})
	s.WaitQuiet()
	s.CheckInvariants(t, nil)
}

// TestDuplicatesAndDisorderAtTheExchange re-publishes the whole history of
// a few paid claims — every event, in shuffled order, many twice — straight
// to the exchange, as a misbehaving broker or a replay could. Afterwards the
// system must be exactly as before: no effect doubled, every read model equal.
func TestDuplicatesAndDisorderAtTheExchange(t *testing.T) {
	s := startStack(t)
	for range 3 {
		e := submit(t, s, "alice", 2000)
		approve(t, s, "bob", e.ID)
	}
	testinfra.Eventually(t, deadline, "three payouts are scheduled", func() bool {
		return countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements") == 3
	})
	payout(t, s)
	s.WaitQuiet()
	before := dumpReadModels(t, s)

	history := list[map[string]any](t, s.Client("audit"), "/v1/audit/feed?after=0", "dave")
	var replay []map[string]any
	for _, ev := range history {
		replay = append(replay, ev)
		if rand.IntN(2) == 0 {
			replay = append(replay, ev)
		}
	}
	rand.Shuffle(len(replay), func(i, j int) { replay[i], replay[j] = replay[j], replay[i] })
	for _, ev := range replay {
		republish(t, s, auditEvent{ID: ev["id"].(string), Type: ev["type"].(string)}, clone(ev))
	}
	s.WaitQuiet()
	if after := dumpReadModels(t, s); after != before {
		t.Fatalf("re-delivering %d events out of order changed the read models:\nbefore %s\nafter  %s", len(replay), before, after)
	}
	s.CheckInvariants(t, nil)
}

// dumpReadModels is every service's state as one comparable string.
func dumpReadModels(t *testing.T, s *Stack) string {
	t.Helper()
	queries := map[string]string{
		"approval":      `SELECT json_agg(v ORDER BY id)::text FROM expense_views v`,
		"accounting":    `SELECT json_agg(b ORDER BY account, currency)::text FROM account_balances b`,
		"reimbursement": `SELECT json_agg(r ORDER BY id)::text FROM reimbursements r`,
		"notification":  `SELECT json_agg(n ORDER BY id)::text FROM (SELECT id, event_id, recipient_id, subject FROM notifications) n`,
		"audit":         `SELECT count(*)::text FROM audit_events`,
		"webhooks":      `SELECT count(*)::text FROM webhook_deliveries`,
	}
	out := ""
	for _, svc := range services {
		var v string
		if err := s.DB(svc).QueryRow(queries[svc]).Scan(&v); err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		out += svc + ": " + v + "\n"
	}
	return out
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// burst submits and approves n claims in the background, employee's claims
// decided by manager; the returned func waits until all were sent.
func burst(t *testing.T, s *Stack, n int, employee, manager string) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := s.Client("approval").For(t)
		for i := range n {
			var e expense
			c.Call("POST", "/v1/expenses", employee, map[string]any{
				"amount_minor": 500 + i, "currency": "EUR", "category": "meals", "description": "lunch",
				"incurred_on": time.Now().UTC().Format(time.DateOnly),
			}, &e)
			c.Call("POST", "/v1/expenses/"+e.ID+"/approve", manager, nil, nil)
		}
	}()
	return wg.Wait
}
