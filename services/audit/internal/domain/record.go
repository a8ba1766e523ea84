// Package domain says what the audit log keeps of an event: the envelope
// exactly as received, plus the few attributes it is searched by. It is pure:
// bytes in, a record out.
package domain

import (
	"encoding/json"
	"strings"
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
		CorrelationID: env.CorrelationID, ExpenseID: ExpenseID(env.Type, env.Subject, env.Data),
		Time: env.Time, Envelope: body,
	}
}

// ExpenseID is the expense an event belongs to, so that one query finds an
// expense's whole story across services: the subject of an expense.* event,
// otherwise data.expense_id if the data has one (every event about an
// expense carries it, by contract), otherwise "".
func ExpenseID(eventType, subject string, data json.RawMessage) string {
	if strings.HasPrefix(eventType, "expense.") {
		return subject
	}
	var d struct {
		ExpenseID string `json:"expense_id"`
	}
	if json.Unmarshal(data, &d) != nil {
		return "" // data of a shape we do not know: about no expense we can tell
	}
	return d.ExpenseID
}
