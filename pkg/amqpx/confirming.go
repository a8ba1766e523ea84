package amqpx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ConfirmingPublisher is the outbox relay's publisher: it hands each message
// to the broker without waiting for its confirm, and Confirmed waits for
// the confirms of everything handed over since the last call.
//
// Watermill's AMQP publisher waits for every message's confirm inside
// Publish. A confirm comes once the message is safely on disk, so with one
// message in flight the broker syncs once per message; measured with no
// service behind the broker (make bench-broker), confirms awaited fifty at
// a time halve RabbitMQ's CPU per flow. The guarantee does not change as
// long as the relay moves its offset only after Confirmed (the outbox
// package does): a message whose confirm never comes is published again,
// and the consumers' inbox absorbs the copy.
//
// Order: one connection and one channel, in confirm mode, and AMQP keeps a
// channel's messages in order. When the channel is lost with messages not
// yet confirmed, the next channel sends those again first, before anything
// newer: a later message never overtakes an earlier one that may not have
// reached the broker. (A message the broker itself refuses with a nack, an
// internal error of the broker, is published again only after the later
// ones; consumers keep their own order by each event's sequence.)
type ConfirmingPublisher struct {
	url     string
	marshal marshaler

	mu       sync.Mutex
	conn     *amqp.Connection
	ch       *amqp.Channel
	inFlight []*inFlight // handed over since the last Confirmed, in order

	closed    chan struct{} // closed by Close: ends keepConnected
	closeOnce sync.Once
	// up is whether a channel is open, readable without the lock: a dial
	// holds the lock for as long as an unreachable broker takes to time
	// out, and a readiness probe must not wait that long.
	up atomic.Bool
}

// inFlight is a message handed to the broker and its confirm to come.
type inFlight struct {
	exchange, key string
	msg           amqp.Publishing
	confirm       *amqp.DeferredConfirmation
}

// NewConfirmingPublisher returns a publisher to the events exchange (or,
// for a command, the commands exchange) as cfg's broker user, connecting
// now so a broker that is down is noticed at start.
func NewConfirmingPublisher(cfg Config) (*ConfirmingPublisher, error) {
	p := &ConfirmingPublisher{url: cfg.URL, marshal: marshaler{user: UserOf(cfg.URL)}, closed: make(chan struct{})}
	p.mu.Lock()
	_, err := p.channel(context.Background())
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go p.keepConnected()
	return p, nil
}

// reconnectEvery is how often keepConnected tries to dial a broker that
// is gone.
const reconnectEvery = time.Second

// keepConnected opens a channel again whenever it or its connection is
// lost, until Close.
func (p *ConfirmingPublisher) keepConnected() {
	for {
		p.mu.Lock()
		ch, err := p.channel(context.Background())
		conn := p.conn
		p.mu.Unlock()
		if err != nil {
			select {
			case <-p.closed:
				return
			case <-time.After(reconnectEvery):
			}
			continue
		}
		// Each is closed at once if what it watches already is.
		connLost := conn.NotifyClose(make(chan *amqp.Error, 1))
		chLost := ch.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case <-p.closed:
			return
		case reason := <-connLost:
			_ = reason // the broker's reason, or nil for our own close: either way, open again
		case reason := <-chLost:
			_ = reason
		}
	}
}

// Publish hands msgs to the broker, the topic as routing key, and returns
// without waiting for their confirms.
func (p *ConfirmingPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, msg := range msgs {
		pub, err := p.marshal.Marshal(msg)
		if err != nil {
			return err
		}
		m := &inFlight{exchange: exchangeOf(topic), key: topic, msg: pub}
		ch, err := p.channel(msg.Context())
		if err != nil {
			return err
		}
		if err := p.send(msg.Context(), ch, m); err != nil {
			return fmt.Errorf("publish %s: %w", msg.UUID, err)
		}
		p.inFlight = append(p.inFlight, m)
	}
	return nil
}

// ErrNotConfirmed is returned by Confirmed when the broker refused a
// message (a nack) or the channel closed before every confirm came.
var ErrNotConfirmed = errors.New("amqp: the broker did not confirm every message")

// Confirmed waits until the broker has confirmed every message published
// since the last call, or ctx ends. If one is not confirmed, the caller
// must publish them all again: they are forgotten here either way.
func (p *ConfirmingPublisher) Confirmed(ctx context.Context) error {
	p.mu.Lock()
	inFlight := p.inFlight
	p.inFlight = nil
	p.mu.Unlock() // a readiness check need not wait for the broker's disk
	for _, m := range inFlight {
		ok, err := m.confirm.WaitContext(ctx)
		if err != nil || !ok {
			return errors.Join(ErrNotConfirmed, err)
		}
	}
	return nil
}

// Ready reports whether the connection is up.
func (p *ConfirmingPublisher) Ready() error {
	if !p.up.Load() {
		return errors.New("amqp: the relay's publisher is not connected")
	}
	return nil
}

// Close closes the connection. Messages not yet confirmed stay unconfirmed.
func (p *ConfirmingPublisher) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset()
	return nil
}

// channel returns the open channel, or dials and opens one and first sends
// again, in order, every message in flight that the lost channel did not
// see confirmed.
func (p *ConfirmingPublisher) channel(ctx context.Context) (*amqp.Channel, error) {
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	p.reset()
	select {
	case <-p.closed:
		return nil, errors.New("amqp: the relay's publisher is closed")
	default:
	}
	conn, err := amqp.Dial(p.url)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	p.conn, p.ch = conn, ch
	p.up.Store(true)
	for _, m := range p.inFlight {
		if confirmed(m.confirm) {
			continue
		}
		if err := p.send(ctx, ch, m); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// send publishes m on ch, closing the connection if that fails.
func (p *ConfirmingPublisher) send(ctx context.Context, ch *amqp.Channel, m *inFlight) error {
	c, err := ch.PublishWithDeferredConfirmWithContext(ctx, m.exchange, m.key, false, false, m.msg)
	if err != nil {
		p.reset()
		return err
	}
	m.confirm = c
	return nil
}

// confirmed reports whether c has come back as an ack already.
func confirmed(c *amqp.DeferredConfirmation) bool {
	select {
	case <-c.Done():
		return c.Acked()
	default:
		return false
	}
}

// reset closes the connection, if any; its channel's pending confirms
// resolve as not confirmed.
func (p *ConfirmingPublisher) reset() {
	if p.conn != nil {
		_ = p.conn.Close()
	}
	p.conn, p.ch = nil, nil
	p.up.Store(false)
}
