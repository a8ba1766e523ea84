package amqpx

import (
	"errors"
	"fmt"
	"time"
)

// Wire names of the shared topology. Queue names and binding patterns of each
// service are constants in that service's messaging package.
const (
	EventsExchange      = "expenseflow.events"
	DeadLetterExchange  = "expenseflow.dead-letters"
	deadLetterQueueTail = ".dead-letters"
)

// Queue types: classic suits a single demo broker, quorum a replicated cluster.
const (
	QueueClassic = "classic"
	QueueQuorum  = "quorum"
)

// Config is what a service tells amqpx about its broker.
type Config struct {
	URL       string
	Service   string // owner of the queues; names the dead-letter queue
	QueueType string // QueueClassic or QueueQuorum
	Prefetch  int    // unacked deliveries the broker may push per subscription
	// PublishChannels is the size of the publisher's channel pool; confirms
	// are awaited per channel, so more channels mean more messages in flight.
	PublishChannels int
	Retry           RetryConfig
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
		QueueType:       QueueClassic,
		Prefetch:        16,
		PublishChannels: 8,
		Retry:           RetryConfig{MaxRetries: 8, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second},
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
	if c.QueueType != QueueClassic && c.QueueType != QueueQuorum {
		errs = append(errs, fmt.Errorf("amqp: queue type %q is neither %q nor %q", c.QueueType, QueueClassic, QueueQuorum))
	}
	if c.Prefetch < 1 || c.PublishChannels < 1 {
		errs = append(errs, errors.New("amqp: Prefetch and PublishChannels must be at least 1"))
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
type Subscription struct {
	Queue    string
	Patterns []string
}
