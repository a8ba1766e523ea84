package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/app"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/gateway"
)

// dice returns the given rolls in turn, so a test chooses each outcome.
type dice struct {
	mu    sync.Mutex
	rolls []float64
}

func (d *dice) roll() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.rolls[0]
	d.rolls = d.rolls[1:]
	return r
}

// newGateway returns a gateway with cfg on a fresh database, rolling the given dice.
func newGateway(t *testing.T, cfg gateway.Config, rolls ...float64) (*gateway.Gateway, *gorm.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, testinfra.Database(t, "gateway"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	gw, err := gateway.New(ctx, db, cfg, (&dice{rolls: rolls}).roll, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return gw, db
}

func ledgerRows(t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Table("gateway_payments").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

var order = app.Payment{Key: "r-1", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR"}

// flaky declines a roll below 0.3, is unavailable below 0.6, and pays above.
var flaky = gateway.Config{PermanentFailureRate: 0.3, TransientFailureRate: 0.3}

func TestPaysOncePerKey(t *testing.T) {
	// The second and third calls would be declined or fail if the gateway
	// rolled again: a key paid before is answered from the ledger.
	gw, db := newGateway(t, flaky, 0.9, 0.1, 0.5)
	ctx := context.Background()
	first, err := gw.Pay(ctx, order)
	if err != nil || first == "" {
		t.Fatalf("first call: %q, %v", first, err)
	}
	for i := range 2 {
		if again, err := gw.Pay(ctx, order); err != nil || again != first {
			t.Fatalf("repeated call %d: %q, %v; want %q", i+1, again, err, first)
		}
	}
	if n := ledgerRows(t, db); n != 1 {
		t.Fatalf("%d payments in the ledger, want 1", n)
	}
	other := order
	other.AmountMinor++
	if _, err := gw.Pay(ctx, other); !errors.Is(err, app.ErrPaymentDeclined) {
		t.Fatalf("same key, other amount: want declined, got %v", err)
	}
}

func TestSimulatedFailures(t *testing.T) {
	gw, db := newGateway(t, flaky, 0.1, 0.5, 0.6)
	ctx := context.Background()
	if _, err := gw.Pay(ctx, order); !errors.Is(err, app.ErrPaymentDeclined) {
		t.Fatalf("roll 0.1: want declined, got %v", err)
	}
	if _, err := gw.Pay(ctx, order); !errors.Is(err, gateway.ErrUnavailable) || errors.Is(err, app.ErrPaymentDeclined) {
		t.Fatalf("roll 0.5: want a transient error, got %v", err)
	}
	if n := ledgerRows(t, db); n != 0 {
		t.Fatalf("failed calls paid %d times", n)
	}
	if ref, err := gw.Pay(ctx, order); err != nil || ref == "" {
		t.Fatalf("roll 0.6: want paid, got %q, %v", ref, err)
	}
}

// A slow gateway call gives up when its caller does, and pays nothing.
func TestLatencyHonoursCancellation(t *testing.T) {
	gw, db := newGateway(t, gateway.Config{Latency: time.Hour}, 0.9)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := gw.Pay(ctx, order); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the caller's deadline, got %v", err)
	}
	if n := ledgerRows(t, db); n != 0 {
		t.Fatalf("a cancelled call paid %d times", n)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		cfg   gateway.Config
		valid bool
	}{
		{"defaults", gateway.Config{}, true},
		{"always fails", gateway.Config{TransientFailureRate: 0.5, PermanentFailureRate: 0.5}, true},
		{"rates above 1 together", gateway.Config{TransientFailureRate: 0.6, PermanentFailureRate: 0.5}, false},
		{"negative rate", gateway.Config{TransientFailureRate: -0.1}, false},
		{"NaN rate", gateway.Config{PermanentFailureRate: math.NaN()}, false},
		{"negative latency", gateway.Config{Latency: -time.Second}, false},
	}
	for _, tc := range cases {
		if err := tc.cfg.Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: valid=%v, got %v", tc.name, tc.valid, err)
		}
	}
}
