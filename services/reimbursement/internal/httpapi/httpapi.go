// Package httpapi is the reimbursement service's REST edge: it decodes
// requests, calls one use case of the app package and encodes the result.
// Errors go to httpx.WriteError, which turns them into problem+json.
package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/app"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/domain"
)

// Register mounts the reimbursement routes on api (the authenticated /v1
// group), each with the action of app.Access its use case checks.
func Register(api *httpx.Routes, a *app.App) {
	h := handlers{app: a}
	api.Handle(http.MethodGet, "/reimbursements", app.ListReimbursements, h.list)
	api.Handle(http.MethodGet, "/reimbursements/:id", app.GetReimbursement, h.get)
	api.Handle(http.MethodPost, "/payouts", app.RunPayoutBatch, h.payout)
}

type handlers struct{ app *app.App }

// reimbursementResponse is the reimbursement resource of docs/openapi/reimbursement.yaml.
type reimbursementResponse struct {
	ID            string `json:"id"`
	ExpenseID     string `json:"expense_id"`
	EmployeeID    string `json:"employee_id"`
	AmountMinor   int64  `json:"amount_minor"`
	Currency      string `json:"currency"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	PaymentRef    string `json:"payment_ref"`
	FailureReason string `json:"failure_reason"`
	// NextAttemptAt is set while the reimbursement is scheduled.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// payoutResponse has the fields of app.PayoutSummary, so one converts to the other.
type payoutResponse struct {
	Paid     int `json:"paid"`
	Failed   int `json:"failed"`
	Retrying int `json:"retrying"`
}

func (h handlers) payout(c *gin.Context) {
	sum, err := h.app.RunPayouts(c.Request.Context(), auth.PrincipalOf(c))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, payoutResponse(sum))
}

func (h handlers) get(c *gin.Context) {
	id, err := httpx.PathID(c, "reimbursement")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	s, err := h.app.Get(c.Request.Context(), auth.PrincipalOf(c), id)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, fromSnapshot(s))
}

func (h handlers) list(c *gin.Context) {
	limit, after, err := httpx.ListParams[string](c)
	afterID := ""
	if after != nil {
		afterID = *after
	}
	if err == nil && afterID != "" && uuid.Validate(afterID) != nil {
		err = apperr.Fields([]apperr.FieldError{{Field: "cursor", Message: "is not a cursor this API issued"}})
	}
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	f := app.ListFilter{Status: domain.Status(c.Query("status")), EmployeeID: c.Query("employee_id"), ExpenseID: c.Query("expense_id")}
	snapshots, err := h.app.List(c.Request.Context(), auth.PrincipalOf(c), f, limit, afterID)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]reimbursementResponse, len(snapshots))
	for i, s := range snapshots {
		out[i] = fromSnapshot(s)
	}
	c.JSON(http.StatusOK, httpx.NewPage(out, limit, func(r reimbursementResponse) string { return r.ID }))
}

func fromSnapshot(s domain.Snapshot) reimbursementResponse {
	r := reimbursementResponse{
		ID: s.ID, ExpenseID: s.ExpenseID, EmployeeID: s.EmployeeID, AmountMinor: s.AmountMinor, Currency: s.Currency,
		Status: string(s.Status), Attempts: s.Attempts, PaymentRef: s.PaymentRef, FailureReason: s.FailureReason,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
	if s.Status == domain.Scheduled {
		r.NextAttemptAt = &s.NextAttemptAt
	}
	return r
}
