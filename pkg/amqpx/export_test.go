package amqpx

import "context"

// Settled waits until every message in flight has its confirm (an ack or a
// nack), without taking them as Confirmed does.
func (p *ConfirmingPublisher) Settled(ctx context.Context) error {
	p.mu.Lock()
	inFlight := append([]*inFlight(nil), p.inFlight...)
	p.mu.Unlock()
	for _, m := range inFlight {
		if _, err := m.confirm.WaitContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// LoseChannel closes the connection, as a network failure would.
func (p *ConfirmingPublisher) LoseChannel() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset()
}
