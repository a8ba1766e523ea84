package service_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/approval/internal/service"
)

// The service's logs, captured through a whole flow with good and bad
// requests, contain neither secrets (the JWT secret, tokens) nor personal
// data from requests (a claim's description, names, e-mail addresses).
func TestLogsHoldNoSecretsOrPersonalData(t *testing.T) {
	logs := &testinfra.Logs{}
	pc, _ := testinfra.PlatformConfig(t, "approval")
	pc.LogOutput = logs
	p, err := service.New(context.Background(), service.Config{Config: pc, ReadWaitMax: time.Second, AuditURL: "http://audit.invalid", VoidTick: time.Second,
		AccountingURL: budgetless(t), BudgetTimeout: 500 * time.Millisecond, ServiceSigningKey: testinfra.ServiceSigningKey("approval")})
	if err != nil {
		t.Fatal(err)
	}
	c := testinfra.Client{T: t, Base: testinfra.Run(t, p)}

	private := "Dinner with Dr. Jane Private at Hotel Secret, jane.private@example.com"
	body := claim()
	body["description"] = private
	var e expense
	c.Call("POST", "/v1/expenses", "alice", body, &e)
	c.Call("POST", "/v1/expenses/"+e.ID+"/approve", "bob", nil, nil)
	c.Call("GET", "/v1/expenses/"+e.ID+"?min_version=2", "alice", nil, nil)
	bad := claim()
	bad["description"], bad["amount_minor"] = private, -1 // refused, with the private text in the body
	c.Call("POST", "/v1/expenses", "alice", bad, nil)
	forged := c.WithHeader("Authorization", "Bearer "+testinfra.Token(t, "alice")+"tampered")
	if r := forged.Call("GET", "/v1/expenses?employee_id="+url.QueryEscape(private), "", nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a tampered token: %d", r.StatusCode)
	}

	token := testinfra.Token(t, "alice")
	testinfra.Eventually(t, 5*time.Second, "the flow is logged", func() bool {
		return strings.Count(logs.String(), `"msg":"http request"`) >= 5
	})
	// What the logs must hold: the claim's id, on the requests about it
	// and on the events handled about it, so one claim can be followed.
	testinfra.Eventually(t, 5*time.Second, "the projection's events are logged", func() bool {
		return strings.Contains(logs.String(), `"msg":"event handled"`)
	})
	out := logs.String()
	for _, want := range []string{`"route":"/v1/expenses/:id/approve","status":200`, `"id":"` + e.ID + `"`, `"subject":"` + e.ID + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no log line holds %s", want)
		}
	}
	// Each event handled: one line at info with the handler, the type, the
	// event id, the correlation id and the claim's id.
	handled := false
	for line := range strings.Lines(out) {
		if strings.Contains(line, `"msg":"event handled"`) && strings.Contains(line, `"level":"INFO"`) &&
			strings.Contains(line, `"expense_id":"`+e.ID+`"`) && strings.Contains(line, `"handler":"`) &&
			strings.Contains(line, `"type":"expense.`) && strings.Contains(line, `"event_id":"`) && strings.Contains(line, `"correlation_id":"`) {
			handled = true
		}
	}
	if !handled {
		t.Errorf("no \"event handled\" line names the handler, type, event id, correlation id and expense id:\n%s", out)
	}
	for name, secret := range map[string]string{
		"the JWT secret":  testinfra.JWTSecret,
		"a token":         token[strings.LastIndex(token, ".")+1:], // its signature
		"the word Bearer": "Bearer",
		"a description":   "Jane",         // however it is escaped
		"an e-mail":       "jane.private", // likewise
		"a display name":  "Alice Employee",
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain %s (%q)", name, secret)
		}
	}
}
