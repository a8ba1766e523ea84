package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

// FuzzRequestBodies throws arbitrary bytes at the two request bodies this
// service reads (a claim, a rejection) through the same strict binding and
// domain rules a request meets. Nothing may panic, and every refusal must be
// a client error with a kind the HTTP layer maps to 4xx — never a 500.
func FuzzRequestBodies(f *testing.F) {
	f.Add([]byte(`{"amount_minor":4250,"currency":"EUR","category":"travel","description":"Train","incurred_on":"2026-11-20"}`))
	f.Add([]byte(`{"amount_minor":9223372036854775807,"currency":"EUR","category":"travel","description":"x","incurred_on":"2026-11-20","cost_center":"sales"}`))
	f.Add([]byte(`{"amount_minor":1.5}`))
	f.Add([]byte(`{"reason":"no receipt"}`))
	f.Add([]byte(`{"status":"paid"}`))
	f.Add([]byte("{\"description\":\"\xff\xfe\"}"))
	f.Add([]byte(`[]`))
	gin.SetMode(gin.ReleaseMode)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		var claim submitRequest
		if err := httpx.BindJSON(c, &claim); err != nil {
			clientError(t, err)
		} else if _, err := domain.Submit("e-1", "alice", domain.Claim(claim), now); err != nil {
			clientError(t, err)
		}

		c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		var reject rejectRequest
		if err := httpx.BindJSON(c, &reject); err != nil {
			clientError(t, err)
			return
		}
		e, err := domain.Submit("e-1", "alice", domain.Claim{AmountMinor: 1, Currency: "EUR", Category: "other", Description: "x", IncurredOn: "2026-11-20"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Reject("bob", reject.Reason, now); err != nil {
			clientError(t, err)
		}
	})
}

func clientError(t *testing.T, err error) {
	t.Helper()
	if apperr.KindOf(err) == "" {
		t.Fatalf("a bad body led to an internal error (500): %v", err)
	}
}
