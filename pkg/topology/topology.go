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

import "github.com/expenseflow/expenseflow/pkg/amqpx"

// Every queue, by consumer. Queue names are wire names: changing one leaves
// the old queue, and whatever waits in it, behind.
var (
	ApprovalExpenseEvents       = amqpx.Subscription{Queue: "approval.expense-events", Patterns: []string{"expense.*.*"}}
	ApprovalReimbursementEvents = amqpx.Subscription{Queue: "approval.reimbursement-events", Patterns: []string{"reimbursement.*.*"}}

	AccountingExpenseApproved   = amqpx.Subscription{Queue: "accounting.expense-approved", Patterns: []string{"expense.approved.*"}}
	AccountingReimbursementPaid = amqpx.Subscription{Queue: "accounting.reimbursement-paid", Patterns: []string{"reimbursement.paid.*"}}

	ReimbursementExpenseApproved = amqpx.Subscription{Queue: "reimbursement.expense-approved", Patterns: []string{"expense.approved.*"}}

	NotificationEvents = amqpx.Subscription{Queue: "notification.events", Patterns: []string{"expense.*.*", "reimbursement.*.*"}}

	AuditAllEvents = amqpx.Subscription{Queue: "audit.all-events", Patterns: []string{"#"}}
)

// All is the whole topology: each service and the queues it consumes.
var All = amqpx.Topology{
	"approval":      {ApprovalExpenseEvents, ApprovalReimbursementEvents},
	"accounting":    {AccountingExpenseApproved, AccountingReimbursementPaid},
	"reimbursement": {ReimbursementExpenseApproved},
	"notification":  {NotificationEvents},
	"audit":         {AuditAllEvents},
}
