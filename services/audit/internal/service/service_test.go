package service_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/audit/internal/service"
)

// item is an audit event as the API returns it.
type item struct {
	Seq           int64          `json:"seq"`
	ID            string         `json:"id"`
	Type          string         `json:"type"`
	Source        string         `json:"source"`
	Subject       string         `json:"subject"`
	Time          time.Time      `json:"time"`
	CorrelationID string         `json:"correlationid"`
	Sequence      string         `json:"sequence"` // as the event carried it
	Data          map[string]any `json:"data"`
	Tenant        string         `json:"tenant"` // an extension this build does not know
	ReceivedAt    time.Time      `json:"received_at"`
}

type page struct {
	Items      []item `json:"items"`
	NextCursor string `json:"next_cursor"`
	NextAfter  *int64 `json:"next_after"`
}

type audit struct {
	testinfra.Client
	amqpURL string
	db      *gorm.DB
}

// openapi is the service's OpenAPI document: every response the tests get
// is checked against it, and together they must exercise every operation.
var openapi = testinfra.NewSharedContract("../../../../docs/openapi/audit.yaml")

func TestMain(m *testing.M) { openapi.Main(m) }

func contract(t *testing.T) *testinfra.Contract { return openapi.Get(t) }

// startAudit runs the service against a fresh database and vhost. Every
// response is checked against the service's OpenAPI document.
func startAudit(t *testing.T) audit {
	t.Helper()
	pc, _ := testinfra.PlatformConfig(t, "audit")
	p, err := service.New(context.Background(), service.Config{Config: pc})
	if err != nil {
		t.Fatal(err)
	}
	return audit{Client: testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}, amqpURL: pc.AMQPURL, db: p.DB}
}

// get reads one page as dave, the auditor.
func (a audit) get(path string) page {
	a.T.Helper()
	var p page
	if r := a.Call("GET", path, "dave", nil, &p); r.StatusCode != http.StatusOK {
		a.T.Fatalf("GET %s: %d", path, r.StatusCode)
	}
	return p
}

// sameSet reports whether a and b hold the same ids, in any order.
func sameSet(a, b []string) bool {
	return strings.Join(slices.Sorted(slices.Values(a)), ",") == strings.Join(slices.Sorted(slices.Values(b)), ",")
}

// byID is the item with the event id, or a zero item.
func byID(items []item, id string) item {
	for _, it := range items {
		if it.ID == id {
			return it
		}
	}
	return item{}
}

// ids lists the event ids of a page's items.
func ids(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

var base = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

// event builds an envelope happening minute minutes after base.
func event(t *testing.T, p events.Payload, correlationID string, minute int) events.Envelope {
	t.Helper()
	env, err := events.New(p, events.Meta{ID: uuid.Must(uuid.NewV7()).String(), Source: "test",
		Time: base.Add(time.Duration(minute) * time.Minute), Sequence: int64(minute + 1), CorrelationID: correlationID})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// story publishes an expense's whole story (correlation c-1), an unrelated
// claim (c-2), an event of a version no service knows yet, duplicates, and
// a marker last; it waits until every distinct event is stored (several
// consumers record at once, so the marker may be stored before others). It
// returns the distinct event ids in publishing order; the log's own order
// among events that arrive together is its own (seq).
func story(t *testing.T, a audit) []string {
	t.Helper()
	submitted := event(t, events.ExpenseSubmittedV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", AmountMinor: 4250, Currency: "EUR",
		Category: "travel", Description: "Train", IncurredOn: "2026-11-20", SubmittedAt: base}, "c-1", 0)
	approved := event(t, events.ExpenseApprovedV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", ApproverID: "bob", AmountMinor: 4250,
		Currency: "EUR", Category: "travel", ApprovedAt: base}, "c-1", 1)
	scheduled := event(t, events.ReimbursementScheduledV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice",
		AmountMinor: 4250, Currency: "EUR"}, "c-1", 2)
	ledger := event(t, events.LedgerEntryPostedV1{EntryID: "00000000-0000-4000-8000-00000000c001", ExpenseID: "00000000-0000-4000-8000-00000000e001", Kind: events.EntryKindApproval, PostedAt: base,
		Lines: []events.LedgerLine{{Account: "expense:travel", DebitMinor: 4250, Currency: "EUR"},
			{Account: "reimbursements_payable", CreditMinor: 4250, Currency: "EUR"}}}, "c-1", 3)
	paid := event(t, events.ReimbursementPaidV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice",
		AmountMinor: 4250, Currency: "EUR", PaymentRef: "pay-1", PaidAt: base}, "c-1", 4)
	other := event(t, events.ExpenseSubmittedV1{ExpenseID: "00000000-0000-4000-8000-00000000e002", EmployeeID: "erin", AmountMinor: 990, Currency: "GBP",
		Category: "meals", Description: "Lunch", IncurredOn: "2026-11-20", SubmittedAt: base}, "c-2", 5)
	marker := event(t, events.ExpenseWithdrawnV1{ExpenseID: "00000000-0000-4000-8000-00000000e003", EmployeeID: "erin", WithdrawnAt: base}, "c-3", 7)

	for _, env := range []events.Envelope{submitted, approved, submitted, scheduled, ledger, paid, approved, other} {
		testinfra.PublishEvent(t, a.amqpURL, env)
	}
	// A newer version with an extension attribute: kept, and kept as sent.
	v9 := uuid.Must(uuid.NewV7()).String()
	testinfra.Publish(t, a.amqpURL, "expense.audited.v9", v9, fmt.Appendf(nil, `{"specversion":"1.0","id":%q,`+
		`"type":"expense.audited.v9","source":"future","subject":"00000000-0000-4000-8000-00000000e001","time":"2026-11-22T15:06:00Z",`+
		`"correlationid":"c-1","sequence":"0000000000000000003","tenant":"acme","data":{"expense_id":"00000000-0000-4000-8000-00000000e001","verdict":"fine"}}`, v9))
	testinfra.PublishEvent(t, a.amqpURL, marker)

	all := []string{submitted.ID, approved.ID, scheduled.ID, ledger.ID, paid.ID, other.ID, v9, marker.ID}
	testinfra.Eventually(t, 10*time.Second, "every event is stored", func() bool {
		return len(a.get("/v1/audit/events").Items) == len(all)
	})
	return all
}

func TestEachEventStoredOnceAndFound(t *testing.T) {
	a := startAudit(t)
	all := story(t, a)
	submitted, approved, scheduled, ledger, paid, other, v9 := all[0], all[1], all[2], all[3], all[4], all[5], all[6]

	cases := []struct {
		name, query string
		want        []string
	}{
		{"everything, once", "", all},
		{"by subject", "?subject=00000000-0000-4000-8000-00000000e001", []string{submitted, approved, v9}},
		{"by expense: its whole story", "?expense_id=00000000-0000-4000-8000-00000000e001", []string{submitted, approved, scheduled, ledger, paid, v9}},
		{"by correlation id", "?correlation_id=c-2", []string{other}},
		{"by type", "?type=expense.submitted.v1", []string{submitted, other}},
		{"by event time, from inclusive, to exclusive", "?from=2026-11-22T15:01:00Z&to=2026-11-22T15:04:00Z", []string{approved, scheduled, ledger}},
		{"filters combine", "?expense_id=00000000-0000-4000-8000-00000000e001&type=reimbursement.paid.v1", []string{paid}},
		{"nothing matches", "?subject=nobody", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// In seq order; which of two events that arrived together
			// comes first is the log's choice, so compare the sets.
			items := a.get("/v1/audit/events" + tc.query).Items
			for i := 1; i < len(items); i++ {
				if items[i].Seq <= items[i-1].Seq {
					t.Fatalf("not in seq order: %v", items)
				}
			}
			if got := ids(items); !sameSet(got, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, got)
			}
		})
	}

	// An item is the stored envelope plus seq and received_at.
	items := a.get("/v1/audit/events?subject=00000000-0000-4000-8000-00000000e001").Items
	first, future := byID(items, submitted), byID(items, v9)
	if first.Seq < 1 || first.Type != events.ExpenseSubmittedV1Type || first.Source != "test" || first.CorrelationID != "c-1" ||
		first.Sequence != "0000000000000000001" || !first.Time.Equal(base) || first.Data["description"] != "Train" || first.ReceivedAt.IsZero() {
		t.Errorf("first item: %+v", first)
	}
	if future.Type != "expense.audited.v9" || future.Tenant != "acme" || future.Data["verdict"] != "fine" {
		t.Errorf("an unknown event must be kept as sent: %+v", future)
	}

	// Keyset pages over a filtered search.
	p1 := a.get("/v1/audit/events?expense_id=00000000-0000-4000-8000-00000000e001&limit=4")
	p2 := a.get("/v1/audit/events?expense_id=00000000-0000-4000-8000-00000000e001&limit=4&cursor=" + url.QueryEscape(p1.NextCursor))
	if len(p1.Items) != 4 || p1.NextCursor == "" || len(p2.Items) != 2 || p2.NextCursor != "" || p2.Items[0].Seq <= p1.Items[3].Seq {
		t.Errorf("pages: %v (next %q), then %v (next %q)", ids(p1.Items), p1.NextCursor, ids(p2.Items), p2.NextCursor)
	}
}

// The feed returns the log in seq order, gap-free, page by page, and says
// where to resume even when there is nothing new.
func TestFeedIsOrderedAndPaginates(t *testing.T) {
	a := startAudit(t)
	all := story(t, a)

	var got []item
	after := int64(0)
	for range len(all) {
		p := a.get(fmt.Sprintf("/v1/audit/feed?after=%d&limit=3", after))
		if len(p.Items) == 0 {
			break
		}
		got = append(got, p.Items...)
		if p.NextAfter == nil || *p.NextAfter != p.Items[len(p.Items)-1].Seq {
			t.Fatalf("next_after: want the last seq, got %v", p.NextAfter)
		}
		after = *p.NextAfter
	}
	for i, it := range got {
		if it.Seq != int64(i+1) {
			t.Fatalf("feed: want seq 1..%d, got %v", len(all), got)
		}
	}
	if !sameSet(ids(got), all) {
		t.Fatalf("feed: want each of %v once, got %v", all, got)
	}
	if len(got) != len(all) {
		t.Fatalf("feed: want %d events, got %d", len(all), len(got))
	}
	if p := a.get(fmt.Sprintf("/v1/audit/feed?after=%d", after)); len(p.Items) != 0 || p.NextAfter == nil || *p.NextAfter != after {
		t.Fatalf("caught up: want no items and next_after %d, got %+v", after, p)
	}
}

// Rows cannot be changed or removed, by this service or anyone else with SQL.
func TestAuditEventsAreAppendOnly(t *testing.T) {
	a := startAudit(t)
	all := story(t, a)
	for _, sql := range []string{
		"UPDATE audit_events SET type = 'forged' WHERE seq = 1",
		"DELETE FROM audit_events WHERE seq = 1",
		"DELETE FROM audit_events WHERE seq = -1", // refused even when no row matches
		"TRUNCATE audit_events",
	} {
		if err := a.db.Exec(sql).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: want the append-only error, got %v", sql, err)
		}
	}
	if got := a.get("/v1/audit/feed").Items; len(got) != len(all) || got[0].Type != events.ExpenseSubmittedV1Type {
		t.Fatalf("the log changed: %+v", got)
	}
}

// A message that is not an envelope, or that PostgreSQL cannot store, goes
// to the dead-letter queue with the reason; the consumer carries on.
func TestPoisonIsDeadLettered(t *testing.T) {
	a := startAudit(t)
	testinfra.Publish(t, a.amqpURL, "expense.approved.v1", "m-1", []byte("{not json"))
	testinfra.Publish(t, a.amqpURL, "expense.approved.v1", "m-2", []byte(`{"specversion":"1.0","id":"m-2",`+
		`"type":"expense.approved.v1","source":"s","subject":"nul\u0000","time":"2026-11-22T15:00:00Z","sequence":"0000000000000000001","data":{}}`))
	story(t, a)

	reasons := map[string]string{}
	for _, d := range testinfra.DeadLetters(t, a.amqpURL, "audit") {
		reasons[d.MessageId] = fmt.Sprint(d.Headers[amqpx.DeadLetterReasonKey])
	}
	if !strings.Contains(reasons["m-1"], "malformed") || !strings.Contains(reasons["m-2"], "database refused the data") || len(reasons) != 2 {
		t.Fatalf("dead letters: %v", reasons)
	}
}

func TestOnlyAuditorsReadTheLog(t *testing.T) {
	a := startAudit(t)
	cases := []struct {
		name, path, user string
		want             int
	}{
		{"no token", "/v1/audit/events", "", http.StatusUnauthorized},
		{"no token, feed", "/v1/audit/feed", "", http.StatusUnauthorized},
		{"employee", "/v1/audit/events", "alice", http.StatusForbidden},
		{"manager", "/v1/audit/events", "bob", http.StatusForbidden},
		{"no token, verify", "/v1/audit/verify", "", http.StatusUnauthorized},
		{"finance", "/v1/audit/feed", "carol", http.StatusForbidden},
		{"finance, verify", "/v1/audit/verify", "carol", http.StatusForbidden},
		{"non-auditor with bad parameters is still forbidden", "/v1/audit/events?from=yesterday", "bob", http.StatusForbidden},
		{"auditor", "/v1/audit/events", "dave", http.StatusOK},
		{"auditor, feed", "/v1/audit/feed?after=0&limit=10", "dave", http.StatusOK},
		{"from is not RFC 3339", "/v1/audit/events?from=yesterday", "dave", http.StatusUnprocessableEntity},
		{"to before from", "/v1/audit/events?from=2026-11-22T15:00:00Z&to=2026-11-22T14:00:00Z", "dave", http.StatusUnprocessableEntity},
		{"cursor not issued by us", "/v1/audit/events?cursor=xyz", "dave", http.StatusUnprocessableEntity},
		{"negative after", "/v1/audit/feed?after=-1", "dave", http.StatusUnprocessableEntity},
		{"limit too large", "/v1/audit/feed?limit=1000", "dave", http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := a.Call("GET", tc.path, tc.user, nil, nil); r.StatusCode != tc.want {
				t.Fatalf("want %d, got %d", tc.want, r.StatusCode)
			}
		})
	}
}
