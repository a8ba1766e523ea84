// Package service wires the console: configuration, the live feed, the
// backends and the web edge, and runs them until told to stop.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/errgroup"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/console/internal/backend"
	"github.com/expenseflow/expenseflow/services/console/internal/live"
	"github.com/expenseflow/expenseflow/services/console/internal/system"
	"github.com/expenseflow/expenseflow/services/console/internal/web"
)

// Config is the console's configuration, from the environment.
type Config struct {
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// AMQPURL is the console's own broker user: it may create, bind and
	// read only its live queues (console.live.*).
	AMQPURL string `env:"AMQP_URL" envDefault:"amqp://guest:guest@localhost:5672/"`
	// OperatorAMQPURL, when set, lets the system page list dead letters and
	// finance replay them, as the operator's broker user.
	OperatorAMQPURL string `env:"OPERATOR_AMQP_URL"`
	// RabbitMQAPI is the management API with credentials (a user tagged
	// monitoring is enough), for queues and exchanges.
	RabbitMQAPI string `env:"RABBITMQ_API"`
	// JaegerURL, when set, turns each trace id into a link to its trace.
	JaegerURL     string        `env:"JAEGER_URL"`
	SessionTTL    time.Duration `env:"SESSION_TTL" envDefault:"8h"`
	UserDirectory string        `env:"USER_DIRECTORY"`
	LogLevel      slog.Level    `env:"LOG_LEVEL" envDefault:"info"`
	LogOutput     io.Writer     `env:"-"`
	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE" envDefault:"5s"`
	JWT           auth.Config
	Services      backend.URLs
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	var cfg Config
	err := platform.Load(&cfg)
	return cfg, err
}

// Console is a started console.
type Console struct {
	cfg      Config
	log      *slog.Logger
	feed     *live.Feed
	server   *http.Server
	listener net.Listener
}

// serviceTokenTTL: the console mints its own read-only token per call, so
// a leaked one is worth minutes.
const serviceTokenTTL = 5 * time.Minute

// serviceIdentity is who the console is when it reads a claim's effects:
// read-only everywhere, as an auditor is.
var serviceIdentity = directory.User{ID: "console", Name: "expenseflow console", Role: directory.RoleAuditor}

// New prepares the console; Run serves it.
func New(cfg Config) (*Console, error) {
	log := platform.NewLogger("console", cfg.LogLevel, cfg.LogOutput)
	verifier, err := auth.NewVerifier(cfg.JWT)
	if err != nil {
		return nil, err
	}
	if cfg.JWT.UsesDevSecret() {
		log.Warn("DEV_MODE: tokens are checked with the public development key and anyone may sign in as a demo user. Never run like this where others can reach the console.")
	}
	dir, err := directory.Load(cfg.UserDirectory)
	if err != nil {
		return nil, err
	}
	services := cfg.Services.Services()
	broker, err := system.New(cfg.RabbitMQAPI, cfg.AMQPURL, cfg.OperatorAMQPURL, services)
	if err != nil {
		return nil, err
	}
	feed := live.New(cfg.AMQPURL, log)
	c := &web.Console{
		Backend: backend.New(cfg.Services, func() (string, error) {
			return auth.Mint(cfg.JWT, serviceIdentity, time.Now(), serviceTokenTTL)
		}),
		Feed: feed, System: broker, JWT: cfg.JWT, Verifier: verifier, Directory: dir,
		DemoSignIn: cfg.JWT.DevMode, SessionTTL: cfg.SessionTTL, JaegerURL: cfg.JaegerURL, Log: log,
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	engine := httpx.NewEngine(log, reg, noop.NewTracerProvider(), feed.Ready)
	if err := c.Mount(engine); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, log: log, feed: feed, listener: ln, server: &http.Server{
		Handler:           engine,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second, // lifted per /events stream
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    httpx.MaxHeaderBytes,
	}}, nil
}

// Addr is the address the console listens on.
func (c *Console) Addr() string { return c.listener.Addr().String() }

// Run serves until ctx ends. Open /events streams end when shutdown
// begins (their requests' context is the server's), so they do not hold
// the shutdown for its whole grace period; browsers reconnect elsewhere.
func (c *Console) Run(ctx context.Context) error {
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	c.server.BaseContext = func(net.Listener) context.Context { return streams }
	c.server.RegisterOnShutdown(endStreams)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.feed.Run(ctx) })
	g.Go(func() error {
		return httpx.Serve(ctx, c.server, func() error { return c.server.Serve(c.listener) }, c.cfg.ShutdownGrace)
	})
	c.log.Info("console started", "http_addr", c.Addr())
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}
