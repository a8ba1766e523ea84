package live_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/pkg/topology"
	"github.com/expenseflow/expenseflow/services/console/internal/live"
)

func approved(t *testing.T, expenseID string) events.Envelope {
	t.Helper()
	env, err := events.New(events.ExpenseApprovedV1{ExpenseID: expenseID, EmployeeID: "alice", ApproverID: "bob",
		AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: time.Now()},
		events.Meta{ID: uuid.NewString(), Source: "approval", Time: time.Now(), Sequence: 2, CorrelationID: "c-live"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Against a real broker, as the console's own broker user: a viewer gets
// the events about its claim, from their owner, and nothing else — not
// another claim's, and not an event whose publisher is not its type's
// owner (the console shows only what a consumer would believe).
func TestAViewerSeesItsClaimsGenuineEventsOnly(t *testing.T) {
	amqpURL, _ := testinfra.VHost(t, "console")
	testinfra.Topology(t, amqpURL)
	feed := live.New(testinfra.UserURL(amqpURL, topology.Console), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	testinfra.Eventually(t, 10*time.Second, "the feed connects", func() bool { return feed.Ready(ctx) == nil })

	mine, other := uuid.NewString(), uuid.NewString()
	msgs, stop := feed.Watch(mine)
	defer stop()

	forged := approved(t, mine)
	body, _ := events.Encode(forged)
	testinfra.PublishAs(t, amqpURL, "", forged.Type, forged.ID, body) // no user-id at all
	rewritten := approved(t, mine)
	body, _ = events.Encode(rewritten)
	testinfra.PublishAs(t, amqpURL, "reimbursement", "reimbursement.paid.v1", rewritten.ID, body) // not reimbursement's event
	testinfra.PublishEvent(t, amqpURL, approved(t, other))
	genuine := approved(t, mine)
	testinfra.PublishEvent(t, amqpURL, genuine)

	select {
	case m := <-msgs:
		got, err := events.ParseEnvelope(m.Envelope)
		if err != nil || got.ID != genuine.ID || m.Type != events.ExpenseApprovedV1Type || m.ExpenseID != mine {
			t.Fatalf("the first message is %s %s (%v), want the genuine %s", m.Type, got.ID, err, genuine.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the genuine event did not arrive")
	}
	select {
	case m := <-msgs:
		t.Fatalf("a second message arrived: %s %s", m.Type, m.Envelope)
	case <-time.After(300 * time.Millisecond):
	}
}
