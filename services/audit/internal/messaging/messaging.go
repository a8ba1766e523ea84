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

// recordConsumers is how many messages audit handles at once. The log has
// one writer, but appends that arrive together are committed together
// (postgres.Events.Append): with one consumer there is never more than one
// waiting, and the log, which hears every event of the system, becomes the
// system's slowest queue (docs/performance.md). Order among them does not
// matter: the log's order is its own (seq), and a rebuild orders each
// aggregate's events by their sequence.
const recordConsumers = 8

// Register adds the recorder to the router. Unlike the other services it
// uses HandleEnvelope, not Handle, which would decode the data and
// dead-letter types and versions this build does not know: the audit log
// keeps every well-formed event, with every attribute as sent, whether or not
// it understands it. A body that is not an envelope is still dead-lettered.
func Register(r *amqpx.Router, a *app.App) {
	r.HandleEnvelopeConcurrently(recordHandler, AllEvents, recordConsumers, a.Record)
}
