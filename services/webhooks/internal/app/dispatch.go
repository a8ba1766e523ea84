package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// Dispatch sends due deliveries until ctx ends, at most Workers at once and
// at most PerEndpoint of one endpoint at once. Each attempt is three steps
// with no transaction open across the network: claim the delivery
// (commit), POST it, record the outcome (commit). The schedule lives in the
// database (next_attempt_at), so a restart resumes it where it was; a
// dispatcher that dies mid-attempt leaves a claim that expires after Lease,
// and the delivery is sent again — at least once, under the same
// webhook-id, which is what receivers deduplicate on.
//
// On shutdown it stops claiming and lets the attempts in flight finish
// (each is bounded by the sender's timeout) and record their outcome.
func (a *App) Dispatch(ctx context.Context, log *slog.Logger) error {
	var (
		inFlight sync.WaitGroup
		mu       sync.Mutex
		busy     = map[string]int{} // endpoint id → attempts in flight
		running  int
	)
	poll := time.NewTicker(a.cfg.Poll)
	defer poll.Stop()
	for {
		for {
			mu.Lock()
			free := running < a.cfg.Workers
			var skip []string
			for id, n := range busy {
				if n >= a.cfg.PerEndpoint {
					skip = append(skip, id)
				}
			}
			mu.Unlock()
			if !free {
				break
			}
			now := a.now()
			w, err := a.store.ClaimNext(ctx, now, now.Add(a.cfg.Lease), skip)
			if err != nil {
				if ctx.Err() == nil {
					log.ErrorContext(ctx, "claiming a due webhook delivery failed; retrying at the next poll", "error", err)
				}
				break
			}
			if w == nil {
				break
			}
			endpoint := w.Endpoint.ID
			mu.Lock()
			busy[endpoint]++
			running++
			mu.Unlock()
			inFlight.Go(func() {
				a.attempt(context.WithoutCancel(ctx), log, w)
				mu.Lock()
				if busy[endpoint]--; busy[endpoint] == 0 {
					delete(busy, endpoint)
				}
				running--
				mu.Unlock()
				a.Wake() // a worker, and perhaps an endpoint's slot, is free
			})
		}
		select {
		case <-ctx.Done():
			inFlight.Wait()
			return nil
		case <-a.wake:
		case <-poll.C:
		}
	}
}

// attempt sends one delivery and records the outcome. Each attempt is
// signed anew (its own timestamp, the secrets valid now) with the same
// webhook-id.
func (a *App) attempt(ctx context.Context, log *slog.Logger, w *Work) {
	at := a.now()
	req := Request{
		URL: w.Endpoint.URL, ID: w.Delivery.EventID, Timestamp: at, Body: w.Body,
		Signature: domain.Sign(w.Endpoint.SigningSecrets(at), w.Delivery.EventID, at, w.Body),
	}
	out := a.send.Send(ctx, req)
	out.DeliveryID = w.Delivery.ID
	var (
		disabled *domain.Endpoint
		status   string
	)
	err := a.store.Record(ctx, w.Claim, out, func(d *domain.Delivery, e *domain.Endpoint) ([]events.Envelope, error) {
		justDisabled := d.Record(out, a.cfg.Schedule, e)
		status = d.Status
		if !justDisabled {
			return nil, nil
		}
		disabled = e
		// Finance must hear of it: an event, which notification turns into
		// a message to every finance user.
		env, err := events.New(events.WebhookEndpointDisabledV1{EndpointID: e.ID, URL: e.URL, Reason: e.DisabledReason,
			FailedInARow: e.FailedInARow, DisabledAt: out.At}, correlation.Stamp(ctx, events.Meta{
			ID: a.newID(), Source: events.SourceWebhooks, Time: a.now(), Sequence: int64(e.TimesDisabled)}))
		return []events.Envelope{env}, err
	})
	if err == nil {
		a.metrics.observe(out, status)
	}
	args := []any{"delivery_id", w.Delivery.ID, "endpoint_id", w.Endpoint.ID, "event_id", w.Delivery.EventID,
		"event_type", w.Delivery.EventType, "status_code", out.StatusCode, "duration", out.Duration}
	switch {
	case err != nil:
		log.ErrorContext(ctx, "recording a webhook attempt failed; its claim expires and it is sent again", append(args, "error", err)...)
	case disabled != nil:
		log.WarnContext(ctx, "webhook endpoint disabled", "endpoint_id", disabled.ID, "url", disabled.URL, "reason", disabled.DisabledReason)
	case out.Error != "":
		log.InfoContext(ctx, "webhook attempt failed", append(args, "error", out.Error)...)
	default:
		log.DebugContext(ctx, "webhook delivered", args...)
	}
}
