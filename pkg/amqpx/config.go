package amqpx

import (
	"errors"
	"time"
)

// Wire names of the shared topology. Queue names and binding patterns of each
// service are constants in that service's messaging package.
const (
	EventsExchange      = "expenseflow.events"
	CommandsExchange    = "expenseflow.commands"
	DeadLetterExchange  = "expenseflow.dead-letters"
	UnroutedExchange    = "expenseflow.unrouted" // the alternate exchange of the two above
	UnroutedQueue       = "expenseflow.unrouted" // keeps what no queue was bound to
	deadLetterQueueTail = ".dead-letters"
)

// Queue types: classic suits a single demo broker, quorum a replicated cluster.
const (
	QueueClassic = "classic"
	QueueQuorum  = "quorum"
)

// Config is what a service tells amqpx about its broker.
type Config struct {
	URL      string
	Service  string // owner of the queues; names the dead-letter queue
	Prefetch int    // unacked deliveries the broker may push per subscription
	// PublishChannels is the size of the dead-letter publisher's channel
	// pool; confirms are awaited per channel, so more channels mean more
	// messages in flight. (The outbox relay's publisher is one channel:
	// ConfirmingPublisher.)
	PublishChannels int
	Retry           RetryConfig
	// HandlerTimeout bounds one attempt of a handler on one message: a
	// handler stuck on a lock or a slow query fails (and is retried) instead
	// of holding its queue forever. It also bounds how long a shutdown
	// waits for the message in hand.
	HandlerTimeout time.Duration
}

// RetryConfig is the in-process retry with exponential backoff that runs
// before a message is given up on and dead-lettered.
type RetryConfig struct {
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
}

// DefaultConfig returns a Config with the defaults used by every service.
func DefaultConfig(url, service string) Config {
	return Config{
		URL:             url,
		Service:         service,
		Prefetch:        16,
		PublishChannels: 8,
		Retry:           RetryConfig{MaxRetries: 8, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second},
		HandlerTimeout:  10 * time.Second,
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("amqp: URL is required"))
	}
	if c.Service == "" {
		errs = append(errs, errors.New("amqp: Service is required"))
	}
	if c.Prefetch < 1 || c.PublishChannels < 1 {
		errs = append(errs, errors.New("amqp: Prefetch and PublishChannels must be at least 1"))
	}
	if c.HandlerTimeout <= 0 {
		errs = append(errs, errors.New("amqp: HandlerTimeout must be positive"))
	}
	if c.Retry.MaxRetries < 0 || c.Retry.InitialInterval <= 0 || c.Retry.MaxInterval < c.Retry.InitialInterval {
		errs = append(errs, errors.New("amqp: retry needs MaxRetries >= 0 and 0 < InitialInterval <= MaxInterval"))
	}
	return errors.Join(errs...)
}

// DeadLetterQueue is the name of a service's dead-letter queue.
func DeadLetterQueue(service string) string { return service + deadLetterQueueTail }

// Subscription is one durable queue of a service and the routing-key
// patterns bound to it, e.g. {"accounting.expense-approved", ["expense.approved.*"]}.
// The ".*" on the version keeps a consumer receiving versions it does not
// know yet, so they reach the dead-letter queue instead of vanishing.
//
// A service's command queue is bound to the commands exchange instead
// (Exchange): a direct exchange, so each command version is bound by name,
// and a version nobody is bound to waits in the unrouted queue.
//
// A queue BoundByConsumer is declared without bindings: its consumer binds,
// at run time, the part of Patterns its own subscribers want (the webhooks
// service binds what its endpoints subscribe to), so that events nobody
// wants are not delivered at all. Patterns is then the most it may bind.
type Subscription struct {
	Queue           string
	Patterns        []string
	Exchange        string // EventsExchange when empty
	BoundByConsumer bool
}

// BoundTo is the exchange the queue is bound to.
func (s Subscription) BoundTo() string {
	if s.Exchange == "" {
		return EventsExchange
	}
	return s.Exchange
}
