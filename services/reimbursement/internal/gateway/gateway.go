// Package gateway is a simulated payment provider implementing
// app.PaymentGateway, with the behaviour a real one has that matters to its
// caller: it is slow (configurable latency), it sometimes fails for a while
// (transient failures) or refuses for good (permanent failures), and it is
// idempotent per key. Its ledger, the gateway_payments table, stands for the
// provider's own records; it is written outside the caller's transaction,
// exactly as a remote system would be, and lets tests count payments.
package gateway

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/app"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var migrations = postgres.EmbeddedMigrations("gateway", migrationFiles, "migrations")

// Config shapes the simulation. Each attempt draws one number in [0, 1):
// below PermanentFailureRate the payment is declined, below the sum of both
// rates the gateway is unavailable, otherwise it pays.
type Config struct {
	Latency              time.Duration `env:"GATEWAY_LATENCY" envDefault:"0s"`
	TransientFailureRate float64       `env:"GATEWAY_TRANSIENT_FAILURE_RATE" envDefault:"0"`
	PermanentFailureRate float64       `env:"GATEWAY_PERMANENT_FAILURE_RATE" envDefault:"0"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Latency < 0 {
		errs = append(errs, errors.New("GATEWAY_LATENCY must not be negative"))
	}
	// Written as a negation so that NaN, which fails every comparison, is refused too.
	if t, p := c.TransientFailureRate, c.PermanentFailureRate; !(t >= 0 && p >= 0 && t+p <= 1) {
		errs = append(errs, errors.New("GATEWAY_TRANSIENT_FAILURE_RATE and GATEWAY_PERMANENT_FAILURE_RATE must be at least 0 and add up to at most 1"))
	}
	return errors.Join(errs...)
}

// ErrUnavailable is the simulated transient failure.
var ErrUnavailable = errors.New("payment gateway unavailable (simulated), try again later")

// Gateway is the simulated provider.
type Gateway struct {
	db   *gorm.DB
	cfg  Config
	roll func() float64 // uniform in [0, 1); injected so tests choose the outcome
	now  func() time.Time
}

// New returns a gateway keeping its ledger in db, creating the ledger table
// if needed.
func New(ctx context.Context, db *gorm.DB, cfg Config, roll func() float64, now func() time.Time) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, db, migrations); err != nil {
		return nil, err
	}
	return &Gateway{db: db, cfg: cfg, roll: roll, now: now}, nil
}

type payment struct {
	ReimbursementID string `gorm:"primaryKey"`
	PaymentRef      string
	AmountMinor     int64
	Currency        string
	PaidAt          time.Time
}

func (payment) TableName() string { return "gateway_payments" }

// Pay pays p once per p.Key. A key paid before is answered from the ledger
// whatever the dice say, as a real provider replays its stored response.
func (g *Gateway) Pay(ctx context.Context, p app.Payment) (string, error) {
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(g.cfg.Latency):
	}
	if ref, found, err := g.replay(ctx, p); found || err != nil {
		return ref, err
	}
	switch roll := g.roll(); {
	case roll < g.cfg.PermanentFailureRate:
		return "", fmt.Errorf("%w: the payee's bank refused the transfer (simulated)", app.ErrPaymentDeclined)
	case roll < g.cfg.PermanentFailureRate+g.cfg.TransientFailureRate:
		return "", ErrUnavailable
	}
	paid := payment{
		ReimbursementID: p.Key, PaymentRef: "pay_" + uuid.NewString(),
		AmountMinor: p.AmountMinor, Currency: p.Currency, PaidAt: g.now(),
	}
	if err := g.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&paid).Error; err != nil {
		return "", err
	}
	// A concurrent call with the same key may have won the insert: the
	// ledger's row is the one payment there is.
	ref, _, err := g.replay(ctx, p)
	return ref, err
}

// replay answers from the ledger when p.Key was paid before. Reusing a key
// for another amount is declined: it is a caller's bug, never a retry.
func (g *Gateway) replay(ctx context.Context, p app.Payment) (ref string, found bool, err error) {
	var prior payment
	err = g.db.WithContext(ctx).Take(&prior, "reimbursement_id = ?", p.Key).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return "", false, nil
	case err != nil:
		return "", false, err
	case prior.AmountMinor != p.AmountMinor || prior.Currency != p.Currency:
		return "", true, fmt.Errorf("%w: key %s was paid before with another amount", app.ErrPaymentDeclined, p.Key)
	}
	return prior.PaymentRef, true, nil
}
