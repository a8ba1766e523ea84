package events

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The checks below are the contract's own sanity rules: a consumer may rely
// on them after Decode succeeds, and relies on nothing else. They repeat
// the bounds approval enforces on a claim, on purpose: a consumer never
// trusts a field only because it arrived on the bus (a bug upstream, or a
// forged message, must not get an amount near 2^63 into the books, where it
// would overflow every later sum in that currency).

// MaxAmountMinor is the largest amount a claim, and so any event about
// money, may carry; Currencies are the ISO 4217 codes the system knows.
const MaxAmountMinor = 10_000_000

// Currencies is the list of currencies accepted anywhere.
var Currencies = []string{"EUR", "USD", "GBP", "CHF", "JPY"}

func check(errs ...error) error { return errors.Join(errs...) }

func required(field, value string) error {
	if value == "" {
		return fmt.Errorf("%s: required", field)
	}
	return nil
}

// id: every id the system mints is a UUID, written the canonical way
// (lower case, hyphens, no braces or urn: prefix), so that one claim has
// one spelling in every table and every log.
func id(field, value string) error {
	if value == "" {
		return fmt.Errorf("%s: required", field)
	}
	if u, err := uuid.Parse(value); err != nil || u.String() != value {
		return fmt.Errorf("%s: must be a canonical UUID", field)
	}
	return nil
}

func money(amountMinor int64, currency string) error {
	var errs []error
	if amountMinor <= 0 || amountMinor > MaxAmountMinor {
		errs = append(errs, fmt.Errorf("amount_minor: must be from 1 to %d", MaxAmountMinor))
	}
	if !slices.Contains(Currencies, currency) {
		errs = append(errs, fmt.Errorf("currency: must be one of %v", Currencies))
	}
	return errors.Join(errs...)
}

// decidedByAnother: nobody decides their own claim.
func decidedByAnother(employeeID, approverID string) error {
	if employeeID == approverID {
		return errors.New("approver_id: must not be the employee")
	}
	return nil
}

func date(field, value string) error {
	if _, err := time.Parse(time.DateOnly, value); err != nil {
		return fmt.Errorf("%s: must be a date YYYY-MM-DD", field)
	}
	return nil
}
