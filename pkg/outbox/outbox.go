// Package outbox implements the transactional outbox with Watermill's own
// parts: inside the transaction that changes state, events are written to an
// outbox table by watermill-sql's publisher (wrapped by the forwarder's
// envelope, which remembers the destination routing key); after commit, the
// forwarder (the relay) reads that table in commit order and publishes each
// message to RabbitMQ, keeping its id and metadata.
//
// Guarantees: an event exists if and only if its state change committed
// (no dual write); delivery is at least once (the relay may publish a message
// again after a crash between publish and offset update, which the consumers'
// inbox absorbs); events leave in commit order, so per aggregate in sequence.
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// topic names the outbox tables: watermill_outbox and watermill_offsets_outbox.
const topic = "outbox"

// relayGroup is the relay's consumer group on the outbox table. Every
// instance of a service uses the same group, so only one relays at a time.
const relayGroup = "relay"

// CorrelationIDKey is the message metadata key holding the correlation id, so
// broker tools and dead-letter listings show it without decoding the body.
const CorrelationIDKey = "correlation_id"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the outbox tables. They cannot be created lazily:
// watermill-sql cannot initialise its schema inside a caller's transaction.
var Migrations = postgres.EmbeddedMigrations("outbox", migrationFiles, "migrations")

// Publish writes envs to the outbox as part of tx. They are published to
// the exchange, with their type as routing key, only if tx commits.
//
// The write is a span, a child of the span in ctx (made by that span's own
// provider, so Publish needs no tracer of its own), and each event carries
// it as traceparent, in its envelope and in the message metadata: the relay
// and every consumer continue the trace from there.
func Publish(ctx context.Context, tx *gorm.DB, envs ...events.Envelope) (err error) {
	tracer := trace.SpanFromContext(ctx).TracerProvider().Tracer(scope)
	ctx, span := tracer.Start(ctx, "outbox.Publish", trace.WithAttributes(attribute.Int("messaging.batch.message_count", len(envs))))
	defer func() { amqpx.EndSpan(span, err) }()
	traceParent := correlation.TraceParent(ctx)

	sqlTx, err := postgres.SQLTx(tx)
	if err != nil {
		return err
	}
	sqlPub, err := wsql.NewPublisher(wsql.TxFromStdSQL(sqlTx), wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, watermill.NopLogger{})
	if err != nil {
		return err
	}
	pub := forwarder.NewPublisher(sqlPub, forwarder.PublisherConfig{ForwarderTopic: topic})
	for _, env := range envs {
		if traceParent != "" {
			env.TraceParent = traceParent
		}
		body, err := events.Encode(env)
		if err != nil {
			return err
		}
		msg := message.NewMessage(env.ID, body)
		msg.Metadata.Set(CorrelationIDKey, env.CorrelationID)
		msg.Metadata.Set(correlation.TraceParentKey, env.TraceParent)
		msg.SetContext(ctx)
		if err := pub.Publish(env.Type, msg); err != nil {
			return err
		}
	}
	return nil
}

// Relay moves committed outbox messages to the broker: watermill's
// forwarder reading the outbox table, woken by the commits that write to it
// (wakeOnCommit) and polling as a net under the wake-ups.
type Relay struct {
	forwarder *forwarder.Forwarder
	wake      *wakeOnCommit
	db        *sql.DB
	log       *slog.Logger
	stop      context.CancelFunc // ends the listening, and any wait in wake
}

// NewRelay returns the relay from db's outbox to out (the RabbitMQ
// publisher). It retries a failed publish forever, in order: while the
// broker is unreachable, events wait in the table. If out is a Confirmer,
// it may return from Publish before the broker confirms: the relay then
// awaits the confirms of a whole read before it moves its offset past it. Each publish is a
// producer span from tp, a child of the span that wrote the message. An
// idle relay looks at the outbox again when a transaction that wrote to it
// commits, or after poll.
func NewRelay(db *gorm.DB, out message.Publisher, poll time.Duration, log *slog.Logger, tp trace.TracerProvider) (*Relay, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	wlog := amqpx.WatermillLogger(log, "outbox-relay")
	stopped, stop := context.WithCancel(context.Background())
	wake := newWakeOnCommit(poll, time.Second, stopped.Done())
	var offsets wsql.OffsetsAdapter = wsql.DefaultPostgreSQLOffsetsAdapter{}
	if c, ok := out.(Confirmer); ok {
		offsets = confirmedOffsets{OffsetsAdapter: offsets, confirmer: c}
	}
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(sqlDB), wsql.SubscriberConfig{
		ConsumerGroup:  relayGroup,
		ResendInterval: time.Second,
		BackoffManager: wake,
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: offsets,
	}, wlog)
	if err != nil {
		stop()
		return nil, err
	}
	out = tracedPublisher{out, tp.Tracer(scope)}
	fwd, err := forwarder.NewForwarder(sub, out, wlog, forwarder.Config{ForwarderTopic: topic, HandlerName: "outbox-relay"})
	if err != nil {
		stop()
		return nil, err
	}
	return &Relay{forwarder: fwd, wake: wake, db: sqlDB, log: log, stop: stop}, nil
}

// Run relays until ctx ends or the relay is closed, and returns once its
// listening has ended too.
func (r *Relay) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	context.AfterFunc(ctx, r.stop) // ends any wait in wake
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		r.wake.listen(ctx, r.db, r.log)
	}()
	defer func() { cancel(); <-listening }()
	return r.forwarder.Run(ctx)
}

// Close stops the relay.
func (r *Relay) Close() error {
	r.stop()
	return r.forwarder.Close()
}

// Confirmer is a publisher that returns from Publish before the broker
// has confirmed (amqpx.ConfirmingPublisher): Confirmed waits for every
// confirm still outstanding.
type Confirmer interface {
	Confirmed(ctx context.Context) error
}

// confirmTimeout bounds the wait for a read's confirms; a broker that
// takes longer has the read published again.
const confirmTimeout = 30 * time.Second

// confirmedOffsets moves the relay's offset only over messages the broker
// has confirmed. watermill-sql reads up to a hundred outbox rows in one
// transaction, hands them to the forwarder one by one, then builds the
// statement that moves the offset past the last one handed over, runs it
// and commits. Building that statement is the one moment between the last
// publish and the commit where the relay can be asked to wait, so the
// confirms are awaited there: if one fails, so does the read, its
// transaction rolls back, the offset stays, and the rows are read and
// published again (at least once, as before; the consumers' inbox absorbs
// the copies). docs/patterns/outbox.md tells the whole story.
type confirmedOffsets struct {
	wsql.OffsetsAdapter
	confirmer Confirmer
}

func (o confirmedOffsets) AckMessageQuery(params wsql.AckMessageQueryParams) (wsql.Query, error) {
	ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
	defer cancel()
	if err := o.confirmer.Confirmed(ctx); err != nil {
		return wsql.Query{}, fmt.Errorf("outbox relay: not moving the offset past unconfirmed messages: %w", err)
	}
	return o.OffsetsAdapter.AckMessageQuery(params)
}

// scope is the instrumentation scope of the outbox's spans.
const scope = "github.com/expenseflow/expenseflow/pkg/outbox"

// tracedPublisher gives each relayed message a producer span. The metadata
// is left as written: a retried publish gets the same parent again.
type tracedPublisher struct {
	message.Publisher
	tracer trace.Tracer
}

func (p tracedPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		ctx := correlation.WithTraceParent(msg.Context(), msg.Metadata.Get(correlation.TraceParentKey))
		_, span := p.tracer.Start(ctx, "publish "+topic, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.destination.name", topic),
			attribute.String("messaging.message.id", msg.UUID)))
		err := p.Publisher.Publish(topic, msg)
		amqpx.EndSpan(span, err)
		if err != nil {
			return err
		}
	}
	return nil
}
