// Package httpapi is accounting's REST edge: the ledger read API. It decodes
// requests, calls one use case of the app package and encodes the result;
// errors go to httpx.WriteError, which turns them into problem+json.
package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/accounting/internal/app"
	"github.com/expenseflow/expenseflow/services/accounting/internal/domain"
)

// Register mounts the ledger routes on api (the authenticated /v1 group),
// each with the action of app.Access its use case checks.
func Register(api *httpx.Routes, a *app.App) {
	h := handlers{app: a}
	api.Handle(http.MethodGet, "/ledger/entries", app.ListEntries, h.entries)
	api.Handle(http.MethodGet, "/ledger/balances", app.ListBalances, h.balances)
	api.Handle(http.MethodPut, "/budgets/:cost_center/:period", app.SetBudget, h.setBudget)
	api.Handle(http.MethodGet, "/budgets", app.ListBudgets, h.budgets)
}

type handlers struct{ app *app.App }

// entryResponse is the ledger entry resource of docs/openapi/accounting.yaml.
type entryResponse struct {
	ID        string         `json:"id"`
	ExpenseID string         `json:"expense_id"`
	Kind      string         `json:"kind"`
	PostedAt  time.Time      `json:"posted_at"`
	Lines     []lineResponse `json:"lines"`
}

type lineResponse struct {
	Account     string `json:"account"`
	DebitMinor  int64  `json:"debit_minor"`
	CreditMinor int64  `json:"credit_minor"`
	Currency    string `json:"currency"`
	EmployeeID  string `json:"employee_id,omitempty"`
}

type balanceResponse struct {
	Account      string `json:"account"`
	Currency     string `json:"currency"`
	BalanceMinor int64  `json:"balance_minor"`
}

func (h handlers) entries(c *gin.Context) {
	limit, after, err := httpx.ListParams[string](c)
	if err == nil && after != nil && uuid.Validate(*after) != nil {
		err = apperr.Fields([]apperr.FieldError{{Field: "cursor", Message: "is not a cursor this API issued"}})
	}
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	var afterID string
	if after != nil {
		afterID = *after
	}
	entries, err := h.app.Entries(c.Request.Context(), auth.PrincipalOf(c), c.Query("expense_id"), limit, afterID)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]entryResponse, len(entries))
	for i, e := range entries {
		out[i] = fromEntry(e)
	}
	c.JSON(http.StatusOK, httpx.NewPage(out, limit, func(e entryResponse) string { return e.ID }))
}

// balances is a single page: there is one row per account and currency,
// a short list that does not grow with the number of postings.
func (h handlers) balances(c *gin.Context) {
	balances, err := h.app.Balances(c.Request.Context(), auth.PrincipalOf(c))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]balanceResponse, len(balances))
	for i, b := range balances {
		out[i] = balanceResponse(b)
	}
	c.JSON(http.StatusOK, httpx.Page[balanceResponse]{Items: out})
}

func fromEntry(e domain.Entry) entryResponse {
	lines := e.Lines()
	out := entryResponse{ID: e.ID, ExpenseID: e.ExpenseID, Kind: string(e.Kind), PostedAt: e.PostedAt, Lines: make([]lineResponse, len(lines))}
	for i, l := range lines {
		out.Lines[i] = lineResponse(l)
	}
	return out
}

// budgetResponse is the budget resource of docs/openapi/accounting.yaml.
type budgetResponse struct {
	CostCenter     string `json:"cost_center"`
	Period         string `json:"period"`
	Currency       string `json:"currency"`
	LimitMinor     int64  `json:"limit_minor"`
	ReservedMinor  int64  `json:"reserved_minor"`
	SpentMinor     int64  `json:"spent_minor"`
	RemainingMinor int64  `json:"remaining_minor"`
}

func fromBudget(b domain.Budget) budgetResponse {
	return budgetResponse{CostCenter: b.CostCenter, Period: b.Period, Currency: b.Currency, LimitMinor: b.LimitMinor,
		ReservedMinor: b.ReservedMinor, SpentMinor: b.SpentMinor, RemainingMinor: b.RemainingMinor()}
}

type setBudgetRequest struct {
	Currency   string `json:"currency"`
	LimitMinor int64  `json:"limit_minor"`
}

func (h handlers) setBudget(c *gin.Context) {
	var req setBudgetRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	b, err := h.app.SetBudget(c.Request.Context(), auth.PrincipalOf(c), c.Param("cost_center"), c.Param("period"), req.Currency, req.LimitMinor)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, fromBudget(b))
}

func (h handlers) budgets(c *gin.Context) {
	bs, err := h.app.ListBudgets(c.Request.Context(), auth.PrincipalOf(c), c.Query("period"))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]budgetResponse, len(bs))
	for i, b := range bs {
		out[i] = fromBudget(b)
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

// RegisterInternal mounts the routes other services call, under /internal:
// authenticated by a service token (auth.ServiceVerifier), never a user's.
func RegisterInternal(r *gin.Engine, v *auth.ServiceVerifier, a *app.App) {
	h := handlers{app: a}
	r.POST("/internal/v1/reservations", func(c *gin.Context) {
		token, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		service, err := v.Verify(strings.TrimSpace(token))
		if err == nil && service != "approval" {
			err = apperr.New(apperr.Forbidden, "only approval reserves budget")
		}
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		h.reserve(c)
	})
}

type reserveRequest struct {
	ExpenseID   string `json:"expense_id"`
	CostCenter  string `json:"cost_center"`
	Period      string `json:"period"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

// reserveResponse: budgeted is false when the cost center has no budget
// for the month (no limit, nothing held); else the budget after it.
type reserveResponse struct {
	Budgeted bool            `json:"budgeted"`
	Budget   *budgetResponse `json:"budget,omitempty"`
}

// reserve holds budget for a claim: 200 when it fits (or there is no
// budget), 409 with remaining_minor when it does not.
func (h handlers) reserve(c *gin.Context) {
	var req reserveRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	if uuid.Validate(req.ExpenseID) != nil {
		httpx.WriteError(c, apperr.Fields([]apperr.FieldError{{Field: "expense_id", Message: "must be a UUID"}}))
		return
	}
	b, budgeted, err := h.app.Reserve(c.Request.Context(), app.Reservation{ExpenseID: req.ExpenseID, CostCenter: req.CostCenter,
		Period: req.Period, Amount: domain.Money{AmountMinor: req.AmountMinor, Currency: req.Currency}})
	var over domain.OverBudget
	switch {
	case errors.As(err, &over):
		httpx.WriteErrorWith(c, apperr.New(apperr.Conflict, "over budget: the %s budget of %s has %d left", req.Period, req.CostCenter, over.RemainingMinor),
			map[string]any{"remaining_minor": over.RemainingMinor})
	case err != nil:
		httpx.WriteError(c, err)
	case !budgeted:
		c.JSON(http.StatusOK, reserveResponse{})
	default:
		out := fromBudget(b)
		c.JSON(http.StatusOK, reserveResponse{Budgeted: true, Budget: &out})
	}
}
