package domain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/services/notification/internal/domain"
)

var now = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

func demo(t *testing.T) directory.Directory {
	t.Helper()
	dir, err := directory.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var endpointDisabled events.Payload = events.WebhookEndpointDisabledV1{EndpointID: "w-1", URL: "https://erp.example/hooks",
	Reason: "5 deliveries in a row failed after 10 attempts each; the last: HTTP 503: maintenance", FailedInARow: 5, DisabledAt: now}

func TestRecipients(t *testing.T) {
	dir := demo(t)
	submitted := func(by string) events.Payload {
		return events.ExpenseSubmittedV2{ExpenseID: "e-1", EmployeeID: by, AmountMinor: 4250, Currency: "EUR", CostCenter: "general",
			Category: "travel", Description: "Train to Berlin", IncurredOn: "2026-11-20", SubmittedAt: now}
	}
	failed := func(employee string) events.Payload {
		return events.ReimbursementFailedV1{ReimbursementID: "r-1", ExpenseID: "e-1", EmployeeID: employee,
			AmountMinor: 4250, Currency: "EUR", Reason: "account closed", FailedAt: now}
	}
	cases := []struct {
		name    string
		payload events.Payload
		want    []string
	}{
		{"submitted: every manager", submitted("alice"), []string{"bob", "frank"}},
		{"submitted by a manager: the other managers", submitted("bob"), []string{"frank"}},
		{"approved: the employee", events.ExpenseApprovedV1{ExpenseID: "e-1", EmployeeID: "alice", ApproverID: "bob",
			AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: now}, []string{"alice"}},
		{"rejected: the employee", events.ExpenseRejectedV1{ExpenseID: "e-1", EmployeeID: "erin", ApproverID: "bob",
			Reason: "duplicate", RejectedAt: now}, []string{"erin"}},
		{"paid: the employee", events.ReimbursementPaidV1{ReimbursementID: "r-1", ExpenseID: "e-1", EmployeeID: "alice",
			AmountMinor: 4250, Currency: "EUR", PaymentRef: "pay-1", PaidAt: now}, []string{"alice"}},
		{"failed: the employee and finance", failed("alice"), []string{"alice", "carol"}},
		{"failed for a finance user: once", failed("carol"), []string{"carol"}},
		{"employee unknown to the directory is still told", failed("zoe"), []string{"zoe", "carol"}},
		{"withdrawn: nobody", events.ExpenseWithdrawnV1{ExpenseID: "e-1", EmployeeID: "alice", WithdrawnAt: now}, nil},
		{"scheduled: nobody", events.ReimbursementScheduledV1{ReimbursementID: "r-1", ExpenseID: "e-1", EmployeeID: "alice",
			AmountMinor: 4250, Currency: "EUR"}, nil},
		{"ledger entry: nobody", events.LedgerEntryPostedV1{EntryID: "l-1", ExpenseID: "e-1", Kind: events.EntryKindApproval}, nil},
		{"voided before payment: the employee", events.ExpenseVoidedV1{ExpenseID: "e-1", EmployeeID: "alice",
			Outcome: events.VoidPayoutCancelled, Reason: "duplicate receipt", AmountMinor: 4250, Currency: "EUR", VoidedAt: now}, []string{"alice"}},
		{"voided after payment: the employee and finance, who recover it", events.ExpenseVoidedV1{ExpenseID: "e-1", EmployeeID: "alice",
			Outcome: events.VoidRecoveryRequired, Reason: "duplicate receipt", AmountMinor: 4250, Currency: "EUR", VoidedAt: now}, []string{"alice", "carol"}},
		{"void requested: nobody yet", events.ExpenseVoidRequestedV1{ExpenseID: "e-1", EmployeeID: "alice", RequestedBy: "carol",
			Reason: "duplicate receipt", RequestedAt: now}, nil},
		{"payout stopped: nobody (the void says it)", events.ReimbursementCancelledV1{ReimbursementID: "r-1", ExpenseID: "e-1",
			EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR", CancelledAt: now}, nil},
		{"webhook endpoint disabled: finance, who manage endpoints", endpointDisabled, []string{"carol"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := domain.Compose(events.Event{Payload: tc.payload}, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Recipients, tc.want) {
				t.Fatalf("recipients: want %v, got %v", tc.want, m.Recipients)
			}
			wantExpense := "e-1"
			if tc.payload == endpointDisabled {
				wantExpense = "" // about no claim
			}
			if len(tc.want) > 0 && (m.ExpenseID != wantExpense || m.Subject == "" || m.Body == "") {
				t.Fatalf("incomplete message: %+v", m)
			}
		})
	}
}

func TestText(t *testing.T) {
	dir := demo(t)
	cases := []struct {
		name     string
		payload  events.Payload
		subject  string
		bodyHas  []string
		bodyNot  []string
		maxRunes int
	}{
		{
			name: "names from the directory, money in major units",
			payload: events.ExpenseSubmittedV2{ExpenseID: "e-1", EmployeeID: "alice", AmountMinor: 4205, Currency: "EUR", CostCenter: "sales",
				Category: "travel", Description: "Train to Berlin", IncurredOn: "2026-11-20"},
			subject: "Expense to review: 42.05 EUR from Alice Employee",
			bodyHas: []string{`Alice Employee submitted a travel expense of 42.05 EUR incurred on 2026-11-20, cost center sales: "Train to Berlin". Expense e-1.`},
		},
		{
			name:    "currency without minor unit",
			payload: events.ReimbursementPaidV1{ExpenseID: "e-1", EmployeeID: "alice", AmountMinor: 1500, Currency: "JPY", PaymentRef: "pay-1"},
			subject: "Your expense was reimbursed",
			bodyHas: []string{"1500 JPY was paid to you (payment reference pay-1)."},
		},
		{
			name: "free text is cleaned and shortened",
			payload: events.ExpenseRejectedV1{ExpenseID: "e-1", EmployeeID: "alice", ApproverID: "bob",
				Reason: "no\x00receipt\n" + strings.Repeat("x", 500)},
			subject:  "Your expense was rejected",
			bodyHas:  []string{`Bob Manager rejected your expense: "no receipt xxx`, `…". Expense e-1.`},
			bodyNot:  []string{"\x00", "\n"},
			maxRunes: 200,
		},
		{
			name:    "a disabled webhook endpoint: where, why, and what to do",
			payload: endpointDisabled,
			subject: "Webhook endpoint disabled: https://erp.example/hooks",
			bodyHas: []string{"Nothing more is sent to https://erp.example/hooks: 5 deliveries in a row failed", "enable the endpoint", "Endpoint w-1."},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := domain.Compose(events.Event{Payload: tc.payload}, dir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tc.subject {
				t.Errorf("subject: want %q, got %q", tc.subject, m.Subject)
			}
			for _, s := range tc.bodyHas {
				if !strings.Contains(m.Body, s) {
					t.Errorf("body %q lacks %q", m.Body, s)
				}
			}
			for _, s := range tc.bodyNot {
				if strings.Contains(m.Body, s) {
					t.Errorf("body %q contains %q", m.Body, s)
				}
			}
			if n := len([]rune(m.Body)); tc.maxRunes > 0 && n > tc.maxRunes {
				t.Errorf("body has %d runes, want at most %d", n, tc.maxRunes)
			}
		})
	}
}
