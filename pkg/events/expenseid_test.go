package events_test

import (
	"encoding/json"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/events"
)

func TestExpenseID(t *testing.T) {
	cases := []struct {
		name, eventType, subject, data, want string
	}{
		{"expense event: its subject", "expense.approved.v1", "e-1", `{"expense_id":"e-1"}`, "e-1"},
		{"expense event of an unknown version: its subject", "expense.approved.v9", "e-1", `{}`, "e-1"},
		{"reimbursement event: data.expense_id", "reimbursement.paid.v1", "r-1", `{"expense_id":"e-1","reimbursement_id":"r-1"}`, "e-1"},
		{"ledger event: data.expense_id", "ledger.entry_posted.v1", "l-1", `{"entry_id":"l-1","expense_id":"e-1"}`, "e-1"},
		{"no expense_id in data", "payroll.closed.v1", "p-1", `{"period":"2026-11"}`, ""},
		{"data not an object", "payroll.closed.v1", "p-1", `[1,2]`, ""},
		{"expense_id not a string", "payroll.closed.v1", "p-1", `{"expense_id":42}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := events.Envelope{Type: tc.eventType, Subject: tc.subject, Data: json.RawMessage(tc.data)}
			if got := env.ExpenseID(); got != tc.want {
				t.Fatalf("want %q, got %q", tc.want, got)
			}
		})
	}
}
