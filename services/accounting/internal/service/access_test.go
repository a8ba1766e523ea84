package service_test

import (
	"context"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/accounting/internal/app"
	"github.com/expenseflow/expenseflow/services/accounting/internal/service"
)

// Every route, as every role and without a token: the service answers what
// app.Access says, and the README shows app.Access as it is.
func TestAccessMatrix(t *testing.T) {
	pc, _ := testinfra.PlatformConfig(t, "accounting")
	p, err := service.New(context.Background(), service.Config{Config: pc, ApprovalPublicKey: testinfra.ServicePublicKey("approval")})
	if err != nil {
		t.Fatal(err)
	}
	c := testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}
	testinfra.CheckAccessDoc(t, "../../README.md", p.API.List(), app.Access)
	testinfra.WalkMatrix(t, testinfra.Matrix{
		Client: c, Engine: p.HTTP.Routes(), Routes: p.API.List(), Table: app.Access,
		// The ledger and the budgets are nobody's: no owner to vary.
		Request: func(_ *testing.T, r httpx.Route, _ string) (string, any) {
			if r.Action == app.SetBudget {
				return "/v1/budgets/travel-team/2026-11", map[string]any{"currency": "EUR", "limit_minor": 100000}
			}
			return r.Path, nil
		},
	})
}
