package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver is the run's webhook receiver (Config.WebhooksURL): an endpoint
// subscribed to every event, on this machine, that verifies each request
// as an integrator would (the Standard Webhooks reference library), answers
// 503 to a random tenth of them so that retries happen, and counts what it
// accepted per webhook-id. With the webhooks service killed mid-attempt, an
// id may be accepted twice: delivery is at least once, and the count shows
// how often that happened.
type receiver struct {
	server   *http.Server
	verifier *standardwebhooks.Webhook

	mu                            sync.Mutex
	accepted                      map[string]int
	requests, refused, unverified int
}

// startReceiver registers an endpoint for every event at the webhooks
// service and serves it until ctx ends.
func (r *runner) startReceiver(ctx context.Context) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{accepted: map[string]int{}}
	rc.server = &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	var endpoint struct {
		Secret string `json:"secret"`
	}
	body := map[string]any{"url": "http://" + ln.Addr().String() + "/", "event_types": []string{"#"}, "description": "soak receiver"}
	if err := r.api.Do(ctx, http.MethodPost, r.cfg.WebhooksURL+"/v1/webhooks/endpoints", payer, "", body, &endpoint); err != nil {
		ln.Close()
		return nil, fmt.Errorf("register the soak's endpoint: %w", err)
	}
	if rc.verifier, err = standardwebhooks.NewWebhook(endpoint.Secret); err != nil {
		ln.Close()
		return nil, err
	}
	go func() {
		if err := rc.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("soak receiver:", err)
		}
	}()
	return rc, nil
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.verifier.Verify(body, req.Header) != nil {
		rc.unverified++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rand.IntN(10) == 0 {
		rc.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rc.accepted[req.Header.Get("webhook-id")]++
	w.WriteHeader(http.StatusNoContent)
}

// stop ends the server and returns what it saw.
func (rc *receiver) stop() WebhookCounts {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rc.server.Shutdown(ctx)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c := WebhookCounts{Requests: rc.requests, Refused: rc.refused, Unverified: rc.unverified, Events: len(rc.accepted)}
	for _, n := range rc.accepted {
		c.Duplicates += n - 1
	}
	return c
}

// WebhookCounts is what the run's receiver saw.
type WebhookCounts struct {
	Requests   int // POSTs received
	Refused    int // answered 503 on purpose, to be retried
	Unverified int // signatures that did not verify (must be 0)
	Events     int // distinct webhook-ids accepted
	Duplicates int // acceptances of an id beyond the first (at least once, after a kill)
}

func (c WebhookCounts) String() string {
	return fmt.Sprintf("%d events accepted from %d POSTs (%d refused on purpose and retried), %d accepted again, %d unverified",
		c.Events, c.Requests, c.Refused, c.Duplicates, c.Unverified)
}
