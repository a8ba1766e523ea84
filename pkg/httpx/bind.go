package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// MaxBodyBytes bounds every request body; commands here are small.
const MaxBodyBytes = 64 << 10

// BindJSON decodes the request body into dst strictly: one JSON object, no
// unknown fields (so a client cannot smuggle server-owned fields such as id
// or status), no key twice (parsers disagree on which one wins, so a proxy
// and this service could read two different requests), no control
// character such as NUL in a string (PostgreSQL text refuses NUL; a log
// line or a mail header must not get one), no trailing data, at most
// MaxBodyBytes.
func BindJSON(c *gin.Context, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return apperr.New(kindTooLarge, "the request body exceeds %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return apperr.New(kindBadRequest, "cannot read the request body")
	}
	if fields := checkJSON(body); len(fields) > 0 {
		return apperr.Fields(fields)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if dec.More() || dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
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

// checkJSON reports, as field errors, every key that appears twice in one
// object and every string holding a control character (tab, newline and
// carriage return are text). A body that is not well-formed JSON passes:
// the decoder says what is wrong with it.
func checkJSON(body []byte) []apperr.FieldError {
	type level struct {
		path    string          // where this object or array is, e.g. "lines"
		keys    map[string]bool // nil for an array
		key     string          // an object's current key
		wantKey bool            // an object's next string is a key
	}
	var fields []apperr.FieldError
	var stack []*level
	here := func() string { // the path of the value being read
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.keys == nil {
			return top.path // an element of an array is named by the array
		}
		return join(top.path, top.key)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return fields
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.wantKey {
			if top.keys[s] {
				fields = append(fields, apperr.FieldError{Field: join(top.path, s), Message: "appears more than once"})
			}
			top.keys[s], top.key, top.wantKey = true, s, false
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &level{path: here(), keys: map[string]bool{}, wantKey: true})
				continue
			case '[':
				stack = append(stack, &level{path: here()})
				continue
			default: // '}' or ']'
				stack = stack[:len(stack)-1]
			}
		case string:
			if hasControl(v) {
				fields = append(fields, apperr.FieldError{Field: here(), Message: "must not contain control characters"})
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].wantKey = true // a value ended: a key comes next
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// hasControl reports whether s holds a control character other than tab,
// newline and carriage return.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
	})
}

// PathID returns the :id path parameter if it is a UUID in canonical form
// (lower-case, hyphenated), the only way ids are written here. Any other
// spelling (urn:uuid:…, braces, upper case, a NUL) names nothing: NotFound,
// saying which kind of resource (what), without echoing the input.
func PathID(c *gin.Context, what string) (string, error) {
	id := c.Param("id")
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return "", apperr.New(apperr.NotFound, "%s not found", what)
	}
	return id, nil
}
