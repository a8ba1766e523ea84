package service_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/approval/internal/app"
	"github.com/expenseflow/expenseflow/services/approval/internal/service"
)

// Every route, as every role, without a token, on the caller's own claim and
// on someone else's: the service answers what app.Access says, and the
// README shows app.Access as it is.
func TestAccessMatrix(t *testing.T) {
	pc, _ := testinfra.PlatformConfig(t, "approval")
	p, err := service.New(context.Background(), service.Config{Config: pc, ReadWaitMax: time.Second, AuditURL: "http://audit.invalid", VoidTick: time.Second,
		AccountingURL: budgetless(t), BudgetTimeout: 500 * time.Millisecond, ServiceSigningKey: testinfra.ServiceSigningKey("approval")})
	if err != nil {
		t.Fatal(err)
	}
	c := testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}
	testinfra.CheckAccessDoc(t, "../../README.md", p.API.List(), app.Access)

	testinfra.WalkMatrix(t, testinfra.Matrix{
		Client: c, Engine: p.HTTP.Routes(), Routes: p.API.List(), Table: app.Access,
		Request: func(t *testing.T, r httpx.Route, owner string) (string, any) {
			switch r.Action {
			case app.SubmitExpense:
				return "/v1/expenses", claim()
			case app.ListExpenses:
				return "/v1/expenses", nil
			case app.ListVoids:
				return "/v1/voids", nil
			}
			// A fresh claim, still submitted, so that every decision on it is legal.
			var e expense
			if resp := c.For(t).Call("POST", "/v1/expenses", owner, claim(), &e); resp.StatusCode != http.StatusCreated {
				t.Fatalf("submit as %s: %d", owner, resp.StatusCode)
			}
			path := strings.Replace(r.Path, ":id", e.ID, 1)
			switch r.Action {
			case app.GetExpense:
				// Wait for the projection (as frank, a manager, who sees all), so
				// that a 404 can only mean "not yours".
				testinfra.Eventually(t, 10*time.Second, "the claim is projected", func() bool {
					return c.For(t).Call("GET", path, "frank", nil, nil).StatusCode == http.StatusOK
				})
			case app.RejectExpense:
				return path, map[string]string{"reason": "no receipt"}
			case app.VoidExpense, app.GetVoid:
				// Only an approved claim can be voided; a void has a saga to show.
				manager := map[bool]string{true: "frank", false: "bob"}[owner == "bob"]
				if resp := c.For(t).Call("POST", "/v1/expenses/"+e.ID+"/approve", manager, nil, nil); resp.StatusCode != http.StatusOK {
					t.Fatalf("approve as %s: %d", manager, resp.StatusCode)
				}
				void := map[string]string{"reason": "duplicate receipt"}
				if r.Action == app.VoidExpense {
					return path, void
				}
				if resp := c.For(t).Call("POST", path, "carol", void, nil); resp.StatusCode != http.StatusAccepted {
					t.Fatalf("void as carol: %d", resp.StatusCode)
				}
			}
			return path, nil
		},
	})
}
