package invariants

import (
	"encoding/json"
	"strings"
	"testing"
)

// An outbox row is watermill's forwarder envelope, whose payload (base64 in
// JSON, being []byte) is our event envelope: eventID finds the event's id and
// refuses a row whose message uuid is not the event's id.
func TestEventIDReadsTheForwarderEnvelope(t *testing.T) {
	row := func(uuid, inner string) string {
		b, _ := json.Marshal(map[string]any{
			"destination_topic": "expense.approved.v1", "uuid": uuid, "payload": []byte(inner),
			"metadata": map[string]string{"correlation_id": "c"},
		})
		return string(b)
	}
	tests := []struct {
		name, payload, want, err string
	}{
		{"event", row("e1", `{"id":"e1","type":"expense.approved.v1"}`), "e1", ""},
		{"uuid differs", row("m1", `{"id":"e1"}`), "", "message uuid"},
		{"inner not json", row("e1", `not json`), "", "event envelope"},
		{"outer not json", `{`, "", "forwarder envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := eventID(tt.payload)
			if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("eventID = %q, %v; want %q, error containing %q", got, err, tt.want, tt.err)
			}
		})
	}
}

// A violation names at most maxListed ids and says how many more there are.
func TestViolationsNameIDsAndCount(t *testing.T) {
	c := &checker{}
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	c.violateIDs("expenses without a view", ids)
	c.violateIDs("nothing", nil)
	want := "12 expenses without a view: a, b, c, d, e, f, g, h, i, j and 2 more"
	if len(c.r.Violations) != 1 || c.r.Violations[0] != want {
		t.Fatalf("violations: %q", c.r.Violations)
	}
	if !strings.Contains(c.r.String(), "1 violation(s)\n  - "+want) {
		t.Fatalf("report:\n%s", c.r)
	}
}
