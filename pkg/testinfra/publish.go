package testinfra

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Publish puts raw bodies on the events exchange of the vhost at amqpURL with
// the given routing key, as any producer could — including a broken one.
// Tests use it to inject events, duplicates and poison messages.
func Publish(t testing.TB, amqpURL, routingKey string, messageID string, bodies ...[]byte) {
	t.Helper()
	conn, ch := dial(t, amqpURL)
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, body := range bodies {
		confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, amqpx.EventsExchange, routingKey, false, false, amqp.Publishing{
			MessageId: messageID, ContentType: events.CloudEventsJSON, DeliveryMode: amqp.Persistent, Body: body,
		})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if ok, err := confirm.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish not confirmed: %v", err)
		}
	}
}

// PublishEvent encodes env and publishes it with its type as routing key.
func PublishEvent(t testing.TB, amqpURL string, env events.Envelope) {
	t.Helper()
	body, err := events.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	Publish(t, amqpURL, env.Type, env.ID, body)
}
