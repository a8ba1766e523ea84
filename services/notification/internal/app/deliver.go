package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Mail is one e-mail to send.
type Mail struct {
	MessageID string // the notification id: receivers can drop a resent duplicate by it
	To        string
	Subject   string
	Body      string
}

// Mailer sends e-mail. An error wrapping ErrUndeliverable is permanent (the
// server refused the address or the message for good); any other error is
// transient and the mail is tried again later.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// ErrUndeliverable marks a mail that retrying cannot deliver.
var ErrUndeliverable = errors.New("undeliverable")

// DeliverySummary counts what one delivery run did.
type DeliverySummary struct {
	Sent, Failed, Retrying int
}

// deliveryLease is how long a run holds the notification it sends: well
// beyond one SMTP conversation (bounded by the mailer's timeout), so that
// only a run that died lets another send the mail again.
const deliveryLease = 2 * time.Minute

// DeliverDue sends every notification whose delivery is due, one at a time:
// claim it (commit), talk to the SMTP server with no transaction open,
// record the outcome (commit). Concurrent runs (or instances) never send the
// same notification at once: a claim holds it. A run only takes
// notifications due when it started, so it always ends.
//
// Delivery is at least once, not exactly once: if the process dies after the
// SMTP server accepted a mail but before the outcome committed, the claim
// expires and the mail is sent again; its Message-ID (the notification id)
// lets a mail system recognise the duplicate. Within normal operation — the
// SMTP server down for a while, then back — each notification is delivered
// once.
func (a *App) DeliverDue(ctx context.Context) (DeliverySummary, error) {
	var sum DeliverySummary
	if a.mailer == nil {
		return sum, nil
	}
	start := a.now()
	for {
		n, claim, err := a.store.ClaimNextDelivery(ctx, start, a.now().Add(deliveryLease))
		if err != nil || n == nil {
			return sum, err
		}
		a.deliver(ctx, n)
		if err := a.store.RecordDelivery(context.WithoutCancel(ctx), n, claim); err != nil {
			return sum, err
		}
		switch n.DeliveryStatus {
		case DeliverySent:
			sum.Sent++
		case DeliveryFailed:
			sum.Failed++
		default:
			sum.Retrying++
		}
	}
}

// deliver makes one delivery attempt and records its outcome on n.
func (a *App) deliver(ctx context.Context, n *Notification) {
	var err error
	if n.Email == "" {
		err = fmt.Errorf("%w: the recipient has no e-mail address in the user directory", ErrUndeliverable)
	} else {
		err = a.mailer.Send(ctx, Mail{MessageID: n.ID, To: n.Email, Subject: n.Subject, Body: n.Body})
	}
	now := a.now()
	n.DeliveryAttempts++
	switch {
	case err == nil:
		n.DeliveryStatus, n.DeliveredAt, n.DeliveryError = DeliverySent, &now, ""
	case errors.Is(err, ErrUndeliverable) || a.policy.Exhausted(n.DeliveryAttempts):
		n.DeliveryStatus, n.DeliveryError = DeliveryFailed, err.Error()
	default:
		n.NextDeliveryAt, n.DeliveryError = now.Add(a.policy.Backoff(n.DeliveryAttempts)), err.Error()
	}
}

// DeliveryTick is one run of the delivery timer (platform.Every): DeliverDue,
// with what went wrong logged. A failed run changes nothing for good: the
// state is in the database and the next tick retries.
func (a *App) DeliveryTick(ctx context.Context, log *slog.Logger) {
	sum, err := a.DeliverDue(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		log.ErrorContext(ctx, "e-mail delivery run failed; the next one retries", "error", err)
	case sum.Failed > 0 || sum.Retrying > 0:
		log.WarnContext(ctx, "e-mail delivery incomplete", "sent", sum.Sent, "failed", sum.Failed, "retrying", sum.Retrying)
	}
}
