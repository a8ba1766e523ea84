// Package correlation carries the ids that tie one business flow together
// across HTTP requests, outbox rows, broker hops and log lines.
//
// The correlation id is minted where a flow enters the system (the first HTTP
// request) and copied unchanged onto every event caused by it; the causation id
// is the id of the message that directly caused the current work.
//
// The W3C trace context is not one of the IDs: it is the OpenTelemetry span
// context in ctx, so there is one source of truth. An event is stamped with
// the traceparent of the span that produced it, and a consumer starts its
// span as a child of the event's traceparent. With tracing off (a no-op
// provider keeps the parent's span context) a caller's traceparent still
// passes through every hop unchanged.
package correlation

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// IDs are the flow identifiers in scope for one unit of work.
type IDs struct {
	CorrelationID string
	CausationID   string
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
// same correlation id as the flow, the message (or request) that caused it
// as causation id, and the current span as traceparent.
func Stamp(ctx context.Context, m events.Meta) events.Meta {
	ids := From(ctx)
	m.CorrelationID, m.CausationID, m.TraceParent = ids.CorrelationID, ids.CausationID, TraceParent(ctx)
	if m.CorrelationID == "" {
		m.CorrelationID = m.ID // a flow that starts here (e.g. a timer)
	}
	return m
}

// Propagator is the one trace-context format of the system: W3C traceparent
// and tracestate, in HTTP headers and message metadata alike.
var Propagator = propagation.TraceContext{}

// TraceParentKey is the HTTP header, message metadata key and AMQP header
// that carries the trace context.
const TraceParentKey = "traceparent"

// TraceParent returns the W3C traceparent of the span in ctx, or "" when ctx
// has none (tracing off and no caller sent one).
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	Propagator.Inject(ctx, c)
	return c[TraceParentKey]
}

// WithTraceParent returns ctx with the remote span context that traceparent
// names, so that the next span started from it is its child. An empty or
// malformed traceparent leaves ctx as it is: W3C says to ignore it, never
// to pass it on.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{TraceParentKey: traceparent})
}
