// Package retry is the retry policy shared by everything that retries work
// stored in the database across runs (payouts, e-mail deliveries): after the
// n-th failure the next attempt waits BaseDelay·2^(n-1), capped at MaxDelay,
// until MaxAttempts attempts (the first one included) have been made.
// It is pure arithmetic; the caller stores attempts and due times.
package retry

import (
	"errors"
	"time"
)

// Policy is the retry schedule.
type Policy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// Validate reports a policy that could never try or never wait.
func (p Policy) Validate() error {
	if p.MaxAttempts < 1 {
		return errors.New("max attempts must be at least 1")
	}
	if p.BaseDelay <= 0 || p.MaxDelay < p.BaseDelay {
		return errors.New("need 0 < base delay <= max delay")
	}
	return nil
}

// Backoff is the wait after the given number of failed attempts (>= 1).
// Doubling stops at MaxDelay, so a large count cannot overflow.
func (p Policy) Backoff(failures int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < failures && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// Exhausted reports whether attempts made so far use up the policy.
func (p Policy) Exhausted(attempts int) bool { return attempts >= p.MaxAttempts }
