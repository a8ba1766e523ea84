package outbox_test

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// Prune deletes published rows past the retention — more than one batch of
// them — and keeps both the recent published rows and every row the relay
// has not published yet, however old.
func TestPruneDeletesOnlyOldPublishedRows(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, testinfra.Database(t, "outbox"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, db, outbox.Migrations); err != nil {
		t.Fatal(err)
	}
	const oldPublished = 2*postgres.DeleteBatch + 1
	steps := []string{
		// One transaction: many old rows, then a recent one; the relay has
		// published all of them (its position is the recent row).
		`BEGIN`,
		`INSERT INTO watermill_outbox (uuid, created_at, transaction_id)
		 SELECT 'old-' || i, localtimestamp - interval '10 days', pg_current_xact_id() FROM generate_series(1, ` + strconv.Itoa(oldPublished) + `) i`,
		`INSERT INTO watermill_outbox (uuid, transaction_id) VALUES ('recent', pg_current_xact_id())`,
		`INSERT INTO watermill_offsets_outbox (consumer_group, offset_acked, last_processed_transaction_id)
		 SELECT 'relay', "offset", transaction_id FROM watermill_outbox WHERE uuid = 'recent'`,
		`COMMIT`,
		// A later transaction's old row the relay has not published.
		`INSERT INTO watermill_outbox (uuid, created_at, transaction_id) VALUES ('unpublished', localtimestamp - interval '10 days', pg_current_xact_id())`,
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sqlDB.Conn(ctx) // one session: BEGIN … COMMIT must share it
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range steps {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}

	n, err := outbox.Prune(ctx, db, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != oldPublished {
		t.Errorf("pruned %d rows, want %d", n, oldPublished)
	}
	var left []string
	if err := db.Raw(`SELECT uuid FROM watermill_outbox ORDER BY uuid`).Scan(&left).Error; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{"recent", "unpublished"}) {
		t.Errorf("rows left: %v, want the recent and the unpublished one", left)
	}
}
