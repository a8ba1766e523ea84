// Package live is the console's window on the bus: every event published
// to the events exchange, handed within a second to the browsers watching
// the claim it is about.
//
// It is a view, not a consumer of record, and is built to be one:
//
//   - its queue is the console's own, server-lifetime only (exclusive,
//     auto-delete, not durable, bounded in length and age), so a console
//     that stops or falls behind costs the broker nothing and the services
//     nothing;
//   - messages are acknowledged on delivery (no-ack): one lost on the way
//     to a browser is not a lost effect, because no effect rides on it.
//     The browser re-reads the claim from its owners whenever a message
//     arrives and whenever its stream reconnects, so a missed message
//     delays what it sees and never makes it wrong;
//   - it believes an event only from the service that owns its type, as
//     every consumer does (events.CheckPublisher): a forged event never
//     reaches a learner's screen either.
//
// See docs/patterns/eventual-consistency-ux.md.
package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// QueuePrefix names the console's live queues; the console's broker user
// may create, bind and read only queues with this prefix (pkg/topology).
const QueuePrefix = topology.ConsoleQueuePrefix

// Bounds on the live queue: a console that cannot keep up loses the oldest
// messages (the broker's default overflow, drop-head), never the broker's
// memory.
const (
	maxQueued = 10_000
	maxAge    = 60 * time.Second
)

// Message is one event on the bus, as a viewer gets it.
type Message struct {
	Type      string
	ExpenseID string
	Envelope  json.RawMessage // as published
}

// bufferPerViewer is how many messages one browser may be behind before
// the feed drops the next ones for it (it re-reads state anyway).
const bufferPerViewer = 64

type viewer struct {
	expenseID string
	ch        chan Message
	dropped   atomic.Int64
}

// Feed reads the bus and fans each event out to the viewers of its claim.
type Feed struct {
	url       string
	log       *slog.Logger
	connected atomic.Bool

	mu      sync.Mutex
	viewers map[*viewer]struct{}
}

// New returns a feed that connects to the broker at url when it runs.
func New(url string, log *slog.Logger) *Feed {
	return &Feed{url: url, log: log, viewers: map[*viewer]struct{}{}}
}

// Watch returns the events about expenseID from now on, and a function that
// stops watching. A viewer that falls behind loses messages, not the feed.
func (f *Feed) Watch(expenseID string) (<-chan Message, func()) {
	v := &viewer{expenseID: expenseID, ch: make(chan Message, bufferPerViewer)}
	f.mu.Lock()
	f.viewers[v] = struct{}{}
	f.mu.Unlock()
	return v.ch, func() {
		f.mu.Lock()
		delete(f.viewers, v)
		f.mu.Unlock()
	}
}

// Ready reports whether the feed is connected: /readyz says so.
func (f *Feed) Ready(context.Context) error {
	if !f.connected.Load() {
		return errors.New("the live feed is not connected to the broker")
	}
	return nil
}

// Run reads the bus until ctx ends, reconnecting with a growing pause when
// the broker goes away (each connection gets a fresh queue: what was
// published in between is gone from the feed, and the browsers re-read).
func (f *Feed) Run(ctx context.Context) error {
	pause := 500 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := f.session(ctx)
		f.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			pause = 500 * time.Millisecond
		}
		f.log.Warn("live feed disconnected; reconnecting", "error", err, "in", pause)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 15*time.Second)
	}
	return nil
}

// session is one connection: a fresh queue bound to every event, consumed
// until the connection or ctx ends.
func (f *Feed) session(ctx context.Context) error {
	conn, err := amqp.Dial(f.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	queue := QueuePrefix + hex.EncodeToString(suffix)
	if _, err := ch.QueueDeclare(queue, false, true, true, false, amqp.Table{
		"x-max-length": int32(maxQueued), "x-message-ttl": int32(maxAge / time.Millisecond),
	}); err != nil {
		return fmt.Errorf("declare %s: %w", queue, err)
	}
	if err := ch.QueueBind(queue, "#", amqpx.EventsExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", queue, err)
	}
	deliveries, err := ch.Consume(queue, "", true, true, false, false, nil)
	if err != nil {
		return err
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	f.connected.Store(true)
	f.log.Info("live feed connected", "queue", queue)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-closed:
			return err
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("deliveries ended")
			}
			f.deliver(d)
		}
	}
}

// deliver checks one event and hands it to the viewers of its claim.
func (f *Feed) deliver(d amqp.Delivery) {
	env, err := events.ParseEnvelope(d.Body)
	if err != nil {
		f.log.Warn("live feed: not an event envelope, not shown", "message_id", d.MessageId, "error", err)
		return
	}
	if err := events.CheckPublisher(env.Type, d.UserId); err != nil {
		f.log.Warn("live feed: forged event, not shown", "event_id", env.ID, "type", env.Type, "error", err)
		return
	}
	m := Message{Type: env.Type, ExpenseID: env.ExpenseID(), Envelope: d.Body}
	if m.ExpenseID == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for v := range f.viewers {
		if v.expenseID != m.ExpenseID {
			continue
		}
		select {
		case v.ch <- m:
		default:
			v.dropped.Add(1) // the browser is behind; it re-reads state on the next message it gets
		}
	}
}
