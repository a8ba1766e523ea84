package service_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/service"
)

// A receiver that never answers 2xx: each delivery ends failed after its
// attempts, stays visible as failed, and is redelivered on demand once the
// receiver is fixed. Failing long enough (WEBHOOK_DISABLE_AFTER deliveries
// in a row) disables the endpoint: what comes for it meanwhile fails at
// once, visibly, a redelivery is refused, and enabling it sends all of it.
func TestADeadReceiverEndsFailedThenIsRedeliveredOnDemand(t *testing.T) {
	s := startWebhooks(t, func(c *service.Config) { c.MaxAttempts, c.DisableAfter = 3, 2 })
	var healthy atomic.Bool
	dead := newReceiver(t, func(string, int) int {
		if healthy.Load() {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
	e := s.createEndpoint(dead.server.URL, "expense.#")
	dead.setSecret(e.Secret)
	told := testinfra.NewTap(t, s.amqpURL, "webhook.#")

	first := approved(t)
	testinfra.PublishEvent(t, s.amqpURL, first)
	var failed []delivery
	testinfra.Eventually(t, 20*time.Second, "the delivery failed", func() bool {
		failed = s.deliveries(e.ID, "?status=failed")
		return len(failed) == 1
	})
	if d := s.delivery(failed[0].ID); d.Attempts != 3 || len(d.AttemptLog) != 3 || *d.LastStatusCode != 500 || !strings.Contains(d.LastError, "HTTP 500") {
		t.Errorf("failed delivery %+v", d)
	}

	// Fixed: finance redelivers, under the same webhook-id.
	healthy.Store(true)
	var redelivered delivery
	if r := s.Call("POST", "/v1/webhooks/deliveries/"+failed[0].ID+"/redeliver", "carol", nil, &redelivered); r.StatusCode != http.StatusAccepted || redelivered.Status != "pending" {
		t.Fatalf("redeliver: %d %+v", r.StatusCode, redelivered)
	}
	testinfra.Eventually(t, 10*time.Second, "the redelivery delivered", func() bool {
		return s.delivery(failed[0].ID).Status == "delivered"
	})
	if _, accepted := dead.counts(first.ID); accepted != 1 {
		t.Errorf("accepted %d times", accepted)
	}

	// Down again, for two deliveries in a row: the endpoint is disabled.
	healthy.Store(false)
	testinfra.PublishEvent(t, s.amqpURL, approved(t))
	testinfra.PublishEvent(t, s.amqpURL, rejected(t))
	var ep endpoint
	testinfra.Eventually(t, 20*time.Second, "the endpoint disabled", func() bool {
		s.Call("GET", "/v1/webhooks/endpoints/"+e.ID, "carol", nil, &ep)
		return ep.Status == "disabled"
	})
	if !strings.Contains(ep.DisabledReason, "2 deliveries in a row failed") || ep.Secret != "" {
		t.Errorf("disabled endpoint %+v", ep)
	}
	// Finance is told: an event, through the outbox, that notification
	// turns into a message to every finance user.
	var disabled []events.Event
	testinfra.Eventually(t, 10*time.Second, "webhook.endpoint_disabled published", func() bool {
		disabled = told.Events()
		return len(disabled) > 0
	})
	if p, ok := disabled[0].Payload.(events.WebhookEndpointDisabledV1); !ok || len(disabled) != 1 || p.EndpointID != e.ID ||
		p.URL != dead.server.URL || p.FailedInARow != 2 || disabled[0].Sequence != 1 || disabled[0].Source != events.SourceWebhooks {
		t.Errorf("published %+v", disabled)
	}
	// Meanwhile an event fails at once, and cannot be redelivered ...
	later := approved(t)
	testinfra.PublishEvent(t, s.amqpURL, later)
	var parked delivery
	testinfra.Eventually(t, 10*time.Second, "the event recorded for the disabled endpoint", func() bool {
		for _, d := range s.deliveries(e.ID, "?status=failed") {
			if d.EventID == later.ID {
				parked = d
				return true
			}
		}
		return false
	})
	if parked.Attempts != 0 || !strings.Contains(parked.LastError, "disabled") {
		t.Errorf("parked delivery %+v", parked)
	}
	if r := s.Call("POST", "/v1/webhooks/deliveries/"+parked.ID+"/redeliver", "carol", nil, nil); r.StatusCode != http.StatusConflict {
		t.Errorf("redeliver to a disabled endpoint: %d, want 409", r.StatusCode)
	}
	// ... until finance enables the endpoint: then it is sent.
	healthy.Store(true)
	if r := s.Call("POST", "/v1/webhooks/endpoints/"+e.ID+"/enable", "carol", nil, &ep); r.StatusCode != http.StatusOK || ep.Status != "enabled" {
		t.Fatalf("enable: %d %+v", r.StatusCode, ep)
	}
	testinfra.Eventually(t, 10*time.Second, "the parked event delivered", func() bool {
		_, accepted := dead.counts(later.ID)
		return accepted == 1
	})
	if bad := dead.verificationFailures(); len(bad) > 0 {
		t.Errorf("verification failures: %v", bad)
	}
}

// One slow receiver holds at most WEBHOOK_ENDPOINT_CONCURRENCY workers; a
// fast receiver subscribed to the same events gets all of them meanwhile.
func TestASlowReceiverDelaysNoOther(t *testing.T) {
	s := startWebhooks(t, func(c *service.Config) { c.Workers, c.EndpointConcurrency, c.Timeout = 4, 2, 10*time.Second })
	release := make(chan struct{})
	var (
		mu                sync.Mutex
		inFlight, maxSlow int
	)
	slow := newReceiver(t, func(string, int) int {
		mu.Lock()
		inFlight++
		maxSlow = max(maxSlow, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(8 * time.Second):
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return http.StatusOK
	})
	fast := newReceiver(t, func(string, int) int { return http.StatusOK })
	s.createEndpoint(slow.server.URL, "expense.approved.*")
	fe := s.createEndpoint(fast.server.URL, "expense.approved.*")

	const n = 20
	start := time.Now()
	for range n {
		testinfra.PublishEvent(t, s.amqpURL, approved(t))
	}
	testinfra.Eventually(t, 6*time.Second, "every event delivered to the fast receiver while the slow one holds", func() bool {
		return len(s.deliveries(fe.ID, "?status=delivered")) == n
	})
	t.Logf("fast receiver had all %d events after %s, the slow one still holding", n, time.Since(start).Round(time.Millisecond))
	close(release)
	mu.Lock()
	defer mu.Unlock()
	if maxSlow > 2 {
		t.Errorf("the slow receiver had %d requests in flight at once, limit 2", maxSlow)
	}
}

// The retry schedule is in the database: a service stopped between two
// attempts (here gracefully; e2e kills one) resumes it when started again,
// and the delivery is accepted once.
func TestTheScheduleSurvivesARestart(t *testing.T) {
	s := startWebhooks(t, func(c *service.Config) { c.RetryBase, c.RetryMax = 2*time.Second, 2*time.Second })
	var up atomic.Bool
	r := newReceiver(t, func(string, int) int {
		if up.Load() {
			return http.StatusNoContent
		}
		return http.StatusBadGateway
	})
	e := s.createEndpoint(r.server.URL, "expense.approved.*")
	env := approved(t)
	testinfra.PublishEvent(t, s.amqpURL, env)
	testinfra.Eventually(t, 10*time.Second, "the first attempt failed", func() bool {
		ds := s.deliveries(e.ID, "")
		return len(ds) == 1 && ds[0].Attempts == 1
	})

	// Stop this instance (ending its context is what SIGTERM does) and
	// start another on the same database and vhost.
	s.stop()
	up.Store(true)
	s2 := runWith(t, s.cfg)
	var d []delivery
	testinfra.Eventually(t, 15*time.Second, "delivered by the new instance", func() bool {
		d = s2.deliveries(e.ID, "?status=delivered")
		return len(d) == 1
	})
	// Every attempt but the last was made while the receiver was down, and
	// it was up only once the first instance had stopped.
	if requests, accepted := r.counts(env.ID); requests != d[0].Attempts || accepted != 1 {
		t.Errorf("%d requests for %d attempts, %d accepted", requests, d[0].Attempts, accepted)
	}
}
