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
	res, err := soak.Run(t.Context(), soak.Config{
		Flows: 200, Concurrency: 16, Sample: 5,
		ApprovalURL: s.procs["approval"].url, ReimbursementURL: s.procs["reimbursement"].url,
		Auth:    auth.Config{Secret: testinfra.JWTSecret, Issuer: "expenseflow", Audience: "expenseflow"},
		Sources: s.Sources(), FlowTimeout: time.Minute, QuietTimeout: time.Minute,
		Progress: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak report:\n%s", res)
	if !res.OK() {
		t.Fatal("the soak run failed: see the report")
	}
}

// testWriter sends soak's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
