package platform

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/expenseflow/expenseflow/pkg/correlation"
)

// NewLogger returns a JSON logger writing to out (standard output when nil)
// that adds the service name to every line and the correlation id to every
// line logged with a context that has one.
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
	return h.Handler.Handle(ctx, r)
}

func (h correlationHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return correlationHandler{h.Handler.WithAttrs(attrs)}
}

func (h correlationHandler) WithGroup(name string) slog.Handler {
	return correlationHandler{h.Handler.WithGroup(name)}
}
