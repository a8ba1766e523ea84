package outbox_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace/noop"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// An idle relay polls once a minute here, so an event that arrives within
// seconds of its commit was fetched because the commit woke the relay.
// That must hold from the start, and again after the relay's listening
// connection is killed (it listens again; meanwhile it polls).
func TestACommitWakesTheRelay(t *testing.T) {
	const poll = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := postgres.Open(ctx, testinfra.Database(t, "outbox"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, db, outbox.Migrations); err != nil {
		t.Fatal(err)
	}
	// The relay's destination: the wake-up under test is PostgreSQL's; what
	// the relay publishes to plays no part in it.
	bus := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	const routingKey = "expense.submitted.v1"
	arrived, err := bus.Subscribe(ctx, routingKey)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, bus, poll, slog.New(slog.DiscardHandler), noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = relay.Run(ctx) }()
	defer relay.Close()

	commit := func() string {
		t.Helper()
		env := testEnvelope(t, routingKey)
		if err := db.Transaction(func(tx *gorm.DB) error { return outbox.Publish(ctx, tx, env) }); err != nil {
			t.Fatal(err)
		}
		return env.ID
	}
	relayed := func(id, when string) {
		t.Helper()
		select {
		case msg := <-arrived:
			msg.Ack()
			if msg.UUID != id {
				t.Fatalf("%s: relayed %s, want %s", when, msg.UUID, id)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: not relayed within 15 s: the commit did not wake the relay (it polls every %s)", when, poll)
		}
	}

	// The relay's first query finds the outbox empty; give it the moment
	// it takes to start waiting, so that the commit below is one it waits
	// for, not one its first query happens to find.
	waitIdle(t, db)
	relayed(commit(), "first event")
	relayed(commit(), "second event")

	// Kill the listening connection: the relay listens again (after a
	// second), and what commits after that wakes it as before.
	killed := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
	if killed.Error != nil || killed.RowsAffected != 1 {
		t.Fatalf("killing the listener: %v (%d rows)", killed.Error, killed.RowsAffected)
	}
	testinfra.Eventually(t, 15*time.Second, "the relay listens again", func() bool { return listening(db) })
	relayed(commit(), "after the listener was killed")
}

// waitIdle waits until the relay has looked at the outbox at least once.
func waitIdle(t *testing.T, db *gorm.DB) {
	t.Helper()
	testinfra.Eventually(t, 15*time.Second, "the relay is listening", func() bool { return listening(db) })
	time.Sleep(200 * time.Millisecond)
}

// listening reports whether one connection of the database is in LISTEN:
// the relay's (its last statement stays in pg_stat_activity while it waits).
func listening(db *gorm.DB) bool {
	var n int
	db.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&n)
	return n == 1
}

func testEnvelope(t *testing.T, eventType string) events.Envelope {
	t.Helper()
	return events.Envelope{SpecVersion: "1.0", ID: uuid.NewString(), Type: eventType, Source: events.SourceApproval,
		Subject: uuid.NewString(), Time: time.Now(), DataContentType: "application/json", CorrelationID: uuid.NewString(),
		Sequence: 1, Data: []byte(`{}`)}
}
