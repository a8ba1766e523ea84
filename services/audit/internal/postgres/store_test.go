package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	pkgpostgres "github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
	"github.com/expenseflow/expenseflow/services/audit/internal/postgres"
)

// open returns a migrated, fresh audit database.
func open(t *testing.T) *gorm.DB {
	t.Helper()
	ctx := context.Background()
	db, err := pkgpostgres.Open(ctx, testinfra.Database(t, "audit_store"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	if err := pkgpostgres.Migrate(ctx, db, postgres.Migrations); err != nil {
		t.Fatal(err)
	}
	return db
}

func record(t *testing.T, id, subject string) domain.Record {
	t.Helper()
	body := fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"type":"expense.submitted.v1","source":"test",`+
		`"subject":%q,"time":"2026-11-22T15:00:00Z","sequence":"0000000000000000001","data":{"expense_id":%q}}`, id, subject, subject)
	env, err := events.ParseEnvelope(body)
	if err != nil {
		t.Fatal(err)
	}
	return domain.NewRecord(env, body)
}

// Competing appenders, each delivering every event twice: every event is
// stored once and seq runs 1..N without a gap. Without the append lock,
// concurrent MAX(seq)+1 would collide on the primary key and appends fail.
func TestConcurrentAppendsGiveGapFreeSeq(t *testing.T) {
	db := open(t)
	store := postgres.NewEvents(db)
	const writers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := record(t, fmt.Sprintf("ev-%d-%d", w, i), "e-1")
				for range 2 {
					errs <- store.Append(context.Background(), r, time.Now())
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var seqs []int64
	if err := db.Raw("SELECT seq FROM audit_events ORDER BY seq").Scan(&seqs).Error; err != nil {
		t.Fatal(err)
	}
	want := make([]int64, writers*each)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("want seq 1..%d, got %v", len(want), seqs)
	}
}

// A NUL character is valid in JSON but PostgreSQL refuses it in text: such
// an event is Invalid, so it is dead-lettered at once instead of retried in
// vain. The envelope itself is kept as bytes, so an escaped NUL inside it
// (\u0000) is stored as received.
func TestUnstorableEventIsInvalid(t *testing.T) {
	store := postgres.NewEvents(open(t))
	r := record(t, "ev-nul", "e-1")
	r.Subject = "nul\x00in-text"
	if err := store.Append(context.Background(), r, time.Now()); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("a NUL in the subject: want an Invalid error, got %v", err)
	}
	r = record(t, "ev-escaped", "e-1")
	r.Envelope = []byte(`{"subject":"nul\u0000in-json"}`)
	if err := store.Append(context.Background(), r, time.Now()); err != nil {
		t.Errorf("an escaped NUL in the envelope: want it stored, got %v", err)
	}
}

// TestGroupCommitIsolatesARefusedEvent: many appends at once are written in
// batches; one the database refuses fails alone, every other is stored once
// (duplicates in the same batch included), and the chain verifies.
func TestGroupCommitIsolatesARefusedEvent(t *testing.T) {
	db := open(t)
	store := postgres.NewEvents(db)
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := record(t, fmt.Sprintf("ev-%d", i%50), "e-1") // ten ids twice; ev-17 never (refused instead)
			if i == 17 {
				r = record(t, "ev-refused", "e-1")
				r.Subject = "nul\x00in-text"
			}
			errs[i] = store.Append(context.Background(), r, time.Now())
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 17 && apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("the refused event: want an Invalid error, got %v", err)
		}
		if i != 17 && err != nil {
			t.Errorf("append %d failed with its batch: %v", i, err)
		}
	}
	links, err := store.Links(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	v := domain.NewVerifier()
	for _, l := range links {
		v.Check(l)
	}
	v.End()
	if len(links) != 49 || v.Broken != nil {
		t.Fatalf("want 49 entries in an unbroken chain, got %d, break %+v", len(links), v.Broken)
	}
}

// A batch is written as if none of its events were logged yet; one that
// holds a redelivery is rolled back and written again without it. Here
// redeliveries of logged events race new ones, so batches mix both: every
// event is stored once, and the hash chain verifies from the first entry
// to the last (a redelivery skipped after the seqs and hashes were
// computed would leave a gap and a link to nothing).
func TestRedeliveriesAmidNewEventsKeepTheChainWhole(t *testing.T) {
	db := open(t)
	store := postgres.NewEvents(db)
	ctx := context.Background()
	const logged, writers, each = 20, 8, 10
	for i := range logged {
		if err := store.Append(ctx, record(t, fmt.Sprintf("old-%d", i), "e-1"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- store.Append(ctx, record(t, fmt.Sprintf("old-%d", (w*each+i)%logged), "e-1"), time.Now())
				errs <- store.Append(ctx, record(t, fmt.Sprintf("new-%d-%d", w, i), "e-1"), time.Now())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	links, err := store.Links(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != logged+writers*each {
		t.Fatalf("%d entries, want %d: each event once", len(links), logged+writers*each)
	}
	v := domain.NewVerifier()
	for _, l := range links {
		v.Check(l)
	}
	v.End()
	if v.Broken != nil {
		t.Fatalf("the chain is broken: %+v", *v.Broken)
	}
}
