package domain

import (
	"fmt"
	"time"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/retry"
)

// Delivery statuses: pending until a receiver answered 2xx (delivered) or
// the attempts ran out (failed). A failed delivery is redelivered on
// demand, and then pending again.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID             string
	EndpointID     string
	EventID        string // also the webhook-id header: the same on every attempt
	EventType      string
	Status         string
	Attempts       int // since it was created or last redelivered
	LastStatusCode int // 0: no answer (refused, timed out, forbidden address)
	LastError      string
	NextAttemptAt  time.Time
	DeliveredAt    *time.Time
	CreatedAt      time.Time
}

// NewDelivery is an event for an endpoint that subscribes to it: pending
// and due now, or — the endpoint being disabled — failed at once, so
// nothing is silently skipped: enabling the endpoint sends it after all.
func NewDelivery(id string, e *Endpoint, eventID, eventType string, now time.Time) Delivery {
	d := Delivery{ID: id, EndpointID: e.ID, EventID: eventID, EventType: eventType,
		Status: DeliveryPending, NextAttemptAt: now, CreatedAt: now}
	if e.Status != EndpointEnabled {
		d.Status, d.LastError = DeliveryFailed, FailedBecauseDisabled
	}
	return d
}

// Attempt is one POST of a delivery and what came back.
type Attempt struct {
	DeliveryID string
	At         time.Time
	StatusCode int    // 0 when there was no HTTP answer
	Error      string // "" for a 2xx
	Duration   time.Duration
}

// Succeeded reports whether the receiver took the message: any 2xx.
func (a Attempt) Succeeded() bool { return a.StatusCode >= 200 && a.StatusCode < 300 }

// Schedule is when a failed delivery is tried again, and when an endpoint
// has failed for long enough to be disabled.
type Schedule struct {
	// Retry bounds the attempts and gives each wait's ceiling: Base·2^(n-1)
	// after the n-th failure, up to Max.
	Retry retry.Policy
	// Jitter picks the actual wait in [0, ceiling] ("full jitter"), so the
	// retries of many deliveries that failed together — a receiver that
	// was down — do not arrive together when it comes back.
	Jitter func(ceiling time.Duration) time.Duration
	// DisableAfter is how many deliveries in a row may end failed before
	// their endpoint is disabled. Each has been retried through the whole
	// schedule first, so that is a receiver failing for a long time, not
	// one bad minute.
	DisableAfter int
}

// Validate reports a schedule that cannot work.
func (s Schedule) Validate() error {
	if err := s.Retry.Validate(); err != nil {
		return err
	}
	if s.DisableAfter < 1 || s.Jitter == nil {
		return fmt.Errorf("disable after must be at least 1 failed delivery, and a jitter is needed")
	}
	return nil
}

// Record applies an attempt's outcome to the delivery and to its endpoint:
// delivered (the endpoint's failures start over), or due again after a
// jittered backoff, or — attempts exhausted — failed, which counts against
// the endpoint and disables it after DisableAfter in a row. It reports
// whether this attempt disabled the endpoint.
func (d *Delivery) Record(a Attempt, s Schedule, e *Endpoint) (disabled bool) {
	d.Attempts++
	d.LastStatusCode, d.LastError = a.StatusCode, a.Error
	switch {
	case a.Succeeded():
		at := a.At
		d.Status, d.DeliveredAt, d.LastError = DeliveryDelivered, &at, ""
		e.FailedInARow = 0
	case s.Retry.Exhausted(d.Attempts):
		d.Status = DeliveryFailed
		e.FailedInARow++
		if e.Status == EndpointEnabled && e.FailedInARow >= s.DisableAfter {
			e.Status = EndpointDisabled
			e.TimesDisabled++
			e.DisabledReason = fmt.Sprintf("%d deliveries in a row failed after %d attempts each; the last: %s",
				e.FailedInARow, s.Retry.MaxAttempts, a.Error)
			return true
		}
	default:
		d.NextAttemptAt = a.At.Add(a.Duration).Add(s.Jitter(s.Retry.Backoff(d.Attempts)))
	}
	return false
}

// Redeliver makes a delivery due again now, with a fresh set of attempts
// (the attempts made before stay in its history). It is what finance does
// once a receiver is fixed; for a disabled endpoint it is refused: enable
// the endpoint first.
func (d *Delivery) Redeliver(e *Endpoint, now time.Time) error {
	if e.Status != EndpointEnabled {
		return apperr.New(apperr.Conflict, "endpoint %s is disabled (%s): enable it before redelivering", e.ID, e.DisabledReason)
	}
	d.Status, d.Attempts, d.NextAttemptAt, d.DeliveredAt = DeliveryPending, 0, now, nil
	return nil
}

// FailedBecauseDisabled is the error recorded on the deliveries an endpoint
// still had pending when it was disabled, and on those made for it while it
// is disabled: visibly failed, to be redelivered once it is enabled again.
const FailedBecauseDisabled = "not sent: the endpoint is disabled"
