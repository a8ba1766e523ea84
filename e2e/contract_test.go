package e2e

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestOldV1SubmissionStillFlows publishes the golden expense.submitted.v1
// fixture, as a producer from before cost centers would have sent it: every
// consumer handles it as a v2 with the default cost center.
func TestOldV1SubmissionStillFlows(t *testing.T) {
	s := startStack(t)
	body, err := os.ReadFile("../pkg/events/testdata/fixtures/expense.submitted.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var old events.Envelope
	if err := json.Unmarshal(body, &old); err != nil {
		t.Fatal(err)
	}
	testinfra.Publish(t, s.AMQPURL, old.Type, old.ID, body)

	testinfra.Eventually(t, deadline, "the claim is in the read model with the default cost center", func() bool {
		var got map[string]any // a 404 problem until the projection has it
		s.Client("approval").Call("GET", "/v1/expenses/"+old.Subject, "bob", nil, &got)
		return got["status"] == "submitted" && got["cost_center"] == events.DefaultCostCenter
	})
	testinfra.Eventually(t, deadline, "the managers are told and the audit log keeps it as sent", func() bool {
		told := types(list[notification](t, s.Client("notification"), "/v1/notifications", "frank"))
		stored := auditTypes(list[auditEvent](t, s.Client("audit"), "/v1/audit/events?expense_id="+old.Subject, "dave"))
		return slices.Contains(told, "expense.submitted.v1") && slices.Equal(stored, []string{"expense.submitted.v1"})
	})
}

// requireSchemaValid checks every stored event against the JSON Schema of
// its type: what the running services publish is what the contract says.
func requireSchemaValid(t *testing.T, s *Stack) {
	t.Helper()
	stored := list[map[string]any](t, s.Client("audit"), "/v1/audit/feed?after=0", "dave")
	if len(stored) == 0 {
		t.Fatal("the audit log is empty")
	}
	for _, ev := range stored {
		delete(ev, "seq") // the audit service's own additions, not part of the event
		delete(ev, "received_at")
		body, _ := json.Marshal(ev)
		if err := events.ValidateSchema(body); err != nil {
			t.Errorf("%s %s does not match its schema: %v", ev["type"], ev["id"], err)
		}
	}
}
