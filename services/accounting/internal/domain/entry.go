// Package domain holds accounting's rules: the posting rules that turn an
// approved expense or a paid reimbursement into a journal entry, and the
// double-entry invariant that every entry balances. It is pure: no database,
// broker or HTTP; ids and time come from the caller.
package domain

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Kind says what caused an entry. The values are the wire values of the
// ledger.entry_posted event and of the journal_entries.kind column.
type Kind string

const (
	Approval   Kind = events.EntryKindApproval
	Settlement Kind = events.EntryKindSettlement
	Reversal   Kind = events.EntryKindReversal // a void before anything was paid
	Recovery   Kind = events.EntryKindRecovery // a void after the money went out
)

// The accounts this service posts to. Expense accounts open on first use,
// one per claim category.
const (
	AccountPayable    = "reimbursements_payable" // what the company owes its employees
	AccountCash       = "cash"
	AccountReceivable = "receivables:employees" // what employees owe the company back (a voided claim paid)
)

// ExpenseAccount is the account an approved claim of category is booked to.
func ExpenseAccount(category string) string { return "expense:" + category }

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	AmountMinor int64
	Currency    string
}

// Line is one side of an entry: exactly one of DebitMinor and CreditMinor is
// positive, the other is zero.
type Line struct {
	Account     string
	DebitMinor  int64
	CreditMinor int64
	Currency    string
	// EmployeeID is set on payable and receivable lines only: a liability
	// is owed to someone and a receivable by someone, so summing those lines
	// per employee tells what each is owed or owes.
	EmployeeID string
}

// Posting is what identifies an entry: its id, the expense it concerns, the
// event that caused it (to trace an entry back to its cause) and its time.
type Posting struct {
	ID            string
	ExpenseID     string
	SourceEventID string
	PostedAt      time.Time
}

// Entry is a balanced journal entry. Its lines are unexported and NewEntry is
// the only way to make one, so an Entry value balances by construction.
type Entry struct {
	Posting
	Kind  Kind
	lines []Line
}

// Lines returns a copy of the entry's lines, in posting order.
func (e Entry) Lines() []Line { return slices.Clone(e.lines) }

// ForApproval is the posting for an approved claim: the company incurred an
// expense of the claim's category and now owes the employee its amount.
//
//	debit  expense:<category>       amount
//	credit reimbursements_payable   amount  (owed to employeeID)
func ForApproval(p Posting, employeeID, category string, m Money) (Entry, error) {
	return NewEntry(p, Approval, []Line{
		{Account: ExpenseAccount(category), DebitMinor: m.AmountMinor, Currency: m.Currency},
		{Account: AccountPayable, CreditMinor: m.AmountMinor, Currency: m.Currency, EmployeeID: employeeID},
	})
}

// ForSettlement is the posting for a paid reimbursement: the debt to the
// employee is settled in cash.
//
//	debit  reimbursements_payable   amount  (owed to employeeID)
//	credit cash                     amount
func ForSettlement(p Posting, employeeID string, m Money) (Entry, error) {
	return NewEntry(p, Settlement, []Line{
		{Account: AccountPayable, DebitMinor: m.AmountMinor, Currency: m.Currency, EmployeeID: employeeID},
		{Account: AccountCash, CreditMinor: m.AmountMinor, Currency: m.Currency},
	})
}

// ForReversal takes back an approval of which nothing was paid: the
// expense did not happen after all, and nothing is owed for it.
//
//	debit  reimbursements_payable   amount  (owed to employeeID)
//	credit expense:<category>       amount
func ForReversal(p Posting, employeeID, category string, m Money) (Entry, error) {
	return NewEntry(p, Reversal, []Line{
		{Account: AccountPayable, DebitMinor: m.AmountMinor, Currency: m.Currency, EmployeeID: employeeID},
		{Account: ExpenseAccount(category), CreditMinor: m.AmountMinor, Currency: m.Currency},
	})
}

// ForRecovery takes back an approval that was paid: the expense did not
// happen after all, and the employee owes the money back.
//
//	debit  receivables:employees    amount  (owed by employeeID)
//	credit expense:<category>       amount
func ForRecovery(p Posting, employeeID, category string, m Money) (Entry, error) {
	return NewEntry(p, Recovery, []Line{
		{Account: AccountReceivable, DebitMinor: m.AmountMinor, Currency: m.Currency, EmployeeID: employeeID},
		{Account: ExpenseAccount(category), CreditMinor: m.AmountMinor, Currency: m.Currency},
	})
}

// NewEntry returns the entry if it follows the double-entry rules: it has at
// least two lines, each naming a valid account and currency with exactly one
// positive side, and in every currency its debits equal its credits (an entry
// never converts between currencies). Broken rules are Invalid errors: for an
// event, retrying cannot fix them.
func NewEntry(p Posting, kind Kind, lines []Line) (Entry, error) {
	if p.ID == "" || p.ExpenseID == "" || p.SourceEventID == "" || p.PostedAt.IsZero() {
		return Entry{}, invalid("an entry needs an id, an expense id, a source event id and a posting time")
	}
	if !slices.Contains([]Kind{Approval, Settlement, Reversal, Recovery}, kind) {
		return Entry{}, invalid("unknown entry kind %q", kind)
	}
	if len(lines) < 2 {
		return Entry{}, invalid("an entry needs at least two lines, got %d", len(lines))
	}
	type totals struct{ debit, credit int64 }
	sums := map[string]totals{}
	for i, l := range lines {
		if err := l.check(); err != nil {
			return Entry{}, invalid("line %d: %v", i+1, err)
		}
		t := sums[l.Currency]
		if t.debit > math.MaxInt64-l.DebitMinor || t.credit > math.MaxInt64-l.CreditMinor {
			return Entry{}, invalid("line %d: the %s total overflows", i+1, l.Currency)
		}
		sums[l.Currency] = totals{t.debit + l.DebitMinor, t.credit + l.CreditMinor}
	}
	for _, currency := range slices.Sorted(maps.Keys(sums)) {
		if t := sums[currency]; t.debit != t.credit {
			return Entry{}, invalid("the entry does not balance: %s debits %d, credits %d", currency, t.debit, t.credit)
		}
	}
	return Entry{Posting: p, Kind: kind, lines: slices.Clone(lines)}, nil
}

// Account names are lower-case slugs with an optional sub-account after a
// colon (expense:travel), so a category spelled "Travel " cannot silently
// open a second travel account.
var (
	accountName  = regexp.MustCompile(`^[a-z][a-z_]*(:[a-z0-9][a-z0-9_-]*)?$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
)

func (l Line) check() error {
	switch {
	case !accountName.MatchString(l.Account):
		return fmt.Errorf("account %q is not a lower-case account name", l.Account)
	case !currencyCode.MatchString(l.Currency):
		return fmt.Errorf("currency %q is not an ISO 4217 code", l.Currency)
	case l.DebitMinor < 0 || l.CreditMinor < 0 || (l.DebitMinor > 0) == (l.CreditMinor > 0):
		return errors.New("exactly one of debit and credit must be positive, the other zero")
	}
	return nil
}

func invalid(format string, args ...any) error { return apperr.New(apperr.Invalid, format, args...) }
