// Package service wires the audit service together; main and the component
// tests share it.
package service

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/audit/internal/app"
	"github.com/expenseflow/expenseflow/services/audit/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/audit/internal/messaging"
	"github.com/expenseflow/expenseflow/services/audit/internal/postgres"
)

// Config is the audit service's configuration.
type Config struct {
	platform.Config
	// CheckpointInterval is how often the log's head is written to the
	// service's own log as a checkpoint (see app.CheckpointTick); 0 never.
	CheckpointInterval time.Duration `env:"AUDIT_CHECKPOINT_INTERVAL" envDefault:"1h"`
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	cfg := Config{Config: platform.Defaults("audit", ":8085")}
	return cfg, platform.Load(&cfg)
}

// New starts the audit service's infrastructure and wires its parts; the
// caller runs it with Run.
func New(ctx context.Context, cfg Config) (*platform.Platform, error) {
	p, err := platform.Start(ctx, cfg.Config, platform.Spec{
		Migrations:    postgres.Migrations,
		Subscriptions: messaging.Subscriptions,
		Publishes:     false,
	})
	if err != nil {
		return nil, err
	}
	a := app.New(postgres.NewEvents(p.DB), time.Now)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	if cfg.CheckpointInterval > 0 {
		p.Every(cfg.CheckpointInterval, func(ctx context.Context) { a.CheckpointTick(ctx, p.Log) })
	}
	return p, nil
}
