package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/approval/internal/service"
)

type expense struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Version int64  `json:"version"`
}

// startApproval runs the approval service against a fresh database and vhost.
func startApproval(t *testing.T) testinfra.Client {
	t.Helper()
	pc, _ := testinfra.PlatformConfig(t, "approval")
	p, err := service.New(context.Background(), service.Config{Config: pc, ReadWaitMax: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return testinfra.Client{T: t, Base: testinfra.Run(t, p)}
}

func claim() map[string]any {
	return map[string]any{
		"amount_minor": 4250, "currency": "EUR", "category": "travel",
		"description": "Train to Berlin", "incurred_on": time.Now().UTC().Format(time.DateOnly),
	}
}

// The command side commits the claim and its event; the read side only knows
// it once the event has gone through the outbox, RabbitMQ and the projection.
func TestSubmitApproveReadYourWrites(t *testing.T) {
	c := startApproval(t)

	var submitted expense
	if r := c.Call("POST", "/v1/expenses", "alice", claim(), &submitted); r.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d", r.StatusCode)
	}
	var approved expense
	if r := c.Call("POST", "/v1/expenses/"+submitted.ID+"/approve", "bob", nil, &approved); r.StatusCode != http.StatusOK || approved.Version != 2 {
		t.Fatalf("approve: %d %+v", r.StatusCode, approved)
	}

	var read expense
	r := c.Call("GET", "/v1/expenses/"+submitted.ID+"?min_version=2", "alice", nil, &read)
	if r.StatusCode != http.StatusOK || read.Status != "approved" || read.Version != 2 || r.Header.Get("X-Projection-Stale") != "" {
		t.Fatalf("read your writes: %d %+v stale=%q", r.StatusCode, read, r.Header.Get("X-Projection-Stale"))
	}

	// Repeating the decision is harmless: same answer, no new version.
	var again expense
	c.Call("POST", "/v1/expenses/"+submitted.ID+"/approve", "bob", nil, &again)
	if again.Version != 2 {
		t.Fatalf("repeated approval changed the version: %+v", again)
	}
	// Another manager cannot overrule; a manager cannot approve their own claim.
	if r := c.Call("POST", "/v1/expenses/"+submitted.ID+"/reject", "frank", map[string]string{"reason": "no"}, nil); r.StatusCode != http.StatusConflict {
		t.Fatalf("second decision: want 409, got %d", r.StatusCode)
	}
}

func TestVisibilityAndRoles(t *testing.T) {
	c := startApproval(t)
	var e expense
	c.Call("POST", "/v1/expenses", "alice", claim(), &e)

	cases := []struct {
		name, method, path, user string
		want                     int
	}{
		{"no token", "GET", "/v1/expenses/" + e.ID, "", http.StatusUnauthorized},
		{"other employee cannot see it", "GET", "/v1/expenses/" + e.ID + "?min_version=1", "erin", http.StatusNotFound},
		{"employee cannot approve", "POST", "/v1/expenses/" + e.ID + "/approve", "erin", http.StatusForbidden},
		{"other employee cannot withdraw", "POST", "/v1/expenses/" + e.ID + "/withdraw", "erin", http.StatusNotFound},
		{"manager sees it", "GET", "/v1/expenses/" + e.ID + "?min_version=1", "bob", http.StatusOK},
		{"owner withdraws", "POST", "/v1/expenses/" + e.ID + "/withdraw", "alice", http.StatusOK},
		{"withdrawn cannot be approved", "POST", "/v1/expenses/" + e.ID + "/approve", "bob", http.StatusConflict},
		{"unknown id", "GET", "/v1/expenses/not-a-uuid", "bob", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.Call(tc.method, tc.path, tc.user, nil, nil); r.StatusCode != tc.want {
				t.Fatalf("want %d, got %d", tc.want, r.StatusCode)
			}
		})
	}

	var page struct {
		Items []expense `json:"items"`
	}
	testinfra.Eventually(t, 5*time.Second, "erin's list stays empty, alice's has her claim", func() bool {
		c.Call("GET", "/v1/expenses", "alice", nil, &page)
		mine := len(page.Items) == 1 && page.Items[0].Status == "withdrawn"
		c.Call("GET", "/v1/expenses", "erin", nil, &page)
		return mine && len(page.Items) == 0
	})
}
