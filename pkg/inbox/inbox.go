// Package inbox makes message handlers idempotent. A handler's effect and the
// record "consumer C has handled event E" commit in one transaction; the
// primary key (consumer, event_id) is the last line of defence, so a
// redelivered or duplicated event — even one delivered to two competing
// instances at the same moment — has its effect exactly once.
package inbox

import (
	"context"
	"embed"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the inbox table.
var Migrations = postgres.EmbeddedMigrations("inbox", migrationFiles, "migrations")

// Key identifies one delivery to deduplicate: which handler, which event.
type Key struct {
	Consumer string // a handler name constant
	EventID  string // the envelope id
}

// Once runs fn in a transaction that also records key. If key was recorded
// before, it returns nil without calling fn: the event was handled already.
// With two concurrent deliveries of one event, the second insert waits for the
// first transaction and then finds the key taken.
func Once(ctx context.Context, db *gorm.DB, key Key, fn func(tx *gorm.DB) error) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO inbox (consumer, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, key.Consumer, key.EventID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil
		}
		return fn(tx)
	})
}

// Position is where an event stands in the history of its aggregate: the
// envelope's subject and sequence.
type Position struct {
	Subject  string
	Sequence int64
}

// OnceIfNewer is Once for a consumer whose effect is right only for the
// newest news about an aggregate (asking managers to review a claim that is
// already decided is wrong): fn runs only if at.Sequence is above that of
// every event of at.Subject this consumer has handled; an older or equal one
// (late, reordered, re-published under a new id) is recorded and skipped.
// The position moves in the same transaction as the effect.
func OnceIfNewer(ctx context.Context, db *gorm.DB, key Key, at Position, fn func(tx *gorm.DB) error) error {
	return Once(ctx, db, key, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO inbox_positions (consumer, subject, sequence) VALUES (?, ?, ?)
			ON CONFLICT (consumer, subject) DO UPDATE SET sequence = EXCLUDED.sequence
			WHERE inbox_positions.sequence < EXCLUDED.sequence`, key.Consumer, at.Subject, at.Sequence)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error // 0 rows: stale news, nothing to do
		}
		return fn(tx)
	})
}
