package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
)

var now = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

var policy = domain.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Minute, MaxDelay: time.Hour}

func payout() domain.Payout {
	return domain.Payout{ExpenseID: "e-1", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR", CorrelationID: "flow-1"}
}

func scheduled(t *testing.T) *domain.Reimbursement {
	t.Helper()
	r, err := domain.Schedule("r-1", payout(), now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestScheduleRules(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*domain.Payout)
		fields []string // nil = valid
	}{
		{"valid", func(*domain.Payout) {}, nil},
		{"no expense", func(p *domain.Payout) { p.ExpenseID = "" }, []string{"expense_id"}},
		{"no employee", func(p *domain.Payout) { p.EmployeeID = "" }, []string{"employee_id"}},
		{"zero amount", func(p *domain.Payout) { p.AmountMinor = 0 }, []string{"amount_minor"}},
		{"negative amount", func(p *domain.Payout) { p.AmountMinor = -1 }, []string{"amount_minor"}},
		{"lower-case currency", func(p *domain.Payout) { p.Currency = "eur" }, []string{"currency"}},
		{"four-letter currency", func(p *domain.Payout) { p.Currency = "EURO" }, []string{"currency"}},
		{"everything wrong", func(p *domain.Payout) { *p = domain.Payout{} }, []string{"expense_id", "employee_id", "amount_minor", "currency"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := payout()
			tc.edit(&p)
			r, err := domain.Schedule("r-1", p, now)
			if tc.fields == nil {
				if err != nil {
					t.Fatal(err)
				}
				s := r.Snapshot()
				if s.Status != domain.Scheduled || s.Attempts != 0 || !s.NextAttemptAt.Equal(now) || r.Sequence() != 1 || s.CorrelationID != "flow-1" {
					t.Fatalf("new reimbursement: %+v", s)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.Invalid || len(ae.Fields) != len(tc.fields) {
				t.Fatalf("want invalid fields %v, got %v", tc.fields, err)
			}
			for i, f := range tc.fields {
				if ae.Fields[i].Field != f {
					t.Fatalf("field %d: want %s, got %s", i, f, ae.Fields[i].Field)
				}
			}
		})
	}
}

// An attempt is one call to the gateway with its outcome.
type attempt struct {
	ref       string // "" = the attempt failed
	permanent bool
}

func TestPaymentAttempts(t *testing.T) {
	ok := attempt{ref: "pay_1"}
	transient := attempt{}
	declined := attempt{permanent: true}
	cases := []struct {
		name         string
		attempts     []attempt
		wantStatus   domain.Status
		wantAttempts int
		wantNext     time.Duration // after now, while scheduled
	}{
		{"paid at once", []attempt{ok}, domain.Paid, 1, 0},
		{"one transient failure waits the base delay", []attempt{transient}, domain.Scheduled, 1, time.Minute},
		{"the second failure waits twice as long", []attempt{transient, transient}, domain.Scheduled, 2, 2 * time.Minute},
		{"the last allowed attempt fails for good", []attempt{transient, transient, transient}, domain.Failed, 3, 2 * time.Minute},
		{"paid after transient failures", []attempt{transient, transient, ok}, domain.Paid, 3, 2 * time.Minute},
		{"a permanent failure fails at once", []attempt{declined}, domain.Failed, 1, 0},
		{"a permanent failure after a transient one", []attempt{transient, declined}, domain.Failed, 2, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := scheduled(t)
			for i, a := range tc.attempts {
				var err error
				if a.ref != "" {
					err = r.MarkPaid(a.ref, now)
				} else {
					err = r.RecordFailure("gateway says no", a.permanent, policy, now)
				}
				if err != nil {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
			}
			s := r.Snapshot()
			if s.Status != tc.wantStatus || s.Attempts != tc.wantAttempts || !s.NextAttemptAt.Equal(now.Add(tc.wantNext)) {
				t.Fatalf("got %s after %d attempts, next at +%s; want %s, %d, +%s",
					s.Status, s.Attempts, s.NextAttemptAt.Sub(now), tc.wantStatus, tc.wantAttempts, tc.wantNext)
			}
			wantSeq := int64(2)
			if tc.wantStatus == domain.Scheduled {
				wantSeq = 1
			}
			if r.Sequence() != wantSeq {
				t.Fatalf("sequence %d, want %d", r.Sequence(), wantSeq)
			}
			if paid := s.Status == domain.Paid; paid != (s.PaymentRef != "") || paid == (s.FailureReason != "") {
				t.Fatalf("a paid reimbursement has a payment ref and no failure reason, others the reverse: %+v", s)
			}
		})
	}
}

func TestFinalStatesDoNotMove(t *testing.T) {
	paid, failed := scheduled(t), scheduled(t)
	if err := paid.MarkPaid("pay_1", now); err != nil {
		t.Fatal(err)
	}
	if err := failed.RecordFailure("closed account", true, policy, now); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*domain.Reimbursement{paid, failed} {
		before := r.Snapshot()
		if err := r.MarkPaid("pay_2", now); apperr.KindOf(err) != apperr.Conflict {
			t.Errorf("%s: pay again: want conflict, got %v", before.Status, err)
		}
		if err := r.RecordFailure("late", false, policy, now); apperr.KindOf(err) != apperr.Conflict {
			t.Errorf("%s: fail again: want conflict, got %v", before.Status, err)
		}
		if after := r.Snapshot(); after != before {
			t.Errorf("%s changed: %+v", before.Status, after)
		}
	}
}

func TestPaidNeedsAReference(t *testing.T) {
	r := scheduled(t)
	if err := r.MarkPaid("", now); apperr.KindOf(err) != apperr.Invalid || r.Status() != domain.Scheduled {
		t.Fatalf("want invalid and still scheduled, got %v, %s", err, r.Status())
	}
}

func TestFailureReasonIsBounded(t *testing.T) {
	r := scheduled(t)
	if err := r.RecordFailure(strings.Repeat("é", domain.MaxReason+10), true, policy, now); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(r.Snapshot().FailureReason)); n != domain.MaxReason {
		t.Fatalf("reason has %d runes, want %d", n, domain.MaxReason)
	}
}

// A stop request: a scheduled payout is cancelled for good (no payment can
// be recorded on it afterwards); a failed one stays failed, with nothing
// paid; a paid one stands; asking again gives the same answer.
func TestStop(t *testing.T) {
	r := scheduled(t)
	if got := r.Stop(now); got != domain.Stopped || r.Status() != domain.Cancelled || r.Sequence() != domain.SequenceSettled {
		t.Fatalf("stopping a scheduled payout: %v, status %s, sequence %d", got, r.Status(), r.Sequence())
	}
	if err := r.MarkPaid("pay-1", now); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("a payment recorded on a cancelled reimbursement: %v", err)
	}
	if got := r.Stop(now); got != domain.Stopped || r.Status() != domain.Cancelled {
		t.Fatalf("stopping again: %v, %s", got, r.Status())
	}

	paid := scheduled(t)
	if err := paid.MarkPaid("pay-1", now); err != nil {
		t.Fatal(err)
	}
	if got := paid.Stop(now); got != domain.AlreadyPaid || paid.Status() != domain.Paid {
		t.Fatalf("stopping a paid payout: %v, %s", got, paid.Status())
	}

	failed := scheduled(t)
	if err := failed.RecordFailure("account closed", true, policy, now); err != nil {
		t.Fatal(err)
	}
	if got := failed.Stop(now); got != domain.Stopped || failed.Status() != domain.Failed {
		t.Fatalf("stopping a failed payout: %v, %s", got, failed.Status())
	}

	early, err := domain.StoppedBeforeScheduled("r-2", payout(), now)
	if err != nil || early.Status() != domain.Cancelled {
		t.Fatalf("a stop before the approval: %v, %v", early, err)
	}
}
