package service_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/service"
)

// The service's queue is bound to what its endpoints subscribe to and
// nothing else: with no endpoint it receives no event at all. A new
// endpoint's patterns are bound by the time its creation answers (so every
// event published after that reaches it), a deleted endpoint's are unbound
// once no other endpoint wants them, and a binding the broker lost comes
// back when the service starts. The service binds as its own broker user.
func TestTheQueueIsBoundToWhatEndpointsWant(t *testing.T) {
	s := startWebhooks(t, func(*service.Config) {})
	const queue = "webhooks.events"
	bound := func() []string {
		t.Helper()
		keys, err := s.api.Bindings(queue, amqpx.EventsExchange)
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	expect := func(when string, want ...string) {
		t.Helper()
		if want == nil {
			want = []string{}
		}
		if got := bound(); !slices.Equal(got, want) {
			t.Fatalf("%s: the queue is bound to %v, want %v", when, got, want)
		}
	}
	// At start, the families the broker setup once bound are unbound.
	testinfra.Eventually(t, 10*time.Second, "no binding without endpoints", func() bool { return len(bound()) == 0 })

	receiver := newReceiver(t, func(string, int) int { return http.StatusNoContent })
	approvals := s.createEndpoint(receiver.server.URL, "expense.approved.*")
	expect("one endpoint", "expense.approved.*")
	everything := s.createEndpoint(receiver.server.URL, "#", "expense.approved.*")
	expect("an endpoint of every event too", "expense.*.*", "expense.approved.*", "ledger.*.*", "reimbursement.*.*")

	if r := s.Call("DELETE", "/v1/webhooks/endpoints/"+everything.ID, "carol", nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	expect("after the endpoint of every event was deleted", "expense.approved.*")

	// The broker loses the binding (rebuilt from its definitions, say): the
	// next start of the service binds it again.
	s.stop()
	ch := testinfra.Channel(t, testinfra.AdminURL(t, s.amqpURL))
	if err := ch.QueueUnbind(queue, "expense.approved.*", amqpx.EventsExchange, nil); err != nil {
		t.Fatal(err)
	}
	expect("unbound by hand")
	restarted := runWith(t, s.cfg)
	testinfra.Eventually(t, 10*time.Second, "bound again after a restart", func() bool {
		return slices.Equal(bound(), []string{"expense.approved.*"})
	})

	// And what it is bound to arrives.
	testinfra.PublishEvent(t, s.amqpURL, approved(t))
	testinfra.Eventually(t, 10*time.Second, "the approval delivered", func() bool {
		return len(restarted.deliveries(approvals.ID, "?status=delivered")) == 1
	})
}

// Many endpoints created at once (more than the service's database
// connections) are each bound and created: callers waiting for the bindings
// lock do not hold connections the one holding it needs.
func TestConcurrentCreationsAreEachBound(t *testing.T) {
	s := startWebhooks(t, func(*service.Config) {})
	receiver := newReceiver(t, func(string, int) int { return http.StatusNoContent })
	types := []string{"expense.submitted.*", "expense.approved.*", "expense.rejected.*", "expense.withdrawn.*",
		"expense.void_requested.*", "expense.voided.*", "reimbursement.scheduled.*", "reimbursement.paid.*",
		"reimbursement.failed.*", "reimbursement.cancelled.*", "ledger.entry_posted.*", "ledger.#"}
	if n := s.cfg.DatabaseMaxConns; len(types) <= 2*n {
		t.Fatalf("%d creations for %d connections: too few to show anything", len(types), n)
	}
	var wg sync.WaitGroup
	codes := make(chan int, len(types))
	for _, p := range types {
		wg.Go(func() {
			resp := s.Call("POST", "/v1/webhooks/endpoints", "carol",
				map[string]any{"url": receiver.server.URL, "event_types": []string{p}}, nil)
			codes <- resp.StatusCode
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the creations did not finish within 30 s")
	}
	close(codes)
	for code := range codes {
		if code != http.StatusCreated {
			t.Errorf("a creation answered %d", code)
		}
	}
	got, err := s.api.Bindings("webhooks.events", amqpx.EventsExchange)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(types)); !slices.Equal(got, want) {
		t.Errorf("bound to %v, want %v", got, want)
	}
}
