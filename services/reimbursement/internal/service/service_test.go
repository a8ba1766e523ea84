package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/messaging"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/service"
)

const wait = 10 * time.Second

type reimbursement struct {
	ID            string `json:"id"`
	ExpenseID     string `json:"expense_id"`
	EmployeeID    string `json:"employee_id"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	PaymentRef    string `json:"payment_ref"`
	FailureReason string `json:"failure_reason"`
}

type page struct {
	Items      []reimbursement `json:"items"`
	NextCursor string          `json:"next_cursor"`
}

type summary struct {
	Paid     int `json:"paid"`
	Failed   int `json:"failed"`
	Retrying int `json:"retrying"`
}

// openapi is the service's OpenAPI document: every response the tests get
// is checked against it, and together they must exercise every operation.
var openapi = testinfra.NewSharedContract("../../../../docs/openapi/reimbursement.yaml")

func TestMain(m *testing.M) { openapi.Main(m) }

func contract(t *testing.T) *testinfra.Contract { return openapi.Get(t) }

// env is one reimbursement service on a fresh database and vhost, with a
// tap recording every reimbursement.* event it publishes.
type env struct {
	testinfra.Client
	cfg       service.Config
	published *testinfra.Tap
}

func start(t *testing.T, edit func(*service.Config)) *env {
	t.Helper()
	pc, _ := testinfra.PlatformConfig(t, "reimbursement")
	cfg := service.Config{Config: pc, PayoutMaxAttempts: 5, PayoutRetryBase: time.Minute, PayoutRetryMax: time.Hour}
	if edit != nil {
		edit(&cfg)
	}
	e := &env{cfg: cfg}
	e.Client = e.instance(t)
	e.published = testinfra.NewTap(t, pc.AMQPURL, "reimbursement.#") // bound before any approval is injected
	return e
}

// instance starts one more instance of the service on the same database and
// vhost. Every response is checked against the service's OpenAPI document.
func (e *env) instance(t *testing.T) testinfra.Client {
	t.Helper()
	p, err := service.New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}
}

// approve injects an expense.approved.v1 event, as the approval service would publish it.
func (e *env) approve(t *testing.T, expenseID, employeeID string) events.Envelope {
	t.Helper()
	env, err := events.New(events.ExpenseApprovedV1{
		ExpenseID: expenseID, EmployeeID: employeeID, ApproverID: approverFor(employeeID),
		AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: time.Now(),
	}, events.Meta{ID: uuid.NewString(), Source: events.SourceApproval, Time: time.Now(), Sequence: 2, CorrelationID: "flow-" + expenseID})
	if err != nil {
		t.Fatal(err)
	}
	testinfra.PublishEvent(t, e.cfg.AMQPURL, env)
	return env
}

// scheduled injects an approval and waits for its reimbursement.
func (e *env) scheduled(t *testing.T, employeeID string) (reimbursement, events.Envelope) {
	t.Helper()
	approval := e.approve(t, uuid.NewString(), employeeID)
	var p page
	testinfra.Eventually(t, wait, "the approval schedules a reimbursement", func() bool {
		e.Call("GET", "/v1/reimbursements?employee_id="+employeeID, "carol", nil, &p)
		return len(p.Items) > 0 && p.Items[len(p.Items)-1].ExpenseID == approval.Subject
	})
	return p.Items[len(p.Items)-1], approval
}

func (e *env) payout(t *testing.T, user string) summary {
	t.Helper()
	var s summary
	if r := e.Call("POST", "/v1/payouts", user, nil, &s); r.StatusCode != http.StatusOK {
		t.Fatalf("payout: %d", r.StatusCode)
	}
	return s
}

// count runs a counting query on the service's database.
func (e *env) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// One approval gives one reimbursement and one scheduled event; a redelivery
// of the same envelope, a second approval event for the same expense and a
// poison message change nothing.
func TestScheduleOncePerExpense(t *testing.T) {
	e := start(t, nil)
	first, approval := e.scheduled(t, "alice")
	if first.Status != "scheduled" || first.Attempts != 0 || first.PaymentRef != "" {
		t.Fatalf("new reimbursement: %+v", first)
	}

	testinfra.PublishEvent(t, e.cfg.AMQPURL, approval)                                                        // a duplicate delivery
	testinfra.Publish(t, e.cfg.AMQPURL, events.ExpenseApprovedV1Type, "poison", []byte(`{"not":"an event"}`)) // a broken producer
	again := e.approve(t, approval.Subject, "alice")                                                          // same expense, new event id
	testinfra.Eventually(t, wait, "the last event is handled", func() bool {
		return e.count(t, "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2", messaging.ScheduleHandler, again.ID) == 1
	})
	if n := e.count(t, "SELECT count(*) FROM reimbursements WHERE expense_id = $1", approval.Subject); n != 1 {
		t.Fatalf("%d reimbursements for one expense", n)
	}
	if n := e.count(t, "SELECT count(*) FROM watermill_outbox"); n != 1 {
		t.Fatalf("%d events written to the outbox, want 1", n)
	}

	scheduled := e.await(t, events.ReimbursementScheduledV1Type, 1)[0]
	p := scheduled.Payload.(events.ReimbursementScheduledV1)
	if scheduled.Sequence != 1 || scheduled.Subject != first.ID || p.ExpenseID != approval.Subject ||
		scheduled.CorrelationID != approval.CorrelationID || scheduled.CausationID != approval.ID {
		t.Fatalf("scheduled event: %+v", scheduled)
	}
	var letters []amqp.Delivery
	testinfra.Eventually(t, wait, "a dead letter", func() bool {
		letters = testinfra.DeadLetters(t, e.cfg.AMQPURL, "reimbursement")
		return len(letters) > 0
	})
	if reason := fmt.Sprint(letters[0].Headers[amqpx.DeadLetterReasonKey]); !strings.Contains(reason, "undecodable") {
		t.Fatalf("dead letter reason %q", reason)
	}
}

// A finance user's payout run pays a scheduled reimbursement once; running
// again pays nothing.
func TestPayoutPaysOnce(t *testing.T) {
	e := start(t, nil)
	r, approval := e.scheduled(t, "alice")

	if s := e.payout(t, "carol"); s != (summary{Paid: 1}) {
		t.Fatalf("first run: %+v", s)
	}
	if s := e.payout(t, "carol"); s != (summary{}) {
		t.Fatalf("second run: %+v", s)
	}
	var paid reimbursement
	e.Call("GET", "/v1/reimbursements/"+r.ID, "alice", nil, &paid)
	if paid.Status != "paid" || paid.Attempts != 1 || paid.PaymentRef == "" {
		t.Fatalf("after payout: %+v", paid)
	}
	if n := e.count(t, "SELECT count(*) FROM gateway_payments WHERE reimbursement_id = $1 AND payment_ref = $2", r.ID, paid.PaymentRef); n != 1 {
		t.Fatalf("the gateway's ledger has %d matching payments, want 1", n)
	}

	ev := e.await(t, events.ReimbursementPaidV1Type, 1)[0]
	if p := ev.Payload.(events.ReimbursementPaidV1); ev.Sequence != 2 || ev.Subject != r.ID || p.PaymentRef != paid.PaymentRef ||
		p.AmountMinor != 4250 || ev.CorrelationID != approval.CorrelationID {
		t.Fatalf("paid event: %+v", ev)
	}
}

// Two instances run payout batches at the same time over 50 reimbursements
// (which they also scheduled between them, as competing consumers): each is
// paid exactly once.
func TestConcurrentBatchesPayEachOnce(t *testing.T) {
	const n = 50
	e := start(t, func(c *service.Config) { c.Gateway.Latency = 2 * time.Millisecond }) // long enough for the batches to overlap
	other := e.instance(t)
	for i := range n {
		e.approve(t, uuid.NewString(), []string{"alice", "erin"}[i%2])
	}
	testinfra.Eventually(t, wait, "every approval is scheduled", func() bool {
		return e.count(t, "SELECT count(*) FROM reimbursements WHERE status = 'scheduled'") == n
	})

	token := testinfra.Token(t, "carol")
	results := make([]summary, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, base := range []string{e.Base, other.Base} {
		wg.Go(func() { results[i], errs[i] = postPayout(base, token) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("batch A %+v, batch B %+v", results[0], results[1])
	if paid := results[0].Paid + results[1].Paid; paid != n || results[0].Failed+results[1].Failed+results[0].Retrying+results[1].Retrying != 0 {
		t.Fatalf("the batches paid %d of %d: %+v", paid, n, results)
	}
	if got := e.count(t, "SELECT count(*) FROM gateway_payments"); got != n {
		t.Fatalf("%d payments for %d reimbursements", got, n)
	}
	paid := e.await(t, events.ReimbursementPaidV1Type, n)
	subjects := map[string]bool{}
	for _, ev := range paid {
		subjects[ev.Subject] = true
	}
	if len(subjects) != n {
		t.Fatalf("%d paid events name only %d reimbursements", len(paid), len(subjects))
	}

	// The list pages through all of them in a stable order.
	seen, cursor := map[string]bool{}, ""
	for pages := 0; ; pages++ {
		var p page
		e.Call("GET", "/v1/reimbursements?status=paid&limit=20&cursor="+cursor, "dave", nil, &p)
		for _, r := range p.Items {
			if seen[r.ID] || r.Status != "paid" {
				t.Fatalf("page %d: %+v repeated or not paid", pages, r)
			}
			seen[r.ID] = true
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != n {
		t.Fatalf("pages listed %d reimbursements, want %d", len(seen), n)
	}
}

// postPayout is the payout call for goroutines, which must not call t.Fatal.
func postPayout(base, token string) (summary, error) {
	req, err := http.NewRequest("POST", base+"/v1/payouts", nil)
	if err != nil {
		return summary{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return summary{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return summary{}, fmt.Errorf("payout: %s", resp.Status)
	}
	var s summary
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func TestPermanentGatewayFailure(t *testing.T) {
	e := start(t, func(c *service.Config) { c.Gateway.PermanentFailureRate = 1 })
	r, _ := e.scheduled(t, "alice")

	if s := e.payout(t, "carol"); s != (summary{Failed: 1}) {
		t.Fatalf("payout: %+v", s)
	}
	var failed reimbursement
	e.Call("GET", "/v1/reimbursements/"+r.ID, "alice", nil, &failed)
	if failed.Status != "failed" || failed.Attempts != 1 || !strings.Contains(failed.FailureReason, "refused") || failed.PaymentRef != "" {
		t.Fatalf("after a declined payment: %+v", failed)
	}
	if n := e.count(t, "SELECT count(*) FROM gateway_payments"); n != 0 {
		t.Fatalf("a declined payment was paid %d times", n)
	}
	ev := e.await(t, events.ReimbursementFailedV1Type, 1)[0]
	if p := ev.Payload.(events.ReimbursementFailedV1); ev.Sequence != 2 || ev.Subject != r.ID || p.Reason != failed.FailureReason {
		t.Fatalf("failed event: %+v", ev)
	}
}

// Transient failures keep the reimbursement scheduled with a later due time;
// the last allowed attempt fails it.
func TestTransientFailuresRetryThenFail(t *testing.T) {
	e := start(t, func(c *service.Config) {
		c.Gateway.TransientFailureRate = 1
		c.PayoutMaxAttempts, c.PayoutRetryBase = 2, time.Millisecond
	})
	r, _ := e.scheduled(t, "alice")

	if s := e.payout(t, "carol"); s != (summary{Retrying: 1}) {
		t.Fatalf("first attempt: %+v", s)
	}
	var retrying reimbursement
	e.Call("GET", "/v1/reimbursements/"+r.ID, "alice", nil, &retrying)
	if retrying.Status != "scheduled" || retrying.Attempts != 1 || !strings.Contains(retrying.FailureReason, "unavailable") {
		t.Fatalf("after a transient failure: %+v", retrying)
	}
	testinfra.Eventually(t, wait, "the second attempt, once due, fails it for good", func() bool {
		return e.payout(t, "carol") == summary{Failed: 1}
	})
	var failed reimbursement
	e.Call("GET", "/v1/reimbursements/"+r.ID, "alice", nil, &failed)
	if failed.Status != "failed" || failed.Attempts != 2 {
		t.Fatalf("after the last attempt: %+v", failed)
	}
	e.await(t, events.ReimbursementFailedV1Type, 1)
}

func TestTimerPays(t *testing.T) {
	e := start(t, func(c *service.Config) { c.PayoutInterval = 20 * time.Millisecond })
	approval := e.approve(t, uuid.NewString(), "alice")
	testinfra.Eventually(t, wait, "the timer pays the reimbursement", func() bool {
		var p page
		e.Call("GET", "/v1/reimbursements", "alice", nil, &p)
		return len(p.Items) == 1 && p.Items[0].ExpenseID == approval.Subject && p.Items[0].Status == "paid"
	})
	e.await(t, events.ReimbursementPaidV1Type, 1)
}

// A timer batch has no caller to continue the trace of: it is the root span
// of a new trace, and the paid event it publishes carries that trace (not
// none, and not the trace that scheduled the reimbursement).
func TestTimerBatchStartsATrace(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	e := start(t, func(c *service.Config) { c.PayoutInterval, c.TraceExporter = 20*time.Millisecond, spans })
	e.approve(t, uuid.NewString(), "alice")
	paid := e.await(t, events.ReimbursementPaidV1Type, 1)[0]
	scheduled := e.await(t, events.ReimbursementScheduledV1Type, 1)[0]

	traceOf := func(traceparent string) trace.TraceID {
		return trace.SpanContextFromContext(correlation.WithTraceParent(context.Background(), traceparent)).TraceID()
	}
	paidTrace := traceOf(paid.TraceParent)
	if !paidTrace.IsValid() {
		t.Fatalf("the paid event carries no trace: traceparent %q", paid.TraceParent)
	}
	if paidTrace == traceOf(scheduled.TraceParent) {
		t.Fatal("the timer's batch continued the trace that scheduled the reimbursement")
	}
	var batch *tracetest.SpanStub
	testinfra.Eventually(t, wait, "the batch's span ends", func() bool {
		for _, s := range spans.GetSpans() {
			if s.Name == "payout batch" && s.SpanContext.TraceID() == paidTrace {
				batch = &s
				return true
			}
		}
		return false
	})
	if batch.Parent.IsValid() {
		t.Fatalf("the batch span has a parent %v: it should start the trace", batch.Parent)
	}
	if !slices.Contains(batch.Attributes, attribute.Int("expenseflow.payout.paid", 1)) {
		t.Fatalf("the batch span does not record what it paid: %v", batch.Attributes)
	}
}

func TestRolesAndVisibility(t *testing.T) {
	e := start(t, nil)
	r, _ := e.scheduled(t, "alice")
	one := "/v1/reimbursements/" + r.ID

	cases := []struct {
		name, method, path, user string
		want                     int
	}{
		{"no token", "GET", "/v1/reimbursements", "", http.StatusUnauthorized},
		{"no token to pay", "POST", "/v1/payouts", "", http.StatusUnauthorized},
		{"employee cannot pay", "POST", "/v1/payouts", "alice", http.StatusForbidden},
		{"manager cannot pay", "POST", "/v1/payouts", "bob", http.StatusForbidden},
		{"auditor cannot pay", "POST", "/v1/payouts", "dave", http.StatusForbidden},
		{"owner sees it", "GET", one, "alice", http.StatusOK},
		{"other employee cannot see it", "GET", one, "erin", http.StatusNotFound},
		{"manager cannot see another's", "GET", one, "bob", http.StatusNotFound},
		{"finance sees it", "GET", one, "carol", http.StatusOK},
		{"auditor sees it", "GET", one, "dave", http.StatusOK},
		{"malformed id", "GET", "/v1/reimbursements/42", "carol", http.StatusNotFound},
		{"unknown status", "GET", "/v1/reimbursements?status=lost", "carol", http.StatusUnprocessableEntity},
		{"bad limit", "GET", "/v1/reimbursements?limit=0", "carol", http.StatusUnprocessableEntity},
		{"forged cursor", "GET", "/v1/reimbursements?cursor=bm9wZQ", "carol", http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if resp := e.Call(tc.method, tc.path, tc.user, nil, nil); resp.StatusCode != tc.want {
				t.Fatalf("want %d, got %d", tc.want, resp.StatusCode)
			}
		})
	}

	lists := []struct {
		user, query string
		want        int
	}{
		{"alice", "", 1},
		{"erin", "", 0},
		{"erin", "?employee_id=alice", 0},
		{"bob", "", 0},
		{"carol", "?employee_id=alice", 1},
		{"carol", "?employee_id=alice&status=paid", 0},
		{"dave", "?status=scheduled", 1},
		{"dave", "?expense_id=" + r.ExpenseID, 1},
		{"dave", "?expense_id=" + r.ExpenseID + "x", 0},
		{"erin", "?expense_id=" + r.ExpenseID, 0},
	}
	for _, l := range lists {
		var p page
		if e.Call("GET", "/v1/reimbursements"+l.query, l.user, nil, &p); len(p.Items) != l.want {
			t.Errorf("%s lists %q: %d items, want %d", l.user, l.query, len(p.Items), l.want)
		}
	}
}

// A payout run sent again with its Idempotency-Key gets the first answer
// back instead of running a second batch.
func TestPayoutIdempotencyKey(t *testing.T) {
	e := start(t, nil)
	e.scheduled(t, "alice")
	withKey := e.WithHeader("Idempotency-Key", "run-1")

	var first, again summary
	r1 := withKey.Call("POST", "/v1/payouts", "carol", nil, &first)
	e.scheduled(t, "erin") // due now: a second batch would pay it
	r2 := withKey.Call("POST", "/v1/payouts", "carol", nil, &again)
	if r1.StatusCode != http.StatusOK || r2.StatusCode != http.StatusOK || first != (summary{Paid: 1}) || again != first {
		t.Fatalf("same key twice: %d %+v then %d %+v", r1.StatusCode, first, r2.StatusCode, again)
	}
	if r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Error("the repeat is not marked as replayed")
	}
	if n := e.count(t, "SELECT count(*) FROM reimbursements WHERE status = 'paid'"); n != 1 {
		t.Fatalf("the replay paid again: %d paid", n)
	}
	tooLong := e.WithHeader("Idempotency-Key", strings.Repeat("k", 256))
	if r := tooLong.Call("POST", "/v1/payouts", "carol", nil, nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a 256-character key: want 422, got %d", r.StatusCode)
	}
}

// await waits until n events of type typ have been published and returns
// them; it fails on more than n.
func (e *env) await(t *testing.T, typ string, n int) []events.Event {
	t.Helper()
	var got []events.Event
	testinfra.Eventually(t, wait, fmt.Sprintf("%d %s events", n, typ), func() bool {
		got = nil
		for _, ev := range e.published.Events() {
			if ev.Type == typ {
				got = append(got, ev)
			}
		}
		return len(got) >= n
	})
	if len(got) != n {
		t.Fatalf("%d %s events, want %d", len(got), typ, n)
	}
	return got
}

// approverFor is a manager other than the employee: nobody approves their
// own claim, and consumers refuse an approval that says otherwise.
func approverFor(employeeID string) string {
	if employeeID == "bob" {
		return "frank"
	}
	return "bob"
}
