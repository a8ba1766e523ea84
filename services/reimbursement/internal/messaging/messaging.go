// Package messaging is where events enter the reimbursement service: it
// declares the service's queue and hands every approved expense to the
// scheduling use case.
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

// Wire names: the queue, its binding and the handler (also the inbox consumer).
var (
	ExpenseApproved = topology.ReimbursementExpenseApproved
	Subscriptions   = topology.All["reimbursement"]
)

// ScheduleHandler names the handler in dead letters and the inbox.
const ScheduleHandler = "reimbursement.schedule-payout"

// Register adds the consumer to the router.
func Register(r *amqpx.Router, a *app.App) {
	r.Handle(ScheduleHandler, ExpenseApproved, func(ctx context.Context, e events.Event) error {
		approved, ok := e.Payload.(events.ExpenseApprovedV1)
		if !ok { // only a wrong binding can bring anything else here
			return amqpx.Permanent(fmt.Errorf("%s cannot handle %s", ScheduleHandler, e.Type))
		}
		return a.Schedule(ctx, inbox.Key{Consumer: ScheduleHandler, EventID: e.ID}, approved)
	})
}
