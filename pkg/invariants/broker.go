package invariants

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
)

// Broker is the RabbitMQ management API of one vhost: URL is
// http://user:password@host:15672.
type Broker struct {
	URL   string
	VHost string
}

// Queue is what the management API reports about a queue.
type Queue = amqpx.Queue

// Queues lists the vhost's queues with their depth.
func (b Broker) Queues(ctx context.Context) ([]Queue, error) {
	api, err := amqpx.NewManagement(b.URL)
	if err != nil {
		return nil, err
	}
	return api.Queues(ctx, cmp.Or(b.VHost, "/"))
}

// quietFor is how long every queue must stay empty to count as drained: the
// management API's counters lag by up to a few seconds, and the outbox relays
// poll every 100 ms.
const quietFor = 3 * time.Second

// WaitQuiet waits until every queue of the vhost but the dead-letter queues
// has been empty (nothing ready, nothing unacknowledged) for a few seconds:
// every effect of the events published so far has committed. It gives up
// when ctx ends.
func (b Broker) WaitQuiet(ctx context.Context) error {
	var quietSince time.Time
	var lastErr error
	busy := ""
	for {
		qs, err := b.Queues(ctx)
		lastErr = err
		if err == nil {
			busy = ""
			for _, q := range qs {
				if q.Messages > 0 && !strings.HasSuffix(q.Name, amqpx.DeadLetterQueue("")) {
					busy += fmt.Sprintf(" %s=%d", q.Name, q.Messages)
				}
			}
			switch {
			case busy != "":
				quietSince = time.Time{}
			case quietSince.IsZero():
				quietSince = time.Now()
			case time.Since(quietSince) > quietFor:
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return errors.Join(ctx.Err(), lastErr)
			}
			return fmt.Errorf("queues still busy:%s: %w", busy, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// WaitQuiet waits until the system is quiet: the broker's queues drained
// (Broker.WaitQuiet), and then, with a webhooks database, no webhook
// delivery still pending — the edge is part of the flow, and its last
// effects come after the last message was handled.
func (s Sources) WaitQuiet(ctx context.Context) error {
	if err := s.Broker.WaitQuiet(ctx); err != nil || s.Webhooks == "" {
		return err
	}
	conn, err := pgx.Connect(ctx, s.Webhooks)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var pending int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'`).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d webhook deliveries still pending: %w", pending, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
