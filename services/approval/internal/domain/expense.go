// Package domain holds the expense claim aggregate and its rules. It is pure:
// no database, broker or HTTP; time and ids come from the caller.
package domain

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Status is where a claim is in its lifecycle.
type Status string

const (
	Submitted Status = "submitted"
	Approved  Status = "approved"
	Rejected  Status = "rejected"
	Withdrawn Status = "withdrawn"
	// Voiding: finance took the approval back; the void saga is stopping
	// the payout and correcting the books. Voided: it has.
	Voiding Status = "voiding"
	Voided  Status = "voided"
)

// Rules of a claim (docs/architecture.md); the bounds every consumer checks too come from pkg/events.
const (
	MinAmountMinor    = 1
	MaxAmountMinor    = events.MaxAmountMinor
	MaxDescription    = 500
	MaxReason         = 500
	MaxAgeDays        = 365
	dateLayout        = time.DateOnly
	firstVersion      = 1
	errNotSubmitted   = "the expense is %s, not submitted"
	errOtherDecision  = "the expense was already %s by %s"
	errOwnClaim       = "a manager never decides their own claim"
	errOnlySubmitter  = "only the submitter can withdraw a claim"
	errAlreadyDecided = "the expense is already %s"
)

// Currencies and Categories accepted on a claim.
var (
	Currencies = events.Currencies // the contract's list: every consumer checks it too
	Categories = []string{"travel", "meals", "lodging", "equipment", "software", "training", "other"}
)

// Expense is the claim aggregate. Fields are unexported so every change goes
// through a method that enforces the rules and bumps the version.
type Expense struct {
	id          string
	employeeID  string
	amountMinor int64
	currency    string
	category    string
	costCenter  string
	description string
	incurredOn  time.Time
	status      Status
	version     int64
	decidedBy   string
	reason      string
	submittedAt time.Time
	updatedAt   time.Time
}

// Claim is what an employee submits.
type Claim struct {
	AmountMinor int64
	Currency    string
	Category    string
	CostCenter  string // optional: DefaultCostCenter when empty
	Description string
	IncurredOn  string // YYYY-MM-DD
}

// DefaultCostCenter books claims that name none.
const DefaultCostCenter = "general"

// costCenterPattern: a lower-case slug, as cost centers are named in the books.
var costCenterPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Submit creates a claim for employeeID, checking every rule and reporting
// all broken ones at once.
func Submit(id, employeeID string, c Claim, now time.Time) (*Expense, error) {
	var errs []apperr.FieldError
	bad := func(field, msg string) { errs = append(errs, apperr.FieldError{Field: field, Message: msg}) }

	if c.AmountMinor < MinAmountMinor || c.AmountMinor > MaxAmountMinor {
		bad("amount_minor", "must be from 1 to 10000000 minor units")
	}
	if !slices.Contains(Currencies, c.Currency) {
		bad("currency", "must be one of "+strings.Join(Currencies, ", "))
	}
	if !slices.Contains(Categories, c.Category) {
		bad("category", "must be one of "+strings.Join(Categories, ", "))
	}
	if c.CostCenter == "" {
		c.CostCenter = DefaultCostCenter
	} else if !costCenterPattern.MatchString(c.CostCenter) {
		bad("cost_center", "must be 1 to 40 lower-case letters, digits or dashes")
	}
	if n := utf8.RuneCountInString(c.Description); n < 1 || n > MaxDescription || !utf8.ValidString(c.Description) {
		bad("description", "must be 1 to 500 characters")
	}
	incurredOn, err := time.Parse(dateLayout, c.IncurredOn)
	today := now.UTC().Truncate(24 * time.Hour)
	switch {
	case err != nil:
		bad("incurred_on", "must be a date YYYY-MM-DD")
	case incurredOn.After(today):
		bad("incurred_on", "must not be in the future")
	case incurredOn.Before(today.AddDate(0, 0, -MaxAgeDays)):
		bad("incurred_on", "must be at most 365 days ago")
	}
	if err := apperr.Fields(errs); err != nil {
		return nil, err
	}
	return &Expense{
		id: id, employeeID: employeeID,
		amountMinor: c.AmountMinor, currency: c.Currency, category: c.Category, costCenter: c.CostCenter,
		description: c.Description, incurredOn: incurredOn,
		status: Submitted, version: firstVersion, submittedAt: now, updatedAt: now,
	}, nil
}

// Approve records a manager's approval. Approving again by the same manager
// changes nothing (changed is false); any other decision on a decided claim
// is a conflict.
func (e *Expense) Approve(managerID string, now time.Time) (changed bool, err error) {
	return e.decide(Approved, managerID, "", now)
}

// Reject records a manager's rejection with a reason.
func (e *Expense) Reject(managerID, reason string, now time.Time) (changed bool, err error) {
	if n := utf8.RuneCountInString(reason); n < 1 || n > MaxReason {
		return false, apperr.Fields([]apperr.FieldError{{Field: "reason", Message: "must be 1 to 500 characters"}})
	}
	return e.decide(Rejected, managerID, reason, now)
}

func (e *Expense) decide(to Status, managerID, reason string, now time.Time) (bool, error) {
	if managerID == e.employeeID {
		return false, apperr.New(apperr.Forbidden, errOwnClaim)
	}
	switch {
	case e.status == to && e.decidedBy == managerID:
		return false, nil // the same decision again: harmless
	case e.status == Approved || e.status == Rejected:
		return false, apperr.New(apperr.Conflict, errOtherDecision, e.status, e.decidedBy)
	case e.status != Submitted:
		return false, apperr.New(apperr.Conflict, errNotSubmitted, e.status)
	}
	e.status, e.decidedBy, e.reason = to, managerID, reason
	e.touch(now)
	return true, nil
}

// Withdraw lets the submitter take back a claim that is still submitted.
func (e *Expense) Withdraw(employeeID string, now time.Time) (changed bool, err error) {
	if employeeID != e.employeeID {
		return false, apperr.New(apperr.Forbidden, errOnlySubmitter)
	}
	switch e.status {
	case Withdrawn:
		return false, nil
	case Submitted:
		e.status = Withdrawn
		e.touch(now)
		return true, nil
	default:
		return false, apperr.New(apperr.Conflict, errAlreadyDecided, e.status)
	}
}

// RequestVoid starts taking an approval back (finance: a duplicate receipt,
// fraud). Only an approved claim can be voided; asking again while it is
// voiding or voided changes nothing (changed is false).
func (e *Expense) RequestVoid(now time.Time) (changed bool, err error) {
	switch e.status {
	case Voiding, Voided:
		return false, nil
	case Approved:
		e.status = Voiding
		e.touch(now)
		return true, nil
	default:
		return false, apperr.New(apperr.Conflict, "only an approved claim can be voided; this one is %s", e.status)
	}
}

// CompleteVoid records that the void saga has finished.
func (e *Expense) CompleteVoid(now time.Time) (changed bool, err error) {
	switch e.status {
	case Voided:
		return false, nil
	case Voiding:
		e.status = Voided
		e.touch(now)
		return true, nil
	default:
		return false, apperr.New(apperr.Conflict, "expense %s is %s, not voiding", e.id, e.status)
	}
}

func (e *Expense) touch(now time.Time) {
	e.version++
	e.updatedAt = now
}
