package e2e

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// budgetOf is the cost center "general"'s budget this month, as a manager sees it.
func budgetOf(t *testing.T, s *Stack) map[string]any {
	t.Helper()
	var p struct{ Items []map[string]any }
	s.Client("accounting").Call("GET", "/v1/budgets?period="+time.Now().UTC().Format("2006-01"), "bob", nil, &p)
	for _, b := range p.Items {
		if b["cost_center"] == "general" {
			return b
		}
	}
	return nil
}

// A budget of 10,000 and 20 claims of 1,000 approved at once: exactly ten
// are approved, ten answered 409 with what remains, and 10,000 is spent.
// With accounting stopped, an approve answers 503 within a second and the
// claim stays submitted; with accounting back, it is approved.
func TestBudgetsHoldUnderConcurrentApprovalsAndFailClosed(t *testing.T) {
	s := startStack(t)
	period := time.Now().UTC().Format("2006-01")
	if r := s.Client("accounting").Call("PUT", "/v1/budgets/general/"+period, "carol", map[string]any{"currency": "EUR", "limit_minor": 10_000}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("set the budget: %d", r.StatusCode)
	}
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = submit(t, s, "alice", 1000).ID
	}
	var approved, refused atomic.Int64
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			var problem map[string]any
			r := s.Client("approval").Call("POST", "/v1/expenses/"+id+"/approve", "bob", nil, &problem)
			switch r.StatusCode {
			case http.StatusOK:
				approved.Add(1)
			case http.StatusConflict:
				refused.Add(1)
				if problem["remaining_minor"] != 0.0 {
					t.Errorf("a refusal says %v remains", problem["remaining_minor"])
				}
			default:
				t.Errorf("approve %s: %d", id, r.StatusCode)
			}
		})
	}
	wg.Wait()
	if approved.Load() != 10 || refused.Load() != 10 {
		t.Fatalf("%d approved, %d refused; want 10 and 10", approved.Load(), refused.Load())
	}
	testinfra.Eventually(t, deadline, "the ten approvals are spent", func() bool {
		b := budgetOf(t, s)
		return b != nil && b["spent_minor"] == 10_000.0 && b["reserved_minor"] == 0.0 && b["remaining_minor"] == 0.0
	})

	// Fail closed: accounting stopped, a claim cannot be approved.
	if r := s.Client("accounting").Call("PUT", "/v1/budgets/general/"+period, "carol", map[string]any{"currency": "EUR", "limit_minor": 20_000}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("raise the budget: %d", r.StatusCode)
	}
	e := submit(t, s, "alice", 1000)
	s.Kill("accounting")
	start := time.Now()
	r := s.Client("approval").Call("POST", "/v1/expenses/"+e.ID+"/approve", "bob", nil, nil)
	if took := time.Since(start); r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || took > time.Second {
		t.Fatalf("approve with accounting down: %d, Retry-After %q, in %s; want 503 with Retry-After within 1s", r.StatusCode, r.Header.Get("Retry-After"), took)
	}
	var after expense
	s.Client("approval").Call("GET", "/v1/expenses/"+e.ID+"?min_version=1", "alice", nil, &after)
	if after.Status != "submitted" || after.Version != 1 {
		t.Fatalf("after the refused approve the claim is %s v%d, want submitted v1", after.Status, after.Version)
	}
	s.Restart("accounting")
	testinfra.Eventually(t, deadline, "approve succeeds once accounting is back (the breaker closes)", func() bool {
		return s.Client("approval").Call("POST", "/v1/expenses/"+e.ID+"/approve", "bob", nil, nil).StatusCode == http.StatusOK
	})
	s.WaitQuiet()
	s.CheckInvariants(t, nil)
}
