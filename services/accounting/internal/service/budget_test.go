package service_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// reserve calls the internal reservation endpoint as service (signed with
// its development key) and returns the status and the answer.
func (h *harness) reserve(t *testing.T, service, expenseID string, amount int64) (int, map[string]any) {
	t.Helper()
	token, err := auth.MintService(auth.DevServiceKey(service), service, "accounting", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"expense_id": expenseID, "cost_center": "travel-team", "period": "2026-11",
		"amount_minor": amount, "currency": "EUR"})
	req, _ := http.NewRequest(http.MethodPost, h.Base+"/internal/v1/reservations", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

type budget struct {
	LimitMinor     int64 `json:"limit_minor"`
	ReservedMinor  int64 `json:"reserved_minor"`
	SpentMinor     int64 `json:"spent_minor"`
	RemainingMinor int64 `json:"remaining_minor"`
}

func (h *harness) budget(t *testing.T) budget {
	t.Helper()
	var p struct{ Items []budget }
	h.Call("GET", "/v1/budgets?period=2026-11", "bob", nil, &p)
	if len(p.Items) != 1 {
		t.Fatalf("%d budgets for 2026-11", len(p.Items))
	}
	return p.Items[0]
}

// 20 reservations of 1,000 at once against a budget of 10,000: exactly ten
// fit, the others are told what remains; the approvals spend theirs, a
// void releases one, and a retried reservation is answered the same.
func TestReservationsNeverOverspendABudget(t *testing.T) {
	h := start(t)
	if r := h.Call("PUT", "/v1/budgets/travel-team/2026-11", "carol", map[string]any{"currency": "EUR", "limit_minor": 10_000}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("set budget: %d", r.StatusCode)
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	ids := make([]string, 20)
	accepted := make([]bool, 20)
	for i := range ids {
		ids[i] = uuid.NewString()
		wg.Go(func() {
			status, body := h.reserve(t, "approval", ids[i], 1000)
			switch status {
			case http.StatusOK:
				ok.Add(1)
				accepted[i] = true
			case http.StatusConflict:
				refused.Add(1)
				if body["remaining_minor"] != 0.0 {
					t.Errorf("a refusal says %v remain", body["remaining_minor"])
				}
			default:
				t.Errorf("reserve: %d %v", status, body)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 || refused.Load() != 10 {
		t.Fatalf("%d reserved, %d refused; want 10 and 10", ok.Load(), refused.Load())
	}
	if b := h.budget(t); b.ReservedMinor != 10_000 || b.RemainingMinor != 0 {
		t.Fatalf("after the reservations: %+v", b)
	}
	// A retry of an accepted reservation is answered the same, not refused.
	var first string
	for i, a := range accepted {
		if a {
			first = ids[i]
			break
		}
	}
	if status, _ := h.reserve(t, "approval", first, 1000); status != http.StatusOK {
		t.Fatalf("a retried reservation: %d", status)
	}
	// The approvals arrive: reserved becomes spent.
	for i, a := range accepted {
		if a {
			testinfra.PublishEvent(t, h.amqpURL, approved(t, ids[i], 1000, "EUR"))
		}
	}
	testinfra.Eventually(t, 10*time.Second, "the approvals spend their reservations", func() bool {
		return h.budget(t).SpentMinor == 10_000
	})
	// A void releases one.
	testinfra.PublishEvent(t, h.amqpURL, envelope(t, events.SourceApproval, events.PostVoidEntryV1{
		ExpenseID: first, EmployeeID: "alice", Category: "travel", Kind: events.EntryKindReversal, AmountMinor: 1000, Currency: "EUR"}))
	testinfra.Eventually(t, 10*time.Second, "the void releases its reservation", func() bool {
		b := h.budget(t)
		return b.SpentMinor == 9000 && b.RemainingMinor == 1000
	})
	if status, _ := h.reserve(t, "approval", uuid.NewString(), 1000); status != http.StatusOK {
		t.Fatalf("reserving what the void freed: %d", status)
	}
}

// A reservation whose approval never came (approval crashed between the
// reservation and its commit) holds the budget only until it expires.
func TestAnAbandonedReservationExpires(t *testing.T) {
	h := start(t)
	h.Call("PUT", "/v1/budgets/travel-team/2026-11", "carol", map[string]any{"currency": "EUR", "limit_minor": 1000}, nil)
	abandoned := uuid.NewString()
	if status, _ := h.reserve(t, "approval", abandoned, 1000); status != http.StatusOK {
		t.Fatalf("reserve: %d", status)
	}
	if status, _ := h.reserve(t, "approval", uuid.NewString(), 1000); status != http.StatusConflict {
		t.Fatalf("while the first holds it: %d, want 409", status)
	}
	// Fast-forward: the reservation's time is up.
	if _, err := h.db.Exec(t.Context(), `UPDATE budget_reservations SET expires_at = now() - interval '1 second' WHERE expense_id = $1`, abandoned); err != nil {
		t.Fatal(err)
	}
	if status, _ := h.reserve(t, "approval", uuid.NewString(), 1000); status != http.StatusOK {
		t.Fatalf("after it expired: %d, want 200", status)
	}
}

// Only approval reserves, with its own service token: a user's token, a
// token of another service and no token are refused; no budget, no limit.
func TestOnlyApprovalReserves(t *testing.T) {
	h := start(t)
	if status, body := h.reserve(t, "approval", uuid.NewString(), 1000); status != http.StatusOK || body["budgeted"] != false {
		t.Fatalf("without a budget: %d %v, want 200 unbudgeted", status, body)
	}
	if status, _ := h.reserve(t, "notification", uuid.NewString(), 1000); status != http.StatusUnauthorized {
		t.Fatalf("a service accounting does not know: %d, want 401", status)
	}
	req, _ := http.NewRequest(http.MethodPost, h.Base+"/internal/v1/reservations", bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Authorization", "Bearer "+testinfra.Token(t, "carol"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a user's token (finance's): %d, want 401", resp.StatusCode)
	}
}
