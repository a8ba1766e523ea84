// Package service wires the accounting service together; main and the
// component tests share it.
package service

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/accounting/internal/app"
	"github.com/expenseflow/expenseflow/services/accounting/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/accounting/internal/messaging"
	"github.com/expenseflow/expenseflow/services/accounting/internal/postgres"
)

// Config is the accounting service's configuration; it has no knobs beyond
// the platform's.
type Config struct {
	platform.Config
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	cfg := Config{Config: platform.Defaults("accounting", ":8082")}
	return cfg, platform.Load(&cfg)
}

// New starts the accounting service's infrastructure and wires its parts;
// the caller runs it with Run.
func New(ctx context.Context, cfg Config) (*platform.Platform, error) {
	p, err := platform.Start(ctx, cfg.Config, platform.Spec{
		Migrations:    postgres.Migrations,
		Subscriptions: messaging.Subscriptions,
		Publishes:     true,
	})
	if err != nil {
		return nil, err
	}
	a := app.New(postgres.NewJournal(p.DB), time.Now, newID)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	return p, nil
}

// newID returns a UUIDv7: unique, and ordered by creation time, which gives
// the entries list a stable, chronological order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
