// Package httpapi is accounting's REST edge: the ledger read API. It decodes
// requests, calls one use case of the app package and encodes the result;
// errors go to httpx.WriteError, which turns them into problem+json.
package httpapi

import (
	"net/http"
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
