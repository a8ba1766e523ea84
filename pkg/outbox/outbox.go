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
	"embed"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
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
func Publish(ctx context.Context, tx *gorm.DB, envs ...events.Envelope) error {
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
		body, err := events.Encode(env)
		if err != nil {
			return err
		}
		msg := message.NewMessage(env.ID, body)
		msg.Metadata.Set(CorrelationIDKey, env.CorrelationID)
		msg.SetContext(ctx)
		if err := pub.Publish(env.Type, msg); err != nil {
			return err
		}
	}
	return nil
}

// NewRelay returns the forwarder that moves committed outbox messages to out
// (the RabbitMQ publisher). It retries a failed publish forever, in order:
// while the broker is unreachable, events wait in the table.
func NewRelay(db *gorm.DB, out message.Publisher, log *slog.Logger) (*forwarder.Forwarder, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	wlog := amqpx.WatermillLogger(log, "outbox-relay")
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(sqlDB), wsql.SubscriberConfig{
		ConsumerGroup:  relayGroup,
		PollInterval:   100 * time.Millisecond,
		ResendInterval: time.Second,
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
	}, wlog)
	if err != nil {
		return nil, err
	}
	return forwarder.NewForwarder(sub, out, wlog, forwarder.Config{ForwarderTopic: topic, HandlerName: "outbox-relay"})
}
