// Package httpapi is the approval service's REST edge: it decodes requests,
// calls one use case of the app package and encodes the result. Errors go to
// httpx.WriteError, which turns them into problem+json.
package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
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

func (h handlers) decide(c *gin.Context, run func(auth.Principal, string) (domain.Snapshot, error)) {
	id, err := expenseID(c)
	if err == nil {
		var s domain.Snapshot
		if s, err = run(auth.PrincipalOf(c), id); err == nil {
			c.JSON(http.StatusOK, fromSnapshot(s))
			return
		}
	}
	httpx.WriteError(c, err)
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
		ReimbursementID: v.ReimbursementID, SubmittedAt: v.SubmittedAt, UpdatedAt: v.UpdatedAt,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
