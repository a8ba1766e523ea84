package postgres

import (
	"context"

	"gorm.io/gorm"
)

// DeleteBatch is how many rows DeleteInBatches deletes per statement.
const DeleteBatch = 5000

// DeleteInBatches runs query — a DELETE of at most DeleteBatch rows, whose
// last argument is that limit (e.g. "… WHERE ctid IN (SELECT ctid … LIMIT
// ?)") — until a run deletes fewer, and returns how many rows it deleted.
//
// Why batches: one long DELETE is a long-open transaction, it holds locks
// and bloats, and the outbox relay reads nothing past the oldest open
// transaction, so event delivery would stall while it ran.
func DeleteInBatches(ctx context.Context, db *gorm.DB, query string, args ...any) (int64, error) {
	var total int64
	for {
		res := db.WithContext(ctx).Exec(query, append(args, DeleteBatch)...)
		total += res.RowsAffected
		if res.Error != nil || res.RowsAffected < DeleteBatch {
			return total, res.Error
		}
	}
}
