// Package service wires the reimbursement service together; main and the
// component tests share it.
package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/app"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/gateway"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/messaging"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/postgres"
)

// Config is the reimbursement service's configuration.
type Config struct {
	platform.Config
	// PayoutInterval is how often the timer runs a payout batch; 0 disables
	// the timer (batches then run only on POST /v1/payouts).
	PayoutInterval time.Duration `env:"PAYOUT_INTERVAL" envDefault:"30s"`
	// PayoutMaxAttempts, PayoutRetryBase and PayoutRetryMax are the retry
	// policy for transient gateway failures (see domain.RetryPolicy).
	PayoutMaxAttempts int           `env:"PAYOUT_MAX_ATTEMPTS" envDefault:"5"`
	PayoutRetryBase   time.Duration `env:"PAYOUT_RETRY_BASE" envDefault:"1m"`
	PayoutRetryMax    time.Duration `env:"PAYOUT_RETRY_MAX" envDefault:"1h"`
	Gateway           gateway.Config
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	cfg := Config{Config: platform.Defaults("reimbursement", ":8083")}
	return cfg, platform.Load(&cfg)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errInterval error
	if c.PayoutInterval < 0 {
		errInterval = errors.New("PAYOUT_INTERVAL must not be negative (0 disables the timer)")
	}
	var errRetry error
	if err := c.retryPolicy().Validate(); err != nil {
		errRetry = fmt.Errorf("payout retries (PAYOUT_MAX_ATTEMPTS, PAYOUT_RETRY_BASE, PAYOUT_RETRY_MAX): %w", err)
	}
	return errors.Join(c.Config.Validate(), errRetry, c.Gateway.Validate(), errInterval)
}

func (c Config) retryPolicy() domain.RetryPolicy {
	return domain.RetryPolicy{MaxAttempts: c.PayoutMaxAttempts, BaseDelay: c.PayoutRetryBase, MaxDelay: c.PayoutRetryMax}
}

// New starts the reimbursement service's infrastructure and wires its parts;
// the caller runs it with Run.
func New(ctx context.Context, cfg Config) (*platform.Platform, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := platform.Start(ctx, cfg.Config, platform.Spec{
		Migrations:    postgres.Migrations,
		Subscriptions: messaging.Subscriptions,
		Publishes:     true,
	})
	if err != nil {
		return nil, err
	}
	// The simulated provider keeps its ledger in our database for
	// convenience; a real one would be an HTTP client here.
	gw, err := gateway.New(ctx, p.DB, cfg.Gateway, rand.Float64, time.Now)
	if err != nil {
		p.Close()
		return nil, err
	}
	a := app.New(postgres.NewStore(p.DB), gw, cfg.retryPolicy(), time.Now, newID)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	// A payout batch calls the payment gateway between its transactions, so
	// it must not run inside the one an Idempotency-Key opens for a command.
	p.Keys.OwnTransactions(http.MethodPost, "/v1/payouts")
	if cfg.PayoutInterval > 0 {
		tracer := p.Tracing.Tracer("github.com/expenseflow/expenseflow/services/reimbursement/internal/app")
		p.Every(cfg.PayoutInterval, func(ctx context.Context) { a.PayoutTick(ctx, p.Log, tracer) })
	}
	return p, nil
}

// newID returns a UUIDv7: unique, and ordered by creation time, which gives
// lists a stable, chronological order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
