package amqpx

import (
	"time"

	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	amqp "github.com/rabbitmq/amqp091-go"
)

// topology declares our exchanges, queues and bindings. It replaces
// watermill-amqp's default builder, which binds one routing key per queue and
// declares nothing about queue type or dead-lettering. Watermill calls it on
// every subscribe and reconnect; declarations are idempotent as long as the
// arguments do not change.
type topology struct {
	bindings  map[string][]string // queue -> routing-key patterns
	queueArgs amqp.Table
}

func newTopology(cfg Config, subs []Subscription) *topology {
	t := &topology{bindings: map[string][]string{}, queueArgs: amqp.Table{
		"x-queue-type": cfg.QueueType,
		// Broker-side safety net: a message the broker itself dead-letters
		// (rejected without requeue, or over a quorum queue's delivery limit)
		// lands in our dead-letter queue instead of being dropped.
		"x-dead-letter-exchange":    DeadLetterExchange,
		"x-dead-letter-routing-key": DeadLetterQueue(cfg.Service),
	}}
	for _, s := range subs {
		t.bindings[s.Queue] = s.Patterns
	}
	dlq := DeadLetterQueue(cfg.Service)
	t.bindings[dlq] = []string{dlq}
	return t
}

func (t *topology) ExchangeDeclare(ch *amqp.Channel, name string, cfg wamqp.Config) error {
	return ch.ExchangeDeclare(name, cfg.Exchange.Type, true, false, false, false, nil)
}

func (t *topology) BuildTopology(ch *amqp.Channel, p wamqp.BuildTopologyParams, cfg wamqp.Config, _ watermill.LoggerAdapter) error {
	patterns, ok := t.bindings[p.QueueName]
	if !ok {
		return fmt.Errorf("queue %q is not in this service's topology", p.QueueName)
	}
	if err := t.ExchangeDeclare(ch, p.ExchangeName, cfg); err != nil {
		return fmt.Errorf("declare exchange %s: %w", p.ExchangeName, err)
	}
	args := t.queueArgs
	if p.ExchangeName == DeadLetterExchange {
		// The dead-letter queue does not dead-letter into itself.
		args = amqp.Table{"x-queue-type": t.queueArgs["x-queue-type"]}
	}
	if _, err := ch.QueueDeclare(p.QueueName, true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", p.QueueName, err)
	}
	for _, pattern := range patterns {
		if err := ch.QueueBind(p.QueueName, pattern, p.ExchangeName, false, nil); err != nil {
			return fmt.Errorf("bind %s to %s: %w", p.QueueName, pattern, err)
		}
	}
	return nil
}

// reconnect is how often a lost connection is tried again: watermill-amqp's
// default backoff, but never more than 5 s apart. With the default 60 s cap,
// a broker back after a minute's outage could wait up to another 90 s (with
// jitter) before the relays publish and the consumers consume again; one
// connection attempt every few seconds per service costs the broker nothing.
// TestRabbitMQStoppedAndStartedMidBurst (e2e, tag brokeroutage) shows it.
func reconnect() *wamqp.ReconnectConfig {
	r := wamqp.DefaultReconnectConfig()
	r.BackoffMaxInterval = 5 * time.Second
	return r
}

// watermillConfig is the watermill-amqp configuration for one exchange:
// the topic passed to Publish is the routing key, the topic passed to
// Subscribe is the queue name.
func watermillConfig(cfg Config, exchange, kind string, topo *topology) wamqp.Config {
	identity := func(topic string) string { return topic }
	return wamqp.Config{
		Connection: wamqp.ConnectionConfig{AmqpURI: cfg.URL, Reconnect: reconnect()},
		Marshaler:  marshaler{},
		Exchange:   wamqp.ExchangeConfig{GenerateName: wamqp.GenerateExchangeNameConstant(exchange), Type: kind, Durable: true},
		Queue:      wamqp.QueueConfig{GenerateName: identity, Durable: true},
		QueueBind:  wamqp.QueueBindConfig{GenerateRoutingKey: identity},
		Publish: wamqp.PublishConfig{
			GenerateRoutingKey: identity,
			ConfirmDelivery:    true,
			ChannelPoolSize:    cfg.PublishChannels,
		},
		Consume:         wamqp.ConsumeConfig{Qos: wamqp.QosConfig{PrefetchCount: cfg.Prefetch}, Consumer: cfg.Service},
		TopologyBuilder: topo,
	}
}
