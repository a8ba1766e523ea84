package domain

import (
	"errors"
	"time"
)

// RetryPolicy decides what follows a failed payment attempt: after the n-th
// failure the next attempt waits BaseDelay·2^(n-1), capped at MaxDelay, until
// MaxAttempts attempts (the first one included) have been made.
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// Validate reports a policy that could never pay or never wait.
func (p RetryPolicy) Validate() error {
	if p.MaxAttempts < 1 {
		return errors.New("payout retries: PAYOUT_MAX_ATTEMPTS must be at least 1")
	}
	if p.BaseDelay <= 0 || p.MaxDelay < p.BaseDelay {
		return errors.New("payout retries: need 0 < PAYOUT_RETRY_BASE <= PAYOUT_RETRY_MAX")
	}
	return nil
}

// Backoff is the wait after the given number of failed attempts (>= 1).
// Doubling stops at MaxDelay, so a large count cannot overflow.
func (p RetryPolicy) Backoff(failures int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < failures && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}
