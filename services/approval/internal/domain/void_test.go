package domain_test

import (
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

func submitted(t *testing.T) *domain.Expense {
	t.Helper()
	e, err := domain.Submit("e-1", "alice", valid(), now)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func approvedClaim(t *testing.T) *domain.Expense {
	t.Helper()
	e := submitted(t)
	if _, err := e.Approve("bob", now); err != nil {
		t.Fatal(err)
	}
	return e
}

// Only an approved claim is voided; asking again changes nothing; the
// saga's end is recorded once.
func TestVoidTransitions(t *testing.T) {
	if _, err := submitted(t).RequestVoid(now); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("voiding a submitted claim: %v, want a conflict", err)
	}
	e := approvedClaim(t)
	if changed, err := e.RequestVoid(now); !changed || err != nil || e.Snapshot().Status != domain.Voiding || e.Version() != 3 {
		t.Fatalf("voiding an approved claim: %v %v, %s v%d", changed, err, e.Snapshot().Status, e.Version())
	}
	if changed, err := e.RequestVoid(now); changed || err != nil || e.Version() != 3 {
		t.Fatalf("voiding again: %v %v, v%d", changed, err, e.Version())
	}
	if _, err := e.Approve("bob", now); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("approving a voiding claim: %v", err)
	}
	if changed, err := e.CompleteVoid(now); !changed || err != nil || e.Snapshot().Status != domain.Voided || e.Version() != 4 {
		t.Fatalf("completing: %v %v, %s v%d", changed, err, e.Snapshot().Status, e.Version())
	}
	if changed, err := e.CompleteVoid(now); changed || err != nil {
		t.Fatalf("completing again: %v %v", changed, err)
	}
	if changed, err := e.RequestVoid(now); changed || err != nil {
		t.Fatalf("voiding a voided claim: %v %v", changed, err)
	}
}

// The saga's steps, with replies duplicated and out of turn: only the
// answer the current step waits for moves it, so the outcome is decided
// once, by reimbursement's answer, whatever else arrives.
func TestVoidSagaSteps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		paid      bool
		outcome   string
		entryKind string
	}{
		{"nothing was paid: a reversal", false, events.VoidPayoutCancelled, events.EntryKindReversal},
		{"it was paid: a recovery", true, events.VoidRecoveryRequired, events.EntryKindRecovery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := approvedClaim(t)
			if _, err := e.RequestVoid(now); err != nil {
				t.Fatal(err)
			}
			v := domain.StartVoid(e, "carol", "duplicate receipt", "flow-1", "stop-1", now)
			if v.Step != domain.StepStopPayout || v.Sends != 1 || v.Due(now) || !v.Due(now.Add(domain.VoidStepTimeout)) {
				t.Fatalf("a new saga: %+v", v)
			}
			if v.EntryPosted(tc.entryKind, now) {
				t.Fatal("an entry posted before the payout was answered moved the saga")
			}
			if !v.PayoutAnswered(tc.paid, "entry-1", now) || v.Outcome != tc.outcome || v.EntryKind() != tc.entryKind || v.Step != domain.StepPostEntry {
				t.Fatalf("after the payout's answer: %+v", v)
			}
			if v.PayoutAnswered(!tc.paid, "entry-2", now) || v.Outcome != tc.outcome || v.EntryCommandID != "entry-1" {
				t.Fatalf("a second, contradicting answer changed the saga: %+v", v)
			}
			other := map[string]string{events.EntryKindReversal: events.EntryKindRecovery, events.EntryKindRecovery: events.EntryKindReversal}[tc.entryKind]
			if v.EntryPosted(other, now) || v.EntryPosted(events.EntryKindApproval, now) {
				t.Fatal("an entry of another kind finished the saga")
			}
			later := now.Add(time.Second)
			if !v.EntryPosted(tc.entryKind, later) || v.Step != domain.StepDone || v.CompletedAt == nil || !v.CompletedAt.Equal(later) {
				t.Fatalf("after the entry: %+v", v)
			}
			if v.EntryPosted(tc.entryKind, later) || v.Due(later.Add(time.Hour)) || v.Stuck() {
				t.Fatalf("a finished saga moved, is due or stuck: %+v", v)
			}
		})
	}
}

// A step without an answer is sent again with a doubling timeout, and is
// reported stuck after MaxVoidSends sends; it keeps being sent.
func TestVoidStepTimeouts(t *testing.T) {
	e := approvedClaim(t)
	if _, err := e.RequestVoid(now); err != nil {
		t.Fatal(err)
	}
	v := domain.StartVoid(e, "carol", "duplicate receipt", "flow-1", "stop-1", now)
	var at time.Time
	var timeouts []time.Duration
	for v.Sends < domain.MaxVoidSends {
		if v.Stuck() {
			t.Fatalf("stuck after %d sends", v.Sends)
		}
		at = v.NextAttemptAt
		v.Resent(at)
		timeouts = append(timeouts, v.NextAttemptAt.Sub(at))
	}
	want := []time.Duration{20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	if len(timeouts) != len(want) {
		t.Fatalf("timeouts %v, want %v", timeouts, want)
	}
	for i := range want {
		if timeouts[i] != want[i] {
			t.Fatalf("timeouts %v, want %v", timeouts, want)
		}
	}
	if !v.Stuck() || v.StopCommandID != "stop-1" {
		t.Fatalf("after %d sends: stuck %v, command %s (every send is the same command)", v.Sends, v.Stuck(), v.StopCommandID)
	}
}
