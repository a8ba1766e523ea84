package retry_test

import (
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/retry"
)

func TestBackoff(t *testing.T) {
	p := retry.Policy{MaxAttempts: 100, BaseDelay: time.Second, MaxDelay: time.Minute}
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 32 * time.Second},
		{7, time.Minute}, {8, time.Minute}, {1000, time.Minute},
	}
	for _, tc := range cases {
		if got := p.Backoff(tc.failures); got != tc.want {
			t.Errorf("Backoff(%d) = %s, want %s", tc.failures, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		p     retry.Policy
		valid bool
	}{
		{"default", retry.Policy{MaxAttempts: 5, BaseDelay: time.Minute, MaxDelay: time.Hour}, true},
		{"a single attempt", retry.Policy{MaxAttempts: 1, BaseDelay: time.Minute, MaxDelay: time.Minute}, true},
		{"no attempts", retry.Policy{MaxAttempts: 0, BaseDelay: time.Minute, MaxDelay: time.Hour}, false},
		{"no delay", retry.Policy{MaxAttempts: 5, MaxDelay: time.Hour}, false},
		{"cap below base", retry.Policy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Minute}, false},
	}
	for _, tc := range cases {
		if err := tc.p.Validate(); (err == nil) != tc.valid {
			t.Errorf("%s: valid=%v, got %v", tc.name, tc.valid, err)
		}
	}
}
