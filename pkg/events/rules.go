package events

import (
	"errors"
	"fmt"
	"time"
)

// The checks below are the contract's own sanity rules (shape, not business
// policy): a consumer may rely on them after Decode succeeds.

func check(errs ...error) error { return errors.Join(errs...) }

func required(field, value string) error {
	if value == "" {
		return fmt.Errorf("%s: required", field)
	}
	return nil
}

func money(amountMinor int64, currency string) error {
	if amountMinor <= 0 {
		return errors.New("amount_minor: must be positive")
	}
	if len(currency) != 3 {
		return errors.New("currency: must be a three-letter ISO 4217 code")
	}
	return nil
}

func date(field, value string) error {
	if _, err := time.Parse(time.DateOnly, value); err != nil {
		return fmt.Errorf("%s: must be a date YYYY-MM-DD", field)
	}
	return nil
}
