package service_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/approval/internal/service"
)

// budgetless stands in for accounting's reservation endpoint in the
// approval service's own tests: it checks approval's service token as
// accounting does, and answers that the cost center has no budget. The
// real exchange, budgets and all, is tested end to end (e2e/budget_test.go).
func budgetless(t *testing.T) string {
	t.Helper()
	verifier := auth.NewServiceVerifier("accounting", map[string]ed25519.PublicKey{
		"approval": auth.DevServiceKey("approval").Public().(ed25519.PublicKey),
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, err := verifier.Verify(token); err != nil || r.URL.Path != "/internal/v1/reservations" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"budgeted":false}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// counting is budgetless that counts the reservations it answers.
func counting(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	verifier := auth.NewServiceVerifier("accounting", map[string]ed25519.PublicKey{
		"approval": auth.DevServiceKey("approval").Public().(ed25519.PublicKey),
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, err := verifier.Verify(token); err != nil {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"budgeted":false}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &calls
}

// Accounting slowed past the budget timeout (toxiproxy between them): each
// approve answers 503 with Retry-After within a second and commits
// nothing; after five failures the breaker opens and answers without
// calling at all; once accounting is fast again, the breaker lets a call
// through after its open time and approvals go on.
func TestASlowAccountingGivesFast503sAndTheBreakerOpensAndCloses(t *testing.T) {
	accounting, calls := counting(t)
	link, throughLink := testinfra.NewLink(t, accounting)
	pc, _ := testinfra.PlatformConfig(t, "approval")
	p, err := service.New(context.Background(), service.Config{Config: pc, ReadWaitMax: time.Second, AuditURL: "http://audit.invalid", VoidTick: time.Second,
		AccountingURL: throughLink, BudgetTimeout: 200 * time.Millisecond, ServiceSigningKey: testinfra.ServiceSigningKey("approval")})
	if err != nil {
		t.Fatal(err)
	}
	c := testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}
	submitOne := func() string {
		var e expense
		if r := c.Call("POST", "/v1/expenses", "alice", claim(), &e); r.StatusCode != http.StatusCreated {
			t.Fatalf("submit: %d", r.StatusCode)
		}
		return e.ID
	}

	link.Slow(2 * time.Second)
	id := submitOne()
	for i := range 7 {
		start := time.Now()
		r := c.Call("POST", "/v1/expenses/"+id+"/approve", "bob", nil, nil)
		if took := time.Since(start); r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" || took > time.Second {
			t.Fatalf("approve %d with accounting slow: %d, Retry-After %q, in %s", i+1, r.StatusCode, r.Header.Get("Retry-After"), took)
		}
	}
	if n := calls.Load(); n > 5 {
		t.Fatalf("accounting got %d calls: the breaker should have opened after 5 failures", n)
	}
	var e expense
	c.Call("GET", "/v1/expenses/"+id+"?min_version=1", "bob", nil, &e)
	if e.Status != "submitted" || e.Version != 1 {
		t.Fatalf("after refused approvals the claim is %s v%d, want submitted v1", e.Status, e.Version)
	}

	link.Fast()
	testinfra.Eventually(t, 15*time.Second, "the breaker closes and the approval goes through", func() bool {
		return c.Call("POST", "/v1/expenses/"+id+"/approve", "bob", nil, nil).StatusCode == http.StatusOK
	})
}
