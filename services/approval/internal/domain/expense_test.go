package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

var now = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

func valid() domain.Claim {
	return domain.Claim{AmountMinor: 4250, Currency: "EUR", Category: "travel", Description: "Train to Berlin", IncurredOn: "2026-11-20"}
}

func TestSubmitRules(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*domain.Claim)
		field string // "" = valid
	}{
		{"valid", func(*domain.Claim) {}, ""},
		{"smallest amount", func(c *domain.Claim) { c.AmountMinor = 1 }, ""},
		{"largest amount", func(c *domain.Claim) { c.AmountMinor = 10_000_000 }, ""},
		{"zero amount", func(c *domain.Claim) { c.AmountMinor = 0 }, "amount_minor"},
		{"negative amount", func(c *domain.Claim) { c.AmountMinor = -5 }, "amount_minor"},
		{"amount too large", func(c *domain.Claim) { c.AmountMinor = 10_000_001 }, "amount_minor"},
		{"unsupported currency", func(c *domain.Claim) { c.Currency = "XXX" }, "currency"},
		{"lower-case currency", func(c *domain.Claim) { c.Currency = "eur" }, "currency"},
		{"unknown category", func(c *domain.Claim) { c.Category = "yachts" }, "category"},
		{"empty description", func(c *domain.Claim) { c.Description = "" }, "description"},
		{"500 runes of description", func(c *domain.Claim) { c.Description = strings.Repeat("é", 500) }, ""},
		{"501 runes of description", func(c *domain.Claim) { c.Description = strings.Repeat("é", 501) }, "description"},
		{"invalid UTF-8", func(c *domain.Claim) { c.Description = "\xff" }, "description"},
		{"incurred today", func(c *domain.Claim) { c.IncurredOn = "2026-11-22" }, ""},
		{"incurred tomorrow", func(c *domain.Claim) { c.IncurredOn = "2026-11-23" }, "incurred_on"},
		{"incurred 365 days ago", func(c *domain.Claim) { c.IncurredOn = "2025-11-22" }, ""},
		{"incurred 366 days ago", func(c *domain.Claim) { c.IncurredOn = "2025-11-21" }, "incurred_on"},
		{"not a date", func(c *domain.Claim) { c.IncurredOn = "22/11/2026" }, "incurred_on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			e, err := domain.Submit("e-1", "alice", c, now)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s := e.Snapshot(); s.Status != domain.Submitted || s.Version != 1 {
					t.Fatalf("new claim: %+v", s)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.Invalid || len(ae.Fields) != 1 || ae.Fields[0].Field != tc.field {
				t.Fatalf("want one invalid field %q, got %v", tc.field, err)
			}
		})
	}
}

func TestSubmitReportsEveryBrokenRule(t *testing.T) {
	_, err := domain.Submit("e-1", "alice", domain.Claim{}, now)
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Fields) != 5 {
		t.Fatalf("want 5 field errors, got %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	type step struct {
		do      func(*domain.Expense) (bool, error)
		changed bool
		kind    apperr.Kind // "" = no error
	}
	approve := func(by string) func(*domain.Expense) (bool, error) {
		return func(e *domain.Expense) (bool, error) { return e.Approve(by, now) }
	}
	reject := func(by, reason string) func(*domain.Expense) (bool, error) {
		return func(e *domain.Expense) (bool, error) { return e.Reject(by, reason, now) }
	}
	withdraw := func(by string) func(*domain.Expense) (bool, error) {
		return func(e *domain.Expense) (bool, error) { return e.Withdraw(by, now) }
	}
	cases := []struct {
		name        string
		steps       []step
		wantStatus  domain.Status
		wantVersion int64
	}{
		{"approve", []step{{approve("bob"), true, ""}}, domain.Approved, 2},
		{"approve twice by the same manager is harmless", []step{{approve("bob"), true, ""}, {approve("bob"), false, ""}}, domain.Approved, 2},
		{"a second manager cannot approve again", []step{{approve("bob"), true, ""}, {approve("frank"), false, apperr.Conflict}}, domain.Approved, 2},
		{"approved cannot be rejected", []step{{approve("bob"), true, ""}, {reject("bob", "no"), false, apperr.Conflict}}, domain.Approved, 2},
		{"reject", []step{{reject("bob", "no receipt"), true, ""}}, domain.Rejected, 2},
		{"reject needs a reason", []step{{reject("bob", ""), false, apperr.Invalid}}, domain.Submitted, 1},
		{"own claim", []step{{approve("alice"), false, apperr.Forbidden}}, domain.Submitted, 1},
		{"withdraw", []step{{withdraw("alice"), true, ""}, {withdraw("alice"), false, ""}}, domain.Withdrawn, 2},
		{"only the submitter withdraws", []step{{withdraw("erin"), false, apperr.Forbidden}}, domain.Submitted, 1},
		{"withdrawn cannot be approved", []step{{withdraw("alice"), true, ""}, {approve("bob"), false, apperr.Conflict}}, domain.Withdrawn, 2},
		{"approved cannot be withdrawn", []step{{approve("bob"), true, ""}, {withdraw("alice"), false, apperr.Conflict}}, domain.Approved, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := domain.Submit("e-1", "alice", valid(), now)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				changed, err := s.do(e)
				if apperr.KindOf(err) != s.kind || (s.kind != "" && err == nil) || changed != s.changed {
					t.Fatalf("step %d: changed=%v err=%v, want changed=%v kind=%q", i, changed, err, s.changed, s.kind)
				}
			}
			if s := e.Snapshot(); s.Status != tc.wantStatus || s.Version != tc.wantVersion {
				t.Fatalf("ended %s v%d, want %s v%d", s.Status, s.Version, tc.wantStatus, tc.wantVersion)
			}
		})
	}
}
