// Package idempotency implements the Idempotency-Key header for command
// endpoints: the same key with the same request gets the same response and
// no second effect; the same key with another request gets 422.
//
// How: before the handler runs, the key is claimed by inserting a row
// (caller, key, hash of method, path and body) in its own committed
// transaction; the primary key lets exactly one of several concurrent
// requests claim it. After the handler, the response is stored on the row,
// and later requests with the key get it replayed. A 5xx response releases
// the key, so the client can retry.
//
// Trade-off: the claim and the command's own transaction are separate. If
// the process dies after the command committed but before the response was
// stored, the key stays "in progress" (409) until it expires: the client
// cannot get the original response, but there is never a second effect,
// which is the promise that matters. Keys expire after a TTL and are then
// forgotten.
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
	db  *gorm.DB
	ttl time.Duration
	now func() time.Time
	log *slog.Logger
}

// New returns a key store whose keys live for ttl.
func New(db *gorm.DB, ttl time.Duration, now func() time.Time, log *slog.Logger) *Keys {
	return &Keys{db: db, ttl: ttl, now: now, log: log}
}

type keyRow struct {
	Principal   string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	Status      *int
	ContentType string
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
		caller := auth.PrincipalOf(c).UserID
		hash := requestHash(c.Request.Method, c.Request.URL.Path, body)

		ctx := c.Request.Context()
		row, claimed, err := k.claim(ctx, caller, key, hash)
		switch {
		case err != nil:
			httpx.WriteError(c, err)
		case !claimed && row.RequestHash != hash:
			httpx.WriteError(c, apperr.New(apperr.Invalid, "this Idempotency-Key was used with a different request"))
		case !claimed && row.Status == nil:
			httpx.WriteError(c, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is in progress"))
		case !claimed:
			c.Header(ReplayedHeader, "true")
			c.Data(*row.Status, row.ContentType, row.Body)
			c.Abort()
		default:
			rec := &recorder{ResponseWriter: c.Writer}
			c.Writer = rec
			c.Next()
			k.finish(context.WithoutCancel(ctx), caller, key, rec)
		}
	}
}

// claim inserts the key, or returns the row that already holds it. An
// expired row is deleted first, so the key can be used afresh.
func (k *Keys) claim(ctx context.Context, caller, key, hash string) (keyRow, bool, error) {
	now := k.now()
	db := k.db.WithContext(ctx)
	if err := db.Where("principal = ? AND key = ? AND expires_at <= ?", caller, key, now).Delete(&keyRow{}).Error; err != nil {
		return keyRow{}, false, err
	}
	row := keyRow{Principal: caller, Key: key, RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(k.ttl)}
	res := db.Exec(`INSERT INTO idempotency_keys (principal, key, request_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, row.Principal, row.Key, row.RequestHash, row.CreatedAt, row.ExpiresAt)
	if res.Error != nil || res.RowsAffected == 1 {
		return row, res.Error == nil, res.Error
	}
	var existing keyRow
	err := db.Take(&existing, "principal = ? AND key = ?", caller, key).Error
	return existing, false, err
}

// finish stores the response to replay, or releases the key after a server
// error so that a retry runs the command again.
func (k *Keys) finish(ctx context.Context, caller, key string, rec *recorder) {
	where := k.db.WithContext(ctx).Model(&keyRow{}).Where("principal = ? AND key = ?", caller, key)
	var err error
	if status := rec.Status(); status >= http.StatusInternalServerError {
		err = where.Delete(&keyRow{}).Error
	} else {
		err = where.Updates(map[string]any{"status": status, "content_type": rec.Header().Get("Content-Type"), "body": rec.body.Bytes()}).Error
	}
	if err != nil {
		// The response is already on its way; the key stays "in progress"
		// until it expires, which errs on the side of no second effect.
		k.log.ErrorContext(ctx, "cannot store the response of an idempotent request", "error", err)
	}
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
	io.WriteString(h, method+" "+path+"\n")
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
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
