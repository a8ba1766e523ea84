package topology_test

import (
	"regexp"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// TestUsersMayDoWhatTheirServiceDoesAndNoMore checks the permission
// table by the names it must and must not match (RabbitMQ's regexes are
// PCRE; these patterns mean the same in Go's syntax).
func TestUsersMayDoWhatTheirServiceDoesAndNoMore(t *testing.T) {
	users := map[string]amqpx.User{}
	for _, u := range topology.Users() {
		users[u.Name] = u
	}
	cases := []struct {
		user, what, pattern, name string
		want                      bool
	}{
		{"approval", "publish", users["approval"].Publish, "expense.approved.v1", true},
		{"approval", "publish", users["approval"].Publish, "reimbursement.paid.v1", false},
		{"approval", "publish", users["approval"].Publish, "expenses.approved.v1", false},
		{"reimbursement", "publish", users["reimbursement"].Publish, "reimbursement.paid.v1", true},
		{"reimbursement", "publish", users["reimbursement"].Publish, "expense.approved.v1", false},
		{"accounting", "publish", users["accounting"].Publish, "ledger.entry_posted.v1", true},
		{"accounting", "read", users["accounting"].Read, "accounting.expense-approved", true},
		{"accounting", "read", users["accounting"].Read, "reimbursement.expense-approved", false},
		{"accounting", "read", users["accounting"].Read, "accounting.dead-letters", false},
		{"accounting", "write", users["accounting"].Write, amqpx.EventsExchange, true},
		{"accounting", "write", users["accounting"].Write, "amq.default", false},
		{"accounting", "write", users["accounting"].Write, amqpx.CommandsExchange, false},
		{"approval", "write", users["approval"].Write, amqpx.CommandsExchange, true},
		{"reimbursement", "read", users["reimbursement"].Read, "reimbursement.commands", true},
		{"reimbursement", "read", users["reimbursement"].Read, "accounting.commands", false},
		{"audit", "write", users["audit"].Write, amqpx.EventsExchange, false},
		{"audit", "write", users["audit"].Write, amqpx.DeadLetterExchange, true},
		{"notification", "configure", users["notification"].Configure, "notification.events", true},
		{"notification", "configure", users["notification"].Configure, "audit.all-events", false},
		{"notification", "configure", users["notification"].Configure, amqpx.EventsExchange, false},
		{topology.Operator, "write", users[topology.Operator].Write, "amq.default", true},
		{topology.Operator, "write", users[topology.Operator].Write, amqpx.EventsExchange, false},
		{topology.Operator, "read", users[topology.Operator].Read, "audit.dead-letters", true},
		{topology.Operator, "read", users[topology.Operator].Read, "audit.all-events", false},
		{topology.Console, "configure", users[topology.Console].Configure, "console.live.3f2a", true},
		{topology.Console, "configure", users[topology.Console].Configure, "audit.all-events", false},
		{topology.Console, "configure", users[topology.Console].Configure, amqpx.EventsExchange, false},
		{topology.Console, "write", users[topology.Console].Write, "console.live.3f2a", true},
		{topology.Console, "write", users[topology.Console].Write, amqpx.EventsExchange, false},
		{topology.Console, "write", users[topology.Console].Write, "amq.default", false},
		{topology.Console, "read", users[topology.Console].Read, amqpx.EventsExchange, true},
		{topology.Console, "read", users[topology.Console].Read, "console.live.3f2a", true},
		{topology.Console, "read", users[topology.Console].Read, "audit.dead-letters", false},
		{topology.Console, "read", users[topology.Console].Read, "expenseflow.events.x", false},
	}
	for _, c := range cases {
		if got := regexp.MustCompile(c.pattern).MatchString(c.name); got != c.want {
			t.Errorf("%s may %s %s: %v, want %v (pattern %q)", c.user, c.what, c.name, got, c.want, c.pattern)
		}
	}
	if len(users) != len(topology.All)+2 {
		t.Errorf("%d users for %d services, the operator and the console", len(users), len(topology.All))
	}
	if users["audit"].Publish != "" || users["notification"].Publish != "" {
		t.Error("a service that owns no event type may publish events")
	}
}
