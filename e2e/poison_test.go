package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// TestPoisonIsDeadLetteredAndTheFlowGoesOn publishes a malformed message, an
// event of an unknown type and a version no service knows yet. Every consumer
// bound to them dead-letters each with a clear reason (the audit log keeps the
// two well-formed ones as facts); no service crashes or loops, and a normal
// flow right afterwards completes. The deadletters tool lists them, and a
// replay sends them back to exactly the consumers that failed — which, not
// being upgraded, dead-letter them again, once.
func TestPoisonIsDeadLetteredAndTheFlowGoesOn(t *testing.T) {
	s := startStack(t)
	subscribeToEverything(t, s)
	envelope := func(id, eventType string) []byte {
		return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"type":%q,"source":"elsewhere","subject":"e-x",`+
			`"time":"2026-11-22T10:00:00Z","correlationid":"c-poison","sequence":1,"data":{"expense_id":"e-x"}}`, id, eventType)
	}
	testinfra.Publish(t, s.AMQPURL, "expense.approved.v1", "poison-malformed", []byte(`{"specversion": "1.0", oops`))
	testinfra.Publish(t, s.AMQPURL, "expense.audited.v1", "poison-unknown", envelope("poison-unknown", "expense.audited.v1"))
	testinfra.Publish(t, s.AMQPURL, "expense.approved.v9", "poison-v9", envelope("poison-v9", "expense.approved.v9"))

	dl, err := amqpx.DialDeadLetters(s.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	want := map[string][]string{ // who is bound to what: see docs/architecture.md
		"approval":      {"poison-malformed", "poison-unknown", "poison-v9"},
		"accounting":    {"poison-malformed", "poison-v9"},
		"reimbursement": {"poison-malformed", "poison-v9"},
		"notification":  {"poison-malformed", "poison-unknown", "poison-v9"},
		"audit":         {"poison-malformed"},
		"webhooks":      {"poison-malformed", "poison-unknown", "poison-v9"},
	}
	reasons := map[string]string{
		"poison-malformed": "malformed",
		"poison-unknown":   `unknown type: "expense.audited.v1"`,
		"poison-v9":        "version newer than this build knows: expense.approved.v9",
	}
	lettersOf := func(service string) map[string]amqpx.DeadLetter {
		letters, err := dl.List(service)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]amqpx.DeadLetter{}
		for _, l := range letters {
			out[l.MessageID] = l
		}
		return out
	}
	testinfra.Eventually(t, deadline, "each consumer dead-letters exactly the poison it is bound to", func() bool {
		for service, ids := range want {
			if len(lettersOf(service)) != len(ids) {
				return false
			}
		}
		return true
	})
	for service, ids := range want {
		letters := lettersOf(service)
		for _, id := range ids {
			if l, ok := letters[id]; !ok || !strings.Contains(l.Reason, reasons[id]) {
				t.Errorf("%s: dead letter %s has reason %q, want it to say %q", service, id, l.Reason, reasons[id])
			}
		}
	}
	for name, p := range s.procs {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s is not ready after the poison: %v", name, err)
		}
		resp.Body.Close()
	}

	// A normal flow right after.
	e := submit(t, s, "alice", 1234)
	approve(t, s, "bob", e.ID)
	testinfra.Eventually(t, deadline, "the payout is scheduled", func() bool {
		return len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements", "carol")) == 1
	})
	payout(t, s)
	testinfra.Eventually(t, deadline, "the claim is paid", func() bool {
		return viewStatus(t, s, "alice", e.ID) == "paid"
	})

	// Poison mixed into the stream leaves the books exact, and the dead
	// letters hold exactly what was injected.
	s.WaitQuiet()
	s.CheckInvariants(t, want)

	// The tool, as an operator would use it.
	out := deadletters(t, s, "list")
	t.Logf("deadletters list:\n%s", out)
	for _, id := range []string{"poison-malformed", "poison-unknown", "poison-v9"} {
		if !strings.Contains(out, id) {
			t.Errorf("deadletters list does not show %s", id)
		}
	}
	if out := deadletters(t, s, "show", "-service", "approval", "poison-v9"); !strings.Contains(out, `"failed_in": "approval.expense-events"`) {
		t.Errorf("deadletters show: %s", out)
	}
	if out := deadletters(t, s, "replay", "-all", "-service", "approval"); !strings.Contains(out, "replayed 3") {
		t.Errorf("deadletters replay: %s", out)
	}
	s.WaitQuiet()
	if got := len(lettersOf("approval")); got != 3 {
		t.Fatalf("after a replay to a consumer that still cannot handle them, want the 3 letters back once, got %d", got)
	}
	if got := len(lettersOf("notification")); got != 3 {
		t.Fatalf("a replay for approval reached notification: it has %d letters", got)
	}
}

func deadletters(t *testing.T, s *Stack, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "deadletters"), args...)
	cmd.Env = append(os.Environ(), "AMQP_URL="+testinfra.UserURL(s.AMQPURL, topology.Operator))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deadletters %v: %v\n%s", args, err, out)
	}
	return string(out)
}
