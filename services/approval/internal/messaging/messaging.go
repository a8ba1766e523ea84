// Package messaging is where events enter the approval service: it declares
// the service's queues and hands every decoded event to the projection.
package messaging

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
)

// Wire names: queues, their bindings and the handler (also the inbox consumer).
var (
	ExpenseEvents       = topology.ApprovalExpenseEvents
	ReimbursementEvents = topology.ApprovalReimbursementEvents
	Subscriptions       = topology.All["approval"]
)

// Register adds the projection's consumers to the router.
func Register(r *amqpx.Router, a *app.App) {
	project := func(ctx context.Context, e events.Event) error {
		// One inbox consumer for both queues: it names the projection, and
		// an event id is unique whatever queue brought it.
		return a.Project(ctx, inbox.Key{Consumer: app.ProjectionName, EventID: e.ID}, e)
	}
	r.Handle(app.ProjectionName+".expense", ExpenseEvents, project)
	r.Handle(app.ProjectionName+".reimbursement", ReimbursementEvents, project)
}
