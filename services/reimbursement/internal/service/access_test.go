package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/app"
	"github.com/expenseflow/expenseflow/services/reimbursement/internal/service"
)

// Every route, as every role, without a token, on the caller's own
// reimbursement and on someone else's: the service answers what app.Access
// says, and the README shows app.Access as it is.
func TestAccessMatrix(t *testing.T) {
	pc, _ := testinfra.PlatformConfig(t, "reimbursement")
	cfg := service.Config{Config: pc, PayoutMaxAttempts: 5, PayoutRetryBase: time.Minute, PayoutRetryMax: time.Hour}
	p, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}
	testinfra.CheckAccessDoc(t, "../../README.md", p.API.List(), app.Access)

	// Reading does not change a reimbursement: one per owner will do.
	var mu sync.Mutex
	owned := map[string]string{}
	testinfra.WalkMatrix(t, testinfra.Matrix{
		Client: c, Engine: p.HTTP.Routes(), Routes: p.API.List(), Table: app.Access,
		Request: func(t *testing.T, r httpx.Route, owner string) (string, any) {
			if !strings.Contains(r.Path, ":id") {
				return r.Path, nil
			}
			mu.Lock()
			defer mu.Unlock()
			if owned[owner] == "" {
				rb, _ := (&env{Client: c.For(t), cfg: cfg}).scheduled(t, owner)
				owned[owner] = rb.ID
			}
			return strings.Replace(r.Path, ":id", owned[owner], 1), nil
		},
	})
}
