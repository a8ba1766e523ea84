package httpx

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// Page is the shape of every list response.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Limit bounds list sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// ListParams reads ?limit= and ?cursor=. The cursor is opaque to clients: the
// base64 of a JSON value K (the sort key of the last item returned), which the
// store uses for keyset pagination ("WHERE key > cursor"), so pages stay stable
// while rows are being added.
func ListParams[K any](c *gin.Context) (limit int, after *K, err error) {
	limit = DefaultLimit
	if s := c.Query("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > MaxLimit {
			return 0, nil, apperr.Fields([]apperr.FieldError{{Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(MaxLimit)}})
		}
	}
	if s := c.Query("cursor"); s != "" {
		raw, decErr := base64.RawURLEncoding.DecodeString(s)
		after = new(K)
		if decErr != nil || json.Unmarshal(raw, after) != nil {
			return 0, nil, apperr.Fields([]apperr.FieldError{{Field: "cursor", Message: "is not a cursor this API issued"}})
		}
	}
	return limit, after, nil
}

// NewPage builds a page from up to limit+1 rows fetched by the store: the
// extra row only tells that there is a next page, whose cursor is the key of
// the last row shown.
func NewPage[T, K any](rows []T, limit int, key func(T) K) Page[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= limit {
		return Page[T]{Items: rows}
	}
	rows = rows[:limit]
	raw, _ := json.Marshal(key(rows[limit-1]))
	return Page[T]{Items: rows, NextCursor: base64.RawURLEncoding.EncodeToString(raw)}
}
