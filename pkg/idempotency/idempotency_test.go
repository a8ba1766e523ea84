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
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/idempotency"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// server runs a command endpoint behind the middleware, on a real database
// and a clock the test moves. The handler fails with 500 while failing is set.
func server(t *testing.T) (do func(key, body string) *httptest.ResponseRecorder, calls *atomic.Int32, clock *time.Time, failing *atomic.Bool) {
	do, calls, clock, failing, _ = serverDB(t)
	return do, calls, clock, failing
}

// serverDB is server with a second endpoint, POST /things/{outcome}, whose
// handler inserts a row into "things" through the transaction in its
// context and then answers 201, 409, 500 or panics, as outcome says.
func serverDB(t *testing.T) (do func(key, body string) *httptest.ResponseRecorder, calls *atomic.Int32, clock *time.Time, failing *atomic.Bool, things func(outcome, key string) (*httptest.ResponseRecorder, int)) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, testinfra.Database(t, "idempotency"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, db, idempotency.Migrations); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("CREATE TABLE things (id serial PRIMARY KEY, outcome text)").Error; err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock = &now
	keys := idempotency.New(db, time.Hour, func() time.Time { return *clock }, slog.New(slog.DiscardHandler))
	calls, failing = &atomic.Int32{}, &atomic.Bool{}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.CustomRecovery(func(c *gin.Context, _ any) { c.AbortWithStatus(http.StatusInternalServerError) }))
	r.POST("/things/:outcome", keys.Middleware(), func(c *gin.Context) {
		calls.Add(1)
		outcome := c.Param("outcome")
		err := postgres.Transaction(c.Request.Context(), db, func(tx *gorm.DB) error {
			return tx.Exec("INSERT INTO things (outcome) VALUES (?)", outcome).Error
		})
		switch {
		case err != nil:
			c.Status(http.StatusServiceUnavailable)
		case outcome == "created":
			c.Header("Location", "/things/1")
			c.JSON(http.StatusCreated, gin.H{"outcome": outcome})
		case outcome == "refused":
			c.JSON(http.StatusConflict, gin.H{"outcome": outcome})
		case outcome == "failed":
			c.JSON(http.StatusInternalServerError, gin.H{"outcome": outcome})
		default:
			panic("the handler has a bug")
		}
	})
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
	things = func(outcome, key string) (*httptest.ResponseRecorder, int) {
		req := httptest.NewRequest(http.MethodPost, "/things/"+outcome, strings.NewReader("{}"))
		req.Header.Set(idempotency.Header, key)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		var n int64
		if err := db.Raw("SELECT count(*) FROM things").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return w, int(n)
	}
	return do, calls, clock, failing, things
}

// TestOneTransaction: the handler's writes commit with the key and its
// stored response, or not at all.
func TestOneTransaction(t *testing.T) {
	_, calls, _, _, things := serverDB(t)
	first, rows := things("created", "a")
	again, rowsAgain := things("created", "a")
	if first.Code != http.StatusCreated || rows != 1 || again.Code != http.StatusCreated || rowsAgain != 1 || calls.Load() != 1 {
		t.Fatalf("created: %d then %d, %d then %d rows, %d calls", first.Code, again.Code, rows, rowsAgain, calls.Load())
	}
	if again.Header().Get("Location") != "/things/1" || again.Body.String() != first.Body.String() {
		t.Errorf("the replay lacks the Location header or the body: %v %s", again.Header(), again.Body)
	}

	// A refusal keeps no effect, but is answered again the same way.
	refused, rows := things("refused", "b")
	refusedAgain, _ := things("refused", "b")
	if refused.Code != http.StatusConflict || refusedAgain.Code != http.StatusConflict || rows != 1 || calls.Load() != 2 {
		t.Fatalf("refused: %d then %d, %d rows, %d calls", refused.Code, refusedAgain.Code, rows, calls.Load())
	}

	// A server error and a panic roll everything back and free the key.
	for _, outcome := range []string{"failed", "panics"} {
		w, rows := things(outcome, "c-"+outcome)
		if w.Code != http.StatusInternalServerError || rows != 1 {
			t.Fatalf("%s: %d, %d rows", outcome, w.Code, rows)
		}
		before := calls.Load()
		if things(outcome, "c-"+outcome); calls.Load() != before+1 {
			t.Fatalf("%s: the key was not released", outcome)
		}
	}
}

// TestConcurrentRequestsWithOneKey: the second waits for the first and gets
// its response; the command runs once.
func TestConcurrentRequestsWithOneKey(t *testing.T) {
	_, calls, _, _, things := serverDB(t)
	codes := make(chan int, 8)
	for range 8 {
		go func() { w, _ := things("created", "same"); codes <- w.Code }()
	}
	for range 8 {
		if code := <-codes; code != http.StatusCreated {
			t.Errorf("a concurrent request got %d", code)
		}
	}
	if _, rows := things("created", "same"); rows != 1 || calls.Load() != 1 {
		t.Fatalf("%d rows after %d calls, want one of each", rows, calls.Load())
	}
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
