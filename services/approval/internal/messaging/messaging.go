// Package messaging is where events enter the approval service: every
// expense and reimbursement event goes to the projection, every reply to a
// void command to the void orchestrator.
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
	VoidReplies         = topology.ApprovalVoidReplies
	Subscriptions       = topology.All["approval"]
)

// projectionConsumers is how many consumers apply each queue's events.
const projectionConsumers = 4

// VoidHandler names the void orchestrator's consumer of replies.
const VoidHandler = "approval.void-orchestrator"

// Register adds the projection's consumers to the router.
func Register(r *amqpx.Router, a *app.App) {
	project := func(ctx context.Context, e events.Event) error {
		// One inbox consumer for both queues: it names the projection, and
		// an event id is unique whatever queue brought it.
		return a.Project(ctx, inbox.Key{Consumer: app.ProjectionName, EventID: e.ID}, e)
	}
	// The projection is order-tolerant (app.Project: any order of a
	// claim's events, with duplicates, gives the same row, and the row is
	// locked while an event is applied), so several consumers may apply
	// events side by side: measured, one consumer per queue was where the
	// backlog built (docs/performance.md, "Lever 2").
	r.HandleConcurrently(app.ProjectionName+".expense", ExpenseEvents, projectionConsumers, project)
	r.HandleConcurrently(app.ProjectionName+".reimbursement", ReimbursementEvents, projectionConsumers, project)
	r.Handle(VoidHandler, VoidReplies, func(ctx context.Context, e events.Event) error {
		return a.OnVoidReply(ctx, inbox.Key{Consumer: VoidHandler, EventID: e.ID}, e)
	})
}
