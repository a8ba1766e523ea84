package outbox

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// pruneQuery deletes rows the relay has published (at or before its
// position, in the order it reads) that are older than the retention; rows
// not yet published are never touched, however old.
const pruneQuery = `
DELETE FROM watermill_outbox WHERE ctid IN (
  SELECT o.ctid FROM watermill_outbox o
  JOIN watermill_offsets_outbox f ON f.consumer_group = ?
  WHERE (o.transaction_id, o."offset") <= (f.last_processed_transaction_id, f.offset_acked)
    AND o.created_at < localtimestamp - make_interval(secs => ?)
  LIMIT ?)`

// Prune deletes published outbox rows older than keep, in small batches,
// and returns how many it deleted. watermill-sql never deletes a row itself:
// without this the table grows by a row per event forever. Published rows
// are kept for keep so that what was sent stays readable for a while.
func Prune(ctx context.Context, db *gorm.DB, keep time.Duration) (int64, error) {
	return postgres.DeleteInBatches(ctx, db, pruneQuery, relayGroup, keep.Seconds())
}
