package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/notification/internal/app"
	"github.com/expenseflow/expenseflow/services/notification/internal/service"
)

// Every route, as every role, without a token, on the caller's own
// notification and on someone else's: the service answers what app.Access
// says, and the README shows app.Access as it is.
func TestAccessMatrix(t *testing.T) {
	var cfg service.Config
	if err := platform.Fill(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Config, _ = testinfra.PlatformConfig(t, "notification")
	p, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}
	testinfra.CheckAccessDoc(t, "../../README.md", p.API.List(), app.Access)

	testinfra.WalkMatrix(t, testinfra.Matrix{
		Client: c, Engine: p.HTTP.Routes(), Routes: p.API.List(), Table: app.Access,
		Request: func(t *testing.T, r httpx.Route, owner string) (string, any) {
			if r.Path == "/v1/notifications/sent" {
				return r.Path + "?expense_id=" + uuid.NewString(), nil
			}
			if !strings.Contains(r.Path, ":id") {
				return r.Path, nil
			}
			// An approval tells its employee, whatever their role: a fresh
			// notification for owner.
			ev := envelope(t, events.ExpenseApprovedV1{ExpenseID: uuid.NewString(), EmployeeID: owner, ApproverID: map[bool]string{true: "bob", false: "frank"}[owner == "frank"],
				AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: time.Now()})
			testinfra.PublishEvent(t, cfg.AMQPURL, ev)
			var id string
			testinfra.Eventually(t, 10*time.Second, owner+" is told", func() bool {
				for _, n := range inbox(c.For(t), owner, "").Items {
					if n.EventID == ev.ID {
						id = n.ID
					}
				}
				return id != ""
			})
			return strings.Replace(r.Path, ":id", id, 1), nil
		},
	})
}
