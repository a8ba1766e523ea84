// Package domain says what the audit log keeps of an event: the envelope
// exactly as received, plus the few attributes it is searched by. It is pure:
// bytes in, a record out.
package domain

import (
	"time"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// Record is one event as the audit log keeps it.
type Record struct {
	EventID       string
	Type          string
	Source        string
	Subject       string
	CorrelationID string
	ExpenseID     string    // "" when the event is about no expense
	Time          time.Time // when the event happened, per its producer
	Envelope      []byte    // the message body, as received
}

// NewRecord makes the record of an envelope already checked by
// events.ParseEnvelope. Deliberately the payload is not decoded with
// events.Decode: the log keeps every event, also types and versions this
// build does not know (they are facts all the same, and the feed must be able
// to replay them to a consumer that does know them).
func NewRecord(env events.Envelope, body []byte) Record {
	return Record{
		EventID: env.ID, Type: env.Type, Source: env.Source, Subject: env.Subject,
		CorrelationID: env.CorrelationID, ExpenseID: env.ExpenseID(),
		Time: env.Time, Envelope: body,
	}
}
