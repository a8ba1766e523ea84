package service_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/service"
)

// Finance manages endpoints; an auditor may look but not change, and never
// sees a secret; other roles may do nothing. Bad input is a 422 naming
// every field.
func TestOnlyFinanceManagesEndpoints(t *testing.T) {
	s := startWebhooks(t, func(*service.Config) {})
	e := s.createEndpoint("https://erp.example/hooks", "expense.approved.*", "reimbursement.paid.*")

	for _, user := range []string{"alice", "bob", "dave"} {
		if r := s.Call("POST", "/v1/webhooks/endpoints", user, map[string]any{"url": "https://x.example/", "event_types": []string{"#"}}, nil); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s creates an endpoint: %d", user, r.StatusCode)
		}
		if r := s.Call("POST", "/v1/webhooks/endpoints/"+e.ID+"/rotate-secret", user, nil, nil); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s rotates a secret: %d", user, r.StatusCode)
		}
	}
	if r := s.Call("GET", "/v1/webhooks/endpoints", "alice", nil, nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("an employee lists endpoints: %d", r.StatusCode)
	}
	var list struct{ Items []endpoint }
	if r := s.Call("GET", "/v1/webhooks/endpoints", "dave", nil, &list); r.StatusCode != http.StatusOK || len(list.Items) != 1 || list.Items[0].Secret != "" {
		t.Errorf("the auditor's list: %d %+v", r.StatusCode, list)
	}
	if r := s.Call("GET", "/v1/webhooks/endpoints", "", nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.StatusCode)
	}

	var problem struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	r := s.Call("POST", "/v1/webhooks/endpoints", "carol", map[string]any{"url": "ftp://erp.example/", "event_types": []string{"expense.approved.*", "Bad Pattern"}}, &problem)
	if r.StatusCode != http.StatusUnprocessableEntity || len(problem.Errors) != 2 {
		t.Errorf("bad endpoint: %d %+v", r.StatusCode, problem)
	}
	if r := s.Call("GET", "/v1/webhooks/endpoints/00000000-0000-4000-8000-000000000000", "carol", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", r.StatusCode)
	}
	if r := s.Call("GET", "/v1/webhooks/endpoints/"+e.ID+"/deliveries?status=lost", "carol", nil, nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown status: %d", r.StatusCode)
	}

	// Deleted: gone, and nothing more is sent to it.
	if r := s.Call("DELETE", "/v1/webhooks/endpoints/"+e.ID, "carol", nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if r := s.Call("DELETE", "/v1/webhooks/endpoints/"+e.ID, "carol", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("delete again: %d", r.StatusCode)
	}
}

// Rotating a secret: the answer holds the new one (and only that answer),
// and while the overlap lasts every message carries two signatures, so a
// receiver verifying with either secret accepts it.
func TestARotatedSecretSignsBesideTheOldOne(t *testing.T) {
	s := startWebhooks(t, func(*service.Config) {})
	withOld := newReceiver(t, func(string, int) int { return http.StatusOK })
	e := s.createEndpoint(withOld.server.URL, "expense.approved.*")
	withOld.setSecret(e.Secret)

	var rotated endpoint
	if r := s.Call("POST", "/v1/webhooks/endpoints/"+e.ID+"/rotate-secret", "carol", nil, &rotated); r.StatusCode != http.StatusOK ||
		rotated.Secret == "" || rotated.Secret == e.Secret {
		t.Fatalf("rotate: %d %+v", r.StatusCode, rotated)
	}
	var got endpoint
	s.Call("GET", "/v1/webhooks/endpoints/"+e.ID, "carol", nil, &got)
	if got.Secret != "" {
		t.Error("the secret is shown after it was made")
	}

	env := approved(t)
	testinfra.PublishEvent(t, s.amqpURL, env)
	testinfra.Eventually(t, 10*time.Second, "delivered", func() bool { _, n := withOld.counts(env.ID); return n == 1 })
	if bad := withOld.verificationFailures(); len(bad) > 0 {
		t.Errorf("a receiver with the old secret, during the overlap: %v", bad)
	}
	// The same request verifies with the new secret too: it carries both
	// signatures.
	withOld.mu.Lock()
	body, headers := withOld.bodies[env.ID], withOld.headers[env.ID]
	withOld.mu.Unlock()
	if n := len(strings.Fields(headers.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during the overlap, want 2", n)
	}
	v, err := standardwebhooks.NewWebhook(rotated.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(body, headers); err != nil {
		t.Errorf("a receiver with the new secret: %v", err)
	}
}

// Unless WEBHOOK_ALLOW_PRIVATE, nothing is sent to a loopback or private
// address (the check is on the address dialled); and a redirect is never
// followed, whatever the address.
func TestPrivateTargetsAndRedirectsAreRefused(t *testing.T) {
	s := startWebhooks(t, func(c *service.Config) { c.AllowPrivate, c.MaxAttempts = false, 1 })
	internal := newReceiver(t, func(string, int) int { return http.StatusOK })
	e := s.createEndpoint(internal.server.URL, "expense.approved.*")
	env := approved(t)
	testinfra.PublishEvent(t, s.amqpURL, env)
	var failed []delivery
	testinfra.Eventually(t, 10*time.Second, "the delivery to a loopback address failed", func() bool {
		failed = s.deliveries(e.ID, "?status=failed")
		return len(failed) == 1
	})
	if !strings.Contains(failed[0].LastError, "127.0.0.1 is a loopback address") || failed[0].LastStatusCode != nil {
		t.Errorf("failed delivery %+v", failed[0])
	}
	if requests, _ := internal.counts(env.ID); requests != 0 {
		t.Errorf("the loopback receiver got %d requests", requests)
	}

	s2 := startWebhooks(t, func(c *service.Config) { c.MaxAttempts = 1 })
	target := newReceiver(t, func(string, int) int { return http.StatusOK })
	redirector := httptest.NewServer(http.RedirectHandler(target.server.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirector.Close)
	e2 := s2.createEndpoint(redirector.URL, "expense.approved.*")
	env2 := approved(t)
	testinfra.PublishEvent(t, s2.amqpURL, env2)
	testinfra.Eventually(t, 10*time.Second, "the redirected delivery failed", func() bool {
		failed = s2.deliveries(e2.ID, "?status=failed")
		return len(failed) == 1
	})
	if failed[0].LastStatusCode == nil || *failed[0].LastStatusCode != http.StatusTemporaryRedirect {
		t.Errorf("redirected delivery %+v", failed[0])
	}
	if requests, _ := target.counts(env2.ID); requests != 0 {
		t.Errorf("the redirect was followed: %d requests", requests)
	}
}
