// Package topology is the map of the bus: every service's queues and the
// routing-key patterns bound to them, in one table. brokersetup declares
// all of it for a vhost before any service starts, so an event published
// while its consumer has never run waits in that consumer's queue; each
// service's messaging package names its own queues from here.
//
// A consumer binds ".*" on the version (or "#"), so it receives versions it
// does not know yet: they reach its dead-letter queue, for a replay after an
// upgrade, instead of vanishing.
package topology

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Every queue, by consumer. Queue names are wire names: changing one leaves
// the old queue, and whatever waits in it, behind.
var (
	ApprovalExpenseEvents       = amqpx.Subscription{Queue: "approval.expense-events", Patterns: []string{"expense.*.*"}}
	ApprovalReimbursementEvents = amqpx.Subscription{Queue: "approval.reimbursement-events", Patterns: []string{"reimbursement.*.*"}}
	// The void orchestrator's replies: reimbursement's answer to a stop,
	// and accounting's entries (of which it keeps the reversals and
	// recoveries).
	ApprovalVoidReplies = amqpx.Subscription{Queue: "approval.void-replies",
		Patterns: []string{"reimbursement.cancelled.*", "reimbursement.cancellation_declined.*", "ledger.entry_posted.*"}}

	AccountingExpenseApproved   = amqpx.Subscription{Queue: "accounting.expense-approved", Patterns: []string{"expense.approved.*"}}
	AccountingReimbursementPaid = amqpx.Subscription{Queue: "accounting.reimbursement-paid", Patterns: []string{"reimbursement.paid.*"}}

	ReimbursementExpenseApproved = amqpx.Subscription{Queue: "reimbursement.expense-approved", Patterns: []string{"expense.approved.*"}}

	NotificationEvents = amqpx.Subscription{Queue: "notification.events", Patterns: []string{"expense.*.*", "reimbursement.*.*", "webhook.*.*"}}

	AuditAllEvents = amqpx.Subscription{Queue: "audit.all-events", Patterns: []string{"#"}}

	// The events finance's endpoints subscribe to (services/webhooks): any
	// of these families, but bound by the webhooks service itself to what
	// its endpoints want, so that with no endpoint nothing is delivered.
	WebhooksEvents = amqpx.Subscription{Queue: "webhooks.events", Patterns: []string{"expense.*.*", "reimbursement.*.*", "ledger.*.*"},
		BoundByConsumer: true}

	// Commands: each service's queue on the commands exchange, bound to
	// exactly the commands (and versions) it handles.
	ReimbursementCommands = amqpx.Subscription{Queue: "reimbursement.commands", Exchange: amqpx.CommandsExchange,
		Patterns: []string{events.StopPayoutV1Type}}
	AccountingCommands = amqpx.Subscription{Queue: "accounting.commands", Exchange: amqpx.CommandsExchange,
		Patterns: []string{events.PostVoidEntryV1Type}}
)

// All is the whole topology: each service and the queues it consumes.
var All = amqpx.Topology{
	"approval":      {ApprovalExpenseEvents, ApprovalReimbursementEvents, ApprovalVoidReplies},
	"accounting":    {AccountingExpenseApproved, AccountingReimbursementPaid, AccountingCommands},
	"reimbursement": {ReimbursementExpenseApproved, ReimbursementCommands},
	"notification":  {NotificationEvents},
	"audit":         {AuditAllEvents},
	"webhooks":      {WebhooksEvents},
}

// Operator is the broker user of the people who look after the bus: the
// deadletters tool reads dead letters and replays them as it.
const Operator = amqpx.Operator

// Users is every broker identity and what it may do in a vhost: a user per
// service, named after it, and the operator. brokersetup creates them (or
// renders them for RabbitMQ's definitions file and for the Messaging
// Topology Operator); docs/security.md explains the model.
//
// A service may declare and read only its own queues (brokersetup declares
// them; a service only checks, passively, which needs no permission, but
// may redeclare what is its own), write only to the events exchange (and
// there only the routing keys of the events it owns), to the dead-letter
// exchange and, if it sends commands, to the commands exchange (a direct
// exchange has no topic permissions: the receiving consumer checks that
// the sender is the one events.Owner names). It can configure no exchange and no binding,
// except that the consumer of a queue BoundByConsumer may bind that queue
// to its exchange (write on the queue, read on the exchange). The
// operator may read every dead-letter queue and the unrouted queue, and
// write to the default exchange, through which a replay goes straight back
// to the queue a letter failed in, naming the letter's original publisher.
func Users() []amqpx.User {
	var users []amqpx.User
	for _, service := range slices.Sorted(maps.Keys(All)) {
		var queues []string
		for _, s := range All[service] {
			queues = append(queues, s.Queue)
		}
		var write []string
		if keys := events.OwnedRoutingKeys(service); len(keys) > 0 {
			write = append(write, amqpx.EventsExchange)
		}
		if events.SendsCommands(service) { // approval's void orchestrator
			write = append(write, amqpx.CommandsExchange)
		}
		write, read := append(write, amqpx.DeadLetterExchange), queues
		var families []string // the first words of what it may bind itself
		for _, s := range All[service] {
			if s.BoundByConsumer { // binding takes write on the queue, read on the exchange
				write, read = append(write, s.Queue), append(read, s.BoundTo())
				for _, p := range s.Patterns {
					first, _, _ := strings.Cut(p, ".")
					families = append(families, first+".")
				}
			}
		}
		u := amqpx.User{Name: service, Configure: amqpx.OneOf(queues...), Read: amqpx.OneOf(read...), Write: amqpx.OneOf(write...)}
		if len(families) > 0 {
			u.Bind = amqpx.StartsWith(families...)
		}
		if keys := events.OwnedRoutingKeys(service); len(keys) > 0 {
			u.Publish = amqpx.StartsWith(keys...)
		}
		users = append(users, u)
	}
	// Every service's dead-letter queue, present and future, and the
	// unrouted queue.
	readable := `^([a-z0-9-]+` + regexp.QuoteMeta(amqpx.DeadLetterQueue("")) + `|` + regexp.QuoteMeta(amqpx.UnroutedQueue) + `)$`
	users = append(users, amqpx.User{
		Name:      Operator,
		Configure: amqpx.Nothing, Write: amqpx.OneOf("amq.default"), Read: readable,
	})
	// The console watches the bus through a queue of its own per process,
	// which lives as long as its connection: it may create such queues,
	// bind them (write on the queue, read on the exchange) and consume
	// them, and publish nothing anywhere. Tagged monitoring, it may read
	// queue depths from the management API.
	live := amqpx.StartsWith(ConsoleQueuePrefix)
	return append(users, amqpx.User{
		Name: Console, Tags: []string{"monitoring"},
		Configure: live, Write: live,
		Read: `^(` + regexp.QuoteMeta(amqpx.EventsExchange) + `$|` + regexp.QuoteMeta(ConsoleQueuePrefix) + `)`,
	})
}

// Console is the console's broker user, and ConsoleQueuePrefix names its
// live queues (services/console/internal/live).
const (
	Console            = "console"
	ConsoleQueuePrefix = "console.live."
)

// DevPassword is the password of a broker user in development setups
// (make run, the tests, docker compose, the k8s dev overlay): public, in
// git, on purpose. Anything else supplies its own.
func DevPassword(user string) string { return "DEV-ONLY-" + user }

// K8sSecretName is the Kubernetes Secret holding a broker user's
// credentials (username, password), e.g. expenseflow-broker-approval: its
// User resource imports them, and the service builds its AMQP_URL from them.
func K8sSecretName(user string) string {
	return "expenseflow-broker-" + strings.TrimPrefix(user, "expenseflow-")
}
