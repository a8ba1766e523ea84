package amqpx

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/cenkalti/backoff/v5"
)

// Broker is a service's connection to RabbitMQ: the outbox relay's
// publisher to the events exchange, a publisher to the dead-letter exchange,
// and a subscriber for its queues. All three reconnect by themselves once
// created (the relay's publisher when it next publishes or is asked if it
// is ready).
type Broker struct {
	Publisher           *ConfirmingPublisher
	DeadLetterPublisher *wamqp.Publisher
	Subscriber          *wamqp.Subscriber
	cfg                 Config
	subs                []Subscription
}

// Connect opens the broker connections and checks that the service's queues
// and its dead-letter queue exist, waiting (with backoff, until ctx ends)
// while RabbitMQ is not reachable or its topology not declared yet
// (DeclareTopology). A message published to a topic exchange with no bound
// queue is silently dropped, so no service may publish before the whole
// topology exists; once a service's own queues are there, all are.
func Connect(ctx context.Context, cfg Config, subs []Subscription, log *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	wlog := WatermillLogger(log, "amqp")
	events := watermillConfig(cfg, EventsExchange, "topic")
	deadLetters := watermillConfig(cfg, DeadLetterExchange, "direct")

	b := &Broker{cfg: cfg, subs: subs}
	steps := []func() error{
		func() (err error) { b.Publisher, err = NewConfirmingPublisher(cfg); return },
		func() (err error) { b.DeadLetterPublisher, err = wamqp.NewPublisher(deadLetters, wlog); return },
		func() (err error) { b.Subscriber, err = wamqp.NewSubscriber(events, wlog); return },
		func() error { return b.check(deadLetters, wlog) },
	}
	for _, step := range steps {
		if err := UntilUp(ctx, log, step); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func (b *Broker) check(deadLetters wamqp.Config, wlog watermill.LoggerAdapter) error {
	for _, s := range b.subs {
		if err := b.Subscriber.SubscribeInitialize(s.Queue); err != nil {
			return fmt.Errorf("queue %s: %w", s.Queue, err)
		}
	}
	// The dead-letter queue lives on another exchange; a short-lived
	// subscriber checks it.
	dl, err := wamqp.NewSubscriber(deadLetters, wlog)
	if err != nil {
		return err
	}
	defer dl.Close()
	return dl.SubscribeInitialize(DeadLetterQueue(b.cfg.Service))
}

// UntilUp runs step until it succeeds, fails for good (an error marked
// Permanent), or ctx ends: at start-up the broker may simply not be up yet
// (compose starts everything at once), or its topology not declared yet.
func UntilUp(ctx context.Context, log *slog.Logger, step func() error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := step()
		if IsPermanent(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		if err != nil {
			log.WarnContext(ctx, "RabbitMQ not reachable or its topology not declared yet, retrying", "error", err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(&backoff.ExponentialBackOff{
		InitialInterval: 200 * time.Millisecond, RandomizationFactor: 0.2, Multiplier: 2, MaxInterval: 5 * time.Second,
	}), backoff.WithMaxElapsedTime(0))
	return err
}

// Ready reports whether the connections are up (for /readyz).
func (b *Broker) Ready(context.Context) error {
	if b.Publisher.Ready() != nil || !b.Subscriber.IsConnected() {
		return fmt.Errorf("not connected to RabbitMQ")
	}
	return nil
}

// Close closes every connection that was opened.
func (b *Broker) Close() {
	if b.Subscriber != nil {
		_ = b.Subscriber.Close()
	}
	if b.Publisher != nil {
		_ = b.Publisher.Close()
	}
	if b.DeadLetterPublisher != nil {
		_ = b.DeadLetterPublisher.Close()
	}
}
