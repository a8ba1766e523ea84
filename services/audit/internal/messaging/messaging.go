// Package messaging is where events enter the audit service: one queue bound
// to everything on the events exchange, every message handed to Record.
package messaging

import (
	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/audit/internal/app"
)

// Wire names: the queue, its binding ("#": every routing key) and the handler.
var (
	AllEvents     = topology.AuditAllEvents
	Subscriptions = topology.All["audit"]
)

const recordHandler = "audit.record"

// Register adds the recorder to the router. Unlike the other services it
// uses HandleEnvelope, not Handle, which would decode the data and
// dead-letter types and versions this build does not know: the audit log
// keeps every well-formed event, with every attribute as sent, whether or not
// it understands it. A body that is not an envelope is still dead-lettered.
func Register(r *amqpx.Router, a *app.App) {
	r.HandleEnvelope(recordHandler, AllEvents, a.Record)
}
