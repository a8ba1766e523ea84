package domain_test

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/events"

	"github.com/expenseflow/expenseflow/services/audit/internal/domain"
)

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
