package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/soak"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestSoakShort is `make soak` in small: 200 claims from submission to
// payment at concurrency 16 against the test stack, then every invariant of
// pkg/invariants. The report (throughput, latencies, outbox lag) is logged.
func TestSoakShort(t *testing.T) {
	s := startStack(t)
	runSoak(t, s, soak.Config{Flows: 200, Concurrency: 16, Sample: 5})
}

// runSoak runs pkg/soak against the stack — the flows, the faults in cfg,
// then the invariants — logs its report and fails the test unless every
// flow completed, every fault was injected and every invariant holds.
func runSoak(t *testing.T, s *Stack, cfg soak.Config) soak.Result {
	t.Helper()
	cfg.ApprovalURL, cfg.ReimbursementURL = s.procs["approval"].url, s.procs["reimbursement"].url
	cfg.Auth = auth.Config{Secret: testinfra.JWTSecret, Issuer: "expenseflow", Audience: "expenseflow"}
	cfg.Sources = s.Sources()
	cfg.FlowTimeout, cfg.QuietTimeout = 2*time.Minute, 2*time.Minute
	cfg.Progress = testWriter{t}
	res, err := soak.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak report:\n%s", res)
	if !res.OK() {
		t.Fatal("the soak run failed: see the report")
	}
	return res
}

// testWriter sends soak's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
