package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// erp is an integrator's receiver, as cmd/webhook-receiver is written: it
// verifies each request with the Standard Webhooks reference library (and
// checks that a tampered copy would fail), and counts what it accepted per
// webhook-id. While down it answers 503.
type erp struct {
	server *httptest.Server
	up     atomic.Bool

	mu        sync.Mutex
	verifier  *standardwebhooks.Webhook
	requests  map[string]int
	accepted  map[string]int
	types     map[string]string
	forgeries []string
}

func newERP(t *testing.T) *erp {
	r := &erp{requests: map[string]int{}, accepted: map[string]int{}, types: map[string]string{}}
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests[id]++
		if err := r.verifier.Verify(body, req.Header); err != nil {
			r.forgeries = append(r.forgeries, id+": "+err.Error())
		}
		if r.verifier.Verify(bytes.Replace(body, []byte(`"amount_minor":`), []byte(`"amount_minor":9`), 1), req.Header) == nil {
			r.forgeries = append(r.forgeries, id+": a tampered body verified")
		}
		if !r.up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if env, err := events.ParseEnvelope(body); err == nil {
			r.types[id] = env.Type
		}
		r.accepted[id]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.server.Close)
	return r
}

// register registers the ERP as carol (finance) for the given event types
// and keeps the secret to verify with; it returns the endpoint's id.
func (r *erp) register(t *testing.T, s *Stack, eventTypes ...string) string {
	t.Helper()
	var endpoint struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if resp := s.Client("webhooks").Call("POST", "/v1/webhooks/endpoints", "carol", map[string]any{
		"url": r.server.URL, "event_types": eventTypes, "description": "ERP",
	}, &endpoint); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register the endpoint: %d", resp.StatusCode)
	}
	v, err := standardwebhooks.NewWebhook(endpoint.Secret)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.verifier = v
	r.mu.Unlock()
	return endpoint.ID
}

// subscribeToEverything registers a receiver, up, for every event: the
// webhooks service receives only what some endpoint subscribes to, and the
// tests of what each consumer makes of a bad message count it among them.
func subscribeToEverything(t *testing.T, s *Stack) *erp {
	t.Helper()
	r := newERP(t)
	r.up.Store(true)
	r.register(t, s, "#")
	return r
}

// TestWebhooksSurviveAKillMidRetry: finance registers an ERP endpoint for
// approvals and payments; claims flow while the ERP is down, so every
// delivery is retrying; the webhooks service is killed (SIGKILL) in the
// middle of that schedule; the ERP comes back, the service is restarted, and
// every approval and payment reaches the ERP exactly once, signed, under
// its event id. Then the invariants hold, the webhook one included: every
// subscribed event delivered.
func TestWebhooksSurviveAKillMidRetry(t *testing.T) {
	s := startStack(t, map[string][]string{"webhooks": {
		"WEBHOOK_MAX_ATTEMPTS=1000", "WEBHOOK_RETRY_BASE=100ms", "WEBHOOK_RETRY_MAX=1s", "WEBHOOK_TIMEOUT=1s",
	}})
	receiver := newERP(t)
	endpointID := receiver.register(t, s, "expense.approved.*", "reimbursement.paid.*")

	const claims = 4
	for range claims {
		e := submit(t, s, "alice", 2300)
		approve(t, s, "bob", e.ID)
	}
	testinfra.Eventually(t, deadline, "every claim scheduled for payment", func() bool {
		return countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements") == claims
	})
	payout(t, s)
	type row struct {
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
	}
	retrying := func() bool {
		ds := list[row](t, s.Client("webhooks"), "/v1/webhooks/endpoints/"+endpointID+"/deliveries", "carol")
		if len(ds) != 2*claims {
			return false
		}
		for _, d := range ds {
			if d.Status != "pending" || d.Attempts < 2 {
				return false
			}
		}
		return true
	}
	testinfra.Eventually(t, deadline, "every approval and payment retrying against the ERP", retrying)

	s.Kill("webhooks")
	receiver.up.Store(true)
	time.Sleep(500 * time.Millisecond) // nothing is sent while the service is down
	receiver.mu.Lock()
	before := len(receiver.accepted)
	receiver.mu.Unlock()
	if before != 0 {
		t.Fatalf("the ERP accepted %d deliveries while the service was down", before)
	}
	s.Restart("webhooks")
	s.WaitQuiet() // queues drained and no delivery pending

	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	kinds := map[string]int{}
	for id, n := range receiver.accepted {
		if n != 1 {
			t.Errorf("webhook-id %s accepted %d times", id, n)
		}
		kinds[receiver.types[id]]++
	}
	if kinds[events.ExpenseApprovedV1Type] != claims || kinds[events.ReimbursementPaidV1Type] != claims || len(kinds) != 2 {
		t.Errorf("the ERP accepted %v, want %d approvals and %d payments", kinds, claims, claims)
	}
	if len(receiver.forgeries) > 0 {
		t.Errorf("verification: %v", receiver.forgeries)
	}
	s.CheckInvariants(t, nil)

	// The console's webhooks page shows it all to finance, and nothing to
	// an employee (the webhooks service refuses alice).
	console := s.StartConsole()
	page := func(user string) string {
		req, _ := http.NewRequest(http.MethodGet, console+"/webhooks", nil)
		req.Header.Set("Authorization", "Bearer "+testinfra.Token(t, user))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	carol := page("carol")
	if !strings.Contains(carol, receiver.server.URL) || strings.Count(carol, `data-status="delivered"`) != 2*claims {
		t.Errorf("the console's webhooks page, as finance, does not show the endpoint and its %d deliveries:\n%s", 2*claims, carol)
	}
	if alice := page("alice"); strings.Contains(alice, receiver.server.URL) || !strings.Contains(alice, "webhooks.endpoints.list needs one of the roles") {
		t.Errorf("the console's webhooks page, as an employee:\n%s", alice)
	}
}

// TestADisabledEndpointIsToldToFinance: an ERP that never answers 2xx has
// its deliveries fail (visibly: the invariants accept a failed delivery,
// never a missing one), is disabled, and every finance user reads why in
// their inbox: webhooks → outbox → bus → notification.
func TestADisabledEndpointIsToldToFinance(t *testing.T) {
	s := startStack(t, map[string][]string{"webhooks": {"WEBHOOK_MAX_ATTEMPTS=2", "WEBHOOK_DISABLE_AFTER=1"}})
	down := newERP(t) // never up
	endpointID := down.register(t, s, "expense.approved.*")

	approve(t, s, "bob", submit(t, s, "alice", 1800).ID)
	testinfra.Eventually(t, deadline, "carol is told the endpoint was disabled", func() bool {
		return slices.Contains(types(list[notification](t, s.Client("notification"), "/v1/notifications", "carol")),
			events.WebhookEndpointDisabledV1Type)
	})
	var ep struct{ Status, DisabledReason string }
	s.Client("webhooks").Call("GET", "/v1/webhooks/endpoints/"+endpointID, "dave", nil, &ep)
	if ep.Status != "disabled" {
		t.Errorf("endpoint %+v", ep)
	}
	s.WaitQuiet()
	s.CheckInvariants(t, nil)
}
