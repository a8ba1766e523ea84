package platform

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/caarlos0/env/v11"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/auth"
)

// Config is the part of every service's configuration that the platform
// uses. Services embed it in their own Config and add their knobs.
type Config struct {
	Service        string `env:"-"`
	HTTPAddr       string `env:"HTTP_ADDR"`
	DatabaseURL    string `env:"DATABASE_URL"`
	CreateDatabase bool   `env:"DATABASE_CREATE"` // create the database if missing (local runs)
	// Migrations says what the service does with its schema at start-up:
	// apply (the default) migrates, then serves; apply-and-exit migrates
	// and exits 0 (a Kubernetes init container running as the database's
	// owner); check refuses to start unless someone else has migrated (the
	// service then runs as a role that may not change the schema).
	Migrations string `env:"DATABASE_MIGRATIONS" envDefault:"apply"`
	// DatabaseMaxConns caps the service's connection pool (see
	// docs/production.md, "Database connections", for how to size it).
	DatabaseMaxConns int           `env:"DATABASE_MAX_CONNS" envDefault:"10"`
	AMQPURL          string        `env:"AMQP_URL" envDefault:"amqp://guest:guest@localhost:5672/"`
	Prefetch         int           `env:"AMQP_PREFETCH" envDefault:"16"`
	HandlerTimeout   time.Duration `env:"HANDLER_TIMEOUT" envDefault:"10s"` // one attempt at one message
	// RateLimit is each caller's sustained requests per second under /v1,
	// RateBurst how many may come at once; 0 switches the limit off.
	RateLimit float64 `env:"RATE_LIMIT" envDefault:"100"`
	RateBurst int     `env:"RATE_BURST" envDefault:"200"`
	// PprofAddr, when set, serves Go's profiles (net/http/pprof) on a
	// listener of their own, never on HTTP_ADDR: for profiling under load
	// (make bench), on a loopback or otherwise private address.
	PprofAddr      string        `env:"PPROF_ADDR"`
	LogLevel       slog.Level    `env:"LOG_LEVEL" envDefault:"info"`
	LogOutput      io.Writer     `env:"-"` // standard output unless a test captures it
	ShutdownGrace  time.Duration `env:"SHUTDOWN_GRACE" envDefault:"20s"`
	IdempotencyTTL time.Duration `env:"IDEMPOTENCY_TTL" envDefault:"24h"` // how long an Idempotency-Key is remembered
	// OutboxRetention is how long published outbox rows are kept, and
	// InboxRetention how long a handled event's inbox record is (it must
	// outlast any redelivery or dead-letter replay still possible); 0 keeps
	// them forever. See Platform.housekeeping.
	OutboxRetention time.Duration `env:"OUTBOX_RETENTION" envDefault:"168h"`
	// OutboxPoll is how long the relay waits before looking at the outbox
	// again once it has found it empty, unless a commit that wrote to it
	// wakes it sooner (outbox.Relay): the net under the wake-ups, and the
	// relay's cost when idle (one query per poll). After a read that found
	// events it reads again at once.
	OutboxPoll     time.Duration `env:"OUTBOX_POLL_INTERVAL" envDefault:"100ms"`
	InboxRetention time.Duration `env:"INBOX_RETENTION" envDefault:"720h"`
	JWT            auth.Config
	// TraceExporter, when set, receives the service's spans instead of what
	// the OTEL_* variables configure: tests pass an in-memory exporter.
	TraceExporter sdktrace.SpanExporter `env:"-"`
}

// Defaults returns the platform config for a service before the environment
// is read: its name, its port and its database on localhost.
func Defaults(service, httpAddr string) Config {
	return Config{
		Service:     service,
		HTTPAddr:    httpAddr,
		DatabaseURL: "postgres://postgres@localhost:5432/" + service + "?sslmode=disable",
	}
}

// Load fills cfg (a service Config that embeds platform.Config) from the
// environment: fields keep their defaults unless a variable is set.
func Load[T any](cfg *T) error {
	if err := env.Parse(cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// Fill applies the envDefault values of cfg's fields, reading no variable:
// tests start from the defaults a service would run with, then set what
// they need.
func Fill[T any](cfg *T) error {
	return env.ParseWithOptions(cfg, env.Options{Environment: map[string]string{}})
}

// What a service does with its schema at start-up (DATABASE_MIGRATIONS).
const (
	MigrationsApply        = "apply"
	MigrationsApplyAndExit = "apply-and-exit"
	MigrationsCheck        = "check"
)

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Service == "" || c.HTTPAddr == "" || c.DatabaseURL == "" {
		errs = append(errs, errors.New("service name, HTTP_ADDR and DATABASE_URL are required"))
	}
	if c.DatabaseMaxConns < 4 {
		errs = append(errs, errors.New("DATABASE_MAX_CONNS must be at least 4 (a consumer, the relay, a job and a request)"))
	}
	if c.Migrations != MigrationsApply && c.Migrations != MigrationsApplyAndExit && c.Migrations != MigrationsCheck {
		errs = append(errs, fmt.Errorf("DATABASE_MIGRATIONS=%q: want %s, %s or %s", c.Migrations, MigrationsApply, MigrationsApplyAndExit, MigrationsCheck))
	}
	if c.RateLimit < 0 || (c.RateLimit > 0 && c.RateBurst < 1) {
		errs = append(errs, errors.New("RATE_LIMIT must not be negative, and RATE_BURST must be at least 1 when it is on"))
	}
	if c.IdempotencyTTL <= 0 {
		errs = append(errs, errors.New("IDEMPOTENCY_TTL must be positive"))
	}
	if c.OutboxPoll <= 0 {
		errs = append(errs, errors.New("OUTBOX_POLL_INTERVAL must be positive"))
	}
	if c.OutboxRetention < 0 || c.InboxRetention < 0 {
		errs = append(errs, errors.New("OUTBOX_RETENTION and INBOX_RETENTION must not be negative (0 keeps rows forever)"))
	}
	errs = append(errs, c.amqp().Validate(), c.JWT.Validate())
	return errors.Join(errs...)
}

func (c Config) amqp() amqpx.Config {
	a := amqpx.DefaultConfig(c.AMQPURL, c.Service)
	a.Prefetch, a.HandlerTimeout = c.Prefetch, c.HandlerTimeout
	return a
}
