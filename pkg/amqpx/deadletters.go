package amqpx

import (
	"context"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// DeadLetter is one message waiting in a service's dead-letter queue: the
// original body and headers, and why, where and when it failed.
type DeadLetter struct {
	Service   string // whose dead-letter queue holds it
	MessageID string
	FromQueue string // the queue it failed in: where a replay sends it back
	Handler   string
	Reason    string
	At        string
	// Publisher is the broker user that published the original message:
	// a replay names it (ReplayedForKey), so the consumer's check of who
	// published it gives the same answer as the first time.
	Publisher string
	Headers   amqp.Table // as received, dead-letter keys included
	Body      []byte
}

// DeadLetters reads and replays dead-letter queues.
type DeadLetters struct {
	conn *amqp.Connection
	user string
}

// DialDeadLetters connects to the broker at url, as the Operator user: a
// consumer believes a replay only from it.
func DialDeadLetters(url string) (*DeadLetters, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return nil, err
	}
	return &DeadLetters{conn: conn, user: UserOf(url)}, nil
}

// Close closes the connection.
func (d *DeadLetters) Close() error { return d.conn.Close() }

// List returns the dead letters of a service without removing them: it takes
// every message unacknowledged and closes the channel, which puts them all
// back in place.
func (d *DeadLetters) List(service string) ([]DeadLetter, error) {
	ch, err := d.conn.Channel()
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	letters, _, err := take(ch, service)
	return letters, err
}

// Replay sends the service's dead letters that match back to the queue each
// failed in — only that consumer sees it again, not every subscriber of the
// event — with its original body and headers, and removes each from the
// dead-letter queue once the broker has confirmed the replay. Replaying is
// safe because consumers are idempotent: a letter whose effect did happen
// after all is recognised by the consumer's inbox. Letters that do not match
// stay where they are.
func (d *DeadLetters) Replay(ctx context.Context, service string, match func(DeadLetter) bool) (int, error) {
	ch, err := d.conn.Channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close() // requeues whatever was taken and not replayed
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	letters, tags, err := take(ch, service)
	if err != nil {
		return 0, err
	}
	replayed := 0
	for i, l := range letters {
		if !match(l) {
			continue
		}
		if l.FromQueue == "" {
			return replayed, fmt.Errorf("dead letter %s does not say which queue it failed in", l.MessageID)
		}
		// The default exchange drops a message for a queue that does not
		// exist, and the confirm would still say ok: check first.
		if _, err := ch.QueueDeclarePassive(l.FromQueue, true, false, false, false, nil); err != nil {
			return replayed, fmt.Errorf("replay %s: queue %s: %w", l.MessageID, l.FromQueue, err)
		}
		if err := republish(ctx, ch, d.user, l); err != nil {
			return replayed, fmt.Errorf("replay %s: %w", l.MessageID, err)
		}
		if err := ch.Ack(tags[i], false); err != nil {
			return replayed, err
		}
		replayed++
	}
	return replayed, nil
}

// take gets every message now in the service's dead-letter queue, unacked.
func take(ch *amqp.Channel, service string) ([]DeadLetter, []uint64, error) {
	var letters []DeadLetter
	var tags []uint64
	for {
		m, ok, err := ch.Get(DeadLetterQueue(service), false)
		if err != nil || !ok {
			return letters, tags, err
		}
		letters = append(letters, letterOf(service, m))
		tags = append(tags, m.DeliveryTag)
	}
}

func letterOf(service string, m amqp.Delivery) DeadLetter {
	header := func(k string) string {
		s, _ := m.Headers[k].(string)
		return s
	}
	l := DeadLetter{
		Service: service, MessageID: m.MessageId, FromQueue: header(DeadLetterQueueKey),
		Handler: header(DeadLetterHandlerKey), Reason: header(DeadLetterReasonKey), At: header(DeadLetterTimeKey),
		Headers: m.Headers, Body: m.Body,
	}
	l.Publisher = publisherOf(service, m)
	// Dead-lettered by the broker itself (rejected, or over a quorum queue's
	// delivery limit): RabbitMQ's x-death header says where and why.
	if deaths, ok := m.Headers["x-death"].([]any); ok && len(deaths) > 0 && l.FromQueue == "" {
		if death, ok := deaths[0].(amqp.Table); ok {
			l.FromQueue, _ = death["queue"].(string)
			reason, _ := death["reason"].(string)
			l.Reason = "dead-lettered by the broker: " + reason
		}
	}
	return l
}

// publisherOf tells who published the message a dead letter holds. The
// broker vouches for the letter's own user-id. When that is the service
// whose dead-letter queue it is, the service dead-lettered it and recorded
// the original publisher in a header (PublisherKey, as the service's
// consumer had established it). Otherwise the broker dead-lettered the
// message itself and kept its properties: its user-id is the original's
// own (or the operator's, naming the original, for a replay). Another
// service can write into this dead-letter queue (it hangs off a direct
// exchange), but only as itself: its letters are replayed as what they
// are, and refused again.
func publisherOf(service string, m amqp.Delivery) string {
	if m.UserId == service {
		if original, ok := m.Headers[PublisherKey].(string); ok {
			return original
		}
	}
	return publisher(m)
}

// republish puts the letter back in its queue through the default exchange,
// whose routing key is a queue name, and waits for the broker's confirm.
func republish(ctx context.Context, ch *amqp.Channel, user string, l DeadLetter) error {
	headers := amqp.Table{ReplayedForKey: l.Publisher}
	for k, v := range l.Headers {
		if !isDeadLetterKey(k) {
			headers[k] = v
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", l.FromQueue, false, false, amqp.Publishing{
		MessageId: l.MessageID, ContentType: events.CloudEventsJSON, DeliveryMode: amqp.Persistent,
		UserId: user, Headers: headers, Body: l.Body,
	})
	if err != nil {
		return err
	}
	ok, err := confirm.WaitContext(ctx)
	if err == nil && !ok {
		err = fmt.Errorf("the broker refused the message")
	}
	return err
}

func isDeadLetterKey(k string) bool {
	switch k {
	case DeadLetterReasonKey, DeadLetterQueueKey, DeadLetterHandlerKey, DeadLetterTimeKey, deadLetterSubscriberKey, PublisherKey, ReplayedForKey:
		return true
	}
	return strings.HasPrefix(k, "x-death") || strings.HasPrefix(k, "x-first-death") || strings.HasPrefix(k, "x-last-death")
}
