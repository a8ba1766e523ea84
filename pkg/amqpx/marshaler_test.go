package amqpx

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
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

// The publisher a consumer sees is the broker-checked user-id, never a
// header a publisher wrote; only the operator's replay names another.
func TestPublisherComesFromTheUserID(t *testing.T) {
	cases := []struct {
		name string
		d    amqp.Delivery
		want string
	}{
		{"the user-id", amqp.Delivery{UserId: "approval"}, "approval"},
		{"a header claiming otherwise", amqp.Delivery{UserId: "notification", Headers: amqp.Table{PublisherKey: "approval", ReplayedForKey: "approval"}}, "notification"},
		{"no user-id", amqp.Delivery{Headers: amqp.Table{PublisherKey: "approval"}}, ""},
		{"the operator's replay", amqp.Delivery{UserId: Operator, Headers: amqp.Table{ReplayedForKey: "approval"}}, "approval"},
		{"the operator's own message", amqp.Delivery{UserId: Operator}, ""},
	}
	for _, c := range cases {
		c.d.Body = []byte("{}")
		msg, err := marshaler{}.Unmarshal(c.d)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Metadata.Get(PublisherKey); got != c.want {
			t.Errorf("%s: publisher %q, want %q", c.name, got, c.want)
		}
	}
}

func TestMarshalStampsTheConnectionsUser(t *testing.T) {
	p, err := marshaler{user: "approval"}.Marshal(message.NewMessage("m-1", []byte("{}")))
	if err != nil || p.UserId != "approval" {
		t.Fatalf("user-id %q, %v", p.UserId, err)
	}
}
