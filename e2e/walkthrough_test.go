package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// walkthroughHeading is the README section whose ```sh block the test runs.
const walkthroughHeading = "## A walk through the flow with curl"

// TestWalkthrough runs the README's curl walkthrough, exactly as written,
// against a fresh stack started the way `make run` starts it (DEV_MODE, no
// JWT_SECRET), with bin/devtoken built like `make build` builds it. Only the
// ports change: localhost:8081…8085 become the stack's. Then it checks what
// the walkthrough printed: a reader who pastes it sees a claim approved,
// paid, posted twice, told and audited. If this fails, fix the README (or
// the code), not the test.
func TestWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README walkthrough needs %s on PATH: %v", tool, err)
		}
	}
	script := readmeBlock(t, "../README.md", walkthroughHeading)
	// As make run: DEV_MODE without a secret, and the default read-your-writes
	// bound the README promises (the e2e stack's is shorter).
	asMakeRun := map[string][]string{}
	for _, name := range services {
		asMakeRun[name] = []string{"JWT_SECRET=", "DEV_MODE=true", "READ_WAIT_MAX=5s"}
	}
	s := startStack(t, asMakeRun)
	script = s.rewritePorts(t, script)

	// The walkthrough's working directory: bin/devtoken, which TestMain
	// built as make does.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(binDir, "devtoken"), filepath.Join(dir, "bin", "devtoken")); err != nil {
		t.Fatal(err)
	}
	// `make build` has been done above; any other make target is not expected.
	prelude := `make() { [[ "$*" == build ]] || { echo "make $*: not part of the walkthrough" >&2; return 1; }; }` + "\n"

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", prelude+script)
	cmd.Dir = dir
	cmd.Env = withoutVars(os.Environ(), "JWT_SECRET", "DEV_MODE", "JWT_ISSUER", "JWT_AUDIENCE", "USER_DIRECTORY")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the walkthrough failed: %v\n--- script\n%s\n--- stdout\n%s\n--- stderr\n%s", err, script, &stdout, &stderr)
	}
	t.Logf("the walkthrough printed:\n%s", &stdout)
	checkWalkthroughOutput(t, stdout.Bytes())
	checkExpectedOutput(t, readmeFence(t, "../README.md", walkthroughHeading, "text"), stdout.String())
}

// checkExpectedOutput compares what the walkthrough printed with the
// output the README shows a reader, line for line in any order, with ids
// and audit positions (which differ from run to run) masked.
func checkExpectedOutput(t *testing.T, shown, printed string) {
	t.Helper()
	ids := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	seq := regexp.MustCompile(`"seq":\d+`)
	lines := func(s string) []string {
		out := strings.Split(strings.TrimSpace(s), "\n")
		for i, l := range out {
			out[i] = seq.ReplaceAllString(ids.ReplaceAllString(strings.TrimSpace(l), "<id>"), `"seq":<n>`)
		}
		slices.Sort(out)
		return out
	}
	if want, got := lines(shown), lines(printed); !slices.Equal(want, got) {
		t.Errorf("the README shows output the walkthrough does not print (ids and seq masked).\n--- README\n%s\n--- printed\n%s",
			strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
}

// checkWalkthroughOutput checks the JSON values the walkthrough printed, in
// any order: each check names what a reader should have seen.
func checkWalkthroughOutput(t *testing.T, out []byte) {
	t.Helper()
	var values []any
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var v any
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the walkthrough printed something that is not JSON (%v):\n%s", err, out)
		}
		values = append(values, v)
	}
	objects := func(keys ...string) []map[string]any {
		var found []map[string]any
		for _, v := range values {
			if m, ok := v.(map[string]any); ok && len(m) == len(keys) && hasKeys(m, keys...) {
				found = append(found, m)
			}
		}
		return found
	}
	count := func(ms []map[string]any, match func(map[string]any) bool) int {
		n := 0
		for _, m := range ms {
			if match(m) {
				n++
			}
		}
		return n
	}

	statuses := objects("status", "version")
	if count(statuses, func(m map[string]any) bool { return m["status"] == "approved" && m["version"] == 2.0 }) != 2 {
		t.Errorf("want the approval's answer and the read-your-writes read, both approved at version 2; got %v", statuses)
	}
	if count(statuses, func(m map[string]any) bool { return m["status"] == "paid" && m["version"] == 2.0 }) != 1 {
		t.Errorf("want the claim shown as paid (still version 2: payments do not change the claim's version); got %v", statuses)
	}

	scheduled := objects("expense_id", "status")
	if len(scheduled) != 1 || scheduled[0]["status"] != "scheduled" {
		t.Fatalf("want the reimbursement shown as scheduled before the payout; got %v", scheduled)
	}
	expenseID := scheduled[0]["expense_id"]

	if payouts := objects("paid", "failed", "retrying"); len(payouts) != 1 || payouts[0]["paid"] != 1.0 || payouts[0]["failed"] != 0.0 {
		t.Errorf("want one payout run that paid one reimbursement; got %v", payouts)
	}
	if paid := objects("status", "payment_ref"); len(paid) != 1 || paid[0]["status"] != "paid" || paid[0]["payment_ref"] == "" {
		t.Errorf("want the reimbursement paid with a payment reference; got %v", paid)
	}

	entries := objects("kind", "lines")
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e["kind"].(string))
		var debits, credits float64
		for _, l := range e["lines"].([]any) {
			line := l.(map[string]any)
			debits += line["debit_minor"].(float64)
			credits += line["credit_minor"].(float64)
		}
		if debits != credits || debits != 4250 {
			t.Errorf("the %s entry does not balance at 4250: debits %v, credits %v", e["kind"], debits, credits)
		}
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"approval", "settlement"}) {
		t.Errorf("want an approval and a settlement entry; got %v", kinds)
	}

	balances := map[string]float64{}
	for _, v := range values {
		if items, ok := v.([]any); ok {
			for _, it := range items {
				b := it.(map[string]any)
				balances[b["account"].(string)] = b["balance_minor"].(float64)
			}
		}
	}
	if balances["expense:travel"] != 4250 || balances["reimbursements_payable"] != 0 || balances["cash"] != -4250 {
		t.Errorf("balances: want expense:travel 4250, reimbursements_payable 0, cash -4250; got %v", balances)
	}

	var told []string
	for _, n := range objects("event_type", "subject") {
		told = append(told, n["event_type"].(string))
	}
	slices.Sort(told)
	if !slices.Equal(told, []string{"expense.approved.v1", "reimbursement.paid.v1"}) {
		t.Errorf("want alice told of the approval and the payment, once each; got %v", told)
	}

	story := objects("seq", "type", "source", "correlationid")
	var types []string
	flows := map[any]bool{}
	for _, e := range story {
		types = append(types, e["type"].(string))
		if e["type"] != "expense.submitted.v2" {
			flows[e["correlationid"]] = true
		}
	}
	slices.Sort(types)
	want := []string{"expense.approved.v1", "expense.submitted.v2", "ledger.entry_posted.v1", "ledger.entry_posted.v1",
		"reimbursement.paid.v1", "reimbursement.scheduled.v1"}
	if !slices.Equal(types, want) {
		t.Errorf("audit timeline of %v: want %v, got %v", expenseID, want, types)
	}
	if len(flows) != 1 {
		t.Errorf("everything after the submission should carry the approval's correlation id; got %v", flows)
	}
}

// readmeBlock returns the first ```sh block under heading in the Markdown
// file at path (before the next heading of the same level).
func readmeBlock(t *testing.T, path, heading string) string {
	t.Helper()
	return readmeFence(t, path, heading, "sh")
}

// readmeFence returns the first ```<lang> block under heading in the
// Markdown file at path (before the next heading of the same level).
func readmeFence(t *testing.T, path, heading, lang string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var block []string
	in, fenced := false, false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in:
			in = strings.TrimSpace(line) == heading
		case fenced && strings.HasPrefix(line, "```"):
			return strings.Join(block, "\n") + "\n"
		case fenced:
			block = append(block, line)
		case strings.TrimSpace(line) == "```"+lang:
			fenced = true
		case strings.HasPrefix(line, "## "):
			t.Fatalf("%s: no ```%s block under %q", path, lang, heading)
		}
	}
	t.Fatalf("%s: no section %q with a ```%s block", path, heading, lang)
	return ""
}

var localPort = regexp.MustCompile(`localhost:(\d+)`)

// rewritePorts points the walkthrough's localhost:8081…8085 at the stack.
func (s *Stack) rewritePorts(t *testing.T, script string) string {
	t.Helper()
	ports := map[string]string{"8081": "approval", "8082": "accounting", "8083": "reimbursement", "8084": "notification", "8085": "audit", "8086": "webhooks"}
	used := map[string]bool{}
	script = localPort.ReplaceAllStringFunc(script, func(m string) string {
		port := localPort.FindStringSubmatch(m)[1]
		name, ok := ports[port]
		if !ok {
			t.Fatalf("the walkthrough calls %s, which is no service's default port", m)
		}
		used[name] = true
		return strings.TrimPrefix(s.procs[name].url, "http://")
	})
	for _, name := range services {
		if name == "webhooks" {
			continue // the flow's edge, not a step of it: docs/patterns/webhooks.md has its own walkthrough
		}
		if !used[name] {
			t.Errorf("the walkthrough never calls %s: the flow is supposed to go through every service", name)
		}
	}
	return script
}

func withoutVars(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

func hasKeys(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}
