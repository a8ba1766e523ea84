// Package backend is the console's view of the six services: typed calls
// of their REST APIs. The console keeps no business data; every page is
// read from the service that owns it, at the moment it is drawn.
//
// Two identities call: the signed-in user (their token, for everything they
// do and for the claim itself, so each service's own authorization decides
// what they may see) and the console (a service token with the auditor's
// read-only role, for the effects of a claim the user has just been shown:
// a manager may not list reimbursements, yet should see that one was
// scheduled). See services/console/README.md, "Whose eyes".
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apiclient"
	"github.com/expenseflow/expenseflow/services/console/internal/domain"
)

// URLs are the services' base URLs (APPROVAL_URL, …).
type URLs struct {
	Approval      string `env:"APPROVAL_URL" envDefault:"http://localhost:8081"`
	Accounting    string `env:"ACCOUNTING_URL" envDefault:"http://localhost:8082"`
	Reimbursement string `env:"REIMBURSEMENT_URL" envDefault:"http://localhost:8083"`
	Notification  string `env:"NOTIFICATION_URL" envDefault:"http://localhost:8084"`
	Audit         string `env:"AUDIT_URL" envDefault:"http://localhost:8085"`
	Webhooks      string `env:"WEBHOOKS_URL" envDefault:"http://localhost:8086"`
}

// Services names each base URL after its service, in the flow's order.
func (u URLs) Services() []Named {
	return []Named{{"approval", u.Approval}, {"accounting", u.Accounting}, {"reimbursement", u.Reimbursement},
		{"notification", u.Notification}, {"audit", u.Audit}, {"webhooks", u.Webhooks}}
}

// Named is a service and its base URL.
type Named struct{ Name, URL string }

// Backend calls the services. Every call has a deadline: a page waits for
// no service longer than Timeout, and says which one did not answer.
type Backend struct {
	urls    URLs
	http    *http.Client
	service func() (string, error) // the console's own token (auditor, read-only)
}

// Timeout bounds one call to a service: a little longer than approval's
// longest read-your-writes wait (READ_WAIT_MAX, at most 5 s).
const Timeout = 6 * time.Second

// New returns a Backend calling urls; serviceToken gives the console's own
// token for each call it makes as itself.
func New(urls URLs, serviceToken func() (string, error)) *Backend {
	return &Backend{urls: urls, http: &http.Client{Timeout: Timeout}, service: serviceToken}
}

// URLs returns the services' base URLs.
func (b *Backend) URLs() URLs { return b.urls }

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Expense reads one claim as the user: someone else's is a 404 for them.
// With minVersion > 0 approval waits (briefly) until its read model has
// caught up with that version, the user's own last write: read your
// writes. If it has not by then, the answer is what it has.
func (b *Backend) Expense(ctx context.Context, token, id string, minVersion int64) (domain.Expense, error) {
	u := b.urls.Approval + "/v1/expenses/" + url.PathEscape(id)
	if minVersion > 0 {
		u += "?min_version=" + strconv.FormatInt(minVersion, 10)
	}
	var e domain.Expense
	err := b.get(ctx, token, u, &e)
	return e, err
}

// Expenses lists the claims the user may see, newest page first.
func (b *Backend) Expenses(ctx context.Context, token string, q url.Values) ([]domain.Expense, error) {
	var p page[domain.Expense]
	err := b.get(ctx, token, b.urls.Approval+"/v1/expenses?"+q.Encode(), &p)
	return p.Items, err
}

// Submit files a claim for the user; key makes a resubmitted form harmless.
func (b *Backend) Submit(ctx context.Context, token, key string, c domain.Claim) (domain.Expense, error) {
	var e domain.Expense
	err := b.send(ctx, http.MethodPost, b.urls.Approval+"/v1/expenses", token, key, c, &e)
	return e, err
}

// Decide approves, rejects (with reason), withdraws or voids (with reason)
// a claim as the user.
func (b *Backend) Decide(ctx context.Context, token, key, id, verb, reason string) (domain.Expense, error) {
	var body any
	if verb == "reject" || verb == "void" {
		body = map[string]string{"reason": reason}
	}
	var e domain.Expense
	err := b.send(ctx, http.MethodPost, b.urls.Approval+"/v1/expenses/"+url.PathEscape(id)+"/"+verb, token, key, body, &e)
	return e, err
}

// PayoutSummary is what a payout batch did.
type PayoutSummary struct {
	Paid, Failed, Retrying int
}

// RunPayouts runs a payout batch now, as the user (finance).
func (b *Backend) RunPayouts(ctx context.Context, token, key string) (PayoutSummary, error) {
	var s PayoutSummary
	err := b.send(ctx, http.MethodPost, b.urls.Reimbursement+"/v1/payouts", token, key, nil, &s)
	return s, err
}

// Reimbursement finds a claim's reimbursement (nil while there is none),
// as the console.
func (b *Backend) Reimbursement(ctx context.Context, expenseID string) (*domain.Reimbursement, error) {
	var p page[domain.Reimbursement]
	if err := b.asConsole(ctx, b.urls.Reimbursement+"/v1/reimbursements?expense_id="+url.QueryEscape(expenseID), &p); err != nil || len(p.Items) == 0 {
		return nil, err
	}
	return &p.Items[0], nil
}

// LedgerEntries lists the journal entries about a claim, as the console.
func (b *Backend) LedgerEntries(ctx context.Context, expenseID string) ([]domain.LedgerEntry, error) {
	var p page[domain.LedgerEntry]
	err := b.asConsole(ctx, b.urls.Accounting+"/v1/ledger/entries?expense_id="+url.QueryEscape(expenseID), &p)
	return p.Items, err
}

// Notifications lists what was said about a claim, to anyone, as the console.
func (b *Backend) Notifications(ctx context.Context, expenseID string) ([]domain.Notification, error) {
	var p page[domain.Notification]
	err := b.asConsole(ctx, b.urls.Notification+"/v1/notifications/sent?expense_id="+url.QueryEscape(expenseID), &p)
	return p.Items, err
}

// Void returns the void saga of a claim (nil when it has none), as the console.
func (b *Backend) Void(ctx context.Context, expenseID string) (*domain.VoidSaga, error) {
	var v domain.VoidSaga
	err := b.asConsole(ctx, b.urls.Approval+"/v1/expenses/"+url.PathEscape(expenseID)+"/void", &v)
	if Status(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Budget is a cost center's budget for a month, as accounting shows it.
type Budget struct {
	CostCenter     string `json:"cost_center"`
	Period         string `json:"period"`
	Currency       string `json:"currency"`
	LimitMinor     int64  `json:"limit_minor"`
	ReservedMinor  int64  `json:"reserved_minor"`
	SpentMinor     int64  `json:"spent_minor"`
	RemainingMinor int64  `json:"remaining_minor"`
}

// Budgets lists the budgets of a month, as the console.
func (b *Backend) Budgets(ctx context.Context, period string) ([]Budget, error) {
	var p page[Budget]
	err := b.asConsole(ctx, b.urls.Accounting+"/v1/budgets?period="+url.QueryEscape(period), &p)
	return p.Items, err
}

// AuditEvents returns the claim's whole story as the audit log holds it,
// in log order, as the console.
func (b *Backend) AuditEvents(ctx context.Context, expenseID string) ([]domain.AuditEvent, error) {
	var all []domain.AuditEvent
	q := url.Values{"expense_id": {expenseID}, "limit": {"200"}}
	for {
		var p page[domain.AuditEvent]
		if err := b.asConsole(ctx, b.urls.Audit+"/v1/audit/events?"+q.Encode(), &p); err != nil {
			return all, err
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all, nil
		}
		q.Set("cursor", p.NextCursor)
	}
}

func (b *Backend) get(ctx context.Context, token, u string, out any) error {
	return b.send(ctx, http.MethodGet, u, token, "", nil, out)
}

// send is one call; its error reads as the service's own explanation.
func (b *Backend) send(ctx context.Context, method, u, token, key string, body, out any) error {
	if err := apiclient.Send(ctx, b.http, method, u, token, key, body, out); err != nil {
		return &Error{Message: problem(err), err: err}
	}
	return nil
}

// Error is a service's refusal, or its silence, as a person reads it: the
// title and detail of its problem+json, or what went wrong on the way.
type Error struct {
	Message string
	err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.err }

// asConsole reads u with the console's own token.
func (b *Backend) asConsole(ctx context.Context, u string, out any) error {
	token, err := b.service()
	if err != nil {
		return err
	}
	return b.get(ctx, token, u, out)
}

// problem is the message a service's answer gives a person: the detail of
// its problem+json, or the error itself.
func problem(err error) string {
	var status *apiclient.StatusError
	if !errors.As(err, &status) {
		return err.Error()
	}
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Field, Message string
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(status.Body), &p) != nil || p.Title == "" {
		return status.Error()
	}
	msg := p.Title
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, f := range p.Errors {
		msg += "; " + f.Field + " " + f.Message
	}
	return msg
}

// Status is the HTTP status of a service's answer, 0 when there was none.
func Status(err error) int {
	var status *apiclient.StatusError
	if errors.As(err, &status) {
		return status.Code
	}
	return 0
}
