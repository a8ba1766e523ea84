package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/events"

	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
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
			if got := domain.ExpenseID(tc.eventType, tc.subject, json.RawMessage(tc.data)); got != tc.want {
				t.Fatalf("want %q, got %q", tc.want, got)
			}
		})
	}
}

const valid = `{"specversion":"1.0","id":"ev-1","type":"reimbursement.paid.v1","source":"reimbursement","subject":"r-1",` +
	`"time":"2026-11-22T15:00:00Z","correlationid":"c-1","sequence":"0000000000000000002","x-extension":"kept","data":{"expense_id":"e-1"}}`

func TestNewRecord(t *testing.T) {
	env, err := events.ParseEnvelope([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	r := domain.NewRecord(env, []byte(valid))
	if r.EventID != "ev-1" || r.Type != "reimbursement.paid.v1" || r.Source != "reimbursement" || r.Subject != "r-1" ||
		r.CorrelationID != "c-1" || r.ExpenseID != "e-1" || r.Time.IsZero() || string(r.Envelope) != valid {
		t.Fatalf("record: %+v", r)
	}
}
