package service_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
	"github.com/expenseflow/expenseflow/services/accounting/internal/service"
)

type line struct {
	Account     string `json:"account"`
	DebitMinor  int64  `json:"debit_minor"`
	CreditMinor int64  `json:"credit_minor"`
	Currency    string `json:"currency"`
	EmployeeID  string `json:"employee_id"`
}

type entry struct {
	ID        string    `json:"id"`
	ExpenseID string    `json:"expense_id"`
	Kind      string    `json:"kind"`
	PostedAt  time.Time `json:"posted_at"`
	Lines     []line    `json:"lines"`
}

type balance struct {
	Account      string `json:"account"`
	Currency     string `json:"currency"`
	BalanceMinor int64  `json:"balance_minor"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// openapi is the service's OpenAPI document: every response the tests get
// is checked against it, and together they must exercise every operation.
var openapi = testinfra.NewSharedContract("../../../../docs/openapi/accounting.yaml")

func TestMain(m *testing.M) { openapi.Main(m) }

func contract(t *testing.T) *testinfra.Contract { return openapi.Get(t) }

// harness is a running accounting service with handles on its own database
// and vhost.
type harness struct {
	testinfra.Client
	amqpURL string
	db      *pgx.Conn
	ledger  *testinfra.Tap // what it publishes to ledger.#
}

// start runs the accounting service against a fresh database and vhost.
// Every response is checked against the service's OpenAPI document.
func start(t *testing.T) *harness {
	t.Helper()
	cfg, _ := testinfra.PlatformConfig(t, "accounting")
	p, err := service.New(context.Background(), service.Config{Config: cfg, ApprovalPublicKey: testinfra.ServicePublicKey("approval")})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{Client: testinfra.Client{T: t, Base: testinfra.Run(t, p), Contract: contract(t)}, amqpURL: cfg.AMQPURL}

	if h.db, err = pgx.Connect(context.Background(), cfg.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.db.Close(context.Background()) })
	h.ledger = testinfra.NewTap(t, cfg.AMQPURL, "ledger.#") // the service has declared the exchange
	return h
}

// entries lists an expense's entries as finance sees them.
func (h *harness) entries(t *testing.T, expenseID string) []entry {
	t.Helper()
	var p page[entry]
	if r := h.Call("GET", "/v1/ledger/entries?expense_id="+expenseID, "carol", nil, &p); r.StatusCode != http.StatusOK {
		t.Fatalf("list entries: %d", r.StatusCode)
	}
	return p.Items
}

// published waits until the service has published n ledger events and
// returns them.
func (h *harness) published(t *testing.T, n int) []events.Event {
	t.Helper()
	var got []events.Event
	testinfra.Eventually(t, 10*time.Second, fmt.Sprintf("%d ledger events", n), func() bool {
		got = h.ledger.Events()
		return len(got) >= n
	})
	return got
}

func envelope(t *testing.T, source string, p events.Payload) events.Envelope {
	t.Helper()
	env, err := events.New(p, events.Meta{ID: uuid.NewString(), Source: source, Time: time.Now(), Sequence: 2, CorrelationID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func approved(t *testing.T, expenseID string, amountMinor int64, currency string) events.Envelope {
	return envelope(t, events.SourceApproval, events.ExpenseApprovedV1{
		ExpenseID: expenseID, EmployeeID: "alice", ApproverID: "bob",
		AmountMinor: amountMinor, Currency: currency, Category: "travel", ApprovedAt: time.Now().UTC(),
	})
}

func paid(t *testing.T, expenseID string, amountMinor int64) events.Envelope {
	return envelope(t, events.SourceReimbursement, events.ReimbursementPaidV1{
		ReimbursementID: uuid.NewString(), ExpenseID: expenseID, EmployeeID: "alice",
		AmountMinor: amountMinor, Currency: "EUR", PaymentRef: "pay-1", PaidAt: time.Now().UTC(),
	})
}

var (
	approvalLines   = []line{{"expense:travel", 4250, 0, "EUR", ""}, {"reimbursements_payable", 0, 4250, "EUR", "alice"}}
	settlementLines = []line{{"reimbursements_payable", 4250, 0, "EUR", "alice"}, {"cash", 0, 4250, "EUR", ""}}
)

// An approval is posted once however often it arrives, and announced once;
// what cannot be posted ends in the dead-letter queue with the reason.
func TestApprovalIsPostedOnceAndAnnounced(t *testing.T) {
	h := start(t)
	expenseID, markerID := uuid.NewString(), uuid.NewString()
	approval := approved(t, expenseID, 4250, "EUR")
	// The same approval under a new event id: the inbox cannot tell it is a
	// duplicate, the unique (expense_id, kind) can.
	renamed := approval
	renamed.ID = uuid.NewString()
	// A currency events.New would refuse, as a producer with a bug (or
	// without the contract's checks) could still send it.
	badCurrency := approved(t, uuid.NewString(), 100, "EUR")
	badCurrency.Data = []byte(strings.Replace(string(badCurrency.Data), `"EUR"`, `"eur"`, 1))
	// One subscription handles its queue one message at a time, in order:
	// once the marker is posted, everything before it has been handled.
	marker := approved(t, markerID, 100, "EUR")
	for _, env := range []events.Envelope{approval, approval, renamed, badCurrency, marker} {
		testinfra.PublishEvent(t, h.amqpURL, env)
	}
	testinfra.Eventually(t, 10*time.Second, "the marker approval is posted", func() bool {
		return len(h.entries(t, markerID)) == 1
	})

	got := h.entries(t, expenseID)
	if len(got) != 1 || got[0].Kind != "approval" || !reflect.DeepEqual(got[0].Lines, approvalLines) {
		t.Fatalf("want one balanced approval entry, got %+v", got)
	}

	// The renamed copy and the bad currency are dead-lettered with the
	// reason; the redelivered copy is not: the inbox absorbed it. (Dead
	// letters are confirmed before the next message is handled, so after the
	// marker there can be no more.)
	var letters []amqp.Delivery
	testinfra.Eventually(t, 10*time.Second, "2 dead letters", func() bool {
		letters = append(letters, testinfra.DeadLetters(t, h.amqpURL, "accounting")...)
		return len(letters) >= 2
	})
	reasons := map[string]string{}
	for _, d := range letters {
		reasons[d.MessageId], _ = d.Headers[amqpx.DeadLetterReasonKey].(string)
	}
	if len(letters) != 2 || !strings.Contains(reasons[renamed.ID], "already has its approval entry") ||
		!strings.Contains(reasons[badCurrency.ID], "currency") {
		t.Fatalf("dead letters: %v", reasons)
	}

	// Exactly one event per entry was ever written to the outbox...
	var outboxRows int
	if err := h.db.QueryRow(context.Background(), "SELECT count(*) FROM watermill_outbox").Scan(&outboxRows); err != nil || outboxRows != 2 {
		t.Fatalf("outbox rows: %d, %v", outboxRows, err)
	}
	// ...and it reaches the broker, carrying the flow ids of its cause.
	var announced []events.Event
	for _, ev := range h.published(t, 2) {
		if ev.Subject == got[0].ID {
			announced = append(announced, ev)
		}
	}
	if len(announced) != 1 {
		t.Fatalf("want one ledger event for entry %s, got %d", got[0].ID, len(announced))
	}
	ev, p := announced[0], announced[0].Payload.(events.LedgerEntryPostedV1)
	if ev.Type != events.LedgerEntryPostedV1Type || p.ExpenseID != expenseID || p.Kind != events.EntryKindApproval || len(p.Lines) != 2 ||
		!p.PostedAt.Equal(got[0].PostedAt) || ev.CorrelationID != approval.CorrelationID || ev.CausationID != approval.ID {
		t.Fatalf("ledger event: %+v", ev)
	}
}

// A payment settles the payable, whichever of the two events arrives first.
func TestSettlementAndBalances(t *testing.T) {
	h := start(t)
	expenseID := uuid.NewString()
	testinfra.PublishEvent(t, h.amqpURL, paid(t, expenseID, 4250))
	testinfra.PublishEvent(t, h.amqpURL, approved(t, expenseID, 4250, "EUR"))

	var got []entry
	testinfra.Eventually(t, 10*time.Second, "both entries are posted", func() bool {
		got = h.entries(t, expenseID)
		return len(got) == 2
	})
	linesOf := map[string][]line{got[0].Kind: got[0].Lines, got[1].Kind: got[1].Lines}
	if !reflect.DeepEqual(linesOf["approval"], approvalLines) || !reflect.DeepEqual(linesOf["settlement"], settlementLines) {
		t.Fatalf("entries: %+v", got)
	}

	var balances page[balance]
	if r := h.Call("GET", "/v1/ledger/balances", "dave", nil, &balances); r.StatusCode != http.StatusOK {
		t.Fatalf("balances: %d", r.StatusCode)
	}
	want := []balance{{"cash", "EUR", -4250}, {"expense:travel", "EUR", 4250}, {"reimbursements_payable", "EUR", 0}}
	if !reflect.DeepEqual(balances.Items, want) {
		t.Fatalf("balances:\n got %+v\nwant %+v", balances.Items, want)
	}

	// Paging with limit=1 visits each entry once, in id order.
	var first, second page[entry]
	h.Call("GET", "/v1/ledger/entries?limit=1&expense_id="+expenseID, "carol", nil, &first)
	h.Call("GET", "/v1/ledger/entries?limit=1&expense_id="+expenseID+"&cursor="+first.NextCursor, "carol", nil, &second)
	if len(first.Items) != 1 || first.NextCursor == "" || len(second.Items) != 1 || second.NextCursor != "" ||
		first.Items[0].ID >= second.Items[0].ID {
		t.Fatalf("pages: %+v then %+v", first, second)
	}

	kinds := map[string]bool{}
	for _, ev := range h.published(t, 2) {
		kinds[ev.Payload.(events.LedgerEntryPostedV1).Kind] = true
	}
	if !kinds[events.EntryKindApproval] || !kinds[events.EntryKindSettlement] {
		t.Fatalf("ledger events announced kinds %v", kinds)
	}
}

func TestLedgerIsForFinanceAndAuditors(t *testing.T) {
	h := start(t)
	cases := []struct {
		name, path, user string
		want             int
	}{
		{"no token", "/v1/ledger/entries", "", http.StatusUnauthorized},
		{"no token, balances", "/v1/ledger/balances", "", http.StatusUnauthorized},
		{"employee", "/v1/ledger/entries", "alice", http.StatusForbidden},
		{"employee, balances", "/v1/ledger/balances", "alice", http.StatusForbidden},
		{"manager", "/v1/ledger/balances", "bob", http.StatusForbidden},
		{"finance", "/v1/ledger/entries", "carol", http.StatusOK},
		{"auditor", "/v1/ledger/balances", "dave", http.StatusOK},
		{"limit out of range", "/v1/ledger/entries?limit=0", "carol", http.StatusUnprocessableEntity},
		{"forged cursor", "/v1/ledger/entries?cursor=bm90LWEtdXVpZA", "carol", http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testinfra.Client{T: t, Base: h.Base, Contract: h.Contract}
			r := c.Call("GET", tc.path, tc.user, nil, nil)
			if r.StatusCode != tc.want {
				t.Fatalf("want %d, got %d", tc.want, r.StatusCode)
			}
			if tc.want != http.StatusOK && r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("error content type %q", r.Header.Get("Content-Type"))
			}
		})
	}
}

// The database refuses what the journal forbids even when the Go code is
// bypassed, as by a bug or a hand-written fix in psql.
func TestDatabaseRefusesWhatTheJournalForbids(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	expenseID := uuid.NewString()
	type rawLine struct {
		account       string
		debit, credit int64
		currency      string
	}
	insert := func(kind string, lines ...rawLine) error {
		return pgx.BeginFunc(ctx, h.db, func(tx pgx.Tx) error {
			id := uuid.NewString()
			if _, err := tx.Exec(ctx, `INSERT INTO journal_entries (id, expense_id, kind, source_event_id, posted_at)
				VALUES ($1, $2, $3, $4, now())`, id, expenseID, kind, uuid.NewString()); err != nil {
				return err
			}
			for i, l := range lines {
				if _, err := tx.Exec(ctx, `INSERT INTO journal_lines (entry_id, line_no, account, debit_minor, credit_minor, currency)
					VALUES ($1, $2, $3, $4, $5, $6)`, id, i+1, l.account, l.debit, l.credit, l.currency); err != nil {
					return err
				}
			}
			return nil
		})
	}
	balanced := []rawLine{{"expense:travel", 100, 0, "EUR"}, {"reimbursements_payable", 0, 100, "EUR"}}
	cases := []struct {
		name    string
		kind    string
		lines   []rawLine
		wantErr string // "" for accepted
	}{
		{"a balanced entry is accepted", "approval", balanced, ""},
		{"debits and credits differ", "settlement", []rawLine{{"reimbursements_payable", 100, 0, "EUR"}, {"cash", 0, 90, "EUR"}}, "does not balance"},
		{"balanced in total, not per currency", "settlement", []rawLine{{"reimbursements_payable", 100, 0, "EUR"}, {"cash", 0, 100, "USD"}}, "does not balance"},
		{"a single line", "settlement", []rawLine{{"cash", 100, 0, "EUR"}}, "does not balance"},
		{"a line with both sides", "settlement", []rawLine{{"cash", 100, 100, "EUR"}, {"x", 0, 0, "EUR"}}, "journal_lines_one_side"},
		{"a second approval of the expense", "approval", balanced, "journal_entries_once_per_expense"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := insert(tc.kind, tc.lines...)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("want error %q, got %v", tc.wantErr, err)
			}
		})
	}
	var stored int
	if err := h.db.QueryRow(ctx, "SELECT count(*) FROM journal_entries WHERE expense_id = $1", expenseID).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("want only the balanced entry stored, got %d (%v)", stored, err)
	}
	for _, change := range []string{"UPDATE journal_lines SET debit_minor = debit_minor + 1", "DELETE FROM journal_entries"} {
		if _, err := h.db.Exec(ctx, change); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: want append-only error, got %v", change, err)
		}
	}
}
