// Package service wires the notification service together; main and the
// component tests share it.
package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/retry"
	"github.com/expenseflow/expenseflow/services/notification/internal/app"
	"github.com/expenseflow/expenseflow/services/notification/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/notification/internal/mailer"
	"github.com/expenseflow/expenseflow/services/notification/internal/messaging"
	"github.com/expenseflow/expenseflow/services/notification/internal/postgres"
)

// Config is the notification service's configuration.
type Config struct {
	platform.Config
	// UserDirectory is a JSON file of users (see pkg/directory) telling who
	// the managers and finance users are; empty means the demo users.
	UserDirectory string `env:"USER_DIRECTORY"`
	// SMTPAddr (host:port) is where e-mail is delivered; empty switches
	// e-mail off (notifications stay pending, the inbox works as ever).
	SMTPAddr    string        `env:"SMTP_ADDR"`
	SMTPFrom    string        `env:"SMTP_FROM" envDefault:"notifications@expenseflow.test"`
	SMTPTimeout time.Duration `env:"SMTP_TIMEOUT" envDefault:"10s"`
	// DeliveryInterval is how often pending e-mail is looked at; the retry
	// schedule of a failing delivery is DELIVERY_RETRY_BASE doubling up to
	// DELIVERY_RETRY_MAX, for at most DELIVERY_MAX_ATTEMPTS attempts.
	DeliveryInterval    time.Duration `env:"DELIVERY_INTERVAL" envDefault:"1s"`
	DeliveryMaxAttempts int           `env:"DELIVERY_MAX_ATTEMPTS" envDefault:"20"`
	DeliveryRetryBase   time.Duration `env:"DELIVERY_RETRY_BASE" envDefault:"2s"`
	DeliveryRetryMax    time.Duration `env:"DELIVERY_RETRY_MAX" envDefault:"5m"`
}

func (c Config) deliveryPolicy() retry.Policy {
	return retry.Policy{MaxAttempts: c.DeliveryMaxAttempts, BaseDelay: c.DeliveryRetryBase, MaxDelay: c.DeliveryRetryMax}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("SMTP_ADDR must be host:port: %w", err))
		}
	}
	if c.SMTPTimeout <= 0 || c.DeliveryInterval <= 0 {
		errs = append(errs, errors.New("SMTP_TIMEOUT and DELIVERY_INTERVAL must be positive"))
	}
	if err := c.deliveryPolicy().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("delivery retries (DELIVERY_MAX_ATTEMPTS, DELIVERY_RETRY_BASE, DELIVERY_RETRY_MAX): %w", err))
	}
	return errors.Join(append(errs, c.Config.Validate())...)
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	cfg := Config{Config: platform.Defaults("notification", ":8084")}
	return cfg, platform.Load(&cfg)
}

// New starts the notification service's infrastructure and wires its parts;
// the caller runs it with Run. A bad directory or SMTP address fails here,
// before anything connects.
func New(ctx context.Context, cfg Config) (*platform.Platform, error) {
	dir, err := directory.Load(cfg.UserDirectory)
	if err != nil {
		return nil, fmt.Errorf("USER_DIRECTORY: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := platform.Start(ctx, cfg.Config, platform.Spec{
		Migrations:    postgres.Migrations,
		Subscriptions: messaging.Subscriptions,
		Publishes:     false,
	})
	if err != nil {
		return nil, err
	}
	var send app.Mailer // nil: e-mail off
	if cfg.SMTPAddr != "" {
		send = mailer.New(cfg.SMTPAddr, cfg.SMTPFrom, cfg.SMTPTimeout, time.Now)
	} else {
		p.Log.Info("SMTP_ADDR is not set: e-mail is off, notifications stay pending in the inbox")
	}
	a := app.New(postgres.NewNotifications(p.DB), dir, send, cfg.deliveryPolicy(), time.Now, newID)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	if send != nil {
		p.Every(cfg.DeliveryInterval, func(ctx context.Context) { a.DeliveryTick(ctx, p.Log) })
	}
	return p, nil
}

// newID returns a UUIDv7: unique, and ordered by creation time, which gives
// the inbox a stable, chronological order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
