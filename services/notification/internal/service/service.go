// Package service wires the notification service together; main and the
// component tests share it.
package service

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/services/notification/internal/app"
	"github.com/expenseflow/expenseflow/services/notification/internal/httpapi"
	"github.com/expenseflow/expenseflow/services/notification/internal/messaging"
	"github.com/expenseflow/expenseflow/services/notification/internal/postgres"
)

// Config is the notification service's configuration.
type Config struct {
	platform.Config
	// UserDirectory is a JSON file of users (see pkg/directory) telling who
	// the managers and finance users are; empty means the demo users.
	UserDirectory string `env:"USER_DIRECTORY"`
	// SMTPAddr (host:port) is where e-mail will be delivered. Delivery is a
	// later issue: today every notification is stored with delivery status
	// "pending" and the inbox is the only channel.
	SMTPAddr string `env:"SMTP_ADDR"`
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
	if cfg.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.SMTPAddr); err != nil {
			return nil, fmt.Errorf("SMTP_ADDR must be host:port: %w", err)
		}
	}
	p, err := platform.Start(ctx, cfg.Config, platform.Spec{
		Migrations:    postgres.Migrations,
		Subscriptions: messaging.Subscriptions,
		Publishes:     false,
	})
	if err != nil {
		return nil, err
	}
	if cfg.SMTPAddr != "" {
		p.Log.Warn("SMTP_ADDR is set but e-mail delivery is not implemented yet; notifications stay pending", "smtp_addr", cfg.SMTPAddr)
	}
	a := app.New(postgres.NewNotifications(p.DB), dir, time.Now, newID)
	messaging.Register(p.Router, a)
	httpapi.Register(p.API, a)
	return p, nil
}

// newID returns a UUIDv7: unique, and ordered by creation time, which gives
// the inbox a stable, chronological order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
