// Package service wires the accounting service together; main and the
// component tests share it.
package service

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/accounting/internal/app"
	"github.com/expenseflow/expenseflow/services/accounting/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/accounting/internal/messaging"
	"github.com/expenseflow/expenseflow/services/accounting/internal/postgres"
)

// Config is the accounting service's configuration.
type Config struct {
	platform.Config
	// ApprovalPublicKey verifies approval's service tokens (base64 Ed25519
	// public key); with DEV_MODE and none set, the development key's.
	ApprovalPublicKey string `env:"APPROVAL_SERVICE_PUBLIC_KEY"`
}

// serviceKeys are the public keys of the services that may call accounting.
func (c Config) serviceKeys() (map[string]ed25519.PublicKey, error) {
	if c.ApprovalPublicKey == "" {
		if !c.JWT.DevMode {
			return nil, errors.New("APPROVAL_SERVICE_PUBLIC_KEY must be set (or DEV_MODE=true on a laptop)")
		}
		return map[string]ed25519.PublicKey{"approval": auth.DevServiceKey("approval").Public().(ed25519.PublicKey)}, nil
	}
	key, err := auth.ParsePublicKey(c.ApprovalPublicKey)
	if err != nil {
		return nil, fmt.Errorf("APPROVAL_SERVICE_PUBLIC_KEY: %w", err)
	}
	return map[string]ed25519.PublicKey{"approval": key}, nil
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
	keys, err := cfg.serviceKeys()
	if err != nil {
		return nil, err
	}
	a := app.New(postgres.NewJournal(p.DB), postgres.NewBudgets(p.DB), time.Now, newID)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	// Service-to-service: approval reserves budget, with its own token.
	httpapi.RegisterInternal(p.HTTP, auth.NewServiceVerifier("accounting", keys), a)
	return p, nil
}

// newID returns a UUIDv7: unique, and ordered by creation time, which gives
// the entries list a stable, chronological order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
