package service_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// voidEntry is the void orchestrator's command, as approval sends it.
func voidEntry(t *testing.T, expenseID, kind string) events.Envelope {
	return envelope(t, events.SourceApproval, events.PostVoidEntryV1{
		ExpenseID: expenseID, EmployeeID: "alice", Category: "travel", Kind: kind, AmountMinor: 4250, Currency: "EUR",
	})
}

func (h *harness) balances(t *testing.T) []balance {
	t.Helper()
	var b page[balance]
	if r := h.Call("GET", "/v1/ledger/balances", "dave", nil, &b); r.StatusCode != http.StatusOK {
		t.Fatalf("balances: %d", r.StatusCode)
	}
	return b.Items
}

// A void before the payout: the reversal takes the approval back, so the
// expense and what is owed for it are both 0 again. Sent twice (the same
// command), it is posted once; its reply carries the void's correlation id.
func TestAReversalTakesAnUnpaidApprovalBack(t *testing.T) {
	h := start(t)
	expenseID := uuid.NewString()
	testinfra.PublishEvent(t, h.amqpURL, approved(t, expenseID, 4250, "EUR"))
	cmd := voidEntry(t, expenseID, events.EntryKindReversal)
	testinfra.PublishEvent(t, h.amqpURL, cmd)
	testinfra.PublishEvent(t, h.amqpURL, cmd)
	testinfra.Eventually(t, 10*time.Second, "the approval and the reversal are posted", func() bool {
		return len(h.entries(t, expenseID)) == 2
	})
	var reply events.Event
	for _, ev := range h.published(t, 2) {
		if ev.Payload.(events.LedgerEntryPostedV1).Kind == events.EntryKindReversal {
			reply = ev
		}
	}
	if reply.CorrelationID != cmd.CorrelationID || reply.CausationID != cmd.ID {
		t.Fatalf("the reversal's event: correlation %s, causation %s; want the command's %s, %s", reply.CorrelationID, reply.CausationID, cmd.CorrelationID, cmd.ID)
	}
	want := []balance{{"expense:travel", "EUR", 0}, {"reimbursements_payable", "EUR", 0}}
	if got := h.balances(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("balances after a reversal:\n got %+v\nwant %+v", got, want)
	}
}

// A void after the payout: the recovery books what the employee owes back;
// nothing is owed to them, and the expense is gone.
func TestARecoveryBooksWhatThePaidEmployeeOwesBack(t *testing.T) {
	h := start(t)
	expenseID := uuid.NewString()
	testinfra.PublishEvent(t, h.amqpURL, approved(t, expenseID, 4250, "EUR"))
	testinfra.PublishEvent(t, h.amqpURL, paid(t, expenseID, 4250))
	testinfra.PublishEvent(t, h.amqpURL, voidEntry(t, expenseID, events.EntryKindRecovery))
	testinfra.Eventually(t, 10*time.Second, "three entries are posted", func() bool {
		return len(h.entries(t, expenseID)) == 3
	})
	want := []balance{{"cash", "EUR", -4250}, {"expense:travel", "EUR", 0}, {"receivables:employees", "EUR", 4250}, {"reimbursements_payable", "EUR", 0}}
	if got := h.balances(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("balances after a recovery:\n got %+v\nwant %+v", got, want)
	}

	// A second void entry of the other kind, under another command, is
	// refused by the journal: one outcome per claim, and a person looks.
	testinfra.PublishEvent(t, h.amqpURL, voidEntry(t, expenseID, events.EntryKindReversal))
	testinfra.Eventually(t, 10*time.Second, "the contradicting command is dead-lettered", func() bool {
		return len(testinfra.DeadLetters(t, h.amqpURL, "accounting")) == 1
	})
	if n := len(h.entries(t, expenseID)); n != 3 {
		t.Fatalf("%d entries after a contradicting void", n)
	}
}

// Only approval's orchestrator posts a void: the same command published by
// anyone else is dead-lettered and posts nothing.
func TestOnlyApprovalMayVoidInTheBooks(t *testing.T) {
	h := start(t)
	expenseID := uuid.NewString()
	cmd := voidEntry(t, expenseID, events.EntryKindReversal)
	body, _ := events.Encode(cmd)
	testinfra.PublishAs(t, h.amqpURL, "", cmd.Type, cmd.ID, body)
	testinfra.Eventually(t, 10*time.Second, "the forged command is dead-lettered", func() bool {
		return len(testinfra.DeadLetters(t, h.amqpURL, "accounting")) == 1
	})
	if n := len(h.entries(t, expenseID)); n != 0 {
		t.Fatalf("%d entries from a forged command", n)
	}
}
