package e2e

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestBrokerLinkCutMidFlow cuts the network between all five services and
// RabbitMQ in the middle of a burst of approvals and payouts — while outbox
// relays publish and consumers hold unacked messages — and restores it.
// Commands keep committing (the outbox holds their events), the services
// reconnect on their own, and in the end nothing is lost or doubled.
func TestBrokerLinkCutMidFlow(t *testing.T) {
	const n = 30
	var link *testinfra.Link
	var proxied string
	s := startStackWith(t, func(amqpURL string) []map[string][]string {
		link, proxied = testinfra.NewLink(t, amqpURL)
		env := map[string][]string{}
		for _, svc := range services {
			env[svc] = []string{"AMQP_URL=" + testinfra.UserURL(proxied, svc)}
		}
		return []map[string][]string{env}
	})
	done := burst(t, s, n, "alice", "bob")
	testinfra.Eventually(t, deadline, "the burst is under way", func() bool {
		return countRows(t, s, "accounting", "SELECT count(*) FROM journal_entries") >= 3
	})
	link.Cut()
	testinfra.Eventually(t, deadline, "commands keep committing while the broker is out of reach", func() bool {
		return countRows(t, s, "approval", "SELECT count(*) FROM watermill_outbox") >= 2*n-10
	})
	link.Restore()
	done()

	testinfra.Eventually(t, 2*deadline, "every approval arrives once the link is back", func() bool {
		return countRows(t, s, "reimbursement", "SELECT count(*) FROM reimbursements") == n &&
			countRows(t, s, "accounting", "SELECT count(*) FROM journal_entries") == n
	})
	payout(t, s)
	s.WaitQuiet()
	s.CheckInvariants(t, nil)
}
