// Package domain decides who hears about an event and what they read. It is
// pure: an event and the user directory come in, a message comes out.
package domain

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"unicode"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Message is what one event tells its recipients. They all read the same
// text, so it is written to make sense to each of them (e.g. a failed payout
// names the employee, because finance reads it too).
type Message struct {
	Recipients []string // user ids, each once, in a stable order
	ExpenseID  string   // "" for news about no claim (a webhook endpoint)
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
//	expense.voided         the employee; every finance user too when the
//	                       money had gone out and must be recovered
//	webhook.endpoint_disabled  every finance user: they manage endpoints
//
// Any other event (a withdrawal, a scheduled payout, a ledger entry) is
// nobody's news: the Message has no recipients. The words come from the
// plain-text templates in templates/, one per event type, embedded in the
// binary: wording changes without touching this code.
func Compose(e events.Event, dir directory.Directory) (Message, error) {
	var m Message
	switch p := e.Payload.(type) {
	case events.ExpenseSubmittedV2:
		m = Message{Recipients: except(ids(dir.WithRole(directory.RoleManager)), p.EmployeeID), ExpenseID: p.ExpenseID}
	case events.ExpenseApprovedV1:
		m = Message{Recipients: []string{p.EmployeeID}, ExpenseID: p.ExpenseID}
	case events.ExpenseRejectedV1:
		m = Message{Recipients: []string{p.EmployeeID}, ExpenseID: p.ExpenseID}
	case events.ReimbursementPaidV1:
		m = Message{Recipients: []string{p.EmployeeID}, ExpenseID: p.ExpenseID}
	case events.ReimbursementFailedV1:
		m = Message{Recipients: unique(append([]string{p.EmployeeID}, ids(dir.WithRole(directory.RoleFinance))...)), ExpenseID: p.ExpenseID}
	case events.ExpenseVoidedV1:
		m = Message{Recipients: []string{p.EmployeeID}, ExpenseID: p.ExpenseID}
		if p.Outcome == events.VoidRecoveryRequired {
			m.Recipients = unique(append(m.Recipients, ids(dir.WithRole(directory.RoleFinance))...))
		}
	case events.WebhookEndpointDisabledV1:
		m = Message{Recipients: ids(dir.WithRole(directory.RoleFinance))}
	default:
		return Message{}, nil
	}
	if len(m.Recipients) == 0 {
		return Message{}, nil
	}
	var err error
	m.Subject, m.Body, err = render(e.Payload, dir)
	return m, err
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

//go:embed templates/*.txt
var templateFiles embed.FS

// render fills the payload's template. Each template file defines "subject"
// and "body"; they see the payload's fields and these helpers.
func render(p events.Payload, dir directory.Directory) (subject, body string, err error) {
	name := func(id string) string {
		if u, ok := dir.Lookup(id); ok && u.Name != "" {
			return clean(u.Name)
		}
		return clean(id)
	}
	t, err := template.New("").Option("missingkey=error").
		Funcs(template.FuncMap{"money": money, "clean": clean, "quote": quote, "name": name}).
		ParseFS(templateFiles, "templates/"+p.EventType()+".txt")
	if err != nil {
		return "", "", fmt.Errorf("template for %s: %w", p.EventType(), err)
	}
	var s, b bytes.Buffer
	if err := t.ExecuteTemplate(&s, "subject", p); err != nil {
		return "", "", err
	}
	if err := t.ExecuteTemplate(&b, "body", p); err != nil {
		return "", "", err
	}
	return s.String(), b.String(), nil
}
