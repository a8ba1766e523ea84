package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// SpecVersion is the CloudEvents version whose attribute names the envelope uses.
const SpecVersion = "1.0"

// Envelope is what travels on the wire: CloudEvents 1.0 attributes plus the
// extensions correlationid, causationid, sequence and traceparent.
//
// ID doubles as the Watermill message UUID and the consumers' idempotency key.
// Sequence is the version of the subject aggregate after the change, so a
// consumer can tell an old event from a newer one when they arrive out of order.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	CorrelationID   string          `json:"correlationid"`
	CausationID     string          `json:"causationid,omitempty"`
	Sequence        int64           `json:"sequence"`
	TraceParent     string          `json:"traceparent,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// Payload is implemented by every event payload struct.
type Payload interface {
	// EventType is the wire type including the version, e.g. "expense.approved.v1".
	EventType() string
	// SubjectID is the id of the aggregate the event is about.
	SubjectID() string
	// Validate reports the first rule the payload breaks, if any.
	Validate() error
}

// Meta is everything about an event that is not its payload: who emits it,
// when, at which aggregate version, and which flow it belongs to.
type Meta struct {
	ID            string
	Source        string
	Time          time.Time
	Sequence      int64
	CorrelationID string
	CausationID   string
	TraceParent   string
}

// New builds the envelope for p. It validates p, so a producer can never put
// an event on the wire that its consumers would reject.
func New(p Payload, m Meta) (Envelope, error) {
	if err := p.Validate(); err != nil {
		return Envelope{}, fmt.Errorf("%s: %w", p.EventType(), err)
	}
	if m.ID == "" || m.Source == "" || m.Time.IsZero() {
		return Envelope{}, fmt.Errorf("%s: id, source and time are required", p.EventType())
	}
	data, err := json.Marshal(p)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{
		SpecVersion:     SpecVersion,
		ID:              m.ID,
		Type:            p.EventType(),
		Source:          m.Source,
		Subject:         p.SubjectID(),
		Time:            m.Time.UTC(),
		DataContentType: "application/json",
		DataSchema:      SchemaURI(p.EventType()),
		CorrelationID:   m.CorrelationID,
		CausationID:     m.CausationID,
		Sequence:        m.Sequence,
		TraceParent:     m.TraceParent,
		Data:            data,
	}, nil
}

// SchemaURI is the dataschema attribute for an event type.
func SchemaURI(eventType string) string {
	return "https://expenseflow.dev/schemas/" + eventType + ".json"
}

// Encode returns the JSON wire form of e.
func Encode(e Envelope) ([]byte, error) { return json.Marshal(e) }
