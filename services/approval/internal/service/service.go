// Package service wires the approval service together; main and the
// component tests share it.
package service

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
	"github.com/expenseflow/expenseflow/services/approval/internal/auditfeed"
	"github.com/expenseflow/expenseflow/services/approval/internal/budget"
	"github.com/expenseflow/expenseflow/services/approval/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/approval/internal/messaging"
	"github.com/expenseflow/expenseflow/services/approval/internal/postgres"
)

// Config is the approval service's configuration.
type Config struct {
	platform.Config
	// ReadWaitMax bounds how long GET ?min_version waits for the projection.
	ReadWaitMax time.Duration `env:"READ_WAIT_MAX" envDefault:"5s"`
	// AuditURL is where rebuild-projection reads the event archive from.
	AuditURL string `env:"AUDIT_URL" envDefault:"http://localhost:8085"`
	// RebuildWait bounds how long a rebuild waits for the archive to hold
	// every event the live projection has applied.
	RebuildWait time.Duration `env:"REBUILD_WAIT" envDefault:"30s"`
	// VoidTick is how often the void timer looks for saga steps whose
	// answer is late (each step's own timeout says when one is).
	VoidTick time.Duration `env:"VOID_TICK" envDefault:"1s"`
	// The budget check (docs/adr/0018-budget-check-fails-closed.md): where
	// accounting is, how long one reservation may take, and the key approval
	// signs its service tokens with (base64 Ed25519 seed; with DEV_MODE and
	// none set, the development key).
	AccountingURL     string        `env:"ACCOUNTING_URL" envDefault:"http://localhost:8082"`
	BudgetTimeout     time.Duration `env:"BUDGET_TIMEOUT" envDefault:"500ms"`
	ServiceSigningKey string        `env:"APPROVAL_SERVICE_SIGNING_KEY"`
}

// signingKey is the key approval signs its service tokens with.
func (c Config) signingKey() (ed25519.PrivateKey, error) {
	if c.ServiceSigningKey == "" {
		if !c.JWT.DevMode {
			return nil, errors.New("APPROVAL_SERVICE_SIGNING_KEY must be set (or DEV_MODE=true on a laptop)")
		}
		return auth.DevServiceKey("approval"), nil
	}
	return auth.ParsePrivateKey(c.ServiceSigningKey)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.ReadWaitMax < 0 || c.ReadWaitMax > 5*time.Second {
		errs = append(errs, errors.New("READ_WAIT_MAX must be between 0 and 5s"))
	}
	if c.BudgetTimeout <= 0 || c.BudgetTimeout > time.Second {
		errs = append(errs, errors.New("BUDGET_TIMEOUT must be between 0 and 1s: an approve waits for it"))
	}
	if c.AccountingURL == "" {
		errs = append(errs, errors.New("ACCOUNTING_URL must be set"))
	}
	if c.VoidTick <= 0 {
		errs = append(errs, errors.New("VOID_TICK must be positive"))
	}
	if c.AuditURL == "" {
		errs = append(errs, errors.New("AUDIT_URL must be set"))
	}
	return errors.Join(append(errs, c.Config.Validate())...)
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	cfg := Config{Config: platform.Defaults("approval", ":8081")}
	return cfg, platform.Load(&cfg)
}

// New starts the approval service's infrastructure and wires its parts; the
// caller runs it with Run.
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
	key, err := cfg.signingKey()
	if err != nil {
		p.Close()
		return nil, err
	}
	budgets := budget.New(cfg.AccountingURL, key, cfg.BudgetTimeout, p.Log)
	voids := postgres.NewVoids(p.DB)
	a := app.New(postgres.NewExpenses(p.DB), postgres.NewViews(p.DB), voids, budgets, time.Now, newID, cfg.ReadWaitMax)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	// An approve calls accounting (the budget check) before it commits: it
	// must not run inside the Idempotency-Key's transaction. Approving
	// again is harmless, so a key left "in progress" by a crash costs only
	// a retry under a new key.
	p.Keys.OwnTransactions(http.MethodPost, "/v1/expenses/:id/approve")
	// The void timer: a saga step whose answer is late is sent again.
	p.Every(cfg.VoidTick, func(ctx context.Context) { a.ResendTimedOut(ctx, p.Log) })
	p.Metrics.MustRegister(postgres.NewVoidCollector(p.DB))
	return p, nil
}

// RebuildProjection is the "rebuild-projection" command: it replaces the
// read model with one rebuilt from the audit service's feed (see
// app.RebuildProjection). The service may keep running meanwhile.
func RebuildProjection(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	db, log, err := platform.OpenDatabase(ctx, cfg.Config, postgres.Migrations)
	if err != nil {
		return err
	}
	defer platform.CloseDatabase(db)
	// The feed is for auditors; the service reads it under its own name.
	token, err := auth.Mint(cfg.JWT, directory.User{ID: "service:approval", Name: "approval service", Role: directory.RoleAuditor}, time.Now(), time.Hour)
	if err != nil {
		return err
	}
	a := app.New(postgres.NewExpenses(db), postgres.NewViews(db), postgres.NewVoids(db), nil, time.Now, newID, cfg.ReadWaitMax)
	n, err := a.RebuildProjection(ctx, auditfeed.New(cfg.AuditURL, token, log), cfg.RebuildWait)
	if err != nil {
		return fmt.Errorf("rebuild-projection: %w", err)
	}
	log.InfoContext(ctx, "projection rebuilt from the audit feed", "events_replayed", n)
	return nil
}

// newID returns a UUIDv7: unique, and ordered by creation time, which gives
// lists a stable, chronological order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
