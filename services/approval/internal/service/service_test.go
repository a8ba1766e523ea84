package service_test

import (
	"context"
	"database/sql"
	"github.com/google/uuid"
	"net/http"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/approval/internal/service"
)

type expense struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Version int64  `json:"version"`
}

// startApproval runs the approval service against a fresh database and
// vhost. Every response is checked against the service's OpenAPI document.
func startApproval(t *testing.T) testinfra.Client {
	t.Helper()
	c, _, _ := startApprovalDB(t)
	return c
}

// openapi is the service's OpenAPI document: every response the tests get
// is checked against it, and together they must exercise every operation.
var openapi = testinfra.NewSharedContract("../../../../docs/openapi/approval.yaml")

func TestMain(m *testing.M) { openapi.Main(m) }

func claim() map[string]any {
	return map[string]any{
		"amount_minor": 4250, "currency": "EUR", "category": "travel",
		"description": "Train to Berlin", "incurred_on": time.Now().UTC().Format(time.DateOnly),
	}
}

// The command side commits the claim and its event; the read side only knows
// it once the event has gone through the outbox, RabbitMQ and the projection.
func TestSubmitApproveReadYourWrites(t *testing.T) {
	c := startApproval(t)

	var submitted expense
	if r := c.Call("POST", "/v1/expenses", "alice", claim(), &submitted); r.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d", r.StatusCode)
	}
	var approved expense
	if r := c.Call("POST", "/v1/expenses/"+submitted.ID+"/approve", "bob", nil, &approved); r.StatusCode != http.StatusOK || approved.Version != 2 {
		t.Fatalf("approve: %d %+v", r.StatusCode, approved)
	}

	var read expense
	r := c.Call("GET", "/v1/expenses/"+submitted.ID+"?min_version=2", "alice", nil, &read)
	if r.StatusCode != http.StatusOK || read.Status != "approved" || read.Version != 2 || r.Header.Get("X-Projection-Stale") != "" {
		t.Fatalf("read your writes: %d %+v stale=%q", r.StatusCode, read, r.Header.Get("X-Projection-Stale"))
	}

	// Repeating the decision is harmless: same answer, no new version.
	var again expense
	c.Call("POST", "/v1/expenses/"+submitted.ID+"/approve", "bob", nil, &again)
	if again.Version != 2 {
		t.Fatalf("repeated approval changed the version: %+v", again)
	}
	// Another manager cannot overrule; a manager cannot approve their own claim.
	if r := c.Call("POST", "/v1/expenses/"+submitted.ID+"/reject", "frank", map[string]string{"reason": "no"}, nil); r.StatusCode != http.StatusConflict {
		t.Fatalf("second decision: want 409, got %d", r.StatusCode)
	}
}

func TestVisibilityAndRoles(t *testing.T) {
	c := startApproval(t)
	var e expense
	c.Call("POST", "/v1/expenses", "alice", claim(), &e)

	cases := []struct {
		name, method, path, user string
		want                     int
	}{
		{"no token", "GET", "/v1/expenses/" + e.ID, "", http.StatusUnauthorized},
		{"other employee cannot see it", "GET", "/v1/expenses/" + e.ID + "?min_version=1", "erin", http.StatusNotFound},
		{"employee cannot approve", "POST", "/v1/expenses/" + e.ID + "/approve", "erin", http.StatusForbidden},
		{"other employee cannot withdraw", "POST", "/v1/expenses/" + e.ID + "/withdraw", "erin", http.StatusNotFound},
		{"manager sees it", "GET", "/v1/expenses/" + e.ID + "?min_version=1", "bob", http.StatusOK},
		{"owner withdraws", "POST", "/v1/expenses/" + e.ID + "/withdraw", "alice", http.StatusOK},
		{"withdrawn cannot be approved", "POST", "/v1/expenses/" + e.ID + "/approve", "bob", http.StatusConflict},
		{"unknown id", "GET", "/v1/expenses/not-a-uuid", "bob", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.Call(tc.method, tc.path, tc.user, nil, nil); r.StatusCode != tc.want {
				t.Fatalf("want %d, got %d", tc.want, r.StatusCode)
			}
		})
	}

	var page struct {
		Items []expense `json:"items"`
	}
	testinfra.Eventually(t, 5*time.Second, "erin's list stays empty, alice's has her claim", func() bool {
		c.Call("GET", "/v1/expenses", "alice", nil, &page)
		mine := len(page.Items) == 1 && page.Items[0].Status == "withdrawn"
		c.Call("GET", "/v1/expenses", "erin", nil, &page)
		return mine && len(page.Items) == 0
	})
}

// TestMinVersionIsNoOracle: someone else's claim and no claim at all answer
// 404 alike, and at once: ownership is settled from the write model before
// the read-your-writes wait, so the time to the 404 tells nothing either.
// (Settled after the wait, the existing claim answered at once and the
// missing one after the whole wait.)
func TestMinVersionIsNoOracle(t *testing.T) {
	pc, _ := testinfra.PlatformConfig(t, "approval")
	p, err := service.New(context.Background(), service.Config{Config: pc, ReadWaitMax: 5 * time.Second, AuditURL: "http://audit.invalid", VoidTick: time.Second,
		AccountingURL: budgetless(t), BudgetTimeout: 500 * time.Millisecond, ServiceSigningKey: testinfra.ServiceSigningKey("approval")})
	if err != nil {
		t.Fatal(err)
	}
	c := testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}
	var e expense
	c.Call("POST", "/v1/expenses", "alice", claim(), &e)
	testinfra.Eventually(t, 5*time.Second, "the claim is projected", func() bool {
		return c.Call("GET", "/v1/expenses/"+e.ID, "alice", nil, nil).StatusCode == http.StatusOK
	})
	for name, id := range map[string]string{"alice's claim": e.ID, "no claim": uuid.NewString()} {
		start := time.Now()
		code := c.Call("GET", "/v1/expenses/"+id+"?min_version=9", "erin", nil, nil).StatusCode
		if took := time.Since(start); code != http.StatusNotFound || took > 2*time.Second {
			t.Errorf("erin asks for %s at version 9: %d after %s, want 404 well before the 5 s wait", name, code, took)
		}
	}
	// The owner still waits for her own write.
	start := time.Now()
	if r := c.Call("GET", "/v1/expenses/"+e.ID+"?min_version=9", "alice", nil, nil); r.StatusCode != http.StatusOK || time.Since(start) < 4*time.Second {
		t.Errorf("alice at version 9: %d after %s, want 200 (stale) after the wait", r.StatusCode, time.Since(start))
	}
}

// startApprovalDB is startApproval plus a handle on the service's database,
// to count what the commands wrote, and the vhost's AMQP URL, to inject
// events.
func startApprovalDB(t *testing.T) (testinfra.Client, *sql.DB, string) {
	t.Helper()
	pc, _ := testinfra.PlatformConfig(t, "approval")
	p, err := service.New(context.Background(), service.Config{Config: pc, ReadWaitMax: time.Second, AuditURL: "http://audit.invalid", VoidTick: time.Second,
		AccountingURL: budgetless(t), BudgetTimeout: 500 * time.Millisecond, ServiceSigningKey: testinfra.ServiceSigningKey("approval")})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", pc.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}, db, pc.AMQPURL
}

func contract(t *testing.T) *testinfra.Contract { return openapi.Get(t) }

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Twenty managers' requests race on one claim: exactly one decision wins and
// is announced once; every other request is refused with 409 or, for the
// winner's own repeats, answered identically.
func TestConcurrentDecisionsHaveOneWinner(t *testing.T) {
	c, db, _ := startApprovalDB(t)
	var e expense
	c.Call("POST", "/v1/expenses", "alice", claim(), &e)

	type result struct {
		status int
		body   struct{ Version int64 } // problem documents decode to 0
		who    string
		action string
	}
	results := make(chan result, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := []string{"bob", "frank"}[i%2]
			action, body := "approve", any(nil)
			if i%4 >= 2 {
				action, body = "reject", map[string]string{"reason": "over budget"}
			}
			res := result{who: who, action: action}
			res.status = c.Call("POST", "/v1/expenses/"+e.ID+"/"+action, who, body, &res.body).StatusCode
			results <- res
		}()
	}
	wg.Wait()
	close(results)

	var winners []result
	for r := range results {
		switch r.status {
		case http.StatusOK:
			winners = append(winners, r)
		case http.StatusConflict:
		default:
			t.Errorf("%s by %s: unexpected %d", r.action, r.who, r.status)
		}
	}
	if len(winners) == 0 {
		t.Fatal("no decision was taken")
	}
	for _, w := range winners {
		if w.who != winners[0].who || w.action != winners[0].action || w.body.Version != 2 {
			t.Fatalf("two different decisions succeeded: %+v and %+v", winners[0], w)
		}
	}
	if n := count(t, db, "SELECT count(*) FROM watermill_outbox"); n != 2 {
		t.Fatalf("want 2 events (submitted + one decision), the outbox has %d", n)
	}
}

// TestIdenticalConcurrentDecisionsBothSucceed: repeating a decision is
// harmless by contract, also when the repeats race. The loser of the
// version check reads the claim again, finds its decision made, and answers
// 200 with the same claim; one event is written.
func TestIdenticalConcurrentDecisionsBothSucceed(t *testing.T) {
	c, db, _ := startApprovalDB(t)
	var e expense
	c.Call("POST", "/v1/expenses", "alice", claim(), &e)
	codes, versions := make(chan int, 10), make(chan int64, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got struct{ Version int64 }
			codes <- c.Call("POST", "/v1/expenses/"+e.ID+"/approve", "bob", nil, &got).StatusCode
			versions <- got.Version
		}()
	}
	wg.Wait()
	close(codes)
	close(versions)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("an identical approval answered %d, want 200", code)
		}
	}
	for v := range versions {
		if v != 2 {
			t.Errorf("an identical approval answered version %d, want 2", v)
		}
	}
	if n := count(t, db, "SELECT count(*) FROM watermill_outbox"); n != 2 {
		t.Fatalf("want 2 events (submitted, approved), the outbox has %d", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	c, db, _ := startApprovalDB(t)
	withKey := c.WithHeader("Idempotency-Key", "k-1")

	var first, again expense
	r1 := withKey.Call("POST", "/v1/expenses", "alice", claim(), &first)
	r2 := withKey.Call("POST", "/v1/expenses", "alice", claim(), &again)
	if r1.StatusCode != http.StatusCreated || r2.StatusCode != http.StatusCreated || again.ID != first.ID {
		t.Fatalf("same key, same body: %d %+v then %d %+v", r1.StatusCode, first, r2.StatusCode, again)
	}
	if r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Error("the repeat is not marked as replayed")
	}
	if n := count(t, db, "SELECT count(*) FROM expenses"); n != 1 {
		t.Fatalf("same key twice made %d expenses", n)
	}

	other := claim()
	other["amount_minor"] = 999
	if r := withKey.Call("POST", "/v1/expenses", "alice", other, nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other body: want 422, got %d", r.StatusCode)
	}
	if r := withKey.Call("POST", "/v1/expenses/"+first.ID+"/withdraw", "alice", nil, nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other endpoint: want 422, got %d", r.StatusCode)
	}
	// Keys belong to their caller: erin's k-1 is a different key.
	if r := withKey.Call("POST", "/v1/expenses", "erin", claim(), nil); r.StatusCode != http.StatusCreated {
		t.Fatalf("another caller's key: want 201, got %d", r.StatusCode)
	}

	// Concurrent retries of one request: one effect.
	var wg sync.WaitGroup
	concurrent := c.WithHeader("Idempotency-Key", "k-2")
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			concurrent.Call("POST", "/v1/expenses", "alice", claim(), nil)
		}()
	}
	wg.Wait()
	if n := count(t, db, "SELECT count(*) FROM expenses WHERE employee_id = 'alice'"); n != 2 {
		t.Fatalf("ten concurrent requests with one key made %d expenses, want 1 more", n-1)
	}
}

// The projection applies a claim's events in any order (several consumers
// per queue). An approval handled before its submission starts a row that
// has no facts yet (no employee, no amount): that row is not a claim, and
// no read shows it — not to finance, not in a list, and not as "caught
// up" to a read-your-writes wait — until the submission arrives.
func TestAViewStartedByALaterEventIsNotShown(t *testing.T) {
	c, db, amqpURL := startApprovalDB(t)
	id := uuid.NewString()
	meta := func(seq int64) events.Meta {
		return events.Meta{ID: uuid.Must(uuid.NewV7()).String(), Source: events.SourceApproval, Time: time.Now(), Sequence: seq, CorrelationID: "corr-test"}
	}
	approved, err := events.New(events.ExpenseApprovedV1{ExpenseID: id, EmployeeID: "alice", ApproverID: "bob",
		AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: time.Now()}, meta(2))
	if err != nil {
		t.Fatal(err)
	}
	submitted, err := events.New(events.ExpenseSubmittedV2{ExpenseID: id, EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR",
		CostCenter: "general", Category: "travel", Description: "Train to Berlin", IncurredOn: "2026-11-20", SubmittedAt: time.Now()}, meta(1))
	if err != nil {
		t.Fatal(err)
	}
	testinfra.PublishEvent(t, amqpURL, approved)
	// The approval has started the claim's row, without its facts.
	testinfra.Eventually(t, 10*time.Second, "the approval projected", func() bool {
		var n int
		return db.QueryRow(`SELECT count(*) FROM expense_views WHERE id = $1`, id).Scan(&n) == nil && n == 1
	})
	if r := c.Call("GET", "/v1/expenses/"+id, "carol", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("a claim with no submission yet: %d for finance, want 404", r.StatusCode)
	}
	var page struct{ Items []expense }
	c.Call("GET", "/v1/expenses", "carol", nil, &page)
	for _, e := range page.Items {
		if e.ID == id {
			t.Errorf("a claim with no submission yet is listed: %+v", e)
		}
	}

	testinfra.PublishEvent(t, amqpURL, submitted)
	var got struct {
		expense
		EmployeeID  string `json:"employee_id"`
		AmountMinor int64  `json:"amount_minor"`
	}
	testinfra.Eventually(t, 10*time.Second, "the claim shown once its submission arrived", func() bool {
		return c.Call("GET", "/v1/expenses/"+id, "carol", nil, nil).StatusCode == http.StatusOK
	})
	c.Call("GET", "/v1/expenses/"+id, "carol", nil, &got)
	if got.Status != "approved" || got.Version != 2 || got.EmployeeID != "alice" || got.AmountMinor != 4250 {
		t.Errorf("the claim, complete: %+v", got)
	}
}
