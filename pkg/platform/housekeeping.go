package platform

import (
	"context"
	"time"

	"github.com/expenseflow/expenseflow/pkg/idempotency"
	"github.com/expenseflow/expenseflow/pkg/inbox"
	"github.com/expenseflow/expenseflow/pkg/outbox"
)

// housekeepingEvery is how often the housekeeping runs (Platform.Every).
const housekeepingEvery = time.Hour

// chore deletes rows a service no longer needs and says how many.
type chore struct {
	what string
	run  func(ctx context.Context) (int64, error)
}

// housekeeping is every chore of this service: expired Idempotency-Keys,
// and, unless their retention is 0, published outbox rows and old inbox
// records. Each instance of a service runs it; they do not get in each
// other's way, since each DELETE takes only a small batch.
func (p *Platform) housekeeping(keys *idempotency.Keys, publishes bool) []chore {
	chores := []chore{{"expired idempotency keys", keys.Sweep}}
	if keep := p.Config.OutboxRetention; publishes && keep > 0 {
		chores = append(chores, chore{"published outbox rows", func(ctx context.Context) (int64, error) {
			return outbox.Prune(ctx, p.DB, keep)
		}})
	}
	if keep := p.Config.InboxRetention; keep > 0 {
		chores = append(chores, chore{"inbox records", func(ctx context.Context) (int64, error) {
			return inbox.Prune(ctx, p.DB, keep)
		}})
	}
	return chores
}

// keepHouse runs every chore once. A chore that fails is logged and tried
// again next time: nothing depends on it but the size of the tables.
func (p *Platform) keepHouse(ctx context.Context, chores []chore) {
	for _, c := range chores {
		n, err := c.run(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.Log.WarnContext(ctx, "housekeeping failed; next time", "chore", c.what, "error", err)
		case n > 0:
			p.Log.InfoContext(ctx, "housekeeping", "chore", c.what, "deleted", n)
		}
	}
}
