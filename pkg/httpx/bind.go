package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// MaxBodyBytes bounds every request body; commands here are small.
const MaxBodyBytes = 64 << 10

// BindJSON decodes the request body into dst strictly: one JSON object, no
// unknown fields (so a client cannot smuggle server-owned fields such as id
// or status), no trailing data, at most MaxBodyBytes.
func BindJSON(c *gin.Context, dst any) error {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if dec.More() || dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return apperr.New(kindTooLarge, "the request body exceeds %d bytes", MaxBodyBytes)
	case errors.As(err, &typeErr):
		return apperr.Fields([]apperr.FieldError{{Field: typeErr.Field, Message: fmt.Sprintf("must be a %s", typeErr.Type)}})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Fields([]apperr.FieldError{{Field: field, Message: "is not a known field"}})
	case errors.Is(err, io.EOF):
		return apperr.New(kindBadRequest, "the request body must be a JSON object")
	default:
		return apperr.New(kindBadRequest, "the request body is not valid JSON: %v", err)
	}
}
