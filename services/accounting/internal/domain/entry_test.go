package domain_test

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

var posting = domain.Posting{ID: "entry-1", ExpenseID: "expense-1", SourceEventID: "event-1", PostedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}

func TestPostingRules(t *testing.T) {
	eur := domain.Money{AmountMinor: 4250, Currency: "EUR"}
	cases := []struct {
		name     string
		post     func() (domain.Entry, error)
		wantKind domain.Kind
		want     []domain.Line
	}{
		{
			name:     "approval debits the category's expense account and credits the employee's payable",
			post:     func() (domain.Entry, error) { return domain.ForApproval(posting, "alice", "travel", eur) },
			wantKind: domain.Approval,
			want: []domain.Line{
				{Account: "expense:travel", DebitMinor: 4250, Currency: "EUR"},
				{Account: "reimbursements_payable", CreditMinor: 4250, Currency: "EUR", EmployeeID: "alice"},
			},
		},
		{
			name:     "settlement debits the employee's payable and credits cash",
			post:     func() (domain.Entry, error) { return domain.ForSettlement(posting, "alice", eur) },
			wantKind: domain.Settlement,
			want: []domain.Line{
				{Account: "reimbursements_payable", DebitMinor: 4250, Currency: "EUR", EmployeeID: "alice"},
				{Account: "cash", CreditMinor: 4250, Currency: "EUR"},
			},
		},
		{
			name:     "reversal (a void before payment) debits the employee's payable and credits the expense",
			post:     func() (domain.Entry, error) { return domain.ForReversal(posting, "alice", "travel", eur) },
			wantKind: domain.Reversal,
			want: []domain.Line{
				{Account: "reimbursements_payable", DebitMinor: 4250, Currency: "EUR", EmployeeID: "alice"},
				{Account: "expense:travel", CreditMinor: 4250, Currency: "EUR"},
			},
		},
		{
			name:     "recovery (a void after payment) debits what the employee owes back and credits the expense",
			post:     func() (domain.Entry, error) { return domain.ForRecovery(posting, "alice", "travel", eur) },
			wantKind: domain.Recovery,
			want: []domain.Line{
				{Account: "receivables:employees", DebitMinor: 4250, Currency: "EUR", EmployeeID: "alice"},
				{Account: "expense:travel", CreditMinor: 4250, Currency: "EUR"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := tc.post()
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != tc.wantKind || e.Posting != posting {
				t.Fatalf("got kind %q, posting %+v", e.Kind, e.Posting)
			}
			if got := e.Lines(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("lines:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Bad event data never yields an entry: it is an Invalid error, which the
// consumer dead-letters without retrying.
func TestPostingRulesRefuseBadData(t *testing.T) {
	cases := []struct {
		name     string
		category string
		money    domain.Money
	}{
		{"zero amount", "travel", domain.Money{AmountMinor: 0, Currency: "EUR"}},
		{"negative amount", "travel", domain.Money{AmountMinor: -5, Currency: "EUR"}},
		{"lower-case currency", "travel", domain.Money{AmountMinor: 5, Currency: "eur"}},
		{"no currency", "travel", domain.Money{AmountMinor: 5}},
		{"no category", "", domain.Money{AmountMinor: 5, Currency: "EUR"}},
		{"category that is not a slug", "Travel ", domain.Money{AmountMinor: 5, Currency: "EUR"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.ForApproval(posting, "alice", tc.category, tc.money)
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("want an Invalid error, got %v", err)
			}
		})
	}
}

func TestNewEntryChecksTheBalance(t *testing.T) {
	line := func(account string, debit, credit int64, currency string) domain.Line {
		return domain.Line{Account: account, DebitMinor: debit, CreditMinor: credit, Currency: currency}
	}
	cases := []struct {
		name    string
		posting domain.Posting
		kind    domain.Kind
		lines   []domain.Line
		ok      bool
	}{
		{"balanced", posting, domain.Approval, []domain.Line{line("cash", 100, 0, "EUR"), line("equity", 0, 100, "EUR")}, true},
		{"balanced over three lines", posting, domain.Approval, []domain.Line{
			line("cash", 100, 0, "EUR"), line("equity", 0, 60, "EUR"), line("loan", 0, 40, "EUR")}, true},
		{"balanced in each of two currencies", posting, domain.Settlement, []domain.Line{
			line("cash", 100, 0, "EUR"), line("equity", 0, 100, "EUR"), line("cash", 0, 7, "USD"), line("equity", 7, 0, "USD")}, true},
		{"debits exceed credits", posting, domain.Approval, []domain.Line{line("cash", 100, 0, "EUR"), line("equity", 0, 90, "EUR")}, false},
		{"balanced in total but not per currency", posting, domain.Approval, []domain.Line{line("cash", 100, 0, "EUR"), line("equity", 0, 100, "USD")}, false},
		{"one line", posting, domain.Approval, []domain.Line{line("cash", 100, 0, "EUR")}, false},
		{"no lines", posting, domain.Approval, nil, false},
		{"a line with both sides", posting, domain.Approval, []domain.Line{line("cash", 100, 100, "EUR"), line("equity", 0, 0, "EUR")}, false},
		{"a line with neither side", posting, domain.Approval, []domain.Line{line("cash", 0, 0, "EUR"), line("equity", 0, 0, "EUR")}, false},
		{"a negative debit that makes the sums balance", posting, domain.Approval, []domain.Line{line("cash", 100, 0, "EUR"), line("equity", -100, 0, "EUR")}, false},
		{"totals that overflow", posting, domain.Approval, []domain.Line{
			line("cash", math.MaxInt64, 0, "EUR"), line("cash", math.MaxInt64, 0, "EUR"), line("equity", 0, 1, "EUR")}, false},
		{"an unknown kind", posting, "refund", []domain.Line{line("cash", 100, 0, "EUR"), line("equity", 0, 100, "EUR")}, false},
		{"no source event", domain.Posting{ID: "e", ExpenseID: "x", PostedAt: posting.PostedAt}, domain.Approval,
			[]domain.Line{line("cash", 100, 0, "EUR"), line("equity", 0, 100, "EUR")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.NewEntry(tc.posting, tc.kind, tc.lines)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("want an entry, got %v", err)
			case !tc.ok && apperr.KindOf(err) != apperr.Invalid:
				t.Fatalf("want an Invalid error, got %v", err)
			}
		})
	}
}

// An Entry hands out copies of its lines, so no caller can unbalance it.
func TestEntryLinesCannotBeChangedFromOutside(t *testing.T) {
	lines := []domain.Line{{Account: "cash", DebitMinor: 1, Currency: "EUR"}, {Account: "equity", CreditMinor: 1, Currency: "EUR"}}
	e, err := domain.NewEntry(posting, domain.Approval, lines)
	if err != nil {
		t.Fatal(err)
	}
	lines[0].DebitMinor = 99
	e.Lines()[0].DebitMinor = 99
	if got := e.Lines()[0].DebitMinor; got != 1 {
		t.Fatalf("entry changed from outside: debit is %d", got)
	}
}
