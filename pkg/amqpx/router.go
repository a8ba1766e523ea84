package amqpx

import (
	"context"
	"errors"
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
// Permanent, the event is undecodable, or the data breaks a rule.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || errors.Is(err, events.ErrUndecodable) || apperr.KindOf(err) == apperr.Invalid
}

// Router is a Watermill router for a service's consumers.
type Router struct {
	*message.Router
	broker *Broker
	log    *slog.Logger
	tracer trace.Tracer
}

// NewRouter returns a router whose handlers share the middleware chain
// described in the package comment. Each delivery gets a consumer span from
// tp; reg gets the dead-letter counter.
func NewRouter(b *Broker, log *slog.Logger, tp trace.TracerProvider, reg prometheus.Registerer) (*Router, error) {
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, WatermillLogger(log, "router"))
	if err != nil {
		return nil, err
	}
	deadLetters := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "expenseflow_dead_letters_total", Help: "Messages sent to the dead-letter queue, by handler.",
	}, []string{"handler"})
	if err := reg.Register(deadLetters); err != nil {
		return nil, err
	}
	deadLetter, err := middleware.PoisonQueue(countingPublisher{b.DeadLetterPublisher, deadLetters}, DeadLetterQueue(b.cfg.Service))
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
	r.AddMiddleware(deadLetter, stampFailure(log), retry.Middleware, middleware.Recoverer)
	return &Router{Router: r, broker: b, log: log, tracer: tp.Tracer("github.com/expenseflow/expenseflow/pkg/amqpx")}, nil
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

// HandleEnvelope is Handle for consumers that keep events without
// interpreting their data (the audit log): h gets the checked envelope and
// the body exactly as received, whatever the type or version.
func (r *Router) HandleEnvelope(handlerName string, sub Subscription, h func(ctx context.Context, env events.Envelope, body []byte) error) {
	r.AddConsumerHandler(handlerName, sub.Queue, r.broker.Subscriber, func(msg *message.Message) (err error) {
		env, err := events.ParseEnvelope(msg.Payload)
		if err != nil {
			return err // permanent: ErrUndecodable
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
		return h(ctx, env, msg.Payload)
	})
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

// stampFailure records when and why a message finally failed, once retries
// are exhausted, and logs it: this is the one log line per dead letter.
func stampFailure(log *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err != nil {
				msg.Metadata.Set(DeadLetterTimeKey, time.Now().UTC().Format(time.RFC3339Nano))
				log.ErrorContext(msg.Context(), "message failed for good, sending it to the dead-letter queue",
					"handler", message.HandlerNameFromCtx(msg.Context()),
					"message_id", msg.UUID, "error", err)
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
