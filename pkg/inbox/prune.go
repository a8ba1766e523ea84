package inbox

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// Prune deletes inbox records of events handled more than keep ago, in
// small batches, and returns how many it deleted.
//
// An inbox record is what makes a redelivery of its event harmless, so keep
// must outlast every redelivery still possible: the broker's take seconds,
// but a dead letter can be replayed as long as it is kept (cmd/deadletters).
// Where a natural key exists (one reimbursement per expense, say) a unique
// constraint still refuses the duplicate after its record is gone.
func Prune(ctx context.Context, db *gorm.DB, keep time.Duration) (int64, error) {
	return postgres.DeleteInBatches(ctx, db, `
		DELETE FROM inbox WHERE ctid IN (
		  SELECT ctid FROM inbox WHERE handled_at < now() - make_interval(secs => ?) LIMIT ?)`,
		keep.Seconds())
}
