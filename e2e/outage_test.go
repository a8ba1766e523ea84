//go:build brokeroutage

package e2e

import (
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/faults"
	"github.com/expenseflow/expenseflow/pkg/soak"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestRabbitMQStoppedAndStartedMidBurst stops RabbitMQ itself twice while
// claims flow — every connection of every service dropped, publishes and
// acks in flight lost — and starts it again. Commands keep committing into
// the outboxes; relays and consumers reconnect on their own; durable queues
// and persistent messages survive. In the end every flow is paid and the
// invariants hold.
//
// It stops the broker every other test shares, so it is built only with
// -tags brokeroutage and scripts/test.sh runs it on its own, after the rest.
// The broker is started again in a Cleanup whatever happens.
func TestRabbitMQStoppedAndStartedMidBurst(t *testing.T) {
	broker := testinfra.BrokerControl(t)
	s := startStack(t)
	t.Cleanup(func() { // runs before the stack's own clean-up, which needs the broker
		if err := broker.Start(); err != nil {
			t.Errorf("RabbitMQ could not be started again: %v", err)
		}
	})
	res := runSoak(t, s, soak.Config{
		Flows: 100, Concurrency: 8, Sample: 5,
		Faults: []faults.Fault{faults.BrokerOutage(broker, 6*time.Second)}, FaultEvery: 2 * time.Second, FaultRounds: 2,
	})
	if len(res.Faults) != 2 {
		t.Errorf("the broker was stopped %d times, want 2", len(res.Faults))
	}
}
