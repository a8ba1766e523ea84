//go:build exercises

// The checks of the hands-on exercises in docs/exercises. They fail on the
// repository as it is (that is the exercise) and pass once the exercise is
// solved, so they only build with the "exercises" tag and never run in
// `make test`:
//
//	go test -tags exercises -count=1 -run TestExerciseNewConsumer ./e2e/
//	go test -tags exercises -count=1 -run TestExerciseApprovedV2 ./e2e/
//
// Like the rest of this package they use nothing but the running binaries,
// their REST APIs, the broker and the event contract, so they compile
// before and after any solution.
package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// inboxItem is a notification with the fields the exercises check.
type inboxItem struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	ExpenseID string `json:"expense_id"`
	Subject   string `json:"subject"`
}

// TestExerciseNewConsumer checks docs/exercises/add-a-consumer.md: the
// notification service consumes ledger.entry_posted.* on its own queue
// notification.ledger-events and tells every finance user about each entry,
// once, however often the event is delivered.
func TestExerciseNewConsumer(t *testing.T) {
	s := startStack(t)

	// The queue exists, bound to every version of the event.
	qs, err := s.Broker.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(qs, func(q testinfra.Queue) bool { return q.Name == "notification.ledger-events" }) {
		t.Fatalf("there is no queue notification.ledger-events: declare it in the notification service's messaging package")
	}
	var bindings []struct {
		Source     string `json:"source"`
		RoutingKey string `json:"routing_key"`
	}
	if err := s.managementGet(t, "/api/queues/"+url.PathEscape(s.Broker.VHost)+"/notification.ledger-events/bindings", &bindings); err != nil {
		t.Fatal(err)
	}
	bound := false
	for _, b := range bindings {
		bound = bound || (b.Source == amqpx.EventsExchange && b.RoutingKey == "ledger.entry_posted.*")
	}
	if !bound {
		t.Fatalf("notification.ledger-events is not bound to %s with ledger.entry_posted.*: %+v", amqpx.EventsExchange, bindings)
	}

	// One claim, approved and paid: two ledger entries.
	e := submit(t, s, "alice", 4250)
	approve(t, s, "bob", e.ID)
	testinfra.Eventually(t, deadline, "a reimbursement is scheduled", func() bool {
		return len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements?employee_id=alice", "carol")) == 1
	})
	payout(t, s)

	notifications := s.Client("notification")
	ledgerNews := func(user string) []inboxItem {
		var out []inboxItem
		for _, n := range list[inboxItem](t, notifications, "/v1/notifications", user) {
			if n.EventType == events.LedgerEntryPostedV1Type {
				out = append(out, n)
			}
		}
		return out
	}
	testinfra.Eventually(t, deadline, "carol (finance) is told about both ledger entries", func() bool {
		return len(ledgerNews("carol")) == 2
	})
	for _, n := range ledgerNews("carol") {
		if n.ExpenseID != e.ID || n.Subject == "" {
			t.Errorf("carol's ledger notification should name the expense %s and have a subject: %+v", e.ID, n)
		}
	}

	// Deliver both ledger events again: nothing changes.
	var posted page[map[string]any]
	s.Client("audit").Call("GET", "/v1/audit/events?type="+events.LedgerEntryPostedV1Type+"&expense_id="+e.ID, "dave", nil, &posted)
	if len(posted.Items) != 2 {
		t.Fatalf("the audit log has %d ledger events for the claim, want 2", len(posted.Items))
	}
	for _, stored := range posted.Items {
		republish(t, s, auditEvent{ID: stored["id"].(string), Type: events.LedgerEntryPostedV1Type}, stored)
	}
	s.WaitQuiet()
	if got := ledgerNews("carol"); len(got) != 2 {
		t.Errorf("after a duplicate delivery carol has %d ledger notifications, want still 2: is the effect inside inbox.Once?", len(got))
	}
	for _, user := range []string{"alice", "bob", "dave"} {
		if got := ledgerNews(user); len(got) != 0 {
			t.Errorf("%s is not in finance but was told about ledger entries: %+v", user, got)
		}
	}
	if letters := testinfra.DeadLetters(t, s.AMQPURL, "notification"); len(letters) != 0 {
		t.Errorf("notification dead-lettered %d messages; the first: %s", len(letters), letters[0].Headers[amqpx.DeadLetterReasonKey])
	}
}

// TestExerciseApprovedV2 checks docs/exercises/add-event-version.md:
// approval emits expense.approved.v2 with the claim's cost center, v1 events
// are upcast with the default cost center, and every consumer handles both.
func TestExerciseApprovedV2(t *testing.T) {
	const v2 = "expense.approved.v2"

	// The contract: v1 upcasts to v2; v2 has a fixture that its schema accepts.
	v1Fixture, err := os.ReadFile("../pkg/events/testdata/fixtures/expense.approved.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	old, err := events.Decode(v1Fixture)
	if err != nil {
		t.Fatalf("the v1 fixture must still decode: %v", err)
	}
	if got := old.Payload.EventType(); got != v2 {
		t.Fatalf("expense.approved.v1 decodes as %s; it should be upcast to %s", got, v2)
	}
	if cc := costCenter(t, old.Payload); cc != events.DefaultCostCenter {
		t.Errorf("an upcast v1 approval has cost_center %q, want the default %q", cc, events.DefaultCostCenter)
	}
	v2Fixture, err := os.ReadFile("../pkg/events/testdata/fixtures/" + v2 + ".json")
	if err != nil {
		t.Fatalf("no golden fixture for %s: %v", v2, err)
	}
	if err := events.ValidateSchema(v2Fixture); err != nil {
		t.Fatalf("the %s fixture does not match its schema: %v", v2, err)
	}
	if e, err := events.Decode(v2Fixture); err != nil || e.Type != v2 {
		t.Fatalf("the %s fixture does not decode as itself: %v", v2, err)
	}

	// The running system: a claim with a cost center is approved as v2 and
	// flows through every consumer.
	s := startStack(t)
	approval := s.Client("approval")
	var claim expense
	if r := approval.Call("POST", "/v1/expenses", "alice", map[string]any{
		"amount_minor": 9900, "currency": "EUR", "category": "software", "cost_center": "field-sales",
		"description": "IDE licence", "incurred_on": time.Now().UTC().Format(time.DateOnly),
	}, &claim); r.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d", r.StatusCode)
	}
	approve(t, s, "bob", claim.ID)

	testinfra.Eventually(t, deadline, "the audit log holds an "+v2+" with the claim's cost center", func() bool {
		for _, ev := range list[auditEvent](t, s.Client("audit"), "/v1/audit/events?expense_id="+claim.ID, "dave") {
			var data struct {
				CostCenter string `json:"cost_center"`
			}
			if ev.Type == v2 && json.Unmarshal(ev.Data, &data) == nil && data.CostCenter == "field-sales" {
				return true
			}
		}
		return false
	})
	testinfra.Eventually(t, deadline, "reimbursement schedules the v2 approval", func() bool {
		return len(list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements?employee_id=alice", "carol")) == 1
	})
	payout(t, s)
	testinfra.Eventually(t, deadline, "the claim is paid, posted twice and alice is told", func() bool {
		var got expense
		approval.Call("GET", "/v1/expenses/"+claim.ID, "alice", nil, &got)
		entries := list[ledgerEntry](t, s.Client("accounting"), "/v1/ledger/entries?expense_id="+claim.ID, "carol")
		told := types(list[notification](t, s.Client("notification"), "/v1/notifications", "alice"))
		return got.Status == "paid" && len(entries) == 2 && slices.Contains(told, v2)
	})

	// An old producer's v1 still works everywhere.
	testinfra.Publish(t, s.AMQPURL, old.Type, old.ID, v1Fixture)
	testinfra.Eventually(t, deadline, "the v1 fixture is posted and scheduled", func() bool {
		entries := list[ledgerEntry](t, s.Client("accounting"), "/v1/ledger/entries?expense_id="+old.Subject, "carol")
		var scheduled bool
		for _, r := range list[reimbursement](t, s.Client("reimbursement"), "/v1/reimbursements?employee_id=alice", "carol") {
			scheduled = scheduled || r.ExpenseID == old.Subject
		}
		return len(entries) == 1 && scheduled
	})
	s.WaitQuiet()
	for _, svc := range services {
		if letters := testinfra.DeadLetters(t, s.AMQPURL, svc); len(letters) != 0 {
			t.Errorf("%s dead-lettered %d messages; the first: %s", svc, len(letters), letters[0].Headers[amqpx.DeadLetterReasonKey])
		}
	}
}

// costCenter reads the cost_center field of a payload through its JSON.
func costCenter(t *testing.T, p events.Payload) string {
	t.Helper()
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	cc, _ := fields["cost_center"].(string)
	return cc
}

// managementGet reads path from the RabbitMQ management API into out.
func (s *Stack) managementGet(t *testing.T, path string, out any) error {
	t.Helper()
	u, err := url.Parse(testinfra.Get(t).APIURL)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodGet, u.Scheme+"://"+u.Host+path, nil)
	if err != nil {
		return err
	}
	pass, _ := u.User.Password()
	req.SetBasicAuth(u.User.Username(), pass)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
