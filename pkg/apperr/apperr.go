// Package apperr is the one error type of expenseflow. Code everywhere wraps an
// *Error (with %w) to say what kind of failure happened; only the HTTP layer
// (pkg/httpx) turns the kind into a status code, and only the message layer
// (pkg/amqpx) decides whether a kind is worth retrying.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies a failure by what the caller can do about it.
type Kind string

const (
	Invalid      Kind = "invalid"      // the input breaks a rule; retrying it is pointless
	NotFound     Kind = "not_found"    // the resource does not exist (or the caller may not know it does)
	Conflict     Kind = "conflict"     // the request clashes with the current state
	Forbidden    Kind = "forbidden"    // authenticated, but not allowed
	Unauthorized Kind = "unauthorized" // no valid credentials
	Unavailable  Kind = "unavailable"  // a dependency is down; retrying later may work
)

// FieldError names one offending input field, as a JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error carries a kind, a message safe to show to clients and optional field errors.
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s: %v", e.Message, e.Fields)
}

// Is makes errors.Is(err, apperr.New(kind, "")) match by kind alone.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Message == "" && t.Kind == e.Kind
}

// New returns an *Error of the given kind.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Fields returns an Invalid error listing every offending field; nil when fields is empty.
func Fields(fields []FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Message: "the request is invalid", Fields: fields}
}

// KindOf returns the kind of the first *Error in err's chain, or "" for anything else
// (which the HTTP layer answers with 500 and the message layer retries).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}
