// Package domain decides who hears about an event and what they read. It is
// pure: an event and the user directory come in, a message comes out.
package domain

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Message is what one event tells its recipients. They all read the same
// text, so it is written to make sense to each of them (e.g. a failed payout
// names the employee, because finance reads it too).
type Message struct {
	Recipients []string // user ids, each once, in a stable order
	ExpenseID  string
	Subject    string
	Body       string
}

// Compose decides who is told about e and what they are told:
//
//	expense.submitted      every manager except the submitter
//	expense.approved       the employee
//	expense.rejected       the employee
//	reimbursement.paid     the employee
//	reimbursement.failed   the employee and every finance user
//
// Any other event (a withdrawal, a scheduled payout, a ledger entry) is
// nobody's news: the Message has no recipients.
func Compose(e events.Event, dir directory.Directory) Message {
	name := func(id string) string {
		if u, ok := dir.Lookup(id); ok && u.Name != "" {
			return u.Name
		}
		return id
	}
	switch p := e.Payload.(type) {
	case events.ExpenseSubmittedV1:
		return Message{
			Recipients: except(ids(dir.WithRole(directory.RoleManager)), p.EmployeeID),
			ExpenseID:  p.ExpenseID,
			Subject:    fmt.Sprintf("Expense to review: %s from %s", money(p.AmountMinor, p.Currency), name(p.EmployeeID)),
			Body: fmt.Sprintf("%s submitted a %s expense of %s incurred on %s: %s. Expense %s.",
				name(p.EmployeeID), clean(p.Category), money(p.AmountMinor, p.Currency), p.IncurredOn, quote(p.Description), p.ExpenseID),
		}
	case events.ExpenseApprovedV1:
		return Message{
			Recipients: []string{p.EmployeeID},
			ExpenseID:  p.ExpenseID,
			Subject:    "Your expense was approved",
			Body: fmt.Sprintf("%s approved your %s expense of %s; it will be paid with the next payout run. Expense %s.",
				name(p.ApproverID), clean(p.Category), money(p.AmountMinor, p.Currency), p.ExpenseID),
		}
	case events.ExpenseRejectedV1:
		return Message{
			Recipients: []string{p.EmployeeID},
			ExpenseID:  p.ExpenseID,
			Subject:    "Your expense was rejected",
			Body:       fmt.Sprintf("%s rejected your expense: %s. Expense %s.", name(p.ApproverID), quote(p.Reason), p.ExpenseID),
		}
	case events.ReimbursementPaidV1:
		return Message{
			Recipients: []string{p.EmployeeID},
			ExpenseID:  p.ExpenseID,
			Subject:    "Your expense was reimbursed",
			Body: fmt.Sprintf("%s was paid to you (payment reference %s). Expense %s.",
				money(p.AmountMinor, p.Currency), clean(p.PaymentRef), p.ExpenseID),
		}
	case events.ReimbursementFailedV1:
		return Message{
			Recipients: unique(append([]string{p.EmployeeID}, ids(dir.WithRole(directory.RoleFinance))...)),
			ExpenseID:  p.ExpenseID,
			Subject:    fmt.Sprintf("Reimbursement failed: %s to %s", money(p.AmountMinor, p.Currency), name(p.EmployeeID)),
			Body: fmt.Sprintf("The payout of %s to %s failed: %s. Finance will follow up. Expense %s.",
				money(p.AmountMinor, p.Currency), name(p.EmployeeID), quote(p.Reason), p.ExpenseID),
		}
	}
	return Message{}
}

func ids(users []directory.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func except(list []string, id string) []string {
	return slices.DeleteFunc(list, func(s string) bool { return s == id })
}

// unique keeps the first occurrence of each id: an employee who is also in
// finance gets one notification, not two (and the table's unique key on
// (event, recipient) would refuse the second anyway).
func unique(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// minorDigits lists the ISO 4217 currencies whose minor unit is not a hundredth.
var minorDigits = map[string]int{"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3}

// money formats minor units for people: 4250 EUR is "42.50 EUR". Integer
// arithmetic only; amounts are positive by the event contract.
func money(minor int64, currency string) string {
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	if digits == 0 {
		return fmt.Sprintf("%d %s", minor, currency)
	}
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	return fmt.Sprintf("%d.%0*d %s", minor/unit, digits, minor%unit, currency)
}

// maxQuote bounds free text copied from an event, so a notification stays short.
const maxQuote = 140

// quote shows free text from an event (a description, a reason) in quotes.
func quote(s string) string { return `"` + clean(s) + `"` }

// clean makes text from an event safe to show and store: valid UTF-8, no
// control characters (PostgreSQL refuses NUL in text), at most maxQuote runes.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxQuote {
		s = string(r[:maxQuote-1]) + "…"
	}
	return s
}
