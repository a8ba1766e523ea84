package amqpx_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// TestUnroutedMessagesAreKept: what an exchange cannot route (no queue is
// bound to the key) lands in the unrouted queue, where people can see it,
// instead of vanishing. Every event reaches at least audit, which binds "#",
// so the test takes that binding away, as a misconfiguration would.
func TestUnroutedMessagesAreKept(t *testing.T) {
	amqpURL, api := testinfra.VHost(t, "unrouted")
	testinfra.Topology(t, amqpURL)
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueUnbind(topology.AuditAllEvents.Queue, "#", amqpx.EventsExchange, nil); err != nil {
		t.Fatal(err)
	}
	for _, exchange := range []string{amqpx.CommandsExchange, amqpx.EventsExchange} {
		msg := amqp.Publishing{MessageId: exchange, Body: []byte("{}")}
		if err := ch.PublishWithContext(t.Context(), exchange, "nobody.listens.v1", false, false, msg); err != nil {
			t.Fatal(err)
		}
	}
	testinfra.Eventually(t, 30*time.Second, "both messages wait in the unrouted queue", func() bool {
		qs, err := api.Queues()
		for _, q := range qs {
			if err == nil && q.Name == amqpx.UnroutedQueue {
				return q.Messages == 2
			}
		}
		return false
	})
}

// TestDeclaringTwiceChangesNothing: the broker setup runs on every deploy.
func TestDeclaringTwiceChangesNothing(t *testing.T) {
	amqpURL, _ := testinfra.VHost(t, "declare")
	for _, queueType := range []string{amqpx.QueueQuorum, amqpx.QueueQuorum} {
		if err := amqpx.DeclareTopology(amqpURL, queueType, topology.All); err != nil {
			t.Fatal(err)
		}
	}
	// Another queue type for existing queues is refused, at once and clearly.
	err := amqpx.DeclareTopology(amqpURL, amqpx.QueueClassic, topology.All)
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.PreconditionFailed || !amqpx.IsPermanent(err) {
		t.Fatalf("declaring classic over quorum: %v, want a permanent 406", err)
	}
}

// TestServiceWaitsForTheTopology: a service started before the broker setup
// has run waits, and connects once the topology is there; it never declares
// (and so never guesses) a queue itself.
func TestServiceWaitsForTheTopology(t *testing.T) {
	amqpURL, _ := testinfra.VHost(t, "wait")
	connected := make(chan error, 1)
	go func() {
		b, err := amqpx.Connect(t.Context(), amqpx.DefaultConfig(amqpURL, "test"), []amqpx.Subscription{sub}, slog.New(slog.DiscardHandler))
		if err == nil {
			b.Close()
		}
		connected <- err
	}()
	select {
	case err := <-connected:
		t.Fatalf("connected before the topology existed: %v", err)
	case <-time.After(time.Second):
	}
	testinfra.DeclareTopology(t, amqpURL, amqpx.QueueClassic, amqpx.Topology{"test": {sub}})
	select {
	case err := <-connected:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still waiting 20 s after the topology was declared")
	}
}
