package events_test

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/events"
)

func TestMatchesLikeTheBroker(t *testing.T) {
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"expense.approved.*", "expense.approved.v1", true},
		{"expense.approved.*", "expense.approved.v1.x", false},
		{"expense.*.v1", "expense.rejected.v1", true},
		{"expense.#", "expense.approved.v1", true},
		{"expense.#", "expense", true},
		{"#", "ledger.entry_posted.v1", true},
		{"#.v2", "expense.submitted.v2", true},
		{"#.v2", "expense.submitted.v1", false},
		{"reimbursement.paid.*", "reimbursement.failed.v1", false},
		{"*.paid.*", "reimbursement.paid.v1", true},
		{"*", "expense.approved.v1", false},
		{"expense.*.*", "expense.approved.v1", true},
		{"expense.*.*", "expense.approved", false},
		{"expense.approved.*", "expense.rejected.v1", false},
		{"#.v1", "reimbursement.paid.v1", true},
		{"*.paid.#", "reimbursement.paid.v1", true},
		{"reimbursement.paid.*", "reimbursement.paid.v1.extra", false},
	}
	for _, tc := range cases {
		if got := events.Matches(tc.pattern, tc.key); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.pattern, tc.key, got, tc.want)
		}
	}
}
