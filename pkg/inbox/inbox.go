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
