package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/correlation"
)

// Headers that carry flow ids in and out.
const (
	RequestIDHeader     = "X-Request-ID"
	TraceResponseHeader = "traceresponse" // when tracing is on: 00-<trace id>-<span id>-<flags>
	CorrelationIDHeader = "X-Correlation-ID"
)

// Request limits. Commands carry small bodies (see MaxBodyBytes) and lists a
// few filters; anything larger is a mistake or an attack.
const (
	MaxHeaderBytes = 16 << 10
	MaxQueryBytes  = 2 << 10
)

// Check is a readiness probe of one dependency.
type Check func(ctx context.Context) error

// NewEngine returns a gin engine with the shared middleware and the
// unauthenticated operational endpoints /healthz, /readyz and /metrics.
// Every other request gets a server span from tp.
func NewEngine(log *slog.Logger, reg *prometheus.Registry, tp trace.TracerProvider, ready ...Check) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true // handlers' c.Request.Context() carries the correlation ids
	r.Use(tracing(tp), withIDs, accessLog(log), recoverProblem, metrics(reg), limitQuery)
	r.NoRoute(func(c *gin.Context) { WriteError(c, apperr.New(apperr.NotFound, "no such route")) })
	r.NoMethod(func(c *gin.Context) {
		WriteError(c, apperr.New(kindMethodNotAllowed, "method %s is not allowed here", c.Request.Method))
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		for _, check := range ready {
			if err := check(ctx); err != nil {
				WriteError(c, apperr.New(apperr.Unavailable, "not ready: %v", err))
				return
			}
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	return r
}

// limitQuery refuses an overlong query string before any handler parses
// it, and a parameter holding a control character (a NUL in a filter would
// reach PostgreSQL, which refuses it, and the logs).
func limitQuery(c *gin.Context) {
	if len(c.Request.URL.RawQuery) > MaxQueryBytes {
		WriteError(c, apperr.New(kindURITooLong, "the query string exceeds %d bytes", MaxQueryBytes))
		return
	}
	var fields []apperr.FieldError
	for name, values := range c.Request.URL.Query() {
		if slices.ContainsFunc(values, hasControl) || hasControl(name) {
			fields = append(fields, apperr.FieldError{Field: name, Message: "must not contain control characters"})
		}
	}
	if len(fields) > 0 {
		WriteError(c, apperr.Fields(fields))
		return
	}
	c.Next()
}

// withIDs gives every request a request id and a correlation id (the
// caller's, or the request id when it starts a new flow) and echoes both.
func withIDs(c *gin.Context) {
	requestID := c.GetHeader(RequestIDHeader)
	if requestID == "" || len(requestID) > 128 {
		requestID = uuid.NewString()
	}
	correlationID := c.GetHeader(CorrelationIDHeader)
	if correlationID == "" || len(correlationID) > 128 {
		correlationID = requestID
	}
	c.Header(RequestIDHeader, requestID)
	c.Header(CorrelationIDHeader, correlationID)
	ids := correlation.IDs{CorrelationID: correlationID, CausationID: requestID}
	c.Request = c.Request.WithContext(correlation.With(c.Request.Context(), ids))
	c.Next()
}

// operational routes are polled every few seconds; a span each would bury
// the traces that matter.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// tracing starts a server span per request, a child of the caller's W3C
// traceparent when it sends a valid one (an invalid one is ignored, as W3C
// Trace Context requires). Events the request emits carry this span.
func tracing(tp trace.TracerProvider) gin.HandlerFunc {
	tracer := tp.Tracer("github.com/expenseflow/expenseflow/pkg/httpx")
	return func(c *gin.Context) {
		route := c.FullPath()
		if untraced[route] {
			c.Next()
			return
		}
		if route == "" {
			route = "unmatched"
		}
		ctx := correlation.Propagator.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := tracer.Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("http.route", route)))
		defer span.End()
		if sc := span.SpanContext(); sc.IsValid() {
			// The trace this request is in, for the caller to look up
			// (W3C Trace Context Level 2's response header).
			c.Header(TraceResponseHeader, fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags()))
		}
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}

func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.Int("status", c.Writer.Status()),
			slog.Duration("duration", time.Since(start)),
		}
		// The resource's id, so that one claim's requests can be found in
		// the log; only a canonical UUID, never whatever the path held.
		if id := c.Param("id"); id != "" {
			if u, err := uuid.Parse(id); err == nil && u.String() == id {
				attrs = append(attrs, slog.String("id", id))
			}
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "http request", attrs...)
	}
}

// recoverProblem turns a panic into a logged 500 problem: a bug in one
// handler must not take the process down.
func recoverProblem(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			slog.ErrorContext(c.Request.Context(), "panic in handler", "route", c.FullPath(), "panic", v)
			WriteError(c, errPanic)
		}
	}()
	c.Next()
}

var errPanic = errors.New("handler panicked")

func metrics(reg *prometheus.Registry) gin.HandlerFunc {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "HTTP requests by method, route and status.",
	}, []string{"method", "route", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "HTTP request latency by method and route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	reg.MustRegister(requests, duration)
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched" // bounded label cardinality
		}
		requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
		duration.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
	}
}

// Serve runs srv until ctx ends, then shuts it down gracefully: it stops
// accepting connections and waits (up to grace) for requests in flight.
func Serve(ctx context.Context, srv *http.Server, serve func() error, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != http.ErrServerClosed {
		return err
	}
	return nil
}
