package amqpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// The relay's publisher returns before the broker confirms; Confirmed then
// tells whether everything was. A queue that holds one message and refuses
// more (reject-publish) makes the broker nack on demand. When the channel is
// lost, what it did not see confirmed is sent again first, before anything
// newer: a later message never overtakes an earlier one.
func TestTheConfirmingPublisherKeepsOrderAcrossALostChannel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	amqpURL, _ := testinfra.VHost(t, "amqpx-confirm")
	testinfra.DeclareTopology(t, amqpURL, amqpx.QueueClassic, amqpx.Topology{})
	const key, queue = "expense.approved.v1", "test.holds-one"
	admin, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ch, err := admin.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-max-length": 1, "x-overflow": "reject-publish"}); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, key, amqpx.EventsExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		d, ok, err := ch.Get(queue, true)
		if err != nil || !ok {
			t.Fatalf("the queue: %v %v, want a message", ok, err)
		}
		return d.MessageId
	}

	p, err := amqpx.NewConfirmingPublisher(amqpx.DefaultConfig(amqpURL, "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	publish := func(id string) {
		t.Helper()
		if err := p.Publish(key, message.NewMessage(id, []byte(`{}`))); err != nil {
			t.Fatal(err)
		}
	}

	publish("m1")
	if err := p.Confirmed(ctx); err != nil {
		t.Fatalf("m1 into an empty queue: %v", err)
	}
	publish("m2") // the queue is full: the broker nacks it
	if err := p.Settled(ctx); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "m1" {
		t.Fatalf("first in the queue: %s, want m1", got)
	}
	p.LoseChannel()
	publish("m3") // a new channel: m2 again first, then m3, refused (full)
	if err := p.Settled(ctx); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "m2" {
		t.Fatalf("after the lost channel the queue holds %s, want m2, sent again before m3", got)
	}
	if err := p.Confirmed(ctx); !errors.Is(err, amqpx.ErrNotConfirmed) {
		t.Fatalf("Confirmed with m3 refused: %v, want ErrNotConfirmed", err)
	}

	// Confirmed forgets what it reported on: the caller publishes again.
	publish("m4")
	if err := p.Confirmed(ctx); err != nil {
		t.Fatalf("m4 into an empty queue: %v", err)
	}
	if got := next(); got != "m4" {
		t.Fatalf("the queue holds %s, want m4", got)
	}
}

// A connection the broker closes (a restart, an operator) is dialled again
// in the background: the publisher is ready again without publishing, as a
// readiness probe needs (an unready service gets no requests, so it would
// publish nothing, and never be ready again).
func TestTheConfirmingPublisherReconnectsByItself(t *testing.T) {
	amqpURL, api := testinfra.VHost(t, "amqpx-reconnect")
	testinfra.DeclareTopology(t, amqpURL, amqpx.QueueClassic, amqpx.Topology{})
	p, err := amqpx.NewConfirmingPublisher(amqpx.DefaultConfig(amqpURL, "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	connections := func() []string {
		var conns []struct{ Name string }
		if err := api.Do(context.Background(), http.MethodGet, "/api/vhosts/"+url.PathEscape(api.VHost)+"/connections", nil, &conns); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range conns {
			names = append(names, c.Name)
		}
		return names
	}
	var first []string
	testinfra.Eventually(t, 15*time.Second, "the broker lists the connection", func() bool {
		first = connections()
		return len(first) == 1
	})
	if err := api.Do(context.Background(), http.MethodDelete, "/api/connections/"+url.PathEscape(first[0]), nil, nil); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 30*time.Second, "connected again, by itself", func() bool {
		now := connections()
		return p.Ready() == nil && len(now) == 1 && now[0] != first[0]
	})
}
