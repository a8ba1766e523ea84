package amqpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// Metadata keys added to a dead letter, next to the original headers.
// The reason, queue and handler keys are Watermill's poison-queue keys.
const (
	DeadLetterReasonKey  = middleware.ReasonForPoisonedKey
	DeadLetterQueueKey   = middleware.PoisonedTopicKey
	DeadLetterHandlerKey = middleware.PoisonedHandlerKey
	DeadLetterTimeKey    = "dead_lettered_at"

	deadLetterSubscriberKey = middleware.PoisonedSubscriberKey
)

// EventHandler handles one decoded event. It returns nil only once the
// effect is committed (the message is then acked), and an error otherwise.
type EventHandler func(ctx context.Context, e events.Event) error

// Permanent marks err as not worth retrying: the message goes straight to
// the dead-letter queue.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// IsPermanent reports whether retrying err cannot help: it was marked
// Permanent, the event is undecodable, the data breaks a rule, or the
// database refused the data itself (a NUL character, a number out of
// range: postgres.Classify).
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || errors.Is(err, events.ErrUndecodable) || apperr.KindOf(postgres.Classify(err)) == apperr.Invalid
}

// errShutdown wraps what a handler returned while the service was shutting
// down: the message goes back to its queue (nack), never to the dead-letter
// queue, whatever the error says.
type errShutdown struct{ error }

func (e errShutdown) Unwrap() error { return e.error }

// Router is a Watermill router for a service's consumers.
type Router struct {
	*message.Router
	broker  *Broker
	log     *slog.Logger
	tracer  trace.Tracer
	timeout time.Duration
}

// NewRouter returns a router whose handlers share the middleware chain
// described in the package comment. Each delivery gets a consumer span from
// tp; reg gets the dead-letter counter.
func NewRouter(b *Broker, log *slog.Logger, tp trace.TracerProvider, reg prometheus.Registerer) (*Router, error) {
	// On close the router stops consuming and waits for the messages in
	// hand: each finishes within its handler timeout (its context is not
	// cancelled by the shutdown), or is returned to its queue.
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: b.cfg.HandlerTimeout + 5*time.Second}, WatermillLogger(log, "router"))
	if err != nil {
		return nil, err
	}
	deadLetters := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "expenseflow_dead_letters_total", Help: "Messages sent to the dead-letter queue, by handler.",
	}, []string{"handler"})
	if err := reg.Register(deadLetters); err != nil {
		return nil, err
	}
	deadLetter, err := middleware.PoisonQueueWithFilter(countingPublisher{b.DeadLetterPublisher, deadLetters}, DeadLetterQueue(b.cfg.Service),
		func(err error) bool { return !errors.As(err, &errShutdown{}) })
	if err != nil {
		return nil, err
	}
	retry := middleware.Retry{
		MaxRetries:          b.cfg.Retry.MaxRetries,
		InitialInterval:     b.cfg.Retry.InitialInterval,
		MaxInterval:         b.cfg.Retry.MaxInterval,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ShouldRetry:         func(p middleware.RetryParams) bool { return !IsPermanent(p.Err) },
	}
	// Outermost first. Recoverer must be innermost: it turns a panic into an
	// ordinary error that retry and dead-lettering then see. Placed outermost,
	// a panic would skip both, the message would be nacked, requeued at once
	// and panic again — forever (our own test caught exactly that).
	r.AddMiddleware(deadLetter, stampFailure(log), returnOnShutdown, retry.Middleware, middleware.Recoverer)
	return &Router{Router: r, broker: b, log: log, tracer: tp.Tracer("github.com/expenseflow/expenseflow/pkg/amqpx"), timeout: b.cfg.HandlerTimeout}, nil
}

// Handle consumes the subscription's queue with h under the given handler
// name (a wire constant: it is recorded in dead letters and the inbox). h
// gets the event decoded and upcast to the newest version of its type.
func (r *Router) Handle(handlerName string, sub Subscription, h EventHandler) {
	r.HandleEnvelope(handlerName, sub, func(ctx context.Context, env events.Envelope, _ []byte) error {
		e, err := events.DecodeData(env)
		if err != nil {
			return err // permanent: ErrUndecodable
		}
		return h(ctx, e)
	})
}

// HandleConcurrently is Handle with several consumers on the queue (see
// HandleEnvelopeConcurrently): for messages that need no order among
// themselves, and of which one may have to wait (a command retried until
// something it depends on settles) without holding up the others.
func (r *Router) HandleConcurrently(handlerName string, sub Subscription, consumers int, h EventHandler) {
	for i := range max(consumers, 1) {
		name := handlerName
		if i > 0 {
			name = fmt.Sprintf("%s.%d", handlerName, i+1)
		}
		r.Handle(name, sub, h)
	}
}

// HandleEnvelope is Handle for consumers that keep events without
// interpreting their data (the audit log): h gets the checked envelope and
// the body exactly as received, whatever the type or version.
func (r *Router) HandleEnvelope(handlerName string, sub Subscription, h func(ctx context.Context, env events.Envelope, body []byte) error) {
	r.AddConsumerHandler(handlerName, sub.Queue, r.broker.Subscriber, func(msg *message.Message) (err error) {
		env, err := events.ParseEnvelope(msg.Payload)
		if err != nil {
			return err // permanent: ErrUndecodable
		}
		// Nothing is acted on before we know it came from the service that
		// owns its type: anyone with a broker account can write a
		// well-formed envelope.
		if err := events.CheckPublisher(env.Type, msg.Metadata.Get(PublisherKey)); err != nil {
			return Permanent(err)
		}
		// The span is a child of the span that wrote the event (its
		// traceparent), so one trace follows the flow across services;
		// events this handler emits carry this span in turn.
		ctx, span := r.tracer.Start(correlation.WithTraceParent(msg.Context(), env.TraceParent), "handle "+handlerName,
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
				attribute.String("messaging.system", "rabbitmq"),
				attribute.String("messaging.destination.subscription.name", sub.Queue),
				attribute.String("messaging.message.id", env.ID),
				attribute.String("cloudevents.event_type", env.Type)))
		defer func() { EndSpan(span, err) }()
		ctx = correlation.With(ctx, correlation.IDs{CorrelationID: env.CorrelationID, CausationID: env.ID})
		// The handler's context outlives a shutdown (the message in hand is
		// finished, not abandoned halfway) but not its own timeout.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		if err := h(ctx, env, msg.Payload); err != nil {
			return err
		}
		// One line per event handled, naming what it is about (the
		// claim, and the subject: a claim's, a reimbursement's or an
		// entry's id), so one claim can be followed through every
		// service's log; the correlation id comes with ctx.
		r.log.InfoContext(ctx, "event handled", "handler", handlerName, "type", env.Type,
			"expense_id", env.ExpenseID(), "subject", env.Subject, "event_id", env.ID)
		return nil
	})
}

// HandleEnvelopeConcurrently is HandleEnvelope with several consumers on
// the queue, each handling one message at a time: for a handler whose
// messages need no order among themselves and whose store gains from
// having several at once (audit's group commit). The first consumer is
// named handlerName, the others handlerName.2, handlerName.3, …: the name a
// dead letter records.
func (r *Router) HandleEnvelopeConcurrently(handlerName string, sub Subscription, consumers int, h func(ctx context.Context, env events.Envelope, body []byte) error) {
	for i := range max(consumers, 1) {
		name := handlerName
		if i > 0 {
			name = fmt.Sprintf("%s.%d", handlerName, i+1)
		}
		r.HandleEnvelope(name, sub, h)
	}
}

// EndSpan ends span, marking it failed if err is not nil.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// countingPublisher counts what it publishes to the dead-letter exchange:
// a letter counts once it is confirmed, not when a handler gives up.
type countingPublisher struct {
	message.Publisher
	counter *prometheus.CounterVec
}

func (p countingPublisher) Publish(topic string, msgs ...*message.Message) error {
	if err := p.Publisher.Publish(topic, msgs...); err != nil {
		return err
	}
	for _, msg := range msgs {
		p.counter.WithLabelValues(msg.Metadata.Get(DeadLetterHandlerKey)).Inc()
	}
	return nil
}

// returnOnShutdown marks a failure as the shutdown's when the message's
// context has ended (the subscriber is closing): the dead-letter middleware
// then lets it through as an error, and the router nacks the message back
// to its queue, where the next instance, or this one restarted, takes it.
func returnOnShutdown(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && msg.Context().Err() != nil {
			return out, errShutdown{err}
		}
		return out, err
	}
}

// stampFailure records when and why a message finally failed, once retries
// are exhausted, and logs it: this is the one log line per dead letter.
func stampFailure(log *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if errors.As(err, &errShutdown{}) {
				log.InfoContext(msg.Context(), "shutting down: message returned to its queue",
					"handler", message.HandlerNameFromCtx(msg.Context()), "message_id", msg.UUID)
				return out, err
			}
			if err != nil {
				msg.Metadata.Set(DeadLetterTimeKey, time.Now().UTC().Format(time.RFC3339Nano))
				log.ErrorContext(msg.Context(), "message failed for good, sending it to the dead-letter queue",
					"handler", message.HandlerNameFromCtx(msg.Context()),
					"message_id", msg.UUID, "error", postgres.Redact(err))
			}
			return out, err
		}
	}
}

// WatermillLogger adapts log for Watermill, whose info messages (every
// subscribe, every handler start) are debug detail for us.
func WatermillLogger(log *slog.Logger, component string) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(log.With("component", component), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
}
