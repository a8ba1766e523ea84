// Package correlation carries the ids that tie one business flow together
// across HTTP requests, outbox rows, broker hops and log lines.
//
// The correlation id is minted where a flow enters the system (the first HTTP
// request) and copied unchanged onto every event caused by it; the causation id
// is the id of the message that directly caused the current work; traceparent is
// the W3C trace context, passed along verbatim.
package correlation

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// IDs are the flow identifiers in scope for one unit of work.
type IDs struct {
	CorrelationID string
	CausationID   string
	TraceParent   string
}

type ctxKey struct{}

// With returns ctx carrying ids.
func With(ctx context.Context, ids IDs) context.Context {
	return context.WithValue(ctx, ctxKey{}, ids)
}

// From returns the ids in ctx, or the zero value.
func From(ctx context.Context) IDs {
	ids, _ := ctx.Value(ctxKey{}).(IDs)
	return ids
}

// Stamp fills the flow ids of an event about to be emitted from ctx: the
// same correlation id as the flow, and the message (or request) that caused
// it as causation id.
func Stamp(ctx context.Context, m events.Meta) events.Meta {
	ids := From(ctx)
	m.CorrelationID, m.CausationID, m.TraceParent = ids.CorrelationID, ids.CausationID, ids.TraceParent
	if m.CorrelationID == "" {
		m.CorrelationID = m.ID // a flow that starts here (e.g. a timer)
	}
	return m
}
