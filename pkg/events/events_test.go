package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
)

var at = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func approved() events.ExpenseApprovedV1 {
	return events.ExpenseApprovedV1{
		ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", ApproverID: "bob",
		AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: at,
	}
}

func meta() events.Meta {
	return events.Meta{ID: "0b1c2d3e-0000-7000-8000-000000000001", Source: "approval", Time: at, Sequence: 2, CorrelationID: "c-1", CausationID: "00000000-0000-4000-8000-00000000a001"}
}

func TestRoundTrip(t *testing.T) {
	env, err := events.New(approved(), meta())
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != "expense.approved.v1" || env.Subject != "00000000-0000-4000-8000-00000000e001" || env.Sequence != 2 || env.SpecVersion != "1.0" {
		t.Fatalf("envelope attributes: %+v", env)
	}
	body, err := events.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Payload != approved() || got.CorrelationID != "c-1" || got.CausationID != "00000000-0000-4000-8000-00000000a001" || got.ID != env.ID {
		t.Fatalf("decoded %+v", got)
	}
}

// The wire uses CloudEvents attribute names and snake_case payload fields.
func TestWireNames(t *testing.T) {
	env, _ := events.New(approved(), meta())
	body, _ := events.Encode(env)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"specversion", "id", "type", "source", "subject", "time", "datacontenttype", "dataschema", "correlationid", "causationid", "sequence", "data"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("attribute %q missing from %s", k, body)
		}
	}
	data := raw["data"].(map[string]any)
	if data["expense_id"] != "00000000-0000-4000-8000-00000000e001" || data["amount_minor"] != float64(4250) {
		t.Errorf("data: %v", data)
	}
}

func TestNewRefusesInvalidPayload(t *testing.T) {
	p := approved()
	p.AmountMinor = -1
	if _, err := events.New(p, meta()); err == nil {
		t.Fatal("an event with a negative amount was built")
	}
}

func TestDecodeErrors(t *testing.T) {
	valid, _ := events.New(approved(), meta())
	with := func(change func(*events.Envelope)) []byte {
		e := valid
		change(&e)
		b, _ := events.Encode(e)
		return b
	}
	cases := []struct {
		name string
		body []byte
		want error
		text string
	}{
		{"not JSON", []byte("{oops"), events.ErrMalformed, "malformed"},
		{"empty", []byte(""), events.ErrMalformed, "malformed"},
		{"no id", with(func(e *events.Envelope) { e.ID = "" }), events.ErrMalformed, "id: required"},
		{"wrong specversion", with(func(e *events.Envelope) { e.SpecVersion = "0.3" }), events.ErrMalformed, "specversion"},
		{"no data", with(func(e *events.Envelope) { e.Data = nil }), events.ErrMalformed, "data: required"},
		{"payload breaks a rule", with(func(e *events.Envelope) {
			e.Data = json.RawMessage(`{"expense_id":"00000000-0000-4000-8000-00000000e001"}`)
		}), events.ErrMalformed, "employee_id: required"},
		{"payload wrong type", with(func(e *events.Envelope) { e.Data = json.RawMessage(`{"amount_minor":"12"}`) }), events.ErrMalformed, "amount_minor"},
		{"unknown type", with(func(e *events.Envelope) { e.Type = "payroll.run.v1" }), events.ErrUnknownType, "payroll.run.v1"},
		{"newer version", with(func(e *events.Envelope) { e.Type = "expense.approved.v9" }), events.ErrUnsupportedVersion, "expense.approved.v9"},
		{"version garbage", with(func(e *events.Envelope) { e.Type = "expense.approved.vX" }), events.ErrUnknownType, "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.Decode(tc.body)
			if !errors.Is(err, tc.want) || !errors.Is(err, events.ErrUndecodable) {
				t.Fatalf("want %v (and ErrUndecodable), got %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not say %q", err, tc.text)
			}
		})
	}
}

func TestLedgerEntryMustBalance(t *testing.T) {
	p := events.LedgerEntryPostedV1{EntryID: "00000000-0000-4000-8000-00000000c001", ExpenseID: "00000000-0000-4000-8000-00000000e001", Kind: events.EntryKindApproval, PostedAt: at, Lines: []events.LedgerLine{
		{Account: "expense:travel", DebitMinor: 100, Currency: "EUR"},
		{Account: "reimbursements_payable", CreditMinor: 90, Currency: "EUR"},
	}}
	if err := p.Validate(); err == nil {
		t.Fatal("an unbalanced entry validated")
	}
	p.Lines[1].CreditMinor = 100
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
