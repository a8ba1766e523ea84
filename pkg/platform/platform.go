package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/idempotency"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// Spec is what a service tells the platform about itself.
type Spec struct {
	Migrations    postgres.Migrations  // the service's own schema
	Subscriptions []amqpx.Subscription // its queues, declared before anything runs
	Publishes     bool                 // whether it has an outbox (and so a relay)
}

// Platform holds a started service's infrastructure. Services register their
// HTTP routes on API (authenticated, Idempotency-Key aware, each route naming
// the authz action its use case checks) and their consumers on Router, add
// background jobs with Go, then call Run.
type Platform struct {
	Config  Config
	Log     *slog.Logger
	DB      *gorm.DB
	Broker  *amqpx.Broker
	Router  *amqpx.Router
	HTTP    *gin.Engine
	API     *httpx.Routes     // /v1, behind bearer-token authentication; each route names its authz action
	Keys    *idempotency.Keys // Idempotency-Key store of every /v1 command (see OwnTransactions)
	Metrics *prometheus.Registry
	Tracing trace.TracerProvider // no-op unless OTEL_* (or Config.TraceExporter) turns tracing on

	stopTracing func(context.Context) error
	relay       *outbox.Relay
	listener    net.Listener
	jobs        []func(context.Context) error
}

// Start connects to everything the service needs and prepares, but does not
// start, its consumers, relay and HTTP server. It waits while PostgreSQL or
// RabbitMQ are not reachable yet (until ctx ends).
func Start(ctx context.Context, cfg Config, spec Spec) (p *Platform, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p = &Platform{Config: cfg, Log: NewLogger(cfg.Service, cfg.LogLevel, cfg.LogOutput), Metrics: prometheus.NewRegistry()}
	p.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	started := p // "return nil, err" below sets p to nil before this runs
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	if p.Tracing, p.stopTracing, err = newTracerProvider(ctx, cfg.Service, cfg.TraceExporter); err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}

	if cfg.CreateDatabase {
		if err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
	}
	if p.DB, err = postgres.Open(ctx, cfg.DatabaseURL, p.Log); err != nil {
		return nil, err
	}
	if err := postgres.LimitPool(p.DB, cfg.DatabaseMaxConns); err != nil {
		return nil, err
	}
	sets := []postgres.Migrations{inbox.Migrations, idempotency.Migrations, spec.Migrations}
	if spec.Publishes {
		sets = append(sets, outbox.Migrations)
	}
	switch cfg.Migrations {
	case MigrationsCheck:
		if err := postgres.CheckMigrated(ctx, p.DB, sets...); err != nil {
			return nil, fmt.Errorf("%w (DATABASE_MIGRATIONS=check: run this binary once with DATABASE_MIGRATIONS=apply-and-exit as the database's owner)", err)
		}
	default:
		if err := postgres.Migrate(ctx, p.DB, sets...); err != nil {
			return nil, err
		}
		if cfg.Migrations == MigrationsApplyAndExit {
			return nil, ErrMigratedOnly
		}
	}

	if p.Broker, err = amqpx.Connect(ctx, cfg.amqp(), spec.Subscriptions, p.Log); err != nil {
		return nil, err
	}
	if p.Router, err = amqpx.NewRouter(p.Broker, p.Log, p.Tracing, p.Metrics); err != nil {
		return nil, err
	}
	metrics.NewPrometheusMetricsBuilder(p.Metrics, "expenseflow", "").AddPrometheusRouterMetrics(p.Router.Router)
	if spec.Publishes {
		if p.relay, err = outbox.NewRelay(p.DB, p.Broker.Publisher, cfg.OutboxPoll, p.Log, p.Tracing); err != nil {
			return nil, err
		}
		p.Metrics.MustRegister(outbox.NewBacklogCollector(p.DB))
	}

	verifier, err := auth.NewVerifier(cfg.JWT)
	if err != nil {
		return nil, err
	}
	if cfg.JWT.UsesDevSecret() {
		p.Log.Warn("DEV_MODE: tokens are checked with the public development key; anyone can mint them. Never run like this where others can reach the service.")
	}
	dbReady := func(ctx context.Context) error { return postgres.Ping(ctx, p.DB) }
	p.HTTP = httpx.NewEngine(p.Log, p.Metrics, p.Tracing, dbReady, p.Broker.Ready)
	// Every command under /v1 honours Idempotency-Key.
	p.Keys = idempotency.New(p.DB, cfg.IdempotencyTTL, time.Now, p.Log)
	// Every /v1 call: who is calling, how often (per caller, so one runaway
	// client slows only itself), and whether the command is a retry.
	perCaller := func(c *gin.Context) string { return auth.PrincipalOf(c).UserID }
	p.API = httpx.NewRoutes(p.HTTP.Group("/v1", verifier.Middleware(httpx.WriteError),
		httpx.RateLimit(cfg.RateLimit, cfg.RateBurst, perCaller), p.Keys.Middleware()))
	chores := p.housekeeping(p.Keys, spec.Publishes)
	p.Every(housekeepingEvery, func(ctx context.Context) { p.keepHouse(ctx, chores) })
	if p.listener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, err
	}
	return p, nil
}

// OpenDatabase opens and migrates the service's database only, for
// commands that run instead of the service (e.g. a projection rebuild).
func OpenDatabase(ctx context.Context, cfg Config, migrations postgres.Migrations) (*gorm.DB, *slog.Logger, error) {
	log := NewLogger(cfg.Service, cfg.LogLevel, cfg.LogOutput)
	db, err := postgres.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return nil, nil, err
	}
	if err := postgres.Migrate(ctx, db, inbox.Migrations, migrations); err != nil {
		return nil, nil, err
	}
	return db, log, nil
}

// Addr is the address the HTTP server listens on (useful with port 0).
func (p *Platform) Addr() string { return p.listener.Addr().String() }

// Go adds a background job that runs until ctx ends.
func (p *Platform) Go(job func(ctx context.Context) error) { p.jobs = append(p.jobs, job) }

// Every adds a background job that calls tick every interval until the
// service stops. A tick logs its own failures and returns: periodic jobs
// keep their state in the database, so the next tick simply carries on.
func (p *Platform) Every(interval time.Duration, tick func(ctx context.Context)) {
	p.Go(func(ctx context.Context) error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				tick(ctx)
			}
		}
	})
}

// Run serves until ctx ends or a part fails, then shuts down in order:
//
//  1. stop taking work: the HTTP server stops accepting and lets requests
//     in flight finish (SHUTDOWN_GRACE); the router stops consuming and lets
//     each message in hand finish and be acked within its handler timeout,
//     or returns it to its queue, never to the dead-letter queue (see
//     amqpx.NewRouter); background jobs end their current step;
//  2. then stop the outbox relay, so that the events those last requests
//     and messages committed are usually on their way already (any left
//     wait in the outbox for the next start);
//  3. then close the broker connections and the database (Close).
func (p *Platform) Run(ctx context.Context) error {
	defer p.Close()
	parent := ctx
	failed, fail := context.WithCancelCause(context.Background())
	defer fail(nil)
	working, stopWorking := context.WithCancel(ctx)
	relaying, stopRelaying := context.WithCancel(context.Background())
	defer stopWorking()
	defer stopRelaying()

	var work, relay sync.WaitGroup
	run := func(wg *sync.WaitGroup, ctx context.Context, name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}

	srv := &http.Server{
		Handler: p.HTTP,
		// Bounds on what one client can make the server hold: slow or huge
		// headers (Go answers 431 past MaxHeaderBytes), slow bodies, idle
		// keep-alive connections. Bodies and query strings are bounded in httpx.
		// WriteTimeout bounds a whole exchange, so a client that never reads
		// its answer cannot hold a connection and a goroutine forever. The
		// longest answer is a payout batch paying every due claim; the
		// timer runs the heavy ones.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    httpx.MaxHeaderBytes,
	}
	run(&work, working, "http", func(ctx context.Context) error {
		return httpx.Serve(ctx, srv, func() error { return srv.Serve(p.listener) }, p.Config.ShutdownGrace)
	})
	run(&work, working, "router", p.Router.Run)
	if p.Config.PprofAddr != "" {
		run(&work, working, "pprof", func(ctx context.Context) error { return servePprof(ctx, p.Config.PprofAddr) })
	}
	for _, job := range p.jobs {
		run(&work, working, "job", job)
	}
	if p.relay != nil {
		run(&relay, relaying, "outbox relay", p.relay.Run)
	}
	p.Log.Info("service started", "http_addr", p.Addr())

	select {
	case <-parent.Done():
		p.Log.Info("shutting down", "reason", context.Cause(parent))
	case <-failed.Done():
		p.Log.Error("shutting down: a part failed", "error", context.Cause(failed))
	}
	stopWorking()
	work.Wait() // each part returns once its work in hand is done
	stopRelaying()
	relay.Wait()
	if err := context.Cause(failed); err != nil {
		return err // a part failed
	}
	return nil // asked to stop: a clean shutdown
}

// Close releases everything Start opened. Run calls it on return; call it
// yourself only if you never call Run (e.g. wiring failed after Start).
func (p *Platform) Close() {
	if p.relay != nil {
		_ = p.relay.Close()
	}
	if p.Router != nil {
		_ = p.Router.Close()
	}
	if p.Broker != nil {
		p.Broker.Close()
	}
	if p.listener != nil {
		_ = p.listener.Close() // already closed after a normal Run; harmless
	}
	if p.DB != nil {
		CloseDatabase(p.DB)
	}
	if p.stopTracing != nil {
		// Last, so the spans of the shutdown itself are flushed too.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.stopTracing(ctx); err != nil {
			p.Log.Warn("flushing traces failed", "error", err)
		}
	}
}

// CloseDatabase closes the connection pool under db.
func CloseDatabase(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// ErrMigratedOnly is what Start returns, having closed everything, when
// DATABASE_MIGRATIONS=apply-and-exit: the migrations are applied and the
// service is not to run. Main exits 0 on it.
var ErrMigratedOnly = errors.New("migrations applied; not starting (DATABASE_MIGRATIONS=apply-and-exit)")

// Command is a one-off subcommand of a service binary, run instead of the
// service: "<binary> <Name>". It gets the same configuration.
type Command[C any] struct {
	Name string
	Run  func(ctx context.Context, cfg C) error
}

// Main is the whole main function of a service binary: read the
// configuration, start, serve until SIGINT or SIGTERM, shut down gracefully,
// and exit 0 after a clean shutdown or 1 with the error on stderr.
//
// "<binary> healthcheck" instead asks the running service's /readyz and exits
// 0 or 1: container images without a shell or curl use it as health check.
// "<binary> <command>" runs one of the service's commands.
func Main[C any](load func() (C, error), start func(context.Context, C) (*Platform, error), commands ...Command[C]) {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(Healthcheck())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], load, start, commands)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run[C any](ctx context.Context, args []string, load func() (C, error), start func(context.Context, C) (*Platform, error), commands []Command[C]) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	if len(args) > 0 {
		for _, c := range commands {
			if c.Name == args[0] {
				return c.Run(ctx, cfg)
			}
		}
		usage := "usage: <binary> [healthcheck"
		for _, c := range commands {
			usage += " | " + c.Name
		}
		return fmt.Errorf("unknown command %q; %s]", args[0], usage)
	}
	p, err := start(ctx, cfg)
	if errors.Is(err, ErrMigratedOnly) {
		fmt.Fprintln(os.Stderr, "migrations applied; DATABASE_MIGRATIONS=apply-and-exit, so exiting")
		return nil
	}
	if err != nil {
		return err
	}
	return p.Run(ctx)
}

// Healthcheck probes /readyz on the port of HTTP_ADDR (the only setting it
// reads) and returns the exit code of "<binary> healthcheck": the
// container health check of an image that has no shell and no curl.
func Healthcheck() int {
	_, port, err := net.SplitHostPort(os.Getenv("HTTP_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck: HTTP_ADDR must be host:port or :port")
		return 1
	}
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + port + "/readyz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: /readyz answered", resp.Status)
		return 1
	}
	return 0
}
