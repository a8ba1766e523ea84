package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// maxBody bounds what the receiver reads of a request.
const maxBody = 1 << 20

// remember is how long a webhook-id is remembered: longer than the
// timestamp tolerance (5 min), past which a retry is refused anyway.
const remember = 10 * time.Minute

// delivery is one accepted webhook.
type delivery struct {
	ID   string
	Type string // the event type, from the body
	Body []byte
}

// receiver verifies, deduplicates and hands each webhook to handle once.
type receiver struct {
	verifiers []*standardwebhooks.Webhook
	now       func() time.Time
	handle    func(delivery)

	mu   sync.Mutex
	seen map[string]time.Time // webhook-id → when it was accepted
}

func newReceiver(secrets []string, now func() time.Time, handle func(delivery)) (*receiver, error) {
	r := &receiver{now: now, handle: handle, seen: map[string]time.Time{}}
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return nil, fmt.Errorf("WEBHOOK_SECRETS: %w", err)
		}
		r.verifiers = append(r.verifiers, v)
	}
	if len(r.verifiers) == 0 {
		return nil, errors.New("WEBHOOK_SECRETS must hold at least one secret (whsec_…)")
	}
	return r, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// The signature covers the body byte for byte: read it raw, before
	// any parsing.
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "body unreadable or too large", http.StatusBadRequest)
		return
	}
	if !r.verify(body, req.Header) {
		http.Error(w, "invalid or expired signature", http.StatusUnauthorized)
		return
	}
	id := req.Header.Get(standardwebhooks.HeaderWebhookID)
	if r.firstTime(id) {
		var event struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &event)
		r.handle(delivery{ID: id, Type: event.Type, Body: body})
	}
	w.WriteHeader(http.StatusNoContent) // accepted, or accepted before: either way, no retry
}

// verify accepts the message if one of the secrets signed it, within the
// timestamp tolerance.
func (r *receiver) verify(body []byte, h http.Header) bool {
	for _, v := range r.verifiers {
		if v.Verify(body, h) == nil {
			return true
		}
	}
	return false
}

// firstTime records id and reports whether it is new; it forgets ids
// older than remember.
func (r *receiver) firstTime(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for old, at := range r.seen {
		if now.Sub(at) > remember {
			delete(r.seen, old)
		}
	}
	if _, dup := r.seen[id]; dup {
		return false
	}
	r.seen[id] = now
	return true
}
