// Package service wires the webhooks service together; main and the
// component tests share it.
package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/retry"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/app"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/messaging"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/postgres"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/sender"
)

// Config is the webhooks service's configuration.
type Config struct {
	platform.Config
	// A failed attempt is retried after a random wait of up to
	// WEBHOOK_RETRY_BASE·2^(n-1) (capped at WEBHOOK_RETRY_MAX), for at most
	// WEBHOOK_MAX_ATTEMPTS attempts; then the delivery is failed.
	RetryBase   time.Duration `env:"WEBHOOK_RETRY_BASE" envDefault:"5s"`
	RetryMax    time.Duration `env:"WEBHOOK_RETRY_MAX" envDefault:"1h"`
	MaxAttempts int           `env:"WEBHOOK_MAX_ATTEMPTS" envDefault:"10"`
	// Timeout bounds one attempt: connecting, sending, and the answer.
	Timeout time.Duration `env:"WEBHOOK_TIMEOUT" envDefault:"10s"`
	// AllowPrivate lets webhooks go to private, loopback and link-local
	// addresses: for a demo or a test on one machine, never in production.
	AllowPrivate bool `env:"WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`
	// DisableAfter failed deliveries in a row disable an endpoint.
	DisableAfter int `env:"WEBHOOK_DISABLE_AFTER" envDefault:"5"`
	// Workers bound the attempts in flight; EndpointConcurrency those of
	// one endpoint, so a slow receiver holds no more than that.
	Workers             int           `env:"WEBHOOK_WORKERS" envDefault:"16"`
	EndpointConcurrency int           `env:"WEBHOOK_ENDPOINT_CONCURRENCY" envDefault:"4"`
	Poll                time.Duration `env:"WEBHOOK_POLL_INTERVAL" envDefault:"1s"`
	RotationOverlap     time.Duration `env:"WEBHOOK_ROTATION_OVERLAP" envDefault:"24h"`
}

func (c Config) app() app.Config {
	return app.Config{
		Schedule: domain.Schedule{
			Retry:        retry.Policy{MaxAttempts: c.MaxAttempts, BaseDelay: c.RetryBase, MaxDelay: c.RetryMax},
			Jitter:       func(ceiling time.Duration) time.Duration { return rand.N(ceiling + 1) },
			DisableAfter: c.DisableAfter,
		},
		Workers: c.Workers, PerEndpoint: c.EndpointConcurrency, Poll: c.Poll,
		// Past any attempt's end (the timeout) with room for recording it:
		// a claim still held then belongs to a dispatcher that died.
		Lease:           2*c.Timeout + 10*time.Second,
		RotationOverlap: c.RotationOverlap,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.app().Schedule.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_BASE, WEBHOOK_RETRY_MAX, WEBHOOK_DISABLE_AFTER: %w", err))
	}
	if c.Timeout <= 0 || c.Poll <= 0 || c.RotationOverlap < 0 {
		errs = append(errs, errors.New("WEBHOOK_TIMEOUT and WEBHOOK_POLL_INTERVAL must be positive, WEBHOOK_ROTATION_OVERLAP not negative"))
	}
	if c.Workers < 1 || c.EndpointConcurrency < 1 || c.EndpointConcurrency > c.Workers {
		errs = append(errs, errors.New("need 1 <= WEBHOOK_ENDPOINT_CONCURRENCY <= WEBHOOK_WORKERS: one endpoint must not be able to take every worker"))
	}
	return errors.Join(append(errs, c.Config.Validate())...)
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	cfg := Config{Config: platform.Defaults("webhooks", ":8086")}
	return cfg, platform.Load(&cfg)
}

// New starts the webhooks service's infrastructure and wires its parts; the
// caller runs it with Run.
func New(ctx context.Context, cfg Config) (*platform.Platform, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := platform.Start(ctx, cfg.Config, platform.Spec{
		Migrations:    postgres.Migrations,
		Subscriptions: messaging.Subscriptions,
		Publishes:     true, // webhook.endpoint_disabled, so that finance is told
	})
	if err != nil {
		return nil, err
	}
	if cfg.AllowPrivate {
		p.Log.Warn("WEBHOOK_ALLOW_PRIVATE: webhooks may be sent to private and loopback addresses. Never run like this in production.")
	}
	p.Metrics.MustRegister(postgres.NewBacklogCollector(p.DB))
	a := app.New(postgres.NewStore(p.DB), messaging.Bindings{AMQPURL: cfg.AMQPURL}, messaging.Events.Patterns,
		sender.New(cfg.Timeout, cfg.AllowPrivate), cfg.app(),
		app.NewMetrics(p.Metrics), time.Now, newID)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	p.Go(func(ctx context.Context) error { return a.Dispatch(ctx, p.Log) })
	p.Go(func(ctx context.Context) error { return a.KeepBindings(ctx, bindingsCheck, p.Log) })
	return p, nil
}

// bindingsCheck is how often the queue's bindings are compared with what
// the endpoints want (they change with every endpoint created or deleted;
// this is for a broker that lost them).
const bindingsCheck = 5 * time.Minute

// newID returns a UUIDv7: ids in creation order, which lists page by.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
