package inbox_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// Prune deletes the records of events handled before the retention — more
// than one batch of them — and keeps the recent ones, which still guard
// against a redelivery.
func TestPruneDeletesOnlyOldRecords(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, testinfra.Database(t, "inbox"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, db, inbox.Migrations); err != nil {
		t.Fatal(err)
	}
	const old = 2*postgres.DeleteBatch + 1
	if err := db.Exec(`INSERT INTO inbox (consumer, event_id, handled_at)
		SELECT 'c', 'old-' || i, now() - interval '40 days' FROM generate_series(1, ?) i`, old).Error; err != nil {
		t.Fatal(err)
	}
	recent := inbox.Key{Consumer: "c", EventID: "recent"}
	if err := inbox.Once(ctx, db, recent, func(*gorm.DB) error { return nil }); err != nil {
		t.Fatal(err)
	}

	n, err := inbox.Prune(ctx, db, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != old {
		t.Errorf("pruned %d records, want %d", n, old)
	}
	handledAgain := false
	if err := inbox.Once(ctx, db, recent, func(*gorm.DB) error { handledAgain = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if handledAgain {
		t.Error("the recent record was pruned: its event would be handled twice")
	}
}
