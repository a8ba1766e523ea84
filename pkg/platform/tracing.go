package platform

// Tracing is off unless the environment asks for it: with no
// OTEL_TRACES_EXPORTER and no OTLP endpoint the provider is a no-op, so
// tests and local runs never try to reach a collector. How trace context
// travels (HTTP headers, envelopes, message metadata) is package correlation's
// part; docs/observability.md lists the spans.

import (
	"context"
	"os"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracingEnabled reports whether the environment asks for traces to be exported:
// an exporter named in OTEL_TRACES_EXPORTER (other than "none"), or an OTLP
// endpoint, and OTEL_SDK_DISABLED not true.
func tracingEnabled() bool {
	if os.Getenv("OTEL_SDK_DISABLED") == "true" {
		return false
	}
	if e := os.Getenv("OTEL_TRACES_EXPORTER"); e != "" {
		return e != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// newTracerProvider returns the tracer provider of service as the
// environment configures it, and the function that flushes and stops it.
// The service name is the resource's service.name unless OTEL_SERVICE_NAME
// (or OTEL_RESOURCE_ATTRIBUTES) says otherwise. Exporter, protocol, endpoint,
// sampler and batching are the SDK's and autoexport's own OTEL_* variables.
//
// A given exporter (a test's) is used as it is, synchronously, so a span is
// visible the moment it ends.
func newTracerProvider(ctx context.Context, service string, exporter sdktrace.SpanExporter) (trace.TracerProvider, func(context.Context) error, error) {
	export := sdktrace.WithSyncer(exporter)
	if exporter == nil {
		if !tracingEnabled() {
			return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
		}
		var err error
		if exporter, err = autoexport.NewSpanExporter(ctx); err != nil {
			return nil, nil, err
		}
		export = sdktrace.WithBatcher(exporter)
	}
	// Later options win: the environment overrides the default name.
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(service)), resource.WithFromEnv())
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(export, sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}
