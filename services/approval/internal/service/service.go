// Package service wires the approval service together; main and the
// component tests share it.
package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
	"github.com/expenseflow/expenseflow/services/approval/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/approval/internal/messaging"
	"github.com/expenseflow/expenseflow/services/approval/internal/postgres"
)

// Config is the approval service's configuration.
type Config struct {
	platform.Config
	// ReadWaitMax bounds how long GET ?min_version waits for the projection.
	ReadWaitMax time.Duration `env:"READ_WAIT_MAX" envDefault:"5s"`
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	cfg := Config{Config: platform.Defaults("approval", ":8081")}
	return cfg, platform.Load(&cfg)
}

// New starts the approval service's infrastructure and wires its parts; the
// caller runs it with Run.
func New(ctx context.Context, cfg Config) (*platform.Platform, error) {
	p, err := platform.Start(ctx, cfg.Config, platform.Spec{
		Migrations:    postgres.Migrations,
		Subscriptions: messaging.Subscriptions,
		Publishes:     true,
	})
	if err != nil {
		return nil, err
	}
	a := app.New(postgres.NewExpenses(p.DB), postgres.NewViews(p.DB), time.Now, newID, min(cfg.ReadWaitMax, 5*time.Second))
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	return p, nil
}

// newID returns a UUIDv7: unique, and ordered by creation time, which gives
// lists a stable, chronological order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
