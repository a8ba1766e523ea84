package service_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/notification/internal/service"
)

type notification struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	ExpenseID string `json:"expense_id"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	Read      bool   `json:"read"`
}

type page struct {
	Items      []notification `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// openapi is the service's OpenAPI document: every response the tests get
// is checked against it, and together they must exercise every operation.
var openapi = testinfra.NewSharedContract("../../../../docs/openapi/notification.yaml")

func TestMain(m *testing.M) { openapi.Main(m) }

func contract(t *testing.T) *testinfra.Contract { return openapi.Get(t) }

// startNotification runs the service against a fresh database and vhost and
// returns a client and the vhost's AMQP URL, to inject events. Every
// response is checked against the service's OpenAPI document.
func startNotification(t *testing.T) (testinfra.Client, string) {
	t.Helper()
	c, amqpURL, _ := startWith(t, func(*service.Config) {})
	return c, amqpURL
}

// startWith is startNotification with the configuration adjusted by edit;
// it also returns the service's database.
func startWith(t *testing.T, edit func(*service.Config)) (testinfra.Client, string, *gorm.DB) {
	t.Helper()
	var cfg service.Config
	if err := platform.Fill(&cfg); err != nil { // the defaults the binary runs with
		t.Fatal(err)
	}
	cfg.Config, _ = testinfra.PlatformConfig(t, "notification")
	edit(&cfg)
	p, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}, cfg.AMQPURL, p.DB
}

// envelope wraps p as its producer would, with the sequence its aggregate
// has after that event: a submission or a scheduled payout starts an
// aggregate (1), a decision or a payout's outcome follows it (2).
func envelope(t *testing.T, p events.Payload) events.Envelope {
	t.Helper()
	sequence := int64(2)
	switch p.(type) {
	case events.ExpenseSubmittedV1, events.ExpenseSubmittedV2, events.ReimbursementScheduledV1:
		sequence = 1
	}
	env, err := events.New(p, events.Meta{
		ID: uuid.Must(uuid.NewV7()).String(), Source: "test", Time: time.Now(), Sequence: sequence, CorrelationID: "corr-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func submitted(t *testing.T, expenseID, employee string) events.Envelope {
	return envelope(t, events.ExpenseSubmittedV1{ExpenseID: expenseID, EmployeeID: employee, AmountMinor: 4250,
		Currency: "EUR", Category: "travel", Description: "Train to Berlin", IncurredOn: "2026-11-20", SubmittedAt: time.Now()})
}

func inbox(c testinfra.Client, user, query string) page {
	c.T.Helper()
	var p page
	if r := c.Call("GET", "/v1/notifications"+query, user, nil, &p); r.StatusCode != http.StatusOK {
		c.T.Fatalf("inbox of %s: %d", user, r.StatusCode)
	}
	return p
}

// Events reach exactly the inboxes they concern; events nobody is told about
// are acknowledged (not dead-lettered); a duplicate delivery adds nothing.
func TestEventsReachTheRightInboxes(t *testing.T) {
	c, amqpURL := startNotification(t)

	sub := submitted(t, "00000000-0000-4000-8000-00000000e001", "alice")
	approved := envelope(t, events.ExpenseApprovedV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", ApproverID: "bob",
		AmountMinor: 4250, Currency: "EUR", Category: "travel", ApprovedAt: time.Now()})
	withdrawn := envelope(t, events.ExpenseWithdrawnV1{ExpenseID: "00000000-0000-4000-8000-00000000e002", EmployeeID: "erin", WithdrawnAt: time.Now()})
	scheduled := envelope(t, events.ReimbursementScheduledV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice",
		AmountMinor: 4250, Currency: "EUR"})
	failed := envelope(t, events.ReimbursementFailedV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice",
		AmountMinor: 4250, Currency: "EUR", Reason: "account closed", FailedAt: time.Now()})
	// The last event is a marker: the queue is consumed in order, so once it
	// shows up everything published before it has been handled.
	marker := envelope(t, events.ExpenseRejectedV1{ExpenseID: "00000000-0000-4000-8000-00000000e003", EmployeeID: "erin", ApproverID: "frank",
		Reason: "no receipt", RejectedAt: time.Now()})
	for _, env := range []events.Envelope{sub, approved, withdrawn, scheduled, failed, sub, failed, marker} {
		testinfra.PublishEvent(t, amqpURL, env)
	}
	testinfra.Eventually(t, 10*time.Second, "the marker reaches erin", func() bool {
		return len(inbox(c, "erin", "").Items) > 0
	})

	want := map[string][]string{ // user -> event ids in the inbox, newest first
		"bob":   {sub.ID},
		"frank": {sub.ID},
		"alice": {failed.ID, approved.ID},
		"carol": {failed.ID},
		"erin":  {marker.ID},
		"dave":  nil,
	}
	for user, ids := range want {
		items := inbox(c, user, "").Items
		if len(items) != len(ids) {
			t.Errorf("%s: want events %v, got %+v", user, ids, items)
			continue
		}
		for i, n := range items {
			if n.EventID != ids[i] || n.Read || n.ExpenseID == "" || n.Subject == "" {
				t.Errorf("%s item %d: want event %s unread, got %+v", user, i, ids[i], n)
			}
		}
	}
	if got := inbox(c, "bob", "").Items[0]; got.EventType != events.ExpenseSubmittedV1Type || got.ExpenseID != "00000000-0000-4000-8000-00000000e001" {
		t.Errorf("bob's notification: %+v", got)
	}
	if n := len(testinfra.DeadLetters(t, amqpURL, "notification")); n != 0 {
		t.Errorf("%d events were dead-lettered; events nobody is told about must be acknowledged", n)
	}

	// What was said about the claim: all of it for an auditor, oldest
	// first; only what they were told for anyone else.
	about := func(user string) []string {
		var p struct {
			Items []struct {
				EventID string `json:"event_id"`
			} `json:"items"`
		}
		c.Call("GET", "/v1/notifications/sent?expense_id=00000000-0000-4000-8000-00000000e001", user, nil, &p)
		var got []string
		for _, n := range p.Items {
			got = append(got, n.EventID)
		}
		return got
	}
	if got := about("dave"); len(got) != 5 || got[0] != sub.ID || got[4] != failed.ID {
		t.Errorf("the auditor sees %v about the claim, want bob's and frank's %s, alice's %s, then alice's and carol's %s", got, sub.ID, approved.ID, failed.ID)
	}
	if got := about("alice"); !slices.Equal(got, []string{approved.ID, failed.ID}) {
		t.Errorf("alice sees %v about her claim, want %s and %s", got, approved.ID, failed.ID)
	}
	if r := c.Call("GET", "/v1/notifications/sent", "dave", nil, nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("without expense_id: %d, want 422", r.StatusCode)
	}
}

func TestMarkReadIsIdempotentAndOwnershipChecked(t *testing.T) {
	c, amqpURL := startNotification(t)
	testinfra.PublishEvent(t, amqpURL, submitted(t, "00000000-0000-4000-8000-00000000e001", "alice"))
	testinfra.Eventually(t, 10*time.Second, "bob and frank are told", func() bool {
		return len(inbox(c, "bob", "").Items) == 1 && len(inbox(c, "frank", "").Items) == 1
	})
	bobs := inbox(c, "bob", "").Items[0].ID

	cases := []struct {
		name, path, user string
		want             int
	}{
		{"no token", bobs, "", http.StatusUnauthorized},
		{"someone else's", bobs, "frank", http.StatusNotFound},
		{"unknown id", uuid.Must(uuid.NewV7()).String(), "bob", http.StatusNotFound},
		{"malformed id", "not-a-uuid", "bob", http.StatusNotFound},
		{"own", bobs, "bob", http.StatusOK},
		{"own again", bobs, "bob", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n notification
			r := c.Call("POST", "/v1/notifications/"+tc.path+"/read", tc.user, nil, &n)
			if r.StatusCode != tc.want || (tc.want == http.StatusOK && (!n.Read || n.ID != bobs)) {
				t.Fatalf("want %d, got %d %+v", tc.want, r.StatusCode, n)
			}
		})
	}
	if got := inbox(c, "bob", "?unread=true").Items; len(got) != 0 {
		t.Errorf("bob's unread inbox: want empty, got %+v", got)
	}
	if got := inbox(c, "bob", "").Items; len(got) != 1 || !got[0].Read {
		t.Errorf("bob's inbox: want his one notification, read, got %+v", got)
	}
	if got := inbox(c, "frank", "?unread=true").Items; len(got) != 1 || got[0].Read {
		t.Errorf("frank's copy must stay unread, got %+v", got)
	}
}

func TestInboxPaginationAndQueryRules(t *testing.T) {
	c, amqpURL := startNotification(t)
	for _, e := range []string{"00000000-0000-4000-8000-00000000e001", "00000000-0000-4000-8000-00000000e002", "00000000-0000-4000-8000-00000000e003"} {
		testinfra.PublishEvent(t, amqpURL, submitted(t, e, "alice"))
	}
	testinfra.Eventually(t, 10*time.Second, "bob is told three times", func() bool {
		return len(inbox(c, "bob", "").Items) == 3
	})

	first := inbox(c, "bob", "?limit=2")
	if len(first.Items) != 2 || first.NextCursor == "" {
		t.Fatalf("first page: %+v", first)
	}
	second := inbox(c, "bob", "?limit=2&cursor="+url.QueryEscape(first.NextCursor))
	if len(second.Items) != 1 || second.NextCursor != "" {
		t.Fatalf("second page: %+v", second)
	}
	all := append(first.Items, second.Items...)
	for i, want := range []string{"00000000-0000-4000-8000-00000000e003", "00000000-0000-4000-8000-00000000e002", "00000000-0000-4000-8000-00000000e001"} {
		if all[i].ExpenseID != want {
			t.Fatalf("want newest first (e-3, e-2, e-1), got %+v", all)
		}
	}

	cases := []struct {
		name, query, user string
		want              int
	}{
		{"no token", "", "", http.StatusUnauthorized},
		{"any role has an inbox", "", "dave", http.StatusOK},
		{"unread is a boolean", "?unread=maybe", "bob", http.StatusUnprocessableEntity},
		{"limit too small", "?limit=0", "bob", http.StatusUnprocessableEntity},
		{"cursor not issued by us", "?cursor=Im5vdC1hLXV1aWQi", "bob", http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.Call("GET", "/v1/notifications"+tc.query, tc.user, nil, nil); r.StatusCode != tc.want {
				t.Fatalf("want %d, got %d", tc.want, r.StatusCode)
			}
		})
	}
}

// Marking read with an Idempotency-Key replays the first answer; the same key
// on another notification is a different request, refused with 422.
func TestMarkReadIdempotencyKey(t *testing.T) {
	c, amqpURL := startNotification(t)
	for _, e := range []string{"00000000-0000-4000-8000-00000000e001", "00000000-0000-4000-8000-00000000e002"} {
		testinfra.PublishEvent(t, amqpURL, submitted(t, e, "alice"))
	}
	testinfra.Eventually(t, 10*time.Second, "bob is told twice", func() bool {
		return len(inbox(c, "bob", "").Items) == 2
	})
	items := inbox(c, "bob", "").Items
	withKey := c.WithHeader("Idempotency-Key", "read-1")

	var first, again notification
	r1 := withKey.Call("POST", "/v1/notifications/"+items[0].ID+"/read", "bob", nil, &first)
	r2 := withKey.Call("POST", "/v1/notifications/"+items[0].ID+"/read", "bob", nil, &again)
	if r1.StatusCode != http.StatusOK || r2.StatusCode != http.StatusOK || !first.Read || again != first {
		t.Fatalf("same key twice: %d %+v then %d %+v", r1.StatusCode, first, r2.StatusCode, again)
	}
	if r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Error("the repeat is not marked as replayed")
	}
	if r := withKey.Call("POST", "/v1/notifications/"+items[1].ID+"/read", "bob", nil, nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other notification: want 422, got %d", r.StatusCode)
	}
	if got := inbox(c, "bob", "?unread=true").Items; len(got) != 1 || got[0].ID != items[1].ID {
		t.Fatalf("the refused request must change nothing: unread %+v", got)
	}
}

// An event that tells nobody anything costs a transaction only when it
// must move its subject's position: a withdrawal does (a late submission
// of the claim must not then ask managers to review it), a scheduled
// payout — the first event of its reimbursement — does not, and leaves no
// trace at all.
func TestNewsForNobodyCommitsOnlyWhatOrderNeeds(t *testing.T) {
	c, amqpURL, db := startWith(t, func(*service.Config) {})
	expenseID := "00000000-0000-4000-8000-00000000e101"
	withdrawn := envelope(t, events.ExpenseWithdrawnV1{ExpenseID: expenseID, EmployeeID: "alice", WithdrawnAt: time.Now()})
	scheduled := envelope(t, events.ReimbursementScheduledV1{ReimbursementID: "00000000-0000-4000-8000-00000000a101",
		ExpenseID: "00000000-0000-4000-8000-00000000e102", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR"})
	lateSubmission := submitted(t, expenseID, "alice")
	marker := envelope(t, events.ExpenseRejectedV1{ExpenseID: "00000000-0000-4000-8000-00000000e103", EmployeeID: "erin",
		ApproverID: "frank", Reason: "no receipt", RejectedAt: time.Now()})
	for _, env := range []events.Envelope{withdrawn, scheduled, lateSubmission, marker} {
		testinfra.PublishEvent(t, amqpURL, env)
	}
	testinfra.Eventually(t, 10*time.Second, "the marker handled", func() bool {
		return len(inbox(c, "erin", "").Items) == 1
	})
	recorded := func(id string) bool {
		var n int64
		if err := db.Raw(`SELECT count(*) FROM inbox WHERE event_id = ?`, id).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !recorded(withdrawn.ID) || recorded(scheduled.ID) {
		t.Errorf("inbox records: withdrawal %v (want true), scheduled payout %v (want false)", recorded(withdrawn.ID), recorded(scheduled.ID))
	}
	for _, manager := range []string{"bob", "frank"} {
		if n := len(inbox(c, manager, "").Items); n != 0 {
			t.Errorf("%s was asked to review a withdrawn claim (%d notifications)", manager, n)
		}
	}
}
