package httpx_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/expenseflow/expenseflow/pkg/httpx"
)

type claim struct {
	AmountMinor int64  `json:"amount_minor"`
	Description string `json:"description"`
}

// engine serves POST /claims, which binds a claim strictly and echoes it.
func engine() *gin.Engine {
	r := httpx.NewEngine(slog.New(slog.DiscardHandler), prometheus.NewRegistry(), noop.NewTracerProvider())
	r.POST("/claims", func(c *gin.Context) {
		var in claim
		if err := httpx.BindJSON(c, &in); err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, in)
	})
	r.GET("/panic", func(*gin.Context) { panic("bug") })
	r.GET("/claims/:id", func(c *gin.Context) {
		id, err := httpx.PathID(c, "claim")
		if err != nil {
			httpx.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": id})
	})
	return r
}

func TestHostileRequests(t *testing.T) {
	cases := []struct {
		name   string
		method string
		target string
		body   string
		status int
		field  string // the field error expected, if any
	}{
		{"valid", "POST", "/claims", `{"amount_minor":1,"description":"ok"}`, 200, ""},
		{"unknown field (mass assignment)", "POST", "/claims", `{"amount_minor":1,"status":"paid"}`, 422, "status"},
		{"wrong type", "POST", "/claims", `{"amount_minor":"1"}`, 422, "amount_minor"},
		{"number too large for int64", "POST", "/claims", `{"amount_minor":92233720368547758070}`, 422, "amount_minor"},
		{"fraction", "POST", "/claims", `{"amount_minor":1.5}`, 422, "amount_minor"},
		{"trailing data", "POST", "/claims", `{"amount_minor":1}{"amount_minor":2}`, 400, ""},
		{"not JSON", "POST", "/claims", `amount=1`, 400, ""},
		{"empty body", "POST", "/claims", ``, 400, ""},
		{"body too large", "POST", "/claims", `{"description":"` + strings.Repeat("x", httpx.MaxBodyBytes) + `"}`, 413, ""},
		{"query too long", "GET", "/healthz?q=" + strings.Repeat("x", httpx.MaxQueryBytes), "", 414, ""},
		{"unknown route", "GET", "/nope", "", 404, ""},
		{"wrong method", "DELETE", "/claims", "", 405, ""},
		{"a panic is a 500, not a crash", "GET", "/panic", "", 500, ""},
		{"a key twice (which one wins?)", "POST", "/claims", `{"amount_minor":1,"amount_minor":2}`, 422, "amount_minor"},
		{"a key twice, nested", "POST", "/claims", `{"amount_minor":1,"x":{"a":1,"a":2}}`, 422, "x.a"},
		{"NUL in a string", "POST", "/claims", `{"amount_minor":1,"description":"a\u0000b"}`, 422, "description"},
		{"escape character in a string", "POST", "/claims", `{"amount_minor":1,"description":"\u001b[31mred"}`, 422, "description"},
		{"NUL in a filter", "GET", "/healthz?status=paid%00", "", 422, "status"},
		{"canonical id", "GET", "/claims/01a20466-0000-7000-8000-000000000001", "", 200, ""},
		{"urn:uuid id", "GET", "/claims/urn:uuid:01a20466-0000-7000-8000-000000000001", "", 404, ""},
		{"upper-case id", "GET", "/claims/01A20466-0000-7000-8000-000000000001", "", 404, ""},
		{"braced id", "GET", "/claims/%7B01a20466-0000-7000-8000-000000000001%7D", "", 404, ""},
	}
	r := engine()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body)))
			if w.Code != tc.status {
				t.Fatalf("want %d, got %d: %s", tc.status, w.Code, w.Body)
			}
			if tc.status < 400 {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			var p httpx.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != tc.status {
				t.Fatalf("not a problem document: %s", w.Body)
			}
			if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
				t.Fatalf("want a field error on %q, got %+v", tc.field, p.Errors)
			}
			if tc.status == 500 && strings.Contains(w.Body.String(), "bug") {
				t.Fatal("a 500 leaks internals")
			}
		})
	}
}

// Unicode in a string is passed through intact; invalid UTF-8 is the
// domain's to judge (approval refuses it, see its domain tests).
func TestUnicodeSurvivesBinding(t *testing.T) {
	w := httptest.NewRecorder()
	engine().ServeHTTP(w, httptest.NewRequest("POST", "/claims", strings.NewReader(`{"amount_minor":1,"description":"Zürich 🚆 \u202e"}`)))
	var got claim
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Description != "Zürich 🚆 \u202e" {
		t.Fatalf("got %q (%v)", got.Description, err)
	}
	w = httptest.NewRecorder()
	engine().ServeHTTP(w, httptest.NewRequest("POST", "/claims", strings.NewReader(`{"amount_minor":1,"description":"line one\nline two\ttabbed"}`)))
	if w.Code != http.StatusOK {
		t.Fatalf("newlines and tabs are text: %d %s", w.Code, w.Body)
	}
}

// Each caller has its own bucket; past it the answer is 429 with the
// seconds to wait, and a refused request costs nothing.
func TestRateLimitPerCaller(t *testing.T) {
	r := httpx.NewEngine(slog.New(slog.DiscardHandler), prometheus.NewRegistry(), noop.NewTracerProvider())
	r.GET("/limited", httpx.RateLimit(0.5, 2, func(c *gin.Context) string { return c.GetHeader("X-Caller") }),
		func(c *gin.Context) { c.Status(http.StatusNoContent) })
	call := func(caller string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/limited", nil)
		req.Header.Set("X-Caller", caller)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	for i, want := range []int{204, 204, 429, 429} {
		if w := call("alice"); w.Code != want {
			t.Fatalf("alice's request %d: %d, want %d", i+1, w.Code, want)
		} else if want == 429 && (w.Header().Get("Retry-After") != "2" || w.Header().Get("Content-Type") != "application/problem+json") {
			t.Fatalf("a 429 says when to come back, as a problem document: %v", w.Header())
		}
	}
	if w := call("bob"); w.Code != 204 {
		t.Fatalf("bob is limited by alice's requests: %d", w.Code)
	}
}
