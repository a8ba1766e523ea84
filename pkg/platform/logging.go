package platform

import (
	"context"
	"io"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/expenseflow/expenseflow/pkg/correlation"
)

// NewLogger returns a JSON logger writing to out (standard output when nil)
// that adds the service name to every line, and the correlation id and the
// trace id (when tracing is on) to every line logged with a context that has
// them: a trace id found in a log line opens the whole flow in Jaeger.
//
// What is never logged, by construction: request and message bodies, query
// strings, headers (so no token), SQL with its values (gorm is silent), and
// configuration (so no JWT_SECRET). A test checks captured logs for them.
func NewLogger(service string, level slog.Level, out io.Writer) *slog.Logger {
	if out == nil {
		out = os.Stdout
	}
	h := slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level})
	return slog.New(correlationHandler{h}).With("service", service)
}

type correlationHandler struct{ slog.Handler }

func (h correlationHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := correlation.From(ctx).CorrelationID; id != "" {
		r.AddAttrs(slog.String("correlation_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h correlationHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return correlationHandler{h.Handler.WithAttrs(attrs)}
}

func (h correlationHandler) WithGroup(name string) slog.Handler {
	return correlationHandler{h.Handler.WithGroup(name)}
}
