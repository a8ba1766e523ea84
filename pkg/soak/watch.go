package soak

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// watcher answers the flows' "is it there yet?" with one query per check
// and poll for every flow waiting on it, instead of one query per flow and
// poll. The first `make bench` found the driver's own polling to be most of
// the database's work (a per-flow poll every 10 ms, one of them without an
// index): a load generator must not be the load.
type watcher struct {
	pools   map[string]*pgxpool.Pool
	every   time.Duration
	mu      sync.Mutex
	waiting map[*check]map[string]chan string // check → expense id → its state, once there
}

// check is one question about many claims: its query takes the expense ids
// ($1, text[]) and returns (id, state) for those that have arrived. It is
// asked every poll, or every slow-th poll: a payment takes a payout batch
// (every 200 ms), so asking about it as often as about a read model only
// loads the database.
type check struct {
	service, what, sql string
	slow               int
}

// The checks: the four read models an approval updates, and the payment.
var (
	viewApproved = &check{"approval", "the view shows approved",
		`SELECT id::text, status FROM expense_views WHERE id = ANY($1::uuid[]) AND status = 'approved'`, 1}
	reimbursementScheduled = &check{"reimbursement", "the reimbursement is scheduled",
		`SELECT expense_id, status FROM reimbursements WHERE expense_id = ANY($1)`, 1}
	approvalBooked = &check{"accounting", "the approval is in the ledger",
		`SELECT expense_id, kind FROM journal_entries WHERE expense_id = ANY($1) AND kind = 'approval'`, 1}
	employeeNotified = &check{"notification", "the employee is notified",
		`SELECT expense_id, event_type FROM notifications WHERE expense_id = ANY($1) AND event_type = 'expense.approved.v1'`, 1}
	expenseVoided = &check{"approval", "the claim is voided",
		`SELECT id::text, status FROM expenses WHERE id = ANY($1::uuid[]) AND status = 'voided'`, 5}
	paymentSettled = &check{"reimbursement", "the reimbursement is paid",
		`SELECT expense_id, status FROM reimbursements WHERE expense_id = ANY($1) AND status IN ('paid', 'failed')`, 5}

	readModelChecks = []*check{viewApproved, reimbursementScheduled, approvalBooked, employeeNotified}
)

func newWatcher(pools map[string]*pgxpool.Pool, every time.Duration) *watcher {
	return &watcher{pools: pools, every: every, waiting: map[*check]map[string]chan string{}}
}

// wait blocks until c's query returns id, and returns the state it had.
func (w *watcher) wait(ctx context.Context, c *check, id string) (string, error) {
	arrived := make(chan string, 1)
	w.mu.Lock()
	if w.waiting[c] == nil {
		w.waiting[c] = map[string]chan string{}
	}
	w.waiting[c][id] = arrived
	w.mu.Unlock()
	select {
	case state := <-arrived:
		return state, nil
	case <-ctx.Done():
		w.mu.Lock()
		delete(w.waiting[c], id)
		w.mu.Unlock()
		return "", fmt.Errorf("%s: not yet: %w", c.what, ctx.Err())
	}
}

// run polls until ctx ends.
func (w *watcher) run(ctx context.Context) {
	for poll := 0; ; poll++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.every):
		}
		w.mu.Lock()
		asks := map[*check][]string{}
		for c, ids := range w.waiting {
			if poll%c.slow != 0 {
				continue
			}
			for id := range ids {
				asks[c] = append(asks[c], id)
			}
		}
		w.mu.Unlock()
		for c, ids := range asks {
			rows, err := w.pools[c.service].Query(ctx, c.sql, ids)
			if err != nil {
				continue // the next poll asks again (a fault run breaks things)
			}
			found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
				var id, state string
				err := r.Scan(&id, &state)
				return [2]string{strings.ToLower(id), state}, err
			})
			if err != nil {
				continue
			}
			w.mu.Lock()
			for _, f := range found {
				if arrived, ok := w.waiting[c][f[0]]; ok {
					arrived <- f[1]
					delete(w.waiting[c], f[0])
				}
			}
			w.mu.Unlock()
		}
	}
}
