package testinfra

import (
	"slices"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// DeadLetters removes and returns every message now in the dead-letter queue
// of service, with the headers that say why it is there. It does not wait:
// a test expecting letters polls it with Eventually, and one expecting none
// calls it once the service has handled everything before (a marker event).
func DeadLetters(t testing.TB, amqpURL, service string) []amqp.Delivery {
	t.Helper()
	conn, ch := dial(t, AdminURL(t, amqpURL))
	defer conn.Close()
	return drain(t, ch, amqpx.DeadLetterQueue(service))
}

// Tap records the events a service publishes, as a consumer would see them.
// It is not safe for concurrent use: call it from the test's goroutine.
type Tap struct {
	t     testing.TB
	ch    *amqp.Channel
	queue string
	seen  []events.Event
}

// NewTap binds a private queue to pattern on the events exchange of the vhost
// at amqpURL. The exchange must exist (start the service first), and the
// broker drops what no queue is bound to, so the tap sees exactly what is
// published after NewTap returns. The queue goes with the test.
func NewTap(t testing.TB, amqpURL, pattern string) *Tap {
	t.Helper()
	conn, ch := dial(t, AdminURL(t, amqpURL))
	t.Cleanup(func() { _ = conn.Close() })
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err == nil {
		err = ch.QueueBind(q.Name, pattern, amqpx.EventsExchange, false, nil)
	}
	if err != nil {
		t.Fatalf("tap %s: %v", pattern, err)
	}
	return &Tap{t: t, ch: ch, queue: q.Name}
}

// Events returns every event received so far, in arrival order. It fails the
// test on one that does not decode or is not labelled a structured-mode
// CloudEvent: what a service publishes must honour the contract.
func (tp *Tap) Events() []events.Event {
	tp.t.Helper()
	for _, d := range drain(tp.t, tp.ch, tp.queue) {
		if d.ContentType != events.CloudEventsJSON {
			tp.t.Fatalf("published %s with content-type %q, want %q", d.MessageId, d.ContentType, events.CloudEventsJSON)
		}
		e, err := events.Decode(d.Body)
		if err != nil {
			tp.t.Fatalf("published an undecodable event %s: %v", d.MessageId, err)
		}
		if err := events.CheckPublisher(e.Type, d.UserId); err != nil {
			tp.t.Fatalf("published %s: %v", d.MessageId, err)
		}
		tp.seen = append(tp.seen, e)
	}
	return slices.Clone(tp.seen)
}

// AdminURL is amqpURL (its vhost) with the test user's credentials, which
// may do anything there: tests bind taps and drain dead-letter queues,
// which no service user may.
func AdminURL(t testing.TB, amqpURL string) string {
	t.Helper()
	admin, err := amqp.ParseURI(Get(t).AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	return withUser(amqpURL, admin.Username, admin.Password)
}

// dial opens a channel on a new connection; closing the connection closes it.
func dial(t testing.TB, amqpURL string) (*amqp.Connection, *amqp.Channel) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatalf("dial RabbitMQ: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		t.Fatal(err)
	}
	return conn, ch
}

// drain takes every message now in queue, acknowledged on delivery.
func drain(t testing.TB, ch *amqp.Channel, queue string) []amqp.Delivery {
	t.Helper()
	var got []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatalf("get from %s: %v", queue, err)
		}
		if !ok {
			return got
		}
		got = append(got, d)
	}
}

// Channel is a channel on a connection of its own to amqpURL, closed when
// the test ends: for a test that changes the broker by hand.
func Channel(t testing.TB, amqpURL string) *amqp.Channel {
	t.Helper()
	conn, ch := dial(t, amqpURL)
	t.Cleanup(func() { _ = conn.Close() })
	return ch
}
