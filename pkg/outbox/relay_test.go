package outbox_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace/noop"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// A transaction that writes to the outbox notifies the relay's channel when
// it commits, not before, and not at all if it rolls back.
func TestTheOutboxNotifiesOnCommit(t *testing.T) {
	ctx := context.Background()
	dsn := testinfra.Database(t, "outbox")
	db := openOutbox(t, dsn)
	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, "LISTEN outbox"); err != nil {
		t.Fatal(err)
	}
	notified := func(within time.Duration) bool {
		ctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		_, err := listener.WaitForNotification(ctx)
		return err == nil
	}

	tx := db.Begin()
	if err := outbox.Publish(ctx, tx, testEnvelope()); err != nil {
		t.Fatal(err)
	}
	if notified(300 * time.Millisecond) {
		t.Fatal("notified before the commit")
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if !notified(5 * time.Second) {
		t.Fatal("not notified after the commit")
	}

	tx = db.Begin()
	if err := outbox.Publish(ctx, tx, testEnvelope()); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if notified(300 * time.Millisecond) {
		t.Fatal("notified for a rollback")
	}
}

// An idle relay that polls once a minute relays an event within seconds
// when notified, also after its listening connection was killed (it listens
// again; meanwhile it polls). The test notifies more than once: the relay
// reads a transaction's events only once every older transaction on the
// server has ended, and other tests' transactions may be open at the first
// wake-up, as other services' are in production (there the poll is the net).
func TestANotificationWakesTheRelay(t *testing.T) {
	const poll = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openOutbox(t, testinfra.Database(t, "outbox"))
	// The relay's destination: the wake-up under test is PostgreSQL's; what
	// the relay publishes to plays no part in it.
	bus := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	arrived, err := bus.Subscribe(ctx, testEventType)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, bus, poll, slog.New(slog.DiscardHandler), noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = relay.Run(ctx) }()
	defer relay.Close()

	relayed := func(when string) {
		t.Helper()
		env := testEnvelope()
		if err := db.Transaction(func(tx *gorm.DB) error { return outbox.Publish(ctx, tx, env) }); err != nil {
			t.Fatal(err)
		}
		nudge := time.NewTicker(200 * time.Millisecond)
		defer nudge.Stop()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case msg := <-arrived:
				msg.Ack()
				if msg.UUID != env.ID {
					t.Fatalf("%s: relayed %s, want %s", when, msg.UUID, env.ID)
				}
				return
			case <-nudge.C:
				db.Exec(`SELECT pg_notify('outbox', '')`)
			case <-deadline:
				t.Fatalf("%s: not relayed within 15 s: notifications do not wake the relay (it polls every %s)", when, poll)
			}
		}
	}

	first := listener(t, db, 0)
	relayed("first event")
	relayed("second event")

	// Kill the listening connection: the relay listens again on another.
	if err := db.Exec(`SELECT pg_terminate_backend(?)`, first).Error; err != nil {
		t.Fatal(err)
	}
	listener(t, db, first)
	relayed("after the listener was killed")
}

// listener waits for the relay's listening connection, other than the
// backend not (0: any), and returns its backend's pid.
func listener(t *testing.T, db *gorm.DB, not int) int {
	t.Helper()
	var pid int
	testinfra.Eventually(t, 15*time.Second, "the relay listens", func() bool {
		pid = 0
		db.Raw(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> ?`, not).Scan(&pid)
		return pid != 0
	})
	return pid
}

func openOutbox(t *testing.T, dsn string) *gorm.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(context.Background(), db, outbox.Migrations); err != nil {
		t.Fatal(err)
	}
	return db
}

const testEventType = "expense.submitted.v1"

func testEnvelope() events.Envelope {
	return events.Envelope{SpecVersion: "1.0", ID: uuid.NewString(), Type: testEventType, Source: events.SourceApproval,
		Subject: uuid.NewString(), Time: time.Now(), DataContentType: "application/json", CorrelationID: uuid.NewString(),
		Sequence: 1, Data: []byte(`{}`)}
}

// unconfirmed is a Confirmer whose first confirms fail, as when the
// broker's channel closes before it confirmed what it was sent.
type unconfirmed struct {
	*gochannel.GoChannel
	failures atomic.Int32 // Confirmed calls still to fail
}

func (u *unconfirmed) Confirmed(context.Context) error {
	if u.failures.Add(-1) >= 0 {
		return errors.New("channel closed before the confirms")
	}
	return nil
}

// A relay whose publisher returns before the broker confirms moves its
// offset only once the confirms are in: when they fail, the same events
// are published again, in the same order, and once confirmed, never again.
func TestTheOffsetWaitsForTheConfirms(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openOutbox(t, testinfra.Database(t, "outbox"))
	// Delivered one by one, each acked before the next: the order seen is
	// the order published.
	bus := &unconfirmed{GoChannel: gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})}
	bus.failures.Store(1)
	arrived, err := bus.Subscribe(ctx, testEventType)
	if err != nil {
		t.Fatal(err)
	}
	var envs []events.Envelope
	for range 5 {
		envs = append(envs, testEnvelope())
	}
	if err := db.Transaction(func(tx *gorm.DB) error { return outbox.Publish(ctx, tx, envs...) }); err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, bus, 50*time.Millisecond, slog.New(slog.DiscardHandler), noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = relay.Run(ctx) }()
	defer relay.Close()

	var got []string
	quiet := time.NewTimer(15 * time.Second)
	for {
		select {
		case msg := <-arrived:
			msg.Ack()
			got = append(got, msg.UUID)
			quiet.Reset(2 * time.Second) // nothing more after the confirmed round
			continue
		case <-quiet.C:
		}
		break
	}
	var want []string
	for range 2 { // the unconfirmed round, then the confirmed one
		for _, env := range envs {
			want = append(want, env.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("relayed %d messages %v,\nwant the five twice, in order: %v", len(got), got, want)
	}
}
