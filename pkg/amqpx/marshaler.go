package amqpx

import (
	"fmt"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// marshaler is watermill-amqp's default marshaler made total: Unmarshal never
// fails. The default one rejects non-string headers, and a message it cannot
// unmarshal is never acked or nacked — it would sit unacknowledged and, on
// quorum queues, whose redeliveries carry an integer x-delivery-count header,
// loop forever. Here every header becomes a string, and the message id falls
// back to the AMQP message-id property, so anything that reaches a queue also
// reaches a handler, which either handles it or dead-letters it.
type marshaler struct{}

var base = wamqp.DefaultMarshaler{}

func (marshaler) Marshal(msg *message.Message) (amqp.Publishing, error) {
	p, err := base.Marshal(msg)
	p.MessageId = msg.UUID
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
	return msg, nil
}
