package domain

import (
	"regexp"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// Budget is what a cost center may spend in one month, in one currency,
// with what is already taken: reserved by approvals on their way, and
// spent by approvals made.
type Budget struct {
	CostCenter    string
	Period        string // YYYY-MM
	Currency      string
	LimitMinor    int64
	ReservedMinor int64
	SpentMinor    int64
}

// RemainingMinor is what is left to reserve.
func (b Budget) RemainingMinor() int64 { return b.LimitMinor - b.ReservedMinor - b.SpentMinor }

var (
	costCenterPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	periodPattern     = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
)

// NewBudget checks a budget finance sets: a cost center's slug, a month,
// an ISO 4217 currency, a limit of zero or more.
func NewBudget(costCenter, period, currency string, limitMinor int64) (Budget, error) {
	var errs []apperr.FieldError
	if !costCenterPattern.MatchString(costCenter) {
		errs = append(errs, apperr.FieldError{Field: "cost_center", Message: "must be 1 to 40 lower-case letters, digits or dashes"})
	}
	if !periodPattern.MatchString(period) {
		errs = append(errs, apperr.FieldError{Field: "period", Message: "must be a month, YYYY-MM"})
	}
	if !currencyCode.MatchString(currency) {
		errs = append(errs, apperr.FieldError{Field: "currency", Message: "must be a three-letter ISO 4217 code"})
	}
	if limitMinor < 0 {
		errs = append(errs, apperr.FieldError{Field: "limit_minor", Message: "must not be negative"})
	}
	if err := apperr.Fields(errs); err != nil {
		return Budget{}, err
	}
	return Budget{CostCenter: costCenter, Period: period, Currency: currency, LimitMinor: limitMinor}, nil
}

// PeriodOf is the budget month of a claim incurred on day (YYYY-MM-DD).
func PeriodOf(day time.Time) string { return day.Format("2006-01") }

// OverBudget is the refusal of a reservation that does not fit: how much
// is left says what would.
type OverBudget struct{ RemainingMinor int64 }

func (e OverBudget) Error() string { return "over budget" }

// Reserve decides whether m fits in b. A claim in another currency than
// the budget's is refused: the books never convert.
func (b Budget) Reserve(m Money) error {
	if m.Currency != b.Currency {
		return apperr.New(apperr.Invalid, "the %s budget of %s is in %s, the claim in %s", b.Period, b.CostCenter, b.Currency, m.Currency)
	}
	if m.AmountMinor > b.RemainingMinor() {
		return OverBudget{RemainingMinor: max(b.RemainingMinor(), 0)}
	}
	return nil
}
