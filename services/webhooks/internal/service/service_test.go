package service_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/service"
)

// openapi is the service's OpenAPI document: every response the tests get
// is checked against it, and together they must exercise every operation.
var openapi = testinfra.NewSharedContract("../../../../docs/openapi/webhooks.yaml")

func TestMain(m *testing.M) { openapi.Main(m) }

type endpoint struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	EventTypes     []string `json:"event_types"`
	Status         string   `json:"status"`
	DisabledReason string   `json:"disabled_reason"`
	Secret         string   `json:"secret"`
}

type attempt struct {
	StatusCode *int   `json:"status_code"`
	Error      string `json:"error"`
}

type delivery struct {
	ID             string    `json:"id"`
	EventID        string    `json:"event_id"`
	EventType      string    `json:"event_type"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts"`
	LastStatusCode *int      `json:"last_status_code"`
	LastError      string    `json:"last_error"`
	AttemptLog     []attempt `json:"attempt_log"`
}

// quick is a schedule for tests: retries within tens of milliseconds.
func quick(cfg *service.Config) {
	cfg.RetryBase, cfg.RetryMax, cfg.MaxAttempts = 20*time.Millisecond, 100*time.Millisecond, 4
	cfg.Timeout, cfg.Poll = 2*time.Second, 100*time.Millisecond
	cfg.AllowPrivate = true // the receivers are httptest servers on 127.0.0.1
}

// stack is one webhooks service under test, with its broker vhost.
type stack struct {
	testinfra.Client
	api     *testinfra.API // the management API, on the service's vhost
	amqpURL string
	db      *gorm.DB
	cfg     service.Config
	stop    func() // stops the service, as SIGTERM does; the test's end does it too
}

// startWebhooks runs the service against a fresh database and vhost with
// the quick schedule, adjusted by edit.
func startWebhooks(t *testing.T, edit func(*service.Config)) stack {
	t.Helper()
	var cfg service.Config
	if err := platform.Fill(&cfg); err != nil { // the defaults the binary runs with
		t.Fatal(err)
	}
	var api *testinfra.API
	cfg.Config, api = testinfra.PlatformConfig(t, "webhooks")
	quick(&cfg)
	edit(&cfg)
	s := runWith(t, cfg)
	s.api = api
	return s
}

// runWith starts the service with cfg until stop is called or the test
// ends.
func runWith(t *testing.T, cfg service.Config) stack {
	t.Helper()
	p, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with an error: %v", err)
		}
	})
	t.Cleanup(stop)
	return stack{Client: testinfra.Client{T: t, Base: "http://" + p.Addr(), Contract: openapi.Get(t)},
		amqpURL: cfg.AMQPURL, db: p.DB, cfg: cfg, stop: stop}
}

// receiver is an integrator's endpoint: it verifies every request with the
// Standard Webhooks reference library and answers as answer says.
type receiver struct {
	t      *testing.T
	server *httptest.Server
	secret string

	mu       sync.Mutex
	answer   func(id string, n int) int // the status for the n-th request (1-based) with webhook-id id
	requests map[string]int             // webhook-id → requests seen
	accepted map[string]int             // webhook-id → 2xx answers given
	bodies   map[string][]byte
	headers  map[string]http.Header // of the accepted request
	bad      []string               // what failed verification
}

func newReceiver(t *testing.T, answer func(id string, n int) int) *receiver {
	r := &receiver{t: t, answer: answer, requests: map[string]int{}, accepted: map[string]int{}, bodies: map[string][]byte{}, headers: map[string]http.Header{}}
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.server.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	secret := r.secret
	r.requests[id]++
	n := r.requests[id]
	status := r.answer(id, n)
	if status >= 200 && status < 300 {
		r.accepted[id]++
		r.bodies[id], r.headers[id] = body, req.Header.Clone()
	}
	r.mu.Unlock()
	if secret != "" {
		v, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = v.Verify(body, req.Header)
		}
		// A tampered copy of the same request must fail: the signature
		// covers the body.
		tampered := bytes.Replace(body, []byte(`"data":{`), []byte(`"data":{"x":1,`), 1)
		if err != nil || (v != nil && v.Verify(tampered, req.Header) == nil) {
			r.mu.Lock()
			r.bad = append(r.bad, id+": "+errString(err))
			r.mu.Unlock()
		}
	}
	w.WriteHeader(status)
}

func errString(err error) string {
	if err == nil {
		return "a tampered body verified"
	}
	return err.Error()
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) counts(id string) (requests, accepted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[id], r.accepted[id]
}

func (r *receiver) verificationFailures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

func (s stack) createEndpoint(url string, patterns ...string) endpoint {
	s.T.Helper()
	var e endpoint
	if resp := s.Call("POST", "/v1/webhooks/endpoints", "carol",
		map[string]any{"url": url, "event_types": patterns, "description": "test receiver"}, &e); resp.StatusCode != http.StatusCreated {
		s.T.Fatalf("create endpoint: %d", resp.StatusCode)
	}
	return e
}

func (s stack) deliveries(endpointID, query string) []delivery {
	s.T.Helper()
	var page struct {
		Items []delivery `json:"items"`
	}
	if resp := s.Call("GET", "/v1/webhooks/endpoints/"+endpointID+"/deliveries"+query, "carol", nil, &page); resp.StatusCode != http.StatusOK {
		s.T.Fatalf("deliveries: %d", resp.StatusCode)
	}
	return page.Items
}

func (s stack) delivery(id string) delivery {
	s.T.Helper()
	var d delivery
	if resp := s.Call("GET", "/v1/webhooks/deliveries/"+id, "dave", nil, &d); resp.StatusCode != http.StatusOK {
		s.T.Fatalf("delivery: %d", resp.StatusCode)
	}
	return d
}

func approved(t *testing.T) events.Envelope {
	t.Helper()
	env, err := events.New(events.ExpenseApprovedV1{ExpenseID: uuid.NewString(), EmployeeID: "alice", ApproverID: "bob",
		AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: time.Now()},
		events.Meta{ID: uuid.Must(uuid.NewV7()).String(), Source: "approval", Time: time.Now(), Sequence: 2, CorrelationID: "corr-test"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func rejected(t *testing.T) events.Envelope {
	t.Helper()
	env, err := events.New(events.ExpenseRejectedV1{ExpenseID: uuid.NewString(), EmployeeID: "alice", ApproverID: "bob",
		Reason: "no receipt", RejectedAt: time.Now()},
		events.Meta{ID: uuid.Must(uuid.NewV7()).String(), Source: "approval", Time: time.Now(), Sequence: 2, CorrelationID: "corr-test"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// A receiver that fails the first attempts and then answers 2xx accepts
// each event exactly once, under the same webhook-id on every attempt, each
// attempt signed so that the reference library verifies it (and refuses a
// tampered body). An event the endpoint does not subscribe to is not sent.
func TestAFlakyReceiverGetsEachEventExactlyOnce(t *testing.T) {
	s := startWebhooks(t, func(*service.Config) {})
	flaky := newReceiver(t, func(_ string, n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	e := s.createEndpoint(flaky.server.URL, "expense.approved.*")
	flaky.setSecret(e.Secret)
	if !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("secret %q", e.Secret)
	}

	want := []events.Envelope{approved(t), approved(t), approved(t)}
	for _, env := range want {
		testinfra.PublishEvent(t, s.amqpURL, env)
		testinfra.PublishEvent(t, s.amqpURL, env) // the bus may deliver twice
	}
	notSubscribed := rejected(t)
	testinfra.PublishEvent(t, s.amqpURL, notSubscribed)

	testinfra.Eventually(t, 20*time.Second, "every approval delivered", func() bool {
		return len(s.deliveries(e.ID, "?status=delivered")) == len(want)
	})
	for _, env := range want {
		if requests, accepted := flaky.counts(env.ID); requests != 3 || accepted != 1 {
			t.Errorf("event %s: %d requests, %d accepted; want 3 and 1", env.ID, requests, accepted)
		}
	}
	if bad := flaky.verificationFailures(); len(bad) > 0 {
		t.Errorf("verification failures: %v", bad)
	}
	ds := s.deliveries(e.ID, "")
	if len(ds) != len(want) {
		t.Fatalf("%d deliveries, want %d (the rejection is not subscribed)", len(ds), len(want))
	}
	// An event no endpoint wants costs no transaction: not even an inbox
	// record is written for it.
	var records int64
	testinfra.Eventually(t, 5*time.Second, "the approvals recorded in the inbox", func() bool {
		s.db.Raw(`SELECT count(*) FROM inbox`).Scan(&records)
		return records == int64(len(want))
	})
	if err := s.db.Raw(`SELECT count(*) FROM inbox WHERE event_id = ?`, notSubscribed.ID).Scan(&records).Error; err != nil || records != 0 {
		t.Errorf("the unsubscribed event left %d inbox records (%v)", records, err)
	}
	d := s.delivery(ds[0].ID)
	if d.Attempts != 3 || len(d.AttemptLog) != 3 || *d.AttemptLog[0].StatusCode != 503 || *d.AttemptLog[2].StatusCode != 204 {
		t.Errorf("delivery %+v", d)
	}
	// The body is the envelope, as published.
	flaky.mu.Lock()
	body := flaky.bodies[want[0].ID]
	flaky.mu.Unlock()
	if env, err := events.ParseEnvelope(body); err != nil || env.ID != want[0].ID || env.Type != events.ExpenseApprovedV1Type {
		t.Errorf("body %s: %v", body, err)
	}
}
