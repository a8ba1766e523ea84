package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/inbox"
	pkgpostgres "github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
	"github.com/expenseflow/expenseflow/services/approval/internal/postgres"
)

// open returns a migrated, fresh approval database.
func open(t *testing.T) *gorm.DB {
	t.Helper()
	ctx := context.Background()
	db, err := pkgpostgres.Open(ctx, testinfra.Database(t, "approval_store"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	if err := pkgpostgres.Migrate(ctx, db, inbox.Migrations, postgres.Migrations); err != nil {
		t.Fatal(err)
	}
	return db
}

// Several consumers apply a claim's events side by side, its first ones
// too: whichever finds no row inserts it, the others wait for that insert
// and apply theirs to the row it made. Each application here adds one to
// the version, so a lost update, or an event that failed, shows as a
// version short of the number of events.
func TestRacingFirstEventsAreAllApplied(t *testing.T) {
	db := open(t)
	views := postgres.NewViews(db)
	const claims, events = 10, 8
	for range claims {
		id := uuid.NewString()
		start := make(chan struct{})
		errs := make(chan error, events)
		var wg sync.WaitGroup
		for i := range events {
			wg.Go(func() {
				<-start
				key := inbox.Key{Consumer: "test-projection", EventID: fmt.Sprintf("%s-%d", id, i)}
				errs <- views.Project(context.Background(), key, id, func(v *app.View) { v.Version++ })
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var version int64
		if err := db.Raw("SELECT version FROM expense_views WHERE id = ?", id).Scan(&version).Error; err != nil {
			t.Fatal(err)
		}
		if version != events {
			t.Fatalf("claim %s: version %d after %d racing events, want %d", id, version, events, events)
		}
	}
}
