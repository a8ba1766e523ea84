package httpx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/postgres"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Errors   []apperr.FieldError `json:"errors,omitempty"`
}

// statusOf is the only mapping from error kind to HTTP status in the code base.
var statusOf = map[apperr.Kind]int{
	apperr.Invalid:       http.StatusUnprocessableEntity,
	apperr.NotFound:      http.StatusNotFound,
	apperr.Conflict:      http.StatusConflict,
	apperr.Forbidden:     http.StatusForbidden,
	apperr.Unauthorized:  http.StatusUnauthorized,
	apperr.Unavailable:   http.StatusServiceUnavailable,
	kindTooLarge:         http.StatusRequestEntityTooLarge,
	kindBadRequest:       http.StatusBadRequest,
	kindMethodNotAllowed: http.StatusMethodNotAllowed,
	kindURITooLong:       http.StatusRequestURITooLong,
	kindTooManyRequests:  http.StatusTooManyRequests,
}

// Kinds that only the HTTP edge produces.
const (
	kindTooLarge         apperr.Kind = "too_large"
	kindBadRequest       apperr.Kind = "bad_request"
	kindMethodNotAllowed apperr.Kind = "method_not_allowed"
	kindURITooLong       apperr.Kind = "uri_too_long"
	kindTooManyRequests  apperr.Kind = "too_many_requests"
)

// WriteError answers with the problem document for err. Errors that are not
// an *apperr.Error are internal: they are logged, and the client sees only a
// generic 500 (no internals leak).
func WriteError(c *gin.Context, err error) { WriteErrorWith(c, err, nil) }

// WriteErrorWith is WriteError with extension members in the problem
// document (RFC 9457 §3.2), e.g. remaining_minor on a refusal for lack of
// budget: what a client needs to act on the refusal, as data.
func WriteErrorWith(c *gin.Context, err error, extensions map[string]any) {
	p := Problem{Type: "about:blank", Status: http.StatusInternalServerError, Instance: c.Request.URL.Path}
	err = postgres.Classify(err) // data the database refuses is the client's to fix: 422
	var e *apperr.Error
	if errors.As(err, &e) {
		if status, ok := statusOf[e.Kind]; ok {
			p.Status, p.Detail, p.Errors = status, e.Message, e.Fields
		}
	}
	if p.Status == http.StatusInternalServerError {
		slog.ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "error", postgres.Redact(err))
	}
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="expenseflow"`)
	}
	p.Title = http.StatusText(p.Status)
	body, _ := json.Marshal(p)
	if len(extensions) > 0 {
		var doc map[string]any
		_ = json.Unmarshal(body, &doc)
		for k, v := range extensions {
			if _, taken := doc[k]; !taken {
				doc[k] = v
			}
		}
		body, _ = json.Marshal(doc)
	}
	c.Abort()
	c.Data(p.Status, "application/problem+json", body)
}
