package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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

// CloudEventsJSON is the AMQP content-type of every event on the bus: a
// CloudEvent in structured mode (the whole envelope is the body), as the
// CloudEvents AMQP binding names it, so a generic CloudEvents consumer reads
// the attributes from the body and not from AMQP properties.
const CloudEventsJSON = "application/cloudevents+json"

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
	if m.ID == "" || m.Source == "" || m.Time.IsZero() || m.Sequence < 1 {
		return Envelope{}, fmt.Errorf("%s: id, source, time and a sequence of at least 1 are required", p.EventType())
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

// The sequence attribute is the CloudEvents Sequence extension, which is a
// string compared lexicographically: a generic consumer orders "10" before
// "9". So the aggregate version goes on the wire as a decimal zero-padded to
// sequenceDigits (the width of the largest int64), which orders the same as
// the number. Events published before this rule carry a JSON integer; they
// keep decoding (parseSequence upcasts them). Inside Go it is an int64.
const sequenceDigits = 19

// MarshalJSON writes e with its sequence as the padded string.
func (e Envelope) MarshalJSON() ([]byte, error) {
	type attributes Envelope // without these methods
	return json.Marshal(struct {
		attributes
		Sequence string `json:"sequence"` // shadows the embedded int64
	}{attributes(e), fmt.Sprintf("%0*d", sequenceDigits, e.Sequence)})
}

// UnmarshalJSON reads an envelope whose sequence is a string of digits, or
// the JSON integer of earlier events.
func (e *Envelope) UnmarshalJSON(b []byte) error {
	type attributes Envelope
	w := struct {
		*attributes
		Sequence json.RawMessage `json:"sequence"`
	}{attributes: (*attributes)(e)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	seq, err := parseSequence(w.Sequence)
	if err != nil {
		return fmt.Errorf("sequence: %w", err)
	}
	e.Sequence = seq
	return nil
}

func parseSequence(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil // absent: checkEnvelope reports it
	}
	var digits string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &digits); err != nil {
			return 0, err
		}
		if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
			return 0, fmt.Errorf("%q is not a string of decimal digits", digits)
		}
	} else {
		digits = string(raw) // an integer, as events before the string form carry
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a whole number in range", raw)
	}
	return n, nil
}

// SchemaURI is the dataschema attribute for an event type.
func SchemaURI(eventType string) string {
	return "https://expenseflow.dev/schemas/" + eventType + ".json"
}

// Encode returns the JSON wire form of e.
func Encode(e Envelope) ([]byte, error) { return json.Marshal(e) }

// ExpenseID is the expense an event belongs to, so that one claim can be
// followed across services (the audit log's query, the logs, the console):
// the subject of an expense.* event, otherwise data.expense_id if the data
// has one (every event about an expense carries it, by contract),
// otherwise "".
func (e Envelope) ExpenseID() string {
	if strings.HasPrefix(e.Type, "expense.") {
		return e.Subject
	}
	var d struct {
		ExpenseID string `json:"expense_id"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return "" // data of a shape we do not know: about no expense we can tell
	}
	return d.ExpenseID
}
