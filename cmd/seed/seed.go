package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apiclient"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
)

type config struct {
	auth.Config
	Directory        string        `env:"USER_DIRECTORY"`
	ApprovalURL      string        `env:"APPROVAL_URL" envDefault:"http://127.0.0.1:8081"`
	AccountingURL    string        `env:"ACCOUNTING_URL" envDefault:"http://127.0.0.1:8082"`
	ReimbursementURL string        `env:"REIMBURSEMENT_URL" envDefault:"http://127.0.0.1:8083"`
	NotificationURL  string        `env:"NOTIFICATION_URL" envDefault:"http://127.0.0.1:8084"`
	AuditURL         string        `env:"AUDIT_URL" envDefault:"http://127.0.0.1:8085"`
	Timeout          time.Duration `env:"SEED_TIMEOUT" envDefault:"3m"`
}

// The statuses a demo claim is taken to, as the approval API names them.
const (
	submitted = "submitted"
	approved  = "approved"
	rejected  = "rejected"
	withdrawn = "withdrawn"
	paid      = "paid"
)

// claim is one demo claim and the status it is taken to.
type claim struct {
	name        string // stable; every Idempotency-Key of the claim starts with it
	employee    string
	amountMinor int64
	currency    string
	category    string
	description string // with employee, how a second run recognises the claim
	daysAgo     int    // incurred_on, counted back from today
	outcome     string
	manager     string // who approves or rejects it
	reason      string // why it is rejected
}

// plan is the demo data. The approved claim stays approved only until the
// next payout run (the reimbursement timer's, within PAYOUT_INTERVAL).
var plan = []claim{
	{name: "berlin-train", employee: "alice", amountMinor: 18950, currency: "EUR", category: "travel",
		description: "Train to Berlin for the customer workshop", daysAgo: 12, outcome: paid, manager: "bob"},
	{name: "release-lunch", employee: "erin", amountMinor: 8640, currency: "EUR", category: "meals",
		description: "Team lunch after the 2.0 release", daysAgo: 9, outcome: paid, manager: "frank"},
	{name: "gophercon", employee: "alice", amountMinor: 59900, currency: "EUR", category: "training",
		description: "Conference ticket, GopherCon EU", daysAgo: 30, outcome: approved, manager: "frank"},
	{name: "lyon-hotel", employee: "erin", amountMinor: 32400, currency: "EUR", category: "lodging",
		description: "Two nights in Lyon for the supplier audit", daysAgo: 5, outcome: submitted},
	{name: "airport-taxi", employee: "alice", amountMinor: 3150, currency: "USD", category: "travel",
		description: "Taxi from JFK to the New York office", daysAgo: 2, outcome: submitted},
	{name: "home-monitor", employee: "alice", amountMinor: 129900, currency: "GBP", category: "equipment",
		description: "27-inch monitor for the home office", daysAgo: 20, outcome: rejected, manager: "bob",
		reason: "Monitors come from the IT stock: please open a ticket instead."},
	{name: "ide-licence", employee: "erin", amountMinor: 8900, currency: "USD", category: "software",
		description: "IDE licence, one year", daysAgo: 3, outcome: withdrawn},
}

// expense is the part of the approval API's expense resource the seeder reads.
type expense struct {
	ID          string `json:"id"`
	EmployeeID  string `json:"employee_id"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
	Description string `json:"description"`
	Status      string `json:"status"`
	Version     int64  `json:"version"`
}

// reimbursement is the part of the reimbursement API's resource the seeder reads.
type reimbursement struct {
	ExpenseID string `json:"expense_id"`
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, out, [][2]string{
		{"approval", cfg.ApprovalURL}, {"accounting", cfg.AccountingURL}, {"reimbursement", cfg.ReimbursementURL},
		{"notification", cfg.NotificationURL}, {"audit", cfg.AuditURL},
	}); err != nil {
		return err
	}

	// Every claim exists and is decided, except that those meant to stay
	// approved are approved only after the payout batch, which would pay them.
	expenses := make([]expense, len(plan))
	for i, cl := range plan {
		if expenses[i], err = c.ensureSubmitted(ctx, out, cl); err != nil {
			return err
		}
		if cl.outcome != approved {
			if err := c.decide(ctx, out, cl, &expenses[i]); err != nil {
				return err
			}
		}
	}
	if err := c.payOut(ctx, out, expenses); err != nil {
		return err
	}
	for i, cl := range plan {
		if cl.outcome == approved {
			if err := c.decide(ctx, out, cl, &expenses[i]); err != nil {
				return err
			}
		}
	}
	return c.report(ctx, out, expenses)
}

// client calls the services as the demo users.
type client struct {
	cfg config
	api *apiclient.Client
}

func newClient(cfg config) (*client, error) {
	users := []string{"carol", "dave"} // who pays and who reads everything back
	for _, cl := range plan {
		users = append(users, cl.employee, cl.manager)
	}
	api, err := apiclient.New(&http.Client{Timeout: 30 * time.Second}, cfg.Config, cfg.Directory, users, cfg.Timeout+time.Minute)
	if err != nil {
		return nil, fmt.Errorf("the demo users: %w", err)
	}
	return &client{cfg: cfg, api: api}, nil
}

// waitReady polls the /readyz of every service (name, base URL) until all
// answer 200.
func (c *client) waitReady(ctx context.Context, out io.Writer, services [][2]string) error {
	fmt.Fprintln(out, "waiting for the services to be ready...")
	for _, s := range services {
		name, base := s[0], s[1]
		err := poll(ctx, func() (bool, error) {
			resp, err := c.api.HTTP.Get(base + "/readyz")
			if err != nil {
				return false, nil // not listening yet
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, nil
		})
		if err != nil {
			return fmt.Errorf("%s (%s) is not ready: %w", name, base, err)
		}
		fmt.Fprintf(out, "  %s ready at %s\n", name, base)
	}
	return nil
}

// ensureSubmitted returns the claim's expense, submitting it unless an
// earlier run did.
func (c *client) ensureSubmitted(ctx context.Context, out io.Writer, cl claim) (expense, error) {
	if e, ok, err := c.find(ctx, cl); err != nil || ok {
		if ok {
			fmt.Fprintf(out, "%-5s already has %s (%s, %s)\n", cl.employee, cl.name, e.ID, e.Status)
		}
		return e, err
	}
	body := map[string]any{
		"amount_minor": cl.amountMinor, "currency": cl.currency, "category": cl.category,
		"description": cl.description, "incurred_on": time.Now().UTC().AddDate(0, 0, -cl.daysAgo).Format(time.DateOnly),
	}
	var e expense
	if err := c.call(ctx, http.MethodPost, c.cfg.ApprovalURL+"/v1/expenses", cl.employee, cl.name+"-submit", body, &e); err != nil {
		return e, err
	}
	fmt.Fprintf(out, "%-5s submitted %s: %s %s, %s (%s)\n", cl.employee, cl.name, money(cl.amountMinor), cl.currency, cl.category, e.ID)
	return e, nil
}

// find looks for the claim among its employee's expenses.
func (c *client) find(ctx context.Context, cl claim) (expense, bool, error) {
	q := url.Values{"employee_id": {cl.employee}, "limit": {strconv.Itoa(httpx.MaxLimit)}}
	for {
		var page httpx.Page[expense]
		if err := c.call(ctx, http.MethodGet, c.cfg.ApprovalURL+"/v1/expenses?"+q.Encode(), cl.employee, "", nil, &page); err != nil {
			return expense{}, false, err
		}
		for _, e := range page.Items {
			if e.Description == cl.description {
				return e, true, nil
			}
		}
		if page.NextCursor == "" {
			return expense{}, false, nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// decide takes a submitted claim to its outcome. A claim decided already is
// left as it is: by an earlier run, or by someone trying the demo, whose
// decision stands (it is demo data, not a contract). So is one that someone
// decides between our read and our command (409).
func (c *client) decide(ctx context.Context, out io.Writer, cl claim, e *expense) error {
	if cl.outcome == submitted {
		return nil
	}
	if e.Status != submitted {
		if !reached(e.Status, cl.outcome) {
			fmt.Fprintf(out, "%-5s %s is %s, not %s: left as it is\n", cl.employee, cl.name, e.Status, cl.outcome)
		}
		return nil
	}
	user, action := cl.manager, "approve"
	var body any
	switch cl.outcome {
	case rejected:
		action, body = "reject", map[string]string{"reason": cl.reason}
	case withdrawn:
		user, action = cl.employee, "withdraw"
	}
	err := c.call(ctx, http.MethodPost, c.cfg.ApprovalURL+"/v1/expenses/"+e.ID+"/"+action, user, cl.name+"-"+action, body, e)
	var status *apiclient.StatusError
	if errors.As(err, &status) && status.Code == http.StatusConflict {
		fmt.Fprintf(out, "%-5s cannot %s %s, left as it is: %s\n", user, action, cl.name, status.Body)
		return nil
	}
	if err == nil {
		fmt.Fprintf(out, "%-5s %s %s\n", user, past(action), cl.name)
	}
	return err
}

// reached reports whether a claim in status has got to outcome, or past it.
func reached(status, outcome string) bool {
	if outcome == approved {
		return status == approved || status == paid || status == "payment_failed"
	}
	return status == outcome
}

// payOut runs a payout batch as carol once the claims meant to be paid have
// their reimbursements, then waits until the approval read model shows them
// paid. When they are paid already (a second run) there is no batch: it
// would pay whatever else is due, the approved claim included. The batch
// needs no Idempotency-Key: it pays only what is due, each reimbursement
// once, so a repeated batch finds nothing to do.
func (c *client) payOut(ctx context.Context, out io.Writer, expenses []expense) error {
	var toPay []int
	for i, cl := range plan {
		if cl.outcome == paid && expenses[i].Status != paid {
			toPay = append(toPay, i)
		}
	}
	if len(toPay) == 0 {
		return nil
	}
	for _, i := range toPay {
		err := poll(ctx, func() (bool, error) {
			var page httpx.Page[reimbursement]
			q := url.Values{"employee_id": {plan[i].employee}, "limit": {strconv.Itoa(httpx.MaxLimit)}}
			err := c.call(ctx, http.MethodGet, c.cfg.ReimbursementURL+"/v1/reimbursements?"+q.Encode(), "carol", "", nil, &page)
			return slices.ContainsFunc(page.Items, func(r reimbursement) bool { return r.ExpenseID == expenses[i].ID }), err
		})
		if err != nil {
			return fmt.Errorf("no reimbursement is scheduled for %s: %w", plan[i].name, err)
		}
	}
	var sum struct{ Paid, Failed, Retrying int }
	if err := c.call(ctx, http.MethodPost, c.cfg.ReimbursementURL+"/v1/payouts", "carol", "", nil, &sum); err != nil {
		return err
	}
	fmt.Fprintf(out, "carol ran a payout batch: %d paid, %d failed, %d retrying\n", sum.Paid, sum.Failed, sum.Retrying)
	for _, i := range toPay {
		err := poll(ctx, func() (bool, error) {
			err := c.call(ctx, http.MethodGet, c.cfg.ApprovalURL+"/v1/expenses/"+expenses[i].ID, plan[i].employee, "", nil, &expenses[i])
			return expenses[i].Status == paid, err
		})
		if err != nil {
			return fmt.Errorf("%s is not shown paid: %w", plan[i].name, err)
		}
	}
	return nil
}

// report prints every claim as the approval read model shows it now, having
// waited (min_version) until it reflects the last command.
func (c *client) report(ctx context.Context, out io.Writer, expenses []expense) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nCLAIM\tEMPLOYEE\tAMOUNT\tCATEGORY\tSTATUS\tEXPENSE ID")
	for i, cl := range plan {
		var e expense
		u := fmt.Sprintf("%s/v1/expenses/%s?min_version=%d", c.cfg.ApprovalURL, expenses[i].ID, expenses[i].Version)
		if err := c.call(ctx, http.MethodGet, u, "dave", "", nil, &e); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\t%s\n", cl.name, e.EmployeeID, money(e.AmountMinor), e.Currency, e.Category, e.Status, e.ID)
	}
	return w.Flush()
}

// call is api.Do with the seeder's Idempotency-Keys: "seed-" and the
// claim's step, the same on every run, so a second run replays the first
// one's answers instead of acting again.
func (c *client) call(ctx context.Context, method, target, user, key string, body, out any) error {
	if key != "" {
		key = "seed-" + key
	}
	return c.api.Do(ctx, method, target, user, key, body, out)
}

// poll calls done every quarter second until it reports true, returns an
// error, or ctx ends.
func poll(ctx context.Context, done func() (bool, error)) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// money formats minor units with two decimals (every demo currency has two).
func money(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

func past(action string) string {
	return map[string]string{"approve": "approved", "reject": "rejected", "withdraw": "withdrew"}[action]
}
