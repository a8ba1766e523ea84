package amqpx

import (
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// Topology is every queue of the system, by the service that consumes it.
// It is declared once per vhost, by DeclareTopology, before any service
// runs: a message published to an exchange with no queue bound yet is
// dropped, so a service that started first would otherwise lose every event
// meant for the services that had not (docs/adr/0012-topology-declared-up-front.md).
type Topology map[string][]Subscription

// DeclareTopology declares, idempotently, the exchanges, every queue and
// binding of topo, each service's dead-letter queue, and the queue that keeps
// what no queue was bound to. The arguments of an existing exchange or queue
// cannot change: RabbitMQ refuses a declaration that differs (406), which is
// reported, never papered over.
func DeclareTopology(url, queueType string, topo Topology) error {
	if queueType != QueueClassic && queueType != QueueQuorum {
		return fmt.Errorf("amqp: queue type %q is neither %q nor %q", queueType, QueueClassic, QueueQuorum)
	}
	return withChannel(url, func(ch *amqp.Channel) error {
		unrouted := amqp.Table{"alternate-exchange": UnroutedExchange}
		steps := []func() error{
			// What an exchange cannot route goes to its alternate exchange and
			// from there to one queue someone can look at, instead of vanishing.
			func() error {
				return ch.ExchangeDeclare(UnroutedExchange, amqp.ExchangeFanout, true, false, false, false, nil)
			},
			func() error {
				return declareQueue(ch, UnroutedQueue, UnroutedExchange, []string{""}, dormantQueueArgs(queueType))
			},
			func() error {
				return ch.ExchangeDeclare(EventsExchange, amqp.ExchangeTopic, true, false, false, false, unrouted)
			},
			func() error {
				return ch.ExchangeDeclare(CommandsExchange, amqp.ExchangeDirect, true, false, false, false, unrouted)
			},
			func() error {
				return ch.ExchangeDeclare(DeadLetterExchange, amqp.ExchangeDirect, true, false, false, false, nil)
			},
		}
		for service, subs := range topo {
			for _, s := range subs {
				patterns := s.Patterns
				if s.BoundByConsumer {
					patterns = nil // its consumer binds them
				}
				steps = append(steps, func() error {
					return declareQueue(ch, s.Queue, s.BoundTo(), patterns, workQueueArgs(queueType, service))
				})
			}
			dlq := DeadLetterQueue(service)
			steps = append(steps, func() error {
				return declareQueue(ch, dlq, DeadLetterExchange, []string{dlq}, dormantQueueArgs(queueType))
			})
		}
		for _, step := range steps {
			if err := step(); err != nil && !errors.Is(err, amqp.ErrClosed) {
				// The broker answered and refused (e.g. 406, arguments that
				// differ from an existing queue's): trying again cannot help.
				return Permanent(err)
			} else if err != nil {
				return err // the connection went away: worth another try
			}
		}
		return nil
	})
}

func declareQueue(ch *amqp.Channel, queue, exchange string, patterns []string, args amqp.Table) error {
	if _, err := ch.QueueDeclare(queue, true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", queue, err)
	}
	for _, pattern := range patterns {
		if err := ch.QueueBind(queue, pattern, exchange, false, nil); err != nil {
			return fmt.Errorf("bind %s to %s with %q: %w", queue, exchange, pattern, err)
		}
	}
	return nil
}

// Rebind binds s's queue to patterns and unbinds it from stale, on a
// connection of its own: the consumer of a queue BoundByConsumer calls it
// when what its subscribers want changes. Both are idempotent: binding twice
// binds once, unbinding what is not bound changes nothing.
func Rebind(url string, s Subscription, patterns, stale []string) error {
	return withChannel(url, func(ch *amqp.Channel) error {
		for _, p := range patterns {
			if err := ch.QueueBind(s.Queue, p, s.BoundTo(), false, nil); err != nil {
				return fmt.Errorf("bind %s to %s with %q: %w", s.Queue, s.BoundTo(), p, err)
			}
		}
		for _, p := range stale {
			if err := ch.QueueUnbind(s.Queue, p, s.BoundTo(), nil); err != nil {
				return fmt.Errorf("unbind %s from %s with %q: %w", s.Queue, s.BoundTo(), p, err)
			}
		}
		return nil
	})
}

// withChannel runs fn on a channel of a connection of its own to url,
// closed afterwards: for the few calls that change the topology.
func withChannel(url string, fn func(*amqp.Channel) error) (err error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ignoreClosed(conn.Close())) }()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return fn(ch)
}

// quorumDeliveryLimit is how often a quorum queue hands out one message
// before giving up on it. Our consumers retry in-process and dead-letter a
// message themselves, so a message returned this often is one that kills
// its consumer (a crash loop): the broker then dead-letters it to the
// service's dead-letter queue. Set here because RabbitMQ 4 otherwise applies
// 20 and, with no dead-letter exchange, drops the message.
const quorumDeliveryLimit = 20

// dormantDeliveryLimit is the delivery limit of queues whose messages wait
// for a person (dead letters, unrouted events): every browse of the queue
// is a delivery, and a letter must never be dropped for being looked at.
const dormantDeliveryLimit = 1_000_000

// workQueueArgs are a consuming queue's arguments: what the broker itself
// gives up on (rejected without requeue, over the delivery limit) goes to
// the service's dead-letter queue instead of being dropped.
func workQueueArgs(queueType, service string) amqp.Table {
	args := amqp.Table{
		"x-queue-type":              queueType,
		"x-dead-letter-exchange":    DeadLetterExchange,
		"x-dead-letter-routing-key": DeadLetterQueue(service),
	}
	if queueType == QueueQuorum {
		args["x-delivery-limit"] = quorumDeliveryLimit
	}
	return args
}

// dormantQueueArgs are the arguments of a queue people read: it dead-letters
// nowhere (not into itself) and never drops a message for its deliveries.
func dormantQueueArgs(queueType string) amqp.Table {
	args := amqp.Table{"x-queue-type": queueType}
	if queueType == QueueQuorum {
		args["x-delivery-limit"] = dormantDeliveryLimit
	}
	return args
}

func ignoreClosed(err error) error {
	if errors.Is(err, amqp.ErrClosed) {
		return nil
	}
	return err
}

// ErrTopologyMissing is returned (wrapped) while a queue or exchange a
// service needs has not been declared yet: the broker setup has not run.
var ErrTopologyMissing = errors.New("the broker topology is not declared yet: run `brokersetup` for this vhost (make run and docker compose do)")

// checkTopology is the services' topology builder: it declares nothing and
// only checks, passively, that the exchanges and queues it uses exist. A
// service never declares the topology itself: one place does, with one set
// of arguments, and a service's broker user needs no configure permission.
// Watermill calls it on every subscribe, every first publish to an exchange,
// and after every reconnect.
type checkTopology struct{}

func (checkTopology) ExchangeDeclare(ch *amqp.Channel, name string, _ wamqp.Config) error {
	return missing(ch.ExchangeDeclarePassive(name, "", true, false, false, false, nil))
}

func (t checkTopology) BuildTopology(ch *amqp.Channel, p wamqp.BuildTopologyParams, cfg wamqp.Config, _ watermill.LoggerAdapter) error {
	if err := t.ExchangeDeclare(ch, p.ExchangeName, cfg); err != nil {
		return err
	}
	_, err := ch.QueueDeclarePassive(p.QueueName, true, false, false, false, nil)
	return missing(err)
}

func missing(err error) error {
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound {
		return fmt.Errorf("%w (%s)", ErrTopologyMissing, amqpErr.Reason)
	}
	return err
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

// UserOf is the user an AMQP URL connects as: guest when it names none,
// as the client library assumes (empty when the URL does not parse).
func UserOf(amqpURL string) string {
	u, err := amqp.ParseURI(amqpURL)
	if err != nil {
		return ""
	}
	return u.Username
}

// exchangeOf is the exchange a message of topic is published to: the
// outbox holds events and commands alike, and a command (a topic such as
// reimbursement.stop_payout.v1) goes to the commands exchange.
func exchangeOf(topic string) string {
	if events.IsCommand(topic) {
		return CommandsExchange
	}
	return EventsExchange
}

// watermillConfig is the watermill-amqp configuration for one exchange:
// the topic passed to Publish is the routing key, the topic passed to
// Subscribe is the queue name.
func watermillConfig(cfg Config, exchange, kind string) wamqp.Config {
	identity := func(topic string) string { return topic }
	name := wamqp.GenerateExchangeNameConstant(exchange)
	if exchange == EventsExchange {
		name = exchangeOf
	}
	return wamqp.Config{
		Connection: wamqp.ConnectionConfig{AmqpURI: cfg.URL, Reconnect: reconnect()},
		Marshaler:  marshaler{user: UserOf(cfg.URL)},
		Exchange:   wamqp.ExchangeConfig{GenerateName: name, Type: kind, Durable: true},
		Queue:      wamqp.QueueConfig{GenerateName: identity, Durable: true},
		QueueBind:  wamqp.QueueBindConfig{GenerateRoutingKey: identity},
		Publish: wamqp.PublishConfig{
			GenerateRoutingKey: identity,
			ConfirmDelivery:    true,
			ChannelPoolSize:    cfg.PublishChannels,
		},
		Consume:         wamqp.ConsumeConfig{Qos: wamqp.QosConfig{PrefetchCount: cfg.Prefetch}, Consumer: cfg.Service},
		TopologyBuilder: checkTopology{},
	}
}
