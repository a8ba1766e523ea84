// Package idempotency implements the Idempotency-Key header for command
// endpoints: the same key with the same request gets the same response and
// no second effect; the same key with another request gets 422.
//
// How: one transaction holds the whole command. It claims the key by
// inserting a row (caller, key, hash of method, path and body), runs the
// handler with that transaction in the request context (stores join it
// through postgres.Transaction), stores the response on the row, and
// commits; only then is the response sent. So the key, the state change,
// its events and the response commit together or not at all
// (docs/adr/0013-idempotency-in-the-command-transaction.md):
//   - a crash at any moment leaves either nothing (the client's retry runs
//     the command) or the whole command with its response (the retry gets
//     that response, Location header included);
//   - a concurrent request with the same key waits on the row's primary key
//     until the first commits, then gets its response;
//   - a 5xx or a panic rolls everything back and so releases the key;
//   - a 4xx keeps no effect of the handler (a savepoint is rolled back) but
//     is stored, so a retry gets the same refusal.
//
// A command that must not run inside one transaction (it calls something
// outside its database, like the payout batch and its payment gateway) is
// registered with OwnTransactions: its key is claimed and answered in short
// transactions of their own around it. A crash in between leaves that key
// "in progress" (409) until it expires; such a command must be safe to run
// again under a new key, as a payout batch is.
//
// Keys expire after a TTL and are then forgotten.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// Header names.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed" // "true" on a replayed response
	maxKeyLength   = 255
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the idempotency_keys table.
var Migrations = postgres.EmbeddedMigrations("idempotency", migrationFiles, "migrations")

// Keys stores idempotency keys in a service's database.
type Keys struct {
	db    *gorm.DB
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger
	apart map[string]bool // "METHOD /full/path" of routes that run their own transactions
}

// New returns a key store whose keys live for ttl.
func New(db *gorm.DB, ttl time.Duration, now func() time.Time, log *slog.Logger) *Keys {
	return &Keys{db: db, ttl: ttl, now: now, log: log, apart: map[string]bool{}}
}

// OwnTransactions marks the route method fullPath (gin's syntax, e.g.
// "/v1/payouts") as a command that must not run inside the key's
// transaction; see the package comment. Call it while wiring, before serving.
func (k *Keys) OwnTransactions(method, fullPath string) { k.apart[method+" "+fullPath] = true }

type keyRow struct {
	Principal   string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	Status      *int
	ContentType string
	Location    string
	Body        []byte
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt   time.Time
}

func (keyRow) TableName() string { return "idempotency_keys" }

// Middleware applies the protocol to unsafe methods (POST, PUT, PATCH,
// DELETE) that carry the header; everything else passes through. It must run
// after authentication: keys are scoped to the caller, so one user's key
// never replays another user's response.
func (k *Keys) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(Header)
		if key == "" || isSafe(c.Request.Method) {
			c.Next()
			return
		}
		if len(key) > maxKeyLength {
			httpx.WriteError(c, apperr.Fields([]apperr.FieldError{{Field: Header, Message: "must be at most 255 characters"}}))
			return
		}
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, httpx.MaxBodyBytes+1))
		if err != nil {
			httpx.WriteError(c, apperr.New(apperr.Invalid, "cannot read the request body"))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body)) // the handler reads it again
		claim := keyRow{Principal: auth.PrincipalOf(c).UserID, Key: key, RequestHash: requestHash(c.Request.Method, c.Request.URL.Path, body)}
		if k.apart[c.Request.Method+" "+c.FullPath()] {
			k.aroundCommand(c, claim)
		} else {
			k.inCommandTransaction(c, claim)
		}
	}
}

// inCommandTransaction runs the command and its key in one transaction and
// sends the response only once it has committed.
func (k *Keys) inCommandTransaction(c *gin.Context, claim keyRow) {
	ctx := c.Request.Context()
	tx := k.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		httpx.WriteError(c, tx.Error)
		return
	}
	out := &buffer{ResponseWriter: c.Writer}
	committed := false
	defer func() {
		c.Writer = out.ResponseWriter // a panic's 500 goes to the client
		if !committed {
			tx.Rollback() // a 5xx, a panic, a failed commit: no effect, the key is free again
		}
	}()
	held, claimed, err := k.claim(tx, claim)
	if err != nil || !claimed {
		k.answerFromRow(c, claim, held, err)
		return
	}
	if err := tx.SavePoint("command").Error; err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.Writer = out
	c.Request = c.Request.WithContext(postgres.WithTx(ctx, tx))
	c.Next()
	c.Writer = out.ResponseWriter
	status := out.Status()
	if status >= http.StatusInternalServerError {
		out.send()
		return
	}
	if status >= http.StatusMultipleChoices {
		err = tx.RollbackTo("command").Error // refused: keep the answer, not what the handler did
	}
	if err == nil {
		err = k.store(tx, claim, status, out.Header(), out.body.Bytes())
	}
	if err == nil {
		err = tx.Commit().Error
	}
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	committed = true
	out.send()
}

// aroundCommand claims the key and stores the response in short
// transactions of their own, for commands that open theirs.
func (k *Keys) aroundCommand(c *gin.Context, claim keyRow) {
	ctx := c.Request.Context()
	held, claimed, err := k.claim(k.db.WithContext(ctx), claim)
	if err != nil || !claimed {
		k.answerFromRow(c, claim, held, err)
		return
	}
	rec := &recorder{ResponseWriter: c.Writer}
	answered := false
	defer func() {
		// Deferred so that a panic releases the key as a 5xx does.
		db := k.db.WithContext(context.WithoutCancel(ctx))
		var err error
		if status := rec.Status(); answered && status < http.StatusInternalServerError {
			err = k.store(db, claim, status, rec.Header(), rec.body.Bytes())
		} else {
			err = db.Where("principal = ? AND key = ?", claim.Principal, claim.Key).Delete(&keyRow{}).Error
		}
		if err != nil {
			// The response is on its way; the key stays "in progress" until
			// it expires, which errs on the side of no second effect.
			k.log.ErrorContext(ctx, "cannot store the response of an idempotent request", "error", err)
		}
	}()
	c.Writer = rec
	c.Next()
	answered = true
}

// claim inserts the key, or takes over an expired one, in one statement; a
// concurrent claim of the same key waits on the primary key until the
// holder's transaction ends. It returns the row holding the key when the
// claim is not ours.
func (k *Keys) claim(db *gorm.DB, claim keyRow) (keyRow, bool, error) {
	now := k.now()
	res := db.Exec(`INSERT INTO idempotency_keys (principal, key, request_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (principal, key) DO UPDATE
		SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
		    status = NULL, content_type = '', location = '', body = NULL
		WHERE idempotency_keys.expires_at <= EXCLUDED.created_at`,
		claim.Principal, claim.Key, claim.RequestHash, now, now.Add(k.ttl))
	if res.Error != nil || res.RowsAffected == 1 {
		return keyRow{}, res.Error == nil, res.Error
	}
	var held keyRow
	err := db.Take(&held, "principal = ? AND key = ?", claim.Principal, claim.Key).Error
	return held, false, err
}

// answerFromRow answers a request whose key is held already: with the stored
// response, or why there is none.
func (k *Keys) answerFromRow(c *gin.Context, claim, held keyRow, err error) {
	switch {
	case err != nil:
		httpx.WriteError(c, err)
	case held.RequestHash != claim.RequestHash:
		httpx.WriteError(c, apperr.New(apperr.Invalid, "this Idempotency-Key was used with a different request"))
	case held.Status == nil:
		httpx.WriteError(c, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is in progress"))
	default:
		c.Header(ReplayedHeader, "true")
		if held.Location != "" {
			c.Header("Location", held.Location)
		}
		c.Data(*held.Status, held.ContentType, held.Body)
		c.Abort()
	}
}

func (k *Keys) store(db *gorm.DB, claim keyRow, status int, h http.Header, body []byte) error {
	return db.Model(&keyRow{}).Where("principal = ? AND key = ?", claim.Principal, claim.Key).Updates(map[string]any{
		"status": status, "content_type": h.Get("Content-Type"), "location": h.Get("Location"), "body": body,
	}).Error
}

// Sweep deletes expired keys, to keep the table small (expired keys are
// ignored anyway), and returns how many it deleted. The platform's
// housekeeping runs it every hour.
func (k *Keys) Sweep(ctx context.Context) (int64, error) {
	res := k.db.WithContext(ctx).Where("expires_at <= ?", k.now()).Delete(&keyRow{})
	return res.RowsAffected, res.Error
}

func requestHash(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// buffer holds a response until the command's transaction has committed: a
// client must never be told of an effect that was then rolled back.
type buffer struct {
	gin.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *buffer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *buffer) WriteHeaderNow() { b.WriteHeader(http.StatusOK) }
func (b *buffer) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
func (b *buffer) WriteString(s string) (int, error) { return b.Write([]byte(s)) }
func (b *buffer) Written() bool                     { return b.status != 0 }
func (b *buffer) Size() int                         { return b.body.Len() }
func (b *buffer) Status() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

// send writes the held response to the client. An error means the client
// has gone: it will retry with the key and get the stored response.
func (b *buffer) send() {
	b.ResponseWriter.WriteHeader(b.Status())
	_, _ = b.ResponseWriter.Write(b.body.Bytes())
}

// recorder keeps a copy of the response body while passing it through.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
