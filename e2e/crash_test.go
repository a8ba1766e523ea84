package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/faults"
	"github.com/expenseflow/expenseflow/pkg/soak"
)

// TestEveryServiceKilledAtRandomMoments runs claims from submission to
// payment while every one of the five services, in random order and at
// random moments, is killed with SIGKILL and started again — approval in the
// middle of commands, the consumers with messages in flight, reimbursement
// possibly between paying at the gateway and recording it. The flows retry
// like a careful client (same Idempotency-Key). In the end every flow is
// paid, and the invariants hold: nothing lost, nothing done twice.
func TestEveryServiceKilledAtRandomMoments(t *testing.T) {
	s := startStack(t)
	var crashes []faults.Fault
	for _, name := range services {
		crashes = append(crashes, s.Crash(name))
	}
	res := runSoak(t, s, soak.Config{Flows: 100, Concurrency: 8, Sample: 5, Faults: crashes, FaultEvery: time.Second, FaultRounds: 1})

	killed := map[string]int{}
	for _, f := range res.Faults {
		killed[strings.TrimPrefix(f.Name, "SIGKILL ")]++
	}
	for _, name := range services {
		if killed[name] != 1 {
			t.Errorf("%s was killed %d times, want once", name, killed[name])
		}
	}
}
