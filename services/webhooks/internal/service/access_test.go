package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/app"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/service"
)

// Every route, as every role and without a token: the service answers what
// app.Access says, and the README shows app.Access as it is.
func TestAccessMatrix(t *testing.T) {
	var cfg service.Config
	if err := platform.Fill(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Config, _ = testinfra.PlatformConfig(t, "webhooks")
	quick(&cfg)
	p, err := service.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := stack{Client: testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: openapi.Get(t)}, amqpURL: cfg.AMQPURL}
	testinfra.CheckAccessDoc(t, "../../README.md", p.API.List(), app.Access)
	ok := newReceiver(t, func(string, int) int { return http.StatusOK })

	testinfra.WalkMatrix(t, testinfra.Matrix{
		Client: s.Client, Engine: p.HTTP.Routes(), Routes: p.API.List(), Table: app.Access,
		Request: func(t *testing.T, r httpx.Route, _ string) (string, any) {
			c := s
			c.Client = s.For(t)
			switch {
			case r.Path == "/v1/webhooks/endpoints" && r.Method == http.MethodPost:
				return r.Path, map[string]any{"url": ok.server.URL, "event_types": []string{"expense.approved.*"}}
			case !strings.Contains(r.Path, ":id"):
				return r.Path, nil
			case strings.HasPrefix(r.Path, "/v1/webhooks/deliveries/"):
				// A fresh endpoint and one delivered event.
				e := c.createEndpoint(ok.server.URL, "expense.approved.*")
				testinfra.PublishEvent(t, s.amqpURL, approved(t))
				var id string
				testinfra.Eventually(t, 10*time.Second, "a delivery", func() bool {
					ds := c.deliveries(e.ID, "?status=delivered")
					if len(ds) > 0 {
						id = ds[0].ID
					}
					return id != ""
				})
				return strings.Replace(r.Path, ":id", id, 1), nil
			default:
				e := c.createEndpoint(ok.server.URL, "ledger.entry_posted.*")
				return strings.Replace(r.Path, ":id", e.ID, 1), nil
			}
		},
	})
}
