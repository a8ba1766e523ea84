package amqpx

import (
	"fmt"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// PublisherKey is the metadata key under which a consumer finds the broker
// user that published a message: the AMQP user-id property, which RabbitMQ
// checks against the publishing connection's user. Set on every received
// message from the property itself, never from a header of that name, so
// a publisher cannot claim it.
const PublisherKey = "published_by"

// Operator is the broker user of the people who look after the bus. It may
// publish nothing but dead-letter replays, straight into the queue a letter
// failed in, and it says in ReplayedForKey whose message it replays
// (DeadLetters.Replay): the one publisher a consumer takes at its word.
const Operator = "expenseflow-operator"

// ReplayedForKey is the header in which the operator's replay names the
// original publisher of a message.
const ReplayedForKey = "replayed_for"

// marshaler is watermill-amqp's default marshaler with the publisher's
// identity added, and made total: Unmarshal never fails. The default one rejects non-string headers, and a message it cannot
// unmarshal is never acked or nacked — it would sit unacknowledged and, on
// quorum queues, whose redeliveries carry an integer x-delivery-count header,
// loop forever. Here every header becomes a string, and the message id falls
// back to the AMQP message-id property, so anything that reaches a queue also
// reaches a handler, which either handles it or dead-letters it.
//
// Marshal stamps the connection's user as the user-id property: the broker
// refuses a message whose user-id is not the user that publishes it, so the
// stamp is proof of who published (docs/security.md, "The bus").
type marshaler struct{ user string }

var base = wamqp.DefaultMarshaler{}

func (m marshaler) Marshal(msg *message.Message) (amqp.Publishing, error) {
	p, err := base.Marshal(msg)
	p.MessageId = msg.UUID
	p.UserId = m.user
	p.ContentType = events.CloudEventsJSON
	return p, err
}

func (marshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	headers := make(amqp.Table, len(d.Headers))
	for k, v := range d.Headers {
		if s, ok := v.(string); ok {
			headers[k] = s
		} else {
			headers[k] = fmt.Sprint(v)
		}
	}
	d.Headers = headers
	msg, err := base.Unmarshal(d)
	if err != nil {
		return nil, err // unreachable: every header is a string now
	}
	if msg.UUID == "" {
		msg.UUID = d.MessageId
	}
	msg.Metadata.Set(PublisherKey, publisher(d))
	return msg, nil
}

// publisher is who published d: its user-id, or, for the operator's replay
// of a dead letter, the original publisher the operator names.
func publisher(d amqp.Delivery) string {
	if d.UserId == Operator {
		original, _ := d.Headers[ReplayedForKey].(string)
		return original
	}
	return d.UserId
}
