package events_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// FuzzDecode feeds arbitrary bytes to the decoder every consumer runs on
// every message. It must never panic; it either fails with ErrUndecodable (so
// the message is dead-lettered) or returns an event that survives a round
// trip: encoded again with events.New, it decodes to the same payload.
// The golden fixtures are the seed corpus; `make fuzz` runs it for longer.
func FuzzDecode(f *testing.F) {
	fixtures, _ := filepath.Glob("testdata/fixtures/*.json")
	for _, path := range fixtures {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"specversion":"1.0"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := events.Decode(body)
		if err != nil {
			if !errors.Is(err, events.ErrUndecodable) {
				t.Fatalf("an error that does not say undecodable: %v", err)
			}
			return
		}
		again, err := events.New(e.Payload, events.Meta{
			ID: e.ID, Source: e.Source, Time: e.Time, Sequence: e.Sequence,
			CorrelationID: e.CorrelationID, CausationID: e.CausationID, TraceParent: e.TraceParent,
		})
		if err != nil {
			t.Fatalf("a decoded payload cannot be sent again: %v", err)
		}
		encoded, err := events.Encode(again)
		if err != nil {
			t.Fatal(err)
		}
		back, err := events.Decode(encoded)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, encoded)
		}
		if !reflect.DeepEqual(back.Payload, e.Payload) && !bytes.Equal(mustJSON(t, back.Payload), mustJSON(t, e.Payload)) {
			t.Fatalf("round trip changed the payload:\n%#v\n%#v", e.Payload, back.Payload)
		}
	})
}
