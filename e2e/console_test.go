package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// ScreenshotsEnv names a folder for the console test's screenshots: `make
// screenshots` sets it to docs/images, so the pictures in the docs are
// what this test saw. Unset, they go to the test's temporary folder.
const ScreenshotsEnv = "CONSOLE_SCREENSHOTS"

// TestConsoleShowsAClaimMoveLive drives the console in a real headless
// Chromium, as three people in three browser sessions: alice submits a
// claim and keeps its page open; bob approves it; carol runs the payouts.
// Alice's page, never reloaded, goes from submitted through approved (each
// effect processing, then done) to paid, and its timeline holds every
// event of the claim from the audit log with its hash. Then a poison
// message is dead-lettered: carol sees it with its reason on the system
// page and replays it.
func TestConsoleShowsAClaimMoveLive(t *testing.T) {
	s := startStack(t)
	console := s.StartConsole()
	b := newBrowser(t)
	shots := screenshotDir(t)

	alice := b.session(t, console, "alice")
	b.do(t, alice, "alice submits a claim",
		chromedp.Navigate(console+"/claims"),
		chromedp.SetValue(chromedp.CSS(`#submit-claim [name=amount]`), "42.50"),
		chromedp.SetValue(chromedp.CSS(`#submit-claim [name=description]`), "Train to Berlin"),
		chromedp.Click(chromedp.CSS(`#submit-claim button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#claim-status`)),
	)
	id := b.text(t, alice, `document.getElementById("claim").dataset.claim`)
	b.waitFor(t, alice, "the claim page is live and every effect of the submission has arrived",
		`document.getElementById("live-state").textContent === "live" &&
		 document.getElementById("claim-status").textContent === "submitted" &&
		 !document.getElementById("processing") &&
		 document.querySelector('[data-type^="expense.submitted."]') !== null`)
	// Marks this very page: if it were reloaded, the mark would be gone.
	b.text(t, alice, `window.notReloaded = true, "marked"`)
	b.shoot(t, alice, shots, "console-claim-submitted.png")

	bob := b.session(t, console, "bob")
	b.do(t, bob, "bob approves",
		chromedp.Navigate(console+"/claims/"+id),
		chromedp.Click(chromedp.CSS(`#approve`)),
		chromedp.WaitVisible(chromedp.CSS(`#claim-status`)),
	)
	b.waitFor(t, alice, "alice's page shows the approval and what it set in motion, without a reload",
		`window.notReloaded === true &&
		 document.getElementById("claim-status").textContent === "approved" &&
		 document.querySelector('[data-effect="reimbursement scheduled"]') !== null`)
	b.shoot(t, alice, shots, "console-claim-approved.png")
	b.waitFor(t, alice, "every effect of the approval arrives; the payout waits for a batch",
		`document.querySelector('[data-effect="ledger: approval entry"]').dataset.state === "done" &&
		 document.querySelector('[data-effect="reimbursement scheduled"]').dataset.state === "done" &&
		 document.querySelector('[data-effect="payout"]').dataset.state === "waiting" &&
		 !document.getElementById("processing")`)

	carol := b.session(t, console, "carol")
	b.do(t, carol, "carol runs the payouts",
		chromedp.Navigate(console+"/claims/"+id),
		chromedp.Click(chromedp.CSS(`#run-payouts`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	b.waitFor(t, alice, "alice's page goes to paid, every effect done, still without a reload",
		`window.notReloaded === true &&
		 document.getElementById("claim-status").textContent === "paid" &&
		 !document.getElementById("processing") &&
		 [...document.querySelectorAll("[data-effect]")].every(e => e.dataset.state === "done")`)
	b.waitFor(t, alice, "the timeline holds the claim's six events from the audit log, each with its hash",
		`document.querySelectorAll("#events li:not(.on-the-bus)").length === 6 &&
		 [...document.querySelectorAll("#events li code[title]")].every(c => /^[0-9a-f]{64}$/.test(c.title))`)
	b.do(t, alice, "open the first event", chromedp.Click(chromedp.CSS(`#events li summary`)))
	b.shoot(t, alice, shots, "console-claim-paid.png")

	// The stream and the pages answer to the services' own authorization.
	stream := func(user string) int {
		req, _ := http.NewRequest(http.MethodGet, console+"/events?expense_id="+id, nil)
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+testinfra.Token(t, user))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // an open stream ends here
		return resp.StatusCode
	}
	for user, want := range map[string]int{"": http.StatusUnauthorized, "erin": http.StatusNotFound, "dave": http.StatusOK} {
		if got := stream(user); got != want {
			t.Errorf("GET /events about alice's claim as %q: %d, want %d", user, got, want)
		}
	}
	forged, _ := http.NewRequest(http.MethodPost, console+"/payouts", strings.NewReader(""))
	forged.Header.Set("Origin", "http://elsewhere.example")
	forged.Header.Set("Authorization", "Bearer "+testinfra.Token(t, "carol"))
	resp, err := http.DefaultClient.Do(forged)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a POST from another site's page: %d, want 403", resp.StatusCode)
	}

	// A dead letter: a malformed ledger event. The audit log and approval's
	// void orchestrator hear it; carol replays the audit log's copy.
	poison := "console-poison-1"
	testinfra.Publish(t, s.AMQPURL, "ledger.entry_posted.v1", poison, []byte(`{"specversion": "1.0", oops`))
	var before string
	testinfra.Eventually(t, deadline, "audit dead-letters the poison", func() bool {
		before = deadLetterTime(t, s.AMQPURL, poison)
		return before != ""
	})
	b.do(t, carol, "carol opens the system page", chromedp.Navigate(console+"/system"))
	b.waitFor(t, carol, "the dead letter is listed with its reason", fmt.Sprintf(
		`document.querySelector('#dead-letters [data-service="audit"][data-message-id=%q] .reason')?.textContent.includes("malformed")`, poison))
	b.shoot(t, carol, shots, "console-system.png")
	b.do(t, carol, "carol replays it",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#dead-letters [data-service="audit"][data-message-id=%q] button.replay`, poison))),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if notice := b.text(t, carol, `document.querySelector(".notice").textContent`); !strings.Contains(notice, "replayed "+poison+" to audit") {
		t.Fatalf("after the replay the page says %q", notice)
	}
	// The audit log, not upgraded, refuses it again: a new dead letter,
	// later than the first, proves the replay reached it.
	testinfra.Eventually(t, deadline, "the replayed letter is back in the audit log's queue and dead-lettered again", func() bool {
		again := deadLetterTime(t, s.AMQPURL, poison)
		return again != "" && again > before
	})
}

// deadLetterTime is when audit dead-lettered the message id, "" if it is
// not among its dead letters.
func deadLetterTime(t *testing.T, amqpURL, id string) string {
	t.Helper()
	dl, err := amqpx.DialDeadLetters(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	letters, err := dl.List("audit")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range letters {
		if l.MessageID == id {
			return l.At
		}
	}
	return ""
}

// StartConsole starts the console against the stack, as `make run` does:
// its own broker user, the operator's for dead letters, the management API
// as its monitoring user, DEV_MODE for the demo sign-in. It returns its URL.
func (s *Stack) StartConsole() string {
	s.t.Helper()
	addr := testinfra.FreeAddr(s.t)
	api := testinfra.Get(s.t).APIURL
	p := &process{
		name: "console", bin: "console", url: "http://" + addr,
		log: filepath.Join(s.t.TempDir(), "console.log"),
		env: append(os.Environ(),
			"HTTP_ADDR="+addr,
			"AMQP_URL="+testinfra.UserURL(s.AMQPURL, topology.Console),
			"OPERATOR_AMQP_URL="+testinfra.UserURL(s.AMQPURL, topology.Operator),
			"RABBITMQ_API="+testinfra.UserURL(api, topology.Console),
			"JWT_SECRET="+testinfra.JWTSecret, "DEV_MODE=true",
			"APPROVAL_URL="+s.procs["approval"].url, "ACCOUNTING_URL="+s.procs["accounting"].url,
			"REIMBURSEMENT_URL="+s.procs["reimbursement"].url, "NOTIFICATION_URL="+s.procs["notification"].url, "WEBHOOKS_URL="+s.procs["webhooks"].url,
			"AUDIT_URL="+s.procs["audit"].url,
		),
	}
	s.procs[p.name] = p
	s.start(p)
	s.waitReady(p)
	return p.url
}

// browser is one headless Chromium (Debian's, never a downloaded one);
// each person gets a browser context of their own, with its own cookies.
type browser struct{ ctx context.Context }

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("the console test needs Chromium: `make infra` installs Debian's chromium package (or set CHROMIUM to a Chromium binary)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return &browser{ctx: ctx}
}

// session is a tab in a fresh browser context, signed in to the console
// as a demo user through the sign-in page.
func (b *browser) session(t *testing.T, console, user string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first action on a context opens its tab, which lives as long as
	// that action's context: open it here, not under a step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	b.do(t, ctx, user+" signs in",
		chromedp.Navigate(console+"/"),
		chromedp.Click(chromedp.CSS("#sign-in-"+user)),
		chromedp.WaitVisible(chromedp.CSS("#signed-in-as")),
	)
	return ctx
}

func (b *browser) do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(t *testing.T, ctx context.Context, expression string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expression))
	if err != nil {
		t.Fatalf("%s: %v", expression, err)
	}
	return s
}

// waitFor polls a JavaScript condition in the page until it holds.
func (b *browser) waitFor(t *testing.T, ctx context.Context, what, condition string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](condition, chromedp.WithPollingTimeout(deadline), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		t.Fatalf("%s: %v\nthe page says:\n%s", what, err, html)
	}
}

func (b *browser) shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func screenshotDir(t *testing.T) string {
	if dir := os.Getenv(ScreenshotsEnv); dir != "" {
		return dir
	}
	return t.TempDir()
}
