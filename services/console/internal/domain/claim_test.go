package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/services/console/internal/domain"
)

const id = "0194b4a0-0000-7000-8000-000000000001"

func states(v domain.View) map[string]domain.State {
	out := map[string]domain.State{}
	for _, e := range v.Effects {
		out[e.Name] = e.State
	}
	return out
}

func audit(types ...string) []domain.AuditEvent {
	var out []domain.AuditEvent
	for i, t := range types {
		out = append(out, domain.AuditEvent{Seq: int64(10 + i), Envelope: events.Envelope{Type: t, Subject: id, Sequence: int64(i + 1)}})
	}
	return out
}

// Right after an approval nothing downstream has arrived: every effect the
// approval implies is processing, the payout waits for its turn.
func TestJustApprovedEverythingIsOnItsWay(t *testing.T) {
	v := domain.Build(domain.Facts{
		Expense: domain.Expense{ID: id, Status: "submitted", Version: 1},
		Written: 2,
		Audit:   audit("expense.submitted.v2"),
	})
	got := states(v)
	if !v.Processing || got["read model"] != domain.Processing || got["audit log"] != domain.Processing {
		t.Fatalf("the read model at version 1 after writing version 2: %+v", v.Effects)
	}
	if _, ok := got["payout"]; ok {
		t.Fatalf("the read model still says submitted, so nothing downstream is expected yet: %+v", v.Effects)
	}
}

func TestApprovedAndScheduledWaitsForTheBatch(t *testing.T) {
	v := domain.Build(domain.Facts{
		Expense:       domain.Expense{ID: id, Status: "approved", Version: 2},
		Written:       2,
		Reimbursement: &domain.Reimbursement{ID: "r1", Status: "scheduled"},
		Entries:       []domain.LedgerEntry{{ID: "e1", Kind: "approval"}},
		Notifications: []domain.Notification{{EventType: "expense.approved.v1", RecipientID: "alice", DeliveryStatus: "pending"}},
		Audit:         audit("expense.submitted.v2", "expense.approved.v1"),
	})
	want := map[string]domain.State{
		"read model": domain.Done, "audit log": domain.Done, "reimbursement scheduled": domain.Done,
		"ledger: approval entry": domain.Done, "payout": domain.Waiting, "ledger: settlement entry": domain.Waiting,
		"notifications": domain.Done,
	}
	if got := states(v); !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if v.Processing {
		t.Fatal("waiting for a payout batch is not processing: nothing is on its way until someone runs one")
	}
}

// Paid at the reimbursement service while accounting and the read model
// have not heard of it yet: exactly those two are processing.
func TestPaidBeforeEveryoneHeardOfIt(t *testing.T) {
	v := domain.Build(domain.Facts{
		Expense:       domain.Expense{ID: id, Status: "approved", Version: 2},
		Reimbursement: &domain.Reimbursement{ID: "r1", Status: "paid", PaymentRef: "pay-1"},
		Entries:       []domain.LedgerEntry{{ID: "e1", Kind: "approval"}},
		Notifications: []domain.Notification{{EventType: "expense.approved.v1", RecipientID: "alice"}},
		Audit:         audit("expense.submitted.v2", "expense.approved.v1"),
	})
	got := states(v)
	for name, want := range map[string]domain.State{"read model": domain.Processing, "ledger: settlement entry": domain.Processing,
		"payout": domain.Done, "notifications": domain.Processing} {
		if got[name] != want {
			t.Errorf("%s: %s, want %s (%+v)", name, got[name], want, v.Effects)
		}
	}
}

func TestAServiceThatDoesNotAnswerIsUnknownNotProcessing(t *testing.T) {
	down := errors.New("connection refused")
	v := domain.Build(domain.Facts{
		Expense:          domain.Expense{ID: id, Status: "approved", Version: 2},
		ReimbursementErr: down, EntriesErr: down, NotificationsErr: down, AuditErr: down,
	})
	for _, e := range v.Effects {
		if e.Owner != "approval" && (e.State != domain.Unknown || !strings.Contains(e.Detail, "did not answer")) {
			t.Errorf("%s: %s %q, want unknown", e.Name, e.State, e.Detail)
		}
	}
}

func TestAWithdrawalTellsNobody(t *testing.T) {
	v := domain.Build(domain.Facts{Expense: domain.Expense{ID: id, Status: "withdrawn", Version: 2}, Audit: audit("expense.submitted.v2", "expense.withdrawn.v1")})
	if got := states(v); len(got) != 2 || got["read model"] != domain.Done || got["audit log"] != domain.Done {
		t.Fatalf("%+v", v.Effects)
	}
}

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{{4250, "EUR", "42.50 EUR"}, {-5, "USD", "-0.05 USD"}, {4250, "JPY", "4250 JPY"}} {
		if got := domain.Money(c.minor, c.currency); got != c.want {
			t.Errorf("Money(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}

func equal(a, b map[string]domain.State) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A void in progress waits on the orchestrator's step; once voided, the
// entry that took the approval back and the employee's notice are done.
func TestAVoidShowsItsSaga(t *testing.T) {
	voiding := domain.Build(domain.Facts{
		Expense: domain.Expense{ID: id, Status: "voiding", Version: 3},
		Void:    &domain.VoidSaga{Step: "stop_payout"},
		Audit:   audit("expense.submitted.v2", "expense.approved.v1", "expense.void_requested.v1"),
	})
	if got := states(voiding); got["void saga"] != domain.Processing || got["ledger: reversal or recovery"] != domain.Waiting || !voiding.Processing {
		t.Fatalf("voiding: %+v", voiding.Effects)
	}
	voided := domain.Build(domain.Facts{
		Expense:       domain.Expense{ID: id, Status: "voided", Version: 4},
		Void:          &domain.VoidSaga{Step: "done", Outcome: "recovery_required"},
		Entries:       []domain.LedgerEntry{{ID: "e1", Kind: "approval"}, {ID: "e2", Kind: "recovery"}},
		Notifications: []domain.Notification{{EventType: "expense.voided.v1", RecipientID: "alice"}},
		Audit:         audit("expense.submitted.v2", "expense.approved.v1", "expense.void_requested.v1", "expense.voided.v1"),
	})
	want := map[string]domain.State{"read model": domain.Done, "audit log": domain.Done, "void saga": domain.Done,
		"ledger: recovery entry": domain.Done, "notifications": domain.Done}
	if got := states(voided); !equal(got, want) || voided.Processing {
		t.Fatalf("voided: got %v, want %v", got, want)
	}
	stuck := domain.Build(domain.Facts{Expense: domain.Expense{ID: id, Status: "voiding", Version: 3}, Void: &domain.VoidSaga{Step: "post_entry", Outcome: "payout_cancelled", Stuck: true}})
	if got := states(stuck); got["void saga"] != domain.Failed {
		t.Fatalf("a stuck saga: %+v", stuck.Effects)
	}
}
