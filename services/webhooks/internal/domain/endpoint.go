// Package domain holds the webhooks service's rules, free of HTTP, SQL and
// the broker: which events an endpoint receives, its secrets and their
// rotation, how a message is signed (Standard Webhooks 1.0), what an
// attempt's outcome does to a delivery and to its endpoint, and which
// network addresses are never called.
package domain

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Endpoint statuses: an enabled endpoint gets deliveries; a disabled one
// (after sustained failure, see Delivery.Record) gets none until finance
// enables it again.
const (
	EndpointEnabled  = "enabled"
	EndpointDisabled = "disabled"
)

// Endpoint is a receiver of webhooks, registered by finance.
type Endpoint struct {
	ID          string
	URL         string
	EventTypes  []string // routing-key patterns, e.g. "expense.approved.*"
	Description string
	Status      string
	// DisabledReason says why an endpoint was disabled, for the people who
	// enable it again.
	DisabledReason string
	// FailedInARow counts the deliveries that ended failed since the last
	// one that was delivered.
	FailedInARow int
	// TimesDisabled counts how often it was disabled: the sequence of its
	// n-th webhook.endpoint_disabled event.
	TimesDisabled int
	// Secret signs every message; PreviousSecret, until PreviousUntil, signs
	// it too: a receiver still holding the old secret keeps verifying while
	// it is rolled over.
	Secret         string
	PreviousSecret string
	PreviousUntil  *time.Time
	CreatedBy      string
	CreatedAt      time.Time
}

// NewEndpoint validates what finance asked for and returns the endpoint
// with a fresh secret. Every field error is reported at once.
func NewEndpoint(id, rawURL string, eventTypes []string, description, createdBy string, now time.Time) (*Endpoint, error) {
	var errs []apperr.FieldError
	if msg := checkURL(rawURL); msg != "" {
		errs = append(errs, apperr.FieldError{Field: "url", Message: msg})
	}
	if len(eventTypes) == 0 {
		errs = append(errs, apperr.FieldError{Field: "event_types", Message: "must name at least one event type pattern"})
	}
	for i, p := range eventTypes {
		if msg := checkPattern(p); msg != "" {
			errs = append(errs, apperr.FieldError{Field: fmt.Sprintf("event_types[%d]", i), Message: msg})
		}
	}
	if len(description) > 500 {
		errs = append(errs, apperr.FieldError{Field: "description", Message: "must be at most 500 characters"})
	}
	if err := apperr.Fields(errs); err != nil {
		return nil, err
	}
	return &Endpoint{ID: id, URL: rawURL, EventTypes: eventTypes, Description: description,
		Status: EndpointEnabled, Secret: NewSecret(), CreatedBy: createdBy, CreatedAt: now}, nil
}

// checkURL returns what is wrong with an endpoint's URL, or "". Where it
// points (a private address?) is checked when it is called, on the address
// actually dialled: a name can resolve differently tomorrow.
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is required"
	case len(raw) > 2000:
		return "must be at most 2000 characters"
	case err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return "must be an absolute http or https URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must use http or https"
	case u.User != nil:
		return "must not carry credentials: the signature authenticates the sender"
	case u.Fragment != "":
		return "must not have a fragment"
	}
	return ""
}

// checkPattern returns what is wrong with a routing-key pattern, or "":
// dot-separated words of lower-case letters, digits and underscores, or
// "*" (exactly one word) or "#" (any number of words), as RabbitMQ binds.
func checkPattern(p string) string {
	if p == "" || len(p) > 100 {
		return "must be a routing-key pattern such as expense.approved.* (1 to 100 characters)"
	}
	for _, w := range strings.Split(p, ".") {
		if w == "*" || w == "#" {
			continue
		}
		if w == "" || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return fmt.Sprintf("%q: each word must be lower-case letters, digits and _, or * or #", p)
		}
	}
	return ""
}

// Subscribes reports whether one of the endpoint's patterns matches
// eventType, enabled or not (see NewDelivery).
func (e *Endpoint) Subscribes(eventType string) bool {
	for _, p := range e.EventTypes {
		if events.Matches(p, eventType) {
			return true
		}
	}
	return false
}

// secretPrefix marks a Standard Webhooks secret; the rest is base64.
const secretPrefix = "whsec_"

// NewSecret returns a fresh signing secret: 32 random bytes, base64, with
// the whsec_ prefix receivers' libraries expect.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// RotateSecret gives the endpoint a new secret; the old one keeps signing
// alongside it until now+overlap, so receivers can switch without a gap.
// It returns the new secret, which is shown to finance only here.
func (e *Endpoint) RotateSecret(now time.Time, overlap time.Duration) string {
	until := now.Add(overlap)
	e.PreviousSecret, e.PreviousUntil = e.Secret, &until
	e.Secret = NewSecret()
	return e.Secret
}

// SigningSecrets returns the secrets that sign a message sent at now: the
// current one, and the previous one while its overlap lasts.
func (e *Endpoint) SigningSecrets(now time.Time) []string {
	if e.PreviousSecret != "" && e.PreviousUntil != nil && now.Before(*e.PreviousUntil) {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// Enable lets a disabled endpoint receive deliveries again; its failure
// count starts over, and what failed only because it was disabled
// (FailedBecauseDisabled) is sent after all. Enabling an enabled endpoint
// changes nothing.
func (e *Endpoint) Enable() {
	e.Status, e.DisabledReason, e.FailedInARow = EndpointEnabled, "", 0
}

// Bindings is what the service's queue must be bound to for endpoints with
// these patterns, out of families (the event families endpoints may
// receive, each a pattern "<word>.*.*"): a pattern whose first word names a
// family is bound as it is, one that names another family can match nothing
// the service may receive and binds nothing, and one that starts with a
// wildcard ("#", "*.approved.*") could match every family, so it binds them
// all. Sorted, without repeats.
func Bindings(patterns, families []string) []string {
	set := map[string]bool{}
	for _, p := range patterns {
		first, _, _ := strings.Cut(p, ".")
		switch {
		case first == "*" || first == "#":
			for _, f := range families {
				set[f] = true
			}
		case slices.ContainsFunc(families, func(f string) bool { return strings.HasPrefix(f, first+".") }):
			set[p] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
