package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ErrUndecodable is wrapped by every Decode error. Such a message can never
// succeed by retrying; it belongs in the dead-letter queue until a fix or an
// upgrade makes it decodable.
var ErrUndecodable = errors.New("undecodable event")

// The three reasons a message is undecodable; each wraps ErrUndecodable.
var (
	ErrMalformed          = fmt.Errorf("%w: malformed", ErrUndecodable)
	ErrUnknownType        = fmt.Errorf("%w: unknown type", ErrUndecodable)
	ErrUnsupportedVersion = fmt.Errorf("%w: version newer than this build knows", ErrUndecodable)
)

// Event is a decoded envelope with its payload upcast to the newest version
// of its type (an expense.submitted.v1 comes out as ExpenseSubmittedV2). The
// envelope keeps the type it was sent with.
type Event struct {
	Envelope
	Payload Payload
}

// decoders maps each known wire type to a function that decodes its data and
// upcasts it to the newest version of its family.
var decoders = map[string]func(json.RawMessage) (Payload, error){
	ExpenseSubmittedV1Type: func(data json.RawMessage) (Payload, error) {
		p, err := decodeAs[ExpenseSubmittedV1](data)
		if err != nil {
			return nil, err
		}
		return p.(ExpenseSubmittedV1).upcast(), nil
	},
	ExpenseSubmittedV2Type:       decodeAs[ExpenseSubmittedV2],
	ExpenseApprovedV1Type:        decodeAs[ExpenseApprovedV1],
	ExpenseRejectedV1Type:        decodeAs[ExpenseRejectedV1],
	ExpenseWithdrawnV1Type:       decodeAs[ExpenseWithdrawnV1],
	ReimbursementScheduledV1Type: decodeAs[ReimbursementScheduledV1],
	ReimbursementPaidV1Type:      decodeAs[ReimbursementPaidV1],
	ReimbursementFailedV1Type:    decodeAs[ReimbursementFailedV1],
	LedgerEntryPostedV1Type:      decodeAs[LedgerEntryPostedV1],

	WebhookEndpointDisabledV1Type: decodeAs[WebhookEndpointDisabledV1],

	ExpenseVoidRequestedV1Type:              decodeAs[ExpenseVoidRequestedV1],
	ExpenseVoidedV1Type:                     decodeAs[ExpenseVoidedV1],
	ReimbursementCancelledV1Type:            decodeAs[ReimbursementCancelledV1],
	ReimbursementCancellationDeclinedV1Type: decodeAs[ReimbursementCancellationDeclinedV1],
	StopPayoutV1Type:                        decodeAs[StopPayoutV1],
	PostVoidEntryV1Type:                     decodeAs[PostVoidEntryV1],
}

// Decode parses a wire message, checks the envelope and the payload, and
// returns the payload as its newest version.
func Decode(body []byte) (Event, error) {
	env, err := ParseEnvelope(body)
	if err != nil {
		return Event{}, err
	}
	return DecodeData(env)
}

// ParseEnvelope parses and checks only the envelope, leaving data undecoded:
// for consumers that keep events without interpreting them (the audit log).
func ParseEnvelope(body []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkEnvelope(env); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return env, nil
}

// DecodeData decodes the payload of a checked envelope, upcast to the newest
// version of its type.
func DecodeData(env Envelope) (Event, error) {
	decode, ok := decoders[env.Type]
	if !ok {
		return Event{}, unknown(env.Type)
	}
	p, err := decode(env.Data)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s: %v", ErrMalformed, env.Type, err)
	}
	return Event{Envelope: env, Payload: p}, nil
}

func checkEnvelope(e Envelope) error {
	return check(
		required("id", e.ID),
		required("type", e.Type),
		required("source", e.Source),
		required("subject", e.Subject),
		func() error {
			if e.SpecVersion != SpecVersion {
				return fmt.Errorf("specversion: want %q", SpecVersion)
			}
			if e.Time.IsZero() {
				return errors.New("time: required")
			}
			if e.Sequence < 1 {
				return errors.New("sequence: required, at least 1")
			}
			if len(e.Data) == 0 || string(e.Data) == "null" {
				return errors.New("data: required")
			}
			return nil
		}(),
	)
}

// unknown tells a newer version of a family we know (an upgrade is needed)
// from a type we have never heard of.
func unknown(eventType string) error {
	family, version, ok := splitVersion(eventType)
	if ok {
		for known := range decoders {
			if f, v, _ := splitVersion(known); f == family && version > v {
				return fmt.Errorf("%w: %s", ErrUnsupportedVersion, eventType)
			}
		}
	}
	return fmt.Errorf("%w: %q", ErrUnknownType, eventType)
}

// splitVersion splits "expense.approved.v2" into ("expense.approved", 2).
func splitVersion(eventType string) (family string, version int, ok bool) {
	i := strings.LastIndex(eventType, ".v")
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.Atoi(eventType[i+2:])
	if err != nil || v < 1 {
		return "", 0, false
	}
	return eventType[:i], v, true
}

// decodeAs strictly decodes data into T: unknown fields are allowed (producers
// may add optional fields within a version) but the result must validate.
func decodeAs[T Payload](data json.RawMessage) (Payload, error) {
	var p T
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Types returns every wire type this build decodes, sorted: e.g. for a
// browser that must name each SSE event type it listens to.
func Types() []string {
	return slices.Sorted(maps.Keys(decoders))
}
