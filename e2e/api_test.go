package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// The resources as clients see them (docs/openapi); only what the tests check.
type (
	expense struct {
		ID         string `json:"id"`
		EmployeeID string `json:"employee_id"`
		Status     string `json:"status"`
		Version    int64  `json:"version"`
	}
	reimbursement struct {
		ID          string `json:"id"`
		ExpenseID   string `json:"expense_id"`
		EmployeeID  string `json:"employee_id"`
		AmountMinor int64  `json:"amount_minor"`
		Status      string `json:"status"`
	}
	ledgerEntry struct {
		ID        string `json:"id"`
		ExpenseID string `json:"expense_id"`
		Kind      string `json:"kind"`
		Lines     []struct {
			Account     string `json:"account"`
			DebitMinor  int64  `json:"debit_minor"`
			CreditMinor int64  `json:"credit_minor"`
			Currency    string `json:"currency"`
		} `json:"lines"`
	}
	balance struct {
		Account      string `json:"account"`
		Currency     string `json:"currency"`
		BalanceMinor int64  `json:"balance_minor"`
	}
	notification struct {
		ID        string `json:"id"`
		EventID   string `json:"event_id"`
		EventType string `json:"event_type"`
		Read      bool   `json:"read"`
	}
	auditEvent struct {
		Seq           int64           `json:"seq"`
		ID            string          `json:"id"`
		Type          string          `json:"type"`
		Subject       string          `json:"subject"`
		CorrelationID string          `json:"correlationid"`
		Data          json.RawMessage `json:"data"`
	}
	page[T any] struct {
		Items      []T    `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
)

// list fetches every page of a list endpoint.
func list[T any](t *testing.T, c testinfra.Client, path, user string) []T {
	t.Helper()
	var all []T
	cursor := ""
	for {
		u, _ := url.Parse(path)
		q := u.Query()
		q.Set("limit", "200")
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		u.RawQuery = q.Encode()
		var p page[T]
		if r := c.Call("GET", u.String(), user, nil, &p); r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s as %s: %d", u, user, r.StatusCode)
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all
		}
		cursor = p.NextCursor
	}
}

func submit(t *testing.T, s *Stack, employee string, amountMinor int64) expense {
	t.Helper()
	var e expense
	r := s.Client("approval").Call("POST", "/v1/expenses", employee, map[string]any{
		"amount_minor": amountMinor, "currency": "EUR", "category": "travel",
		"description": "Train to the customer", "incurred_on": time.Now().UTC().Format(time.DateOnly),
	}, &e)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d", r.StatusCode)
	}
	return e
}

func approve(t *testing.T, s *Stack, manager, id string) expense {
	t.Helper()
	var e expense
	if r := s.Client("approval").Call("POST", "/v1/expenses/"+id+"/approve", manager, nil, &e); r.StatusCode != http.StatusOK {
		t.Fatalf("approve %s: %d", id, r.StatusCode)
	}
	return e
}

func payout(t *testing.T, s *Stack) {
	t.Helper()
	if r := s.Client("reimbursement").Call("POST", "/v1/payouts", "carol", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("payout: %d", r.StatusCode)
	}
}

// balanced fails the test unless every entry's debits equal its credits.
func balanced(t *testing.T, entries []ledgerEntry) {
	t.Helper()
	for _, e := range entries {
		var d, c int64
		for _, l := range e.Lines {
			d, c = d+l.DebitMinor, c+l.CreditMinor
		}
		if d != c || d == 0 {
			t.Errorf("entry %s does not balance: debits %d, credits %d", e.ID, d, c)
		}
	}
}

func balanceOf(bs []balance, account string) int64 { return balanceIn(bs, account, "EUR") }
