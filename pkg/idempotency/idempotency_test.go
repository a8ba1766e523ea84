package idempotency_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/idempotency"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// server runs a command endpoint behind the middleware, on a real database
// and a clock the test moves. The handler fails with 500 while failing is set.
func server(t *testing.T) (do func(key, body string) *httptest.ResponseRecorder, calls *atomic.Int32, clock *time.Time, failing *atomic.Bool) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, testinfra.Database(t, "idempotency"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, db, idempotency.Migrations); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock = &now
	keys := idempotency.New(db, time.Hour, func() time.Time { return *clock }, slog.New(slog.DiscardHandler))
	calls, failing = &atomic.Int32{}, &atomic.Bool{}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/things", keys.Middleware(), func(c *gin.Context) {
		n := calls.Add(1)
		if failing.Load() {
			c.JSON(http.StatusInternalServerError, gin.H{"error": "down"})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"call": n})
	})
	do = func(key, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(body))
		req.Header.Set(idempotency.Header, key)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	return do, calls, clock, failing
}

func TestReplayAndExpiry(t *testing.T) {
	do, calls, clock, _ := server(t)
	first := do("k", `{"a":1}`)
	again := do("k", `{"a":1}`)
	if first.Code != http.StatusCreated || again.Body.String() != first.Body.String() || calls.Load() != 1 {
		t.Fatalf("replay: %d %s then %d %s after %d calls", first.Code, first.Body, again.Code, again.Body, calls.Load())
	}
	if again.Header().Get(idempotency.ReplayedHeader) != "true" {
		t.Error("the replay is not marked")
	}
	if w := do("k", `{"a":2}`); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("another body: want 422, got %d", w.Code)
	}
	*clock = clock.Add(time.Hour) // the key expires
	if w := do("k", `{"a":2}`); w.Code != http.StatusCreated || calls.Load() != 2 {
		t.Fatalf("after expiry the key is free again: got %d after %d calls", w.Code, calls.Load())
	}
}

func TestServerErrorReleasesTheKey(t *testing.T) {
	do, calls, _, failing := server(t)
	failing.Store(true)
	if w := do("k", `{}`); w.Code != http.StatusInternalServerError {
		t.Fatalf("want 500, got %d", w.Code)
	}
	failing.Store(false)
	if w := do("k", `{}`); w.Code != http.StatusCreated || calls.Load() != 2 {
		t.Fatalf("a retry after a 500 runs again: got %d after %d calls", w.Code, calls.Load())
	}
}

func TestWithoutKeyNothingIsRemembered(t *testing.T) {
	do, calls, _, _ := server(t)
	do("", `{}`)
	do("", `{}`)
	if calls.Load() != 2 {
		t.Fatalf("requests without a key ran %d times, want 2", calls.Load())
	}
	if w := do(strings.Repeat("x", 256), `{}`); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("an overlong key: want 422, got %d", w.Code)
	}
}
