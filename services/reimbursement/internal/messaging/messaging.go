// Package messaging is where events and commands enter the reimbursement
// service: every approved expense goes to the scheduling use case, every
// stop request (a void) to StopPayout.
package messaging

import (
	"context"
	"fmt"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/app"
)

// Wire names: the queues, their bindings and the handlers (also the inbox consumers).
var (
	ExpenseApproved = topology.ReimbursementExpenseApproved
	Commands        = topology.ReimbursementCommands
	Subscriptions   = topology.All["reimbursement"]
)

// stopConsumers is how many stop requests are handled at once.
const stopConsumers = 8

// Handler names, in dead letters and the inbox.
const (
	ScheduleHandler   = "reimbursement.schedule-payout"
	StopPayoutHandler = "reimbursement.stop-payout"
)

// Register adds the consumer to the router.
func Register(r *amqpx.Router, a *app.App) {
	r.Handle(ScheduleHandler, ExpenseApproved, func(ctx context.Context, e events.Event) error {
		approved, ok := e.Payload.(events.ExpenseApprovedV1)
		if !ok { // only a wrong binding can bring anything else here
			return amqpx.Permanent(fmt.Errorf("%s cannot handle %s", ScheduleHandler, e.Type))
		}
		return a.Schedule(ctx, inbox.Key{Consumer: ScheduleHandler, EventID: e.ID}, approved)
	})
	// Commands from approval's void orchestrator (the router has checked
	// that approval sent it). A stop waits, retried, while a payment of its
	// reimbursement is in flight; several consumers keep that wait from
	// holding up the stops behind it, which need no order among themselves.
	r.HandleConcurrently(StopPayoutHandler, Commands, stopConsumers, func(ctx context.Context, e events.Event) error {
		stop, ok := e.Payload.(events.StopPayoutV1)
		if !ok {
			return amqpx.Permanent(fmt.Errorf("%s cannot handle %s", StopPayoutHandler, e.Type))
		}
		return a.StopPayout(ctx, inbox.Key{Consumer: StopPayoutHandler, EventID: e.ID}, stop)
	})
}
