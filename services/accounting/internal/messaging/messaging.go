// Package messaging is where events and commands enter the accounting
// service: it hands each decoded message to its posting use case.
package messaging

import (
	"context"
	"fmt"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/accounting/internal/app"
)

// Wire names: the queues and their bindings.
var (
	ExpenseApproved   = topology.AccountingExpenseApproved
	ReimbursementPaid = topology.AccountingReimbursementPaid
	Commands          = topology.AccountingCommands
	Subscriptions     = topology.All["accounting"]
)

// Wire names: the handlers, which are also the inbox consumer names.
const (
	ApprovalPostingHandler   = "accounting.post-approval"
	SettlementPostingHandler = "accounting.post-settlement"
	VoidPostingHandler       = "accounting.post-void-entry"
)

// Register adds the posting consumers to the router.
func Register(r *amqpx.Router, a *app.App) {
	r.Handle(ApprovalPostingHandler, ExpenseApproved, handler(ApprovalPostingHandler, a.PostApproval))
	r.Handle(SettlementPostingHandler, ReimbursementPaid, handler(SettlementPostingHandler, a.PostSettlement))
	// A command from approval's void orchestrator (the router checks that
	// approval sent it).
	r.Handle(VoidPostingHandler, Commands, handler(VoidPostingHandler, a.PostVoidEntry))
}

// handler adapts a posting use case for payload P to the router. Two failures
// are permanent and go straight to the dead-letter queue: an event of another
// type on this queue (a producer used the wrong routing key), and a Conflict,
// meaning the expense already has this kind of entry from a different event.
// Retrying cannot help with either, and silently dropping the second posting
// could hide a real double payment: a person has to look at it.
func handler[P events.Payload](name string, post func(context.Context, inbox.Key, P) error) amqpx.EventHandler {
	return func(ctx context.Context, e events.Event) error {
		p, ok := e.Payload.(P)
		if !ok {
			return amqpx.Permanent(fmt.Errorf("%s cannot post a %s event", name, e.Type))
		}
		err := post(ctx, inbox.Key{Consumer: name, EventID: e.ID}, p)
		if apperr.KindOf(err) == apperr.Conflict {
			return amqpx.Permanent(err)
		}
		return err
	}
}
