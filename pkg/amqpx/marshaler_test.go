package amqpx

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Quorum queues add an integer x-delivery-count header on redelivery, and a
// foreign producer may send any header type or no Watermill id at all.
// Unmarshal must accept all of it, or the message would never be acked.
func TestUnmarshalAcceptsAnyHeaders(t *testing.T) {
	msg, err := marshaler{}.Unmarshal(amqp.Delivery{
		MessageId: "m-1",
		Headers: amqp.Table{
			"x-delivery-count": int64(3),
			"x-death":          []any{amqp.Table{"count": int64(1)}},
			"correlation_id":   "c-1",
		},
		Body: []byte("{}"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.UUID != "m-1" || msg.Metadata.Get("x-delivery-count") != "3" || msg.Metadata.Get("correlation_id") != "c-1" {
		t.Fatalf("got uuid %q metadata %v", msg.UUID, msg.Metadata)
	}
}
