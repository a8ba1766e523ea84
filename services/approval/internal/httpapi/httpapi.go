// Package httpapi is the approval service's REST edge: it decodes requests,
// calls one use case of the app package and encodes the result. Errors go to
// httpx.WriteError, which turns them into problem+json.
package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

// StaleHeader is set on a read that gave up waiting for ?min_version.
const StaleHeader = "X-Projection-Stale"

// Register mounts the approval routes on api (the authenticated /v1 group),
// each with the action of app.Access its use case checks.
func Register(api *httpx.Routes, a *app.App) {
	h := handlers{app: a}
	api.Handle(http.MethodPost, "/expenses", app.SubmitExpense, h.submit)
	api.Handle(http.MethodPost, "/expenses/:id/approve", app.ApproveExpense, h.approve)
	api.Handle(http.MethodPost, "/expenses/:id/reject", app.RejectExpense, h.reject)
	api.Handle(http.MethodPost, "/expenses/:id/withdraw", app.WithdrawExpense, h.withdraw)
	api.Handle(http.MethodGet, "/expenses/:id", app.GetExpense, h.get)
	api.Handle(http.MethodGet, "/expenses", app.ListExpenses, h.list)
	api.Handle(http.MethodPost, "/expenses/:id/void", app.VoidExpense, h.void)
	api.Handle(http.MethodGet, "/expenses/:id/void", app.GetVoid, h.getVoid)
	api.Handle(http.MethodGet, "/voids", app.ListVoids, h.listVoids)
}

type handlers struct{ app *app.App }

type submitRequest struct {
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
	CostCenter  string `json:"cost_center"`
	Description string `json:"description"`
	IncurredOn  string `json:"incurred_on"`
}

type rejectRequest struct {
	Reason string `json:"reason"`
}

type voidRequest struct {
	Reason string `json:"reason"`
}

// expenseResponse is the expense resource of docs/openapi/approval.yaml.
type expenseResponse struct {
	ID              string     `json:"id"`
	EmployeeID      string     `json:"employee_id"`
	AmountMinor     int64      `json:"amount_minor"`
	Currency        string     `json:"currency"`
	Category        string     `json:"category"`
	CostCenter      string     `json:"cost_center,omitempty"`
	Description     string     `json:"description"`
	IncurredOn      string     `json:"incurred_on"`
	Status          string     `json:"status"`
	Version         int64      `json:"version"`
	DecidedBy       string     `json:"decided_by,omitempty"`
	Reason          string     `json:"reason,omitempty"`
	ReimbursementID string     `json:"reimbursement_id,omitempty"`
	VoidOutcome     string     `json:"void_outcome,omitempty"`
	SubmittedAt     *time.Time `json:"submitted_at,omitempty"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func (h handlers) submit(c *gin.Context) {
	var req submitRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	s, err := h.app.Submit(c.Request.Context(), auth.PrincipalOf(c), domain.Claim(req))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.Header("Location", "/v1/expenses/"+s.ID)
	c.JSON(http.StatusCreated, fromSnapshot(s))
}

func (h handlers) approve(c *gin.Context) {
	h.decide(c, func(caller auth.Principal, id string) (domain.Snapshot, error) {
		return h.app.Approve(c.Request.Context(), caller, id)
	})
}

func (h handlers) reject(c *gin.Context) {
	var req rejectRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	h.decide(c, func(caller auth.Principal, id string) (domain.Snapshot, error) {
		return h.app.Reject(c.Request.Context(), caller, id, req.Reason)
	})
}

func (h handlers) withdraw(c *gin.Context) {
	h.decide(c, func(caller auth.Principal, id string) (domain.Snapshot, error) {
		return h.app.Withdraw(c.Request.Context(), caller, id)
	})
}

// void takes an approval back: 202, because what it asks for (stopping the
// payout, correcting the books) happens after the answer, in the saga;
// GET /v1/expenses/{id}/void follows it.
func (h handlers) void(c *gin.Context) {
	var req voidRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	id, err := expenseID(c)
	if err == nil {
		var s domain.Snapshot
		if s, err = h.app.Void(c.Request.Context(), auth.PrincipalOf(c), id, req.Reason); err == nil {
			c.Header("Location", "/v1/expenses/"+s.ID+"/void")
			c.JSON(http.StatusAccepted, fromSnapshot(s))
			return
		}
	}
	httpx.WriteError(c, err)
}

// voidResponse is a void saga as clients see it: where it is and when
// each step happened (docs/openapi/approval.yaml).
type voidResponse struct {
	ExpenseID   string     `json:"expense_id"`
	Step        string     `json:"step"`
	Outcome     string     `json:"outcome,omitempty"`
	Reason      string     `json:"reason"`
	RequestedBy string     `json:"requested_by"`
	Stuck       bool       `json:"stuck"`
	Steps       []voidStep `json:"steps"`
}

type voidStep struct {
	Name      string     `json:"name"`
	Command   string     `json:"command,omitempty"`
	Sends     int        `json:"sends,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	DoneAt    *time.Time `json:"done_at,omitempty"`
	// TimesOutAt: the current step's command is sent again then.
	TimesOutAt *time.Time `json:"times_out_at,omitempty"`
}

func fromVoid(v domain.Void) voidResponse {
	requested := v.RequestedAt
	r := voidResponse{ExpenseID: v.ExpenseID, Step: string(v.Step), Outcome: v.Outcome, Reason: v.Reason,
		RequestedBy: v.RequestedBy, Stuck: v.Stuck()}
	stop := voidStep{Name: string(domain.StepStopPayout), Command: events.StopPayoutV1Type, StartedAt: &requested, DoneAt: v.PayoutAnsweredAt}
	entry := voidStep{Name: string(domain.StepPostEntry), Command: events.PostVoidEntryV1Type, StartedAt: v.PayoutAnsweredAt, DoneAt: v.EntryPostedAt}
	switch v.Step {
	case domain.StepStopPayout:
		next := v.NextAttemptAt
		stop.Sends, stop.TimesOutAt = v.Sends, &next
	case domain.StepPostEntry:
		next := v.NextAttemptAt
		entry.Sends, entry.TimesOutAt = v.Sends, &next
	}
	r.Steps = []voidStep{{Name: "requested", DoneAt: &requested}, stop, entry, {Name: string(domain.StepDone), DoneAt: v.CompletedAt}}
	return r
}

func (h handlers) getVoid(c *gin.Context) {
	id, err := expenseID(c)
	if err == nil {
		var v domain.Void
		if v, err = h.app.VoidOf(c.Request.Context(), auth.PrincipalOf(c), id); err == nil {
			c.JSON(http.StatusOK, fromVoid(v))
			return
		}
	}
	httpx.WriteError(c, err)
}

// listVoids lists the unfinished void sagas (?state=stuck: only those that
// gave up waiting), oldest first.
func (h handlers) listVoids(c *gin.Context) {
	state := c.Query("state")
	if state != "" && state != "running" && state != "stuck" {
		httpx.WriteError(c, apperr.Fields([]apperr.FieldError{{Field: "state", Message: "must be running or stuck"}}))
		return
	}
	vs, err := h.app.Voids(c.Request.Context(), auth.PrincipalOf(c), state == "stuck")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]voidResponse, len(vs))
	for i, v := range vs {
		out[i] = fromVoid(v)
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (h handlers) decide(c *gin.Context, run func(auth.Principal, string) (domain.Snapshot, error)) {
	id, err := expenseID(c)
	if err == nil {
		var s domain.Snapshot
		if s, err = run(auth.PrincipalOf(c), id); err == nil {
			c.JSON(http.StatusOK, fromSnapshot(s))
			return
		}
	}
	var over app.OverBudget
	switch {
	case errors.As(err, &over):
		// What is left, as data: a client can say "the budget has 200 EUR left".
		httpx.WriteErrorWith(c, err, map[string]any{"remaining_minor": over.RemainingMinor})
	case apperr.KindOf(err) == apperr.Unavailable:
		// The budget check could not be made; nothing was committed. Soon
		// is a good time to try again (the breaker tries accounting again
		// after a few seconds).
		c.Header("Retry-After", "1")
		httpx.WriteError(c, err)
	default:
		httpx.WriteError(c, err)
	}
}

func (h handlers) get(c *gin.Context) {
	id, err := expenseID(c)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	var minVersion int64
	if s := c.Query("min_version"); s != "" {
		if minVersion, err = strconv.ParseInt(s, 10, 64); err != nil || minVersion < 0 {
			httpx.WriteError(c, apperr.Fields([]apperr.FieldError{{Field: "min_version", Message: "must be a non-negative integer"}}))
			return
		}
	}
	v, stale, err := h.app.Get(c.Request.Context(), auth.PrincipalOf(c), id, minVersion)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	if stale {
		c.Header(StaleHeader, "true")
	}
	c.JSON(http.StatusOK, fromView(v))
}

func (h handlers) list(c *gin.Context) {
	limit, after, err := httpx.ListParams[string](c)
	if err == nil && after != nil && uuid.Validate(*after) != nil {
		err = apperr.Fields([]apperr.FieldError{{Field: "cursor", Message: "is not a cursor this API issued"}})
	}
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	f := app.ListFilter{Status: c.Query("status"), EmployeeID: c.Query("employee_id")}
	views, err := h.app.List(c.Request.Context(), auth.PrincipalOf(c), f, limit, deref(after))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]expenseResponse, len(views))
	for i, v := range views {
		out[i] = fromView(v)
	}
	c.JSON(http.StatusOK, httpx.NewPage(out, limit, func(e expenseResponse) string { return e.ID }))
}

// expenseID reads the :id path parameter; a malformed id names no expense.
func expenseID(c *gin.Context) (string, error) { return httpx.PathID(c, "expense") }

func fromSnapshot(s domain.Snapshot) expenseResponse {
	submittedAt := s.SubmittedAt
	return expenseResponse{
		ID: s.ID, EmployeeID: s.EmployeeID, AmountMinor: s.AmountMinor, Currency: s.Currency,
		Category: s.Category, CostCenter: s.CostCenter, Description: s.Description, IncurredOn: s.IncurredOn.Format(time.DateOnly),
		Status: string(s.Status), Version: s.Version, DecidedBy: s.DecidedBy, Reason: s.Reason,
		SubmittedAt: &submittedAt, UpdatedAt: s.UpdatedAt,
	}
}

func fromView(v app.View) expenseResponse {
	return expenseResponse{
		ID: v.ID, EmployeeID: v.EmployeeID, AmountMinor: v.AmountMinor, Currency: v.Currency,
		Category: v.Category, CostCenter: v.CostCenter, Description: v.Description, IncurredOn: v.IncurredOn,
		Status: v.PublicStatus(), Version: v.Version, DecidedBy: v.DecidedBy, Reason: v.Reason,
		ReimbursementID: v.ReimbursementID, VoidOutcome: v.VoidOutcome, SubmittedAt: v.SubmittedAt, UpdatedAt: v.UpdatedAt,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
