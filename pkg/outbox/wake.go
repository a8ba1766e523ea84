package outbox

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5/stdlib"
)

// channel is the PostgreSQL notification channel the outbox's trigger
// notifies on commit (migrations/00002_outbox_notify.sql).
const channel = "outbox"

// wakeOnCommit is the relay's answer to "the outbox was empty, when do I
// look again?": as soon as a transaction that wrote to it commits, or after
// poll at the latest.
//
// Polling alone makes every event wait for the next poll, half the interval
// on average and all of it at worst, at every hop of a flow. A notification
// cannot replace the poll: the relay reads a transaction's events only once
// every older transaction has ended (so that a slow commit is never
// skipped), and the one it waited for may have written no event and so
// notified nobody. So the poll stays, as the net under the notifications.
//
// watermill-sql calls HandleError between its queries, with no transaction
// open, and waits as long as it returns; waiting in here instead, on the
// notifications as well as the clock, is what lets a notification cut the
// wait short.
type wakeOnCommit struct {
	poll  time.Duration
	wake  chan struct{} // one buffered wake-up: more while it waits add nothing
	done  <-chan struct{}
	other wsql.BackoffManager // errors, and a query that found events
}

func newWakeOnCommit(poll, retry time.Duration, done <-chan struct{}) *wakeOnCommit {
	return &wakeOnCommit{poll: poll, wake: make(chan struct{}, 1), done: done,
		other: wsql.NewDefaultBackoffManager(poll, retry)}
}

// HandleError waits, when the last query found nothing, for a commit, the
// poll interval or the end of the relay, whichever comes first; otherwise it
// answers as watermill-sql's default would (at once after events, a pause
// after an error).
func (w *wakeOnCommit) HandleError(log watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if err != nil || !noMsg {
		return w.other.HandleError(log, noMsg, err)
	}
	timer := time.NewTimer(w.poll)
	defer timer.Stop()
	select {
	case <-w.wake:
	case <-timer.C:
	case <-w.done:
	}
	return 0
}

// listen holds one connection of db in LISTEN until ctx ends, turning each
// notification into a wake-up. A lost connection is taken again after a
// pause; meanwhile the relay polls, as it would without notifications.
func (w *wakeOnCommit) listen(ctx context.Context, db *sql.DB, log *slog.Logger) {
	for ctx.Err() == nil {
		err := w.listenOnce(ctx, db)
		if ctx.Err() != nil {
			return
		}
		log.WarnContext(ctx, "outbox relay: lost its notifications, polling until they are back", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (w *wakeOnCommit) listenOnce(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	// A connection that was listening must not go back to the pool: close
	// it, whatever happened to it.
	defer func() { _ = conn.Raw(func(any) error { return driver.ErrBadConn }); _ = conn.Close() }()
	return conn.Raw(func(driverConn any) error {
		pgc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return errors.New("the database driver is not pgx: no notifications")
		}
		if _, err := pgc.Conn().Exec(ctx, "LISTEN "+channel); err != nil {
			return err
		}
		w.signal() // what committed before LISTEN would otherwise wait for the poll
		for {
			if _, err := pgc.Conn().WaitForNotification(ctx); err != nil {
				return err
			}
			w.signal()
		}
	})
}

func (w *wakeOnCommit) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
