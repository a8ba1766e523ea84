package events_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
)

func TestEveryEventTypeHasOneOwner(t *testing.T) {
	for _, typ := range events.DecoderTypes() {
		owner, ok := events.Owner(typ)
		if !ok {
			t.Errorf("%s: no owner", typ)
			continue
		}
		if events.IsCommand(typ) {
			if owner != events.SourceApproval {
				t.Errorf("command %s: sent by %s, want approval's orchestrator", typ, owner)
			}
			continue // commands go to the commands exchange: no topic permission
		}
		if !slices.Contains(events.OwnedRoutingKeys(owner), strings.SplitN(typ, ".", 2)[0]+".") {
			t.Errorf("%s: owner %s may not publish its routing key", typ, owner)
		}
	}
	if _, ok := events.Owner("payroll.run.v1"); ok {
		t.Error("an unknown aggregate has an owner")
	}
}

func TestCheckPublisher(t *testing.T) {
	cases := []struct {
		typ, publisher, wantIn string
	}{
		{"expense.approved.v1", "approval", ""},
		{"expense.approved.v9", "approval", ""}, // a newer version: same owner
		{"reimbursement.paid.v1", "reimbursement", ""},
		{"ledger.entry_posted.v1", "accounting", ""},
		{"expense.approved.v1", "", "carries no user-id"},
		{"expense.approved.v1", "notification", `broker user "notification"`},
		{"reimbursement.paid.v1", "approval", "published only by reimbursement"},
		{"payroll.run.v1", "approval", `no service publishes "payroll.run.v1"`},
		{"reimbursement.stop_payout.v1", "approval", ""}, // a command: its sender, not its owner
		{"reimbursement.stop_payout.v1", "reimbursement", "published only by approval"},
		{"accounting.post_void_entry.v1", "accounting", "published only by approval"},
	}
	for _, c := range cases {
		err := events.CheckPublisher(c.typ, c.publisher)
		switch {
		case c.wantIn == "" && err != nil:
			t.Errorf("%s from %q: %v", c.typ, c.publisher, err)
		case c.wantIn != "" && (!errors.Is(err, events.ErrForged) || !strings.Contains(err.Error(), c.wantIn)):
			t.Errorf("%s from %q: got %v, want ErrForged saying %q", c.typ, c.publisher, err, c.wantIn)
		}
	}
}

// TestIDsAreCanonicalUUIDs: one claim has one spelling everywhere; an id
// written another way is refused, not normalised.
func TestIDsAreCanonicalUUIDs(t *testing.T) {
	const id = "0b1c2d3e-0000-7000-8000-000000000001"
	for _, bad := range []string{"e-1", strings.ToUpper(id), "urn:uuid:" + id, "{" + id + "}", strings.ReplaceAll(id, "-", "")} {
		_, err := events.New(events.ExpenseWithdrawnV1{ExpenseID: bad, EmployeeID: "alice", WithdrawnAt: time.Now()},
			events.Meta{ID: "i", Source: "approval", Time: time.Now(), Sequence: 1})
		if err == nil || !strings.Contains(err.Error(), "expense_id: must be a canonical UUID") {
			t.Errorf("expense_id %q: got %v", bad, err)
		}
	}
}
