// Package budget is approval's client of accounting's budget reservations:
// the one synchronous call between services in expenseflow
// (docs/patterns/events-commands-requests.md). Approval needs the answer
// before it may commit an approval, so it asks, and fails closed when it
// cannot ask (docs/adr/0018-budget-check-fails-closed.md):
//
//   - a short timeout on every call (BUDGET_TIMEOUT, 500 ms by default);
//   - no retry here: the person approving gets a 503 with Retry-After at
//     once, and retries themselves — a retry loop in every approve is how
//     a slow accounting becomes a down accounting;
//   - a circuit breaker (sony/gobreaker): after 5 failures in a row it
//     opens and answers "unavailable" without calling, for 5 s, then lets
//     one call through to see whether accounting is back.
//
// An "over budget" answer is accounting working as it should: it counts as
// a success for the breaker.
package budget

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/expenseflow/expenseflow/pkg/apiclient"
	"github.com/expenseflow/expenseflow/pkg/auth"
)

// Reservation is a claim's request for budget.
type Reservation struct {
	ExpenseID   string `json:"expense_id"`
	CostCenter  string `json:"cost_center"`
	Period      string `json:"period"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

// OverBudget is accounting's refusal: the claim does not fit in what is left.
type OverBudget struct{ RemainingMinor int64 }

func (e *OverBudget) Error() string {
	return fmt.Sprintf("over budget: %d left", e.RemainingMinor)
}

// ErrUnavailable: accounting did not answer in time, answered with an
// error, or the breaker is open. Nothing may be approved meanwhile.
var ErrUnavailable = errors.New("the budget check is unavailable")

// Client reserves budget at accounting, as the approval service.
type Client struct {
	url     string
	key     ed25519.PrivateKey
	http    *http.Client
	breaker *gobreaker.CircuitBreaker[struct{}]
	now     func() time.Time
}

// Breaker settings: open after failuresToTrip failures in a row; stay open
// for openFor, then let one call try.
const (
	failuresToTrip = 5
	openFor        = 5 * time.Second
)

// New returns a client of the accounting service at accountingURL that
// signs its calls with key and gives each at most timeout.
func New(accountingURL string, key ed25519.PrivateKey, timeout time.Duration, log *slog.Logger) *Client {
	c := &Client{url: accountingURL + "/internal/v1/reservations", key: key, http: &http.Client{Timeout: timeout}, now: time.Now}
	c.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "accounting budget reservations",
		Timeout:     openFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failuresToTrip },
		// A refusal is an answer: accounting is fine.
		IsSuccessful: func(err error) bool {
			var over *OverBudget
			return err == nil || errors.As(err, &over)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			log.Warn("circuit breaker changed state", "breaker", name, "from", from.String(), "to", to.String())
		},
	})
	return c
}

// Reserve asks accounting to hold budget for r: nil when it does (or the
// cost center has no budget), *OverBudget when it does not fit, an error
// wrapping ErrUnavailable when accounting cannot answer.
func (c *Client) Reserve(ctx context.Context, r Reservation) error {
	_, err := c.breaker.Execute(func() (struct{}, error) {
		return struct{}{}, c.call(ctx, r)
	})
	var over *OverBudget
	if err == nil || errors.As(err, &over) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func (c *Client) call(ctx context.Context, r Reservation) error {
	token, err := auth.MintService(c.key, "approval", "accounting", c.now())
	if err != nil {
		return err
	}
	err = apiclient.Send(ctx, c.http, http.MethodPost, c.url, token, "", r, nil)
	var status *apiclient.StatusError
	if errors.As(err, &status) && status.Code == http.StatusConflict {
		var body struct {
			RemainingMinor *int64 `json:"remaining_minor"`
		}
		if json.Unmarshal([]byte(status.Body), &body) == nil && body.RemainingMinor != nil {
			return &OverBudget{RemainingMinor: *body.RemainingMinor}
		}
	}
	return err
}
