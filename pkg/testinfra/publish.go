package testinfra

import (
	"context"
	"errors"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Publish puts raw bodies on the events exchange of the vhost at amqpURL with
// the given routing key, as the service that owns that routing key would
// (its broker user, its user-id) — including a broken version of it. Tests
// use it to inject events, duplicates and poison messages. A routing key no
// service owns is published by the test user.
func Publish(t testing.TB, amqpURL, routingKey string, messageID string, bodies ...[]byte) {
	t.Helper()
	owner, _ := events.Owner(routingKey)
	PublishAs(t, amqpURL, owner, routingKey, messageID, bodies...)
}

// PublishAs is Publish as the broker user named (with its development
// password), stamping its user-id; "" publishes as the test user of
// amqpURL with no user-id at all, as a forger with broker credentials could.
func PublishAs(t testing.TB, amqpURL, user, routingKey string, messageID string, bodies ...[]byte) {
	t.Helper()
	for _, body := range bodies {
		if err := TryPublish(t, amqpURL, user, user, routingKey, messageID, body); err != nil {
			t.Fatalf("publish %s as %q: %v", routingKey, user, err)
		}
	}
}

// TryPublish publishes body to the events exchange (a command to the
// commands exchange), connected as the broker
// user login ("" for the test user) with the user-id property userID, and
// returns the broker's refusal, if any: tests show what the broker itself
// stops (a user-id that is not the publisher's, a routing key the user may
// not publish).
func TryPublish(t testing.TB, amqpURL, login, userID, routingKey, messageID string, body []byte) error {
	t.Helper()
	if login != "" {
		amqpURL = UserURL(amqpURL, login)
	} else {
		amqpURL = AdminURL(t, amqpURL)
	}
	conn, ch := dial(t, amqpURL)
	defer conn.Close()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Confirm(false); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exchange := amqpx.EventsExchange
	if events.IsCommand(routingKey) {
		exchange = amqpx.CommandsExchange
	}
	confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, routingKey, false, false, amqp.Publishing{
		MessageId: messageID, ContentType: events.CloudEventsJSON, DeliveryMode: amqp.Persistent, Body: body, UserId: userID,
	})
	if err != nil {
		return err
	}
	// A refused publish closes the channel, and no confirm comes.
	select {
	case <-confirm.Done():
		if confirm.Acked() {
			return nil
		}
		select { // the reason, if the channel was closed
		case err := <-closed:
			return err
		case <-time.After(time.Second):
			return errors.New("the broker did not confirm the message")
		}
	case err := <-closed:
		return err
	case <-ctx.Done():
		return ctx.Err()
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
