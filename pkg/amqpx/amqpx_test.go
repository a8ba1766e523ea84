package amqpx_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

var sub = amqpx.Subscription{Queue: "test.expense-approved", Patterns: []string{"expense.approved.*"}}

// start connects a "test" service to a fresh vhost and runs its router with h.
func start(t *testing.T, queueType string, h amqpx.EventHandler) (amqpURL string) {
	t.Helper()
	return startWith(t, queueType, func(r *amqpx.Router) { r.Handle("test.handler", sub, h) })
}

// startWith is start with the handlers that register adds.
func startWith(t *testing.T, queueType string, register func(*amqpx.Router)) (amqpURL string) {
	t.Helper()
	amqpURL, _ = testinfra.VHost(t, "amqpx")
	testinfra.DeclareTopology(t, amqpURL, queueType, amqpx.Topology{"test": {sub}})
	t.Cleanup(runRouter(t, amqpURL, amqpx.RetryConfig{MaxRetries: 3, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond}, register))
	return amqpURL
}

// runRouter connects a "test" service to the vhost at amqpURL and runs a
// router with the handlers register adds; stop stops it, as a shutdown does.
func runRouter(t *testing.T, amqpURL string, retry amqpx.RetryConfig, register func(*amqpx.Router)) (stop func()) {
	t.Helper()
	// The test service is a broker user of its own, with a service's
	// permissions: read its queue, write dead letters.
	amqpURL = testinfra.BrokerUser(t, amqpURL, amqpx.User{
		Name: "test", Configure: amqpx.Nothing, Read: amqpx.OneOf(sub.Queue), Write: amqpx.OneOf(amqpx.DeadLetterExchange),
	})
	cfg := amqpx.DefaultConfig(amqpURL, "test")
	cfg.Retry = retry
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	b, err := amqpx.Connect(ctx, cfg, []amqpx.Subscription{sub}, log)
	if err != nil {
		t.Fatal(err)
	}
	r, err := amqpx.NewRouter(b, log, noop.NewTracerProvider(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	register(r)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-r.Running()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
		b.Close()
	}
}

func event(t *testing.T) events.Envelope {
	t.Helper()
	env, err := events.New(events.ExpenseApprovedV1{
		ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", ApproverID: "bob", AmountMinor: 100, Currency: "EUR", Category: "meals", ApprovedAt: time.Now(),
	}, events.Meta{ID: "01a20000-0000-7000-8000-000000000001", Source: "test", Time: time.Now(), Sequence: 2, CorrelationID: "corr-1"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestTransientErrorIsRetriedThenHandled(t *testing.T) {
	for _, queueType := range []string{amqpx.QueueClassic, amqpx.QueueQuorum} {
		t.Run(queueType, func(t *testing.T) {
			var calls, handled atomic.Int32
			url := start(t, queueType, func(ctx context.Context, e events.Event) error {
				if calls.Add(1) < 3 {
					return errors.New("database briefly unavailable")
				}
				handled.Add(1)
				return nil
			})
			testinfra.PublishEvent(t, url, event(t))
			testinfra.Eventually(t, 10*time.Second, "handled after two failures", func() bool { return handled.Load() == 1 })
		})
	}
}

// Undecodable messages skip the retries and land in the dead-letter queue
// with the reason, the handler and the original headers; a panic is a
// failure like any other; and the consumer keeps going afterwards.
func TestPoisonGoesToDeadLetters(t *testing.T) {
	var handled atomic.Int32
	var failing atomic.Int32
	url := start(t, amqpx.QueueQuorum, func(ctx context.Context, e events.Event) error {
		if e.Subject == "panic" {
			panic("handler bug")
		}
		if e.Subject == "always-fails" {
			failing.Add(1)
			return errors.New("still down")
		}
		handled.Add(1)
		return nil
	})
	testinfra.Publish(t, url, "expense.approved.v1", "m-1", []byte("{not json"))
	v9 := event(t)
	v9.Type, v9.ID = "expense.approved.v9", "01a20000-0000-7000-8000-000000000009"
	testinfra.PublishEvent(t, url, v9)
	panicking := event(t)
	panicking.Subject, panicking.ID = "panic", "01a20000-0000-7000-8000-00000000000a"
	testinfra.PublishEvent(t, url, panicking)
	exhausting := event(t)
	exhausting.Subject, exhausting.ID = "always-fails", "01a20000-0000-7000-8000-00000000000b"
	testinfra.PublishEvent(t, url, exhausting)
	testinfra.PublishEvent(t, url, event(t))

	var letters []amqp.Delivery
	testinfra.Eventually(t, 10*time.Second, "dead letters arrive", func() bool {
		letters = append(letters, testinfra.DeadLetters(t, url, "test")...)
		return len(letters) >= 4
	})
	reasons := map[string]string{}
	for _, d := range letters {
		reasons[d.MessageId] = d.Headers[amqpx.DeadLetterReasonKey].(string)
		if d.Headers[amqpx.DeadLetterHandlerKey] != "test.handler" || d.Headers[amqpx.DeadLetterTimeKey] == nil {
			t.Errorf("dead letter %s lacks handler or time: %v", d.MessageId, d.Headers)
		}
	}
	for id, want := range map[string]string{
		"m-1":         "malformed",
		v9.ID:         "version newer than this build knows",
		panicking.ID:  "handler bug",
		exhausting.ID: "still down",
	} {
		if got, ok := reasons[id]; !ok || !contains(got, want) {
			t.Errorf("dead letter %s: reason %q, want it to mention %q (all: %v)", id, got, want, reasons)
		}
	}
	if failing.Load() != 4 {
		t.Errorf("a transient failure was tried %d times, want 1 + 3 retries", failing.Load())
	}
	testinfra.Eventually(t, 5*time.Second, "the good event is still handled", func() bool { return handled.Load() == 1 })
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestShutdownReturnsTheMessageInHand: the service stops while a handler is
// between retries of a transient failure. The message goes back to its
// queue, not to the dead-letter queue, and the next consumer handles it.
func TestShutdownReturnsTheMessageInHand(t *testing.T) {
	amqpURL, _ := testinfra.VHost(t, "amqpx-shutdown")
	testinfra.DeclareTopology(t, amqpURL, amqpx.QueueClassic, amqpx.Topology{"test": {sub}})
	retry := amqpx.RetryConfig{MaxRetries: 5, InitialInterval: time.Second, MaxInterval: time.Second}
	run := func(h amqpx.EventHandler) (stop func()) {
		return runRouter(t, amqpURL, retry, func(r *amqpx.Router) { r.Handle("test.handler", sub, h) })
	}
	var tries atomic.Int32
	stop := run(func(context.Context, events.Event) error {
		tries.Add(1)
		return errors.New("database briefly unavailable")
	})
	testinfra.PublishEvent(t, amqpURL, event(t))
	testinfra.Eventually(t, 10*time.Second, "the first attempt fails", func() bool { return tries.Load() >= 1 })
	stop() // during the 1 s backoff before the retry

	if letters := testinfra.DeadLetters(t, amqpURL, "test"); len(letters) != 0 {
		t.Fatalf("a shutdown dead-lettered %d message(s)", len(letters))
	}
	var handled atomic.Int32
	defer run(func(context.Context, events.Event) error { handled.Add(1); return nil })()
	testinfra.Eventually(t, 10*time.Second, "the next consumer handles the returned message", func() bool { return handled.Load() == 1 })
}

// TestOnlyTheOwnerOfAnEventTypeIsBelieved: the broker refuses a user-id
// that is not the publisher's and a routing key the publisher does not
// own; what it lets through without the owner's user-id is dead-lettered
// with the reason, unhandled.
func TestOnlyTheOwnerOfAnEventTypeIsBelieved(t *testing.T) {
	var handled atomic.Int32
	url := start(t, amqpx.QueueClassic, func(context.Context, events.Event) error { handled.Add(1); return nil })
	body, err := events.Encode(event(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := testinfra.TryPublish(t, url, "", "approval", "expense.approved.v1", "m-claims", body); err == nil || !contains(err.Error(), "user_id property set to 'approval'") {
		t.Errorf("the broker let the test user claim to be approval: %v", err)
	}
	if err := testinfra.TryPublish(t, url, "reimbursement", "reimbursement", "expense.approved.v1", "m-key", body); err == nil || !contains(err.Error(), "ACCESS_REFUSED") {
		t.Errorf("the broker let reimbursement publish approval's routing key: %v", err)
	}
	testinfra.PublishAs(t, url, "", "expense.approved.v1", "m-anonymous", body) // an administrator's, no user-id
	var letters []amqp.Delivery
	testinfra.Eventually(t, 10*time.Second, "the anonymous event is dead-lettered", func() bool {
		letters = append(letters, testinfra.DeadLetters(t, url, "test")...)
		return len(letters) == 1
	})
	if reason, _ := letters[0].Headers[amqpx.DeadLetterReasonKey].(string); !contains(reason, "published only by approval, and this message carries no user-id") {
		t.Errorf("reason %q", reason)
	}
	testinfra.PublishEvent(t, url, event(t)) // from approval itself
	testinfra.Eventually(t, 10*time.Second, "the owner's event is handled", func() bool { return handled.Load() == 1 })
}
