package amqpx_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// upgradable is a consumer test double: before its upgrade it does not know
// expense.approved.v9 (like every consumer in this build); after it, it does.
// It records effects per event id, like an inbox, to count them.
type upgradable struct {
	upgraded atomic.Bool
	mu       sync.Mutex
	effects  map[string]int
}

func (u *upgradable) handle(_ context.Context, env events.Envelope, _ []byte) error {
	if env.Type == "expense.approved.v9" && !u.upgraded.Load() {
		return amqpx.Permanent(events.ErrUnsupportedVersion)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.effects[env.ID]++
	return nil
}

func (u *upgradable) count(id string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.effects[id]
}

// A v9 event is dead-lettered with the reason; it can be listed (without
// being removed); after the consumer is upgraded, replaying it processes it
// exactly once, and the dead-letter queue is empty.
func TestDeadLettersListAndReplay(t *testing.T) {
	u := &upgradable{effects: map[string]int{}}
	url := startWith(t, amqpx.QueueClassic, func(r *amqpx.Router) { r.HandleEnvelope("test.handler", sub, u.handle) })
	future := event(t)
	future.Type, future.ID = "expense.approved.v9", "01a20000-0000-7000-8000-0000000000f9"
	testinfra.PublishEvent(t, url, future)
	testinfra.Publish(t, url, "expense.approved.v1", "m-garbage", []byte("not json"))

	dl, err := amqpx.DialDeadLetters(testinfra.UserURL(url, topology.Operator))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	var letters []amqpx.DeadLetter
	testinfra.Eventually(t, 10*time.Second, "both messages are dead-lettered", func() bool {
		letters, err = dl.List("test")
		if err != nil {
			t.Log(err)
		}
		return err == nil && len(letters) == 2
	})
	for _, l := range letters {
		if l.FromQueue != sub.Queue || l.Handler != "test.handler" || l.At == "" || l.Reason == "" {
			t.Errorf("dead letter lacks where, who, when or why: %+v", l)
		}
	}
	if again, _ := dl.List("test"); len(again) != 2 {
		t.Fatalf("listing removed letters: %d left", len(again))
	}

	u.upgraded.Store(true)
	n, err := dl.Replay(context.Background(), "test", func(l amqpx.DeadLetter) bool { return l.MessageID == future.ID })
	if err != nil || n != 1 {
		t.Fatalf("replayed %d, %v", n, err)
	}
	testinfra.Eventually(t, 10*time.Second, "the upgraded consumer processes the replayed event", func() bool { return u.count(future.ID) == 1 })

	left, _ := dl.List("test")
	if len(left) != 1 || left[0].MessageID != "m-garbage" || !strings.Contains(left[0].Reason, "malformed") {
		t.Fatalf("after replaying one, the other stays: %+v", left)
	}
	// Replaying everything again re-sends only the garbage, which fails
	// again; the v9 event is not processed a second time.
	if n, err := dl.Replay(context.Background(), "test", func(amqpx.DeadLetter) bool { return true }); err != nil || n != 1 {
		t.Fatalf("replay all: %d, %v", n, err)
	}
	testinfra.Eventually(t, 10*time.Second, "the garbage is back in the dead letters", func() bool {
		left, _ = dl.List("test")
		return len(left) == 1
	})
	if got := u.count(future.ID); got != 1 {
		t.Fatalf("the v9 event was processed %d times", got)
	}
}
