// Package invariants checks, across the services' databases and the broker,
// the facts that must hold once the system is quiet: money is posted and
// paid exactly once, the ledger balances, every published event reached the
// audit log exactly once, read models agree with their write models, every
// event a webhook endpoint subscribes to was delivered or visibly failed,
// and the dead-letter queues hold exactly what the caller expects.
//
// It reads the databases directly, as an auditor with database access would:
// no API exposes every row it needs. The checks are only meaningful at
// quiescence — while events are in flight, a reimbursement may legitimately
// not exist yet — so callers wait for the queues to drain first (WaitQuiet).
// Both the end-to-end tests and cmd/soak use it.
package invariants

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
)

// Sources says where to look.
type Sources struct {
	// DSNs of each service's database.
	Approval, Accounting, Reimbursement, Notification, Audit, Webhooks string
	// Broker is the RabbitMQ management API of the vhost, for queue depths.
	Broker Broker
	// AMQPURL is the vhost's AMQP URL, to list the dead letters.
	AMQPURL string
	// ExpectedDeadLetters are the message ids each service's dead-letter
	// queue should hold (by service name); nil means every queue is empty.
	ExpectedDeadLetters map[string][]string
}

// Services are the owners of a database and a dead-letter queue.
var Services = []string{
	events.SourceApproval, events.SourceAccounting, events.SourceReimbursement,
	events.SourceNotification, events.SourceAudit, events.SourceWebhooks,
}

// outboxServices are the services that publish through an outbox.
var outboxServices = []string{events.SourceApproval, events.SourceAccounting, events.SourceReimbursement, events.SourceWebhooks}

// DSN returns the database URL of a service, "" for an unknown one.
func (s Sources) DSN(service string) string {
	return map[string]string{
		events.SourceApproval: s.Approval, events.SourceAccounting: s.Accounting,
		events.SourceReimbursement: s.Reimbursement, events.SourceNotification: s.Notification,
		events.SourceAudit: s.Audit, events.SourceWebhooks: s.Webhooks,
	}[service]
}

// Report is what Check found: a few counts to show the scale of what was
// checked, and one line per violation. A source that could not be read is a
// violation too: an unchecked invariant is not a held one.
type Report struct {
	Expenses, Approved       int
	Voided                   int // of the approved, those voided since
	Reimbursements, Paid     int
	JournalEntries           int
	OutboxEvents, AuditEvent int
	Notifications            int
	WebhookDeliveries        int
	QueueDepths              map[string]int // by queue, dead-letter queues included
	DeadLetters              map[string]int // by service
	Violations               []string
}

// OK reports whether no invariant is violated.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// String prints the counts, then each violation on its own line.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "expenses %d (approved %d, of which voided %d), reimbursements %d (paid %d), journal entries %d, "+
		"outbox events %d, audit events %d, notifications %d, webhook deliveries %d\n",
		r.Expenses, r.Approved, r.Voided, r.Reimbursements, r.Paid, r.JournalEntries, r.OutboxEvents, r.AuditEvent, r.Notifications,
		r.WebhookDeliveries)
	fmt.Fprintf(&b, "queue depths: %s\n", formatCounts(r.QueueDepths))
	fmt.Fprintf(&b, "dead letters: %s\n", formatCounts(r.DeadLetters))
	if r.OK() {
		b.WriteString("invariants: all hold\n")
		return b.String()
	}
	fmt.Fprintf(&b, "invariants: %d violation(s)\n", len(r.Violations))
	for _, v := range r.Violations {
		b.WriteString("  - " + v + "\n")
	}
	return b.String()
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// maxListed bounds how many ids one violation line names.
const maxListed = 10

// Check runs every check and reports what it found.
func Check(ctx context.Context, src Sources) Report {
	c := &checker{src: src, conns: map[string]*pgx.Conn{}}
	defer c.close(ctx)
	for _, step := range []func(context.Context){
		c.approvals, c.voids, c.budgets, c.payments, c.ledger, c.audit, c.views, c.notifications, c.webhooks, c.queues, c.deadLetters,
	} {
		step(ctx)
	}
	return c.r
}

type checker struct {
	src   Sources
	conns map[string]*pgx.Conn
	r     Report
}

func (c *checker) violate(format string, args ...any) {
	c.r.Violations = append(c.r.Violations, fmt.Sprintf(format, args...))
}

// violateIDs reports one violation naming up to maxListed of ids.
func (c *checker) violateIDs(what string, ids []string) {
	if len(ids) == 0 {
		return
	}
	sort.Strings(ids)
	shown := ids
	if len(shown) > maxListed {
		shown = shown[:maxListed]
	}
	more := ""
	if len(ids) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(ids)-len(shown))
	}
	c.violate("%d %s: %s%s", len(ids), what, strings.Join(shown, ", "), more)
}

func (c *checker) conn(ctx context.Context, service string) (*pgx.Conn, error) {
	if conn, ok := c.conns[service]; ok {
		return conn, nil
	}
	dsn := c.src.DSN(service)
	if dsn == "" {
		return nil, fmt.Errorf("no database URL for %s", service)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	c.conns[service] = conn
	return conn, nil
}

func (c *checker) close(ctx context.Context) {
	for _, conn := range c.conns {
		_ = conn.Close(ctx)
	}
}

// query runs sql on service's database and hands each row to scan. On error
// it records a violation and returns false.
func (c *checker) query(ctx context.Context, service, sql string, scan func(pgx.Rows) error) bool {
	conn, err := c.conn(ctx, service)
	if err == nil {
		var rows pgx.Rows
		rows, err = conn.Query(ctx, sql)
		if err == nil {
			for rows.Next() && err == nil {
				err = scan(rows)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
	}
	if err != nil {
		c.violate("cannot check %s: %s: %v", service, strings.Join(strings.Fields(sql), " "), err)
		return false
	}
	return true
}

// reimbursement is one row of the reimbursement write model.
type reimbursement struct {
	id, expenseID, status, currency string
	amount                          int64
}

// approvals: every approved expense has exactly one reimbursement and one
// approval entry, and nothing else has either. (A paid claim stays
// 'approved' in the approval write model: payment is another service's fact.
// A voided one was approved: its reimbursement and approval entry stay, and
// voids checks what took them back.)
func (c *checker) approvals(ctx context.Context) {
	approved := map[string]bool{}
	c.query(ctx, events.SourceApproval, `SELECT id::text, status FROM expenses`, func(r pgx.Rows) error {
		var id, status string
		err := r.Scan(&id, &status)
		c.r.Expenses++
		if status == "approved" || status == "voiding" || status == "voided" {
			approved[id] = true
		}
		return err
	})
	c.r.Approved = len(approved)

	perExpense := map[string]int{}
	c.query(ctx, events.SourceReimbursement, `SELECT expense_id FROM reimbursements`, func(r pgx.Rows) error {
		var id string
		err := r.Scan(&id)
		perExpense[id]++
		return err
	})
	c.onePerApproved(approved, perExpense, "reimbursement(s)")

	entries := map[string]int{}
	c.query(ctx, events.SourceAccounting, `SELECT expense_id FROM journal_entries WHERE kind = 'approval'`, func(r pgx.Rows) error {
		var id string
		err := r.Scan(&id)
		entries[id]++
		return err
	})
	c.onePerApproved(approved, entries, "approval ledger entr(y/ies)")
}

// onePerApproved reports approved expenses with zero or several of what
// count counts, and expenses that have one without being approved.
func (c *checker) onePerApproved(approved map[string]bool, count map[string]int, what string) {
	var missing, twice, stray []string
	for id := range approved {
		switch n := count[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s (%d)", id, n))
		}
	}
	for id := range count {
		if !approved[id] {
			stray = append(stray, id)
		}
	}
	c.violateIDs("approved expense(s) without "+what, missing)
	c.violateIDs("approved expense(s) with more than one of "+what, twice)
	c.violateIDs("expense(s) not approved but with "+what, stray)
}

// payments: every paid reimbursement has exactly one settlement entry and one
// gateway payment of its amount; nothing unpaid has either.
func (c *checker) payments(ctx context.Context) {
	var rs []reimbursement
	c.query(ctx, events.SourceReimbursement, `SELECT id::text, expense_id, status, currency, amount_minor FROM reimbursements`, func(r pgx.Rows) error {
		var x reimbursement
		err := r.Scan(&x.id, &x.expenseID, &x.status, &x.currency, &x.amount)
		rs = append(rs, x)
		return err
	})
	c.r.Reimbursements = len(rs)

	type payment struct {
		currency string
		amount   int64
	}
	gateway := map[string]payment{} // the primary key makes two impossible
	c.query(ctx, events.SourceReimbursement, `SELECT reimbursement_id, currency, amount_minor FROM gateway_payments`, func(r pgx.Rows) error {
		var id string
		var p payment
		err := r.Scan(&id, &p.currency, &p.amount)
		gateway[id] = p
		return err
	})
	settlements := map[string]int{}
	c.query(ctx, events.SourceAccounting, `SELECT expense_id FROM journal_entries WHERE kind = 'settlement'`, func(r pgx.Rows) error {
		var id string
		err := r.Scan(&id)
		settlements[id]++
		return err
	})

	var noSettlement, manySettlements, unpaidSettled, notAtGateway, unpaidAtGateway, wrongAmount []string
	known := map[string]bool{}
	for _, x := range rs {
		known[x.id] = true
		p, atGateway := gateway[x.id]
		if x.status != "paid" {
			if settlements[x.expenseID] > 0 {
				unpaidSettled = append(unpaidSettled, x.id)
			}
			if atGateway {
				unpaidAtGateway = append(unpaidAtGateway, x.id)
			}
			continue
		}
		c.r.Paid++
		switch n := settlements[x.expenseID]; {
		case n == 0:
			noSettlement = append(noSettlement, x.id)
		case n > 1:
			manySettlements = append(manySettlements, fmt.Sprintf("%s (%d)", x.id, n))
		}
		if !atGateway {
			notAtGateway = append(notAtGateway, x.id)
		} else if p.amount != x.amount || p.currency != x.currency {
			wrongAmount = append(wrongAmount, fmt.Sprintf("%s (%d %s paid, %d %s owed)", x.id, p.amount, p.currency, x.amount, x.currency))
		}
	}
	var unknownAtGateway []string
	for id := range gateway {
		if !known[id] {
			unknownAtGateway = append(unknownAtGateway, id)
		}
	}
	c.violateIDs("paid reimbursement(s) without a settlement entry", noSettlement)
	c.violateIDs("paid reimbursement(s) with more than one settlement entry", manySettlements)
	c.violateIDs("unpaid reimbursement(s) with a settlement entry", unpaidSettled)
	c.violateIDs("paid reimbursement(s) without a gateway payment", notAtGateway)
	c.violateIDs("unpaid reimbursement(s) paid at the gateway", unpaidAtGateway)
	c.violateIDs("gateway payment(s) of the wrong amount", wrongAmount)
	c.violateIDs("gateway payment(s) for no reimbursement", unknownAtGateway)
}

// voids: every void has finished, in one outcome that every service tells
// the same way. A claim voided before its payout (payout_cancelled) was
// never paid: its reimbursement is cancelled (or had failed), nothing is at
// the gateway, and one reversal entry took the approval back; one voided
// after (recovery_required) was paid, and one recovery entry books what the
// employee owes back. Either way nothing is owed for the claim any more
// (its reimbursements_payable lines sum to 0), and no claim that was not
// voided has a reversal or a recovery.
func (c *checker) voids(ctx context.Context) {
	outcome := map[string]string{} // expense id → void outcome
	var unfinished []string
	c.query(ctx, events.SourceApproval, `SELECT e.id::text, e.status, coalesce(v.outcome, '') FROM expenses e
		LEFT JOIN voids v ON v.expense_id = e.id WHERE e.status IN ('voiding', 'voided')`, func(r pgx.Rows) error {
		var id, status, o string
		err := r.Scan(&id, &status, &o)
		if status == "voiding" {
			unfinished = append(unfinished, id)
		} else {
			outcome[id] = o
		}
		return err
	})
	c.r.Voided = len(outcome)
	payment := map[string]string{} // expense id → reimbursement status
	paidAtGateway := map[string]bool{}
	c.query(ctx, events.SourceReimbursement, `SELECT r.expense_id, r.status, g.reimbursement_id IS NOT NULL
		FROM reimbursements r LEFT JOIN gateway_payments g ON g.reimbursement_id = r.id::text`, func(r pgx.Rows) error {
		var id, status string
		var atGateway bool
		err := r.Scan(&id, &status, &atGateway)
		payment[id], paidAtGateway[id] = status, atGateway
		return err
	})
	entries := map[string][]string{} // expense id → its void entries' kinds
	c.query(ctx, events.SourceAccounting, `SELECT expense_id, kind FROM journal_entries WHERE kind IN ('reversal', 'recovery')`, func(r pgx.Rows) error {
		var id, kind string
		err := r.Scan(&id, &kind)
		entries[id] = append(entries[id], kind)
		return err
	})
	owed := map[string]int64{} // expense id → reimbursements_payable still owed
	c.query(ctx, events.SourceAccounting, `SELECT e.expense_id, sum(l.credit_minor - l.debit_minor) FROM journal_entries e
		JOIN journal_lines l ON l.entry_id = e.id WHERE l.account = 'reimbursements_payable' GROUP BY e.expense_id`, func(r pgx.Rows) error {
		var id string
		var n int64
		err := r.Scan(&id, &n)
		owed[id] = n
		return err
	})

	var inconsistent, stray []string
	for id, o := range outcome {
		want, paid := events.EntryKindReversal, false
		if o == events.VoidRecoveryRequired {
			want, paid = events.EntryKindRecovery, true
		}
		p := payment[id]
		ok := (o == events.VoidPayoutCancelled || o == events.VoidRecoveryRequired) &&
			len(entries[id]) == 1 && entries[id][0] == want && owed[id] == 0 &&
			paidAtGateway[id] == paid && (p == "paid") == paid && (paid || p == "cancelled" || p == "failed")
		if !ok {
			inconsistent = append(inconsistent, fmt.Sprintf("%s (outcome %q, reimbursement %q, at the gateway %v, void entries %v, still owed %d)",
				id, o, p, paidAtGateway[id], entries[id], owed[id]))
		}
	}
	for id := range entries {
		if _, voided := outcome[id]; !voided {
			stray = append(stray, id)
		}
	}
	c.violateIDs("void(s) still running (voiding)", unfinished)
	c.violateIDs("voided expense(s) whose services disagree on the outcome", inconsistent)
	c.violateIDs("expense(s) not voided but with a reversal or recovery entry", stray)
}

// budgets: no budget is overspent (what is spent and still reserved fits in
// its limit), and each reservation was settled by what happened to its
// claim: spent by an approval entry, released by a void's entry.
func (c *checker) budgets(ctx context.Context) {
	var over, unsettled []string
	c.query(ctx, events.SourceAccounting, `
		SELECT b.cost_center || '/' || b.period, b.limit_minor,
		       coalesce(sum(r.amount_minor) FILTER (WHERE r.status = 'spent' OR (r.status = 'reserved' AND r.expires_at > now())), 0)
		FROM budgets b LEFT JOIN budget_reservations r ON r.cost_center = b.cost_center AND r.period = b.period
		GROUP BY b.cost_center, b.period, b.limit_minor
		HAVING coalesce(sum(r.amount_minor) FILTER (WHERE r.status = 'spent' OR (r.status = 'reserved' AND r.expires_at > now())), 0) > b.limit_minor`,
		func(r pgx.Rows) error {
			var budget string
			var limit, taken int64
			err := r.Scan(&budget, &limit, &taken)
			over = append(over, fmt.Sprintf("%s (limit %d, taken %d)", budget, limit, taken))
			return err
		})
	c.query(ctx, events.SourceAccounting, `
		SELECT r.expense_id || ' (' || r.status || ')' FROM budget_reservations r
		LEFT JOIN LATERAL (SELECT bool_or(e.kind = 'approval') AS approved, bool_or(e.kind IN ('reversal', 'recovery')) AS voided
		                   FROM journal_entries e WHERE e.expense_id = r.expense_id) j ON true
		WHERE NOT CASE r.status
			WHEN 'spent' THEN coalesce(j.approved, false) AND NOT coalesce(j.voided, false)
			WHEN 'released' THEN coalesce(j.voided, false)
			ELSE NOT coalesce(j.approved, false) END`,
		func(r pgx.Rows) error {
			var id string
			err := r.Scan(&id)
			unsettled = append(unsettled, id)
			return err
		})
	c.violateIDs("budget(s) overspent", over)
	c.violateIDs("budget reservation(s) not settled by their claim's entries", unsettled)
}

// ledger: every entry balances per currency, so do the totals, and the
// balances read model equals the sum of the journal.
func (c *checker) ledger(ctx context.Context) {
	c.query(ctx, events.SourceAccounting, `SELECT count(*) FROM journal_entries`, func(r pgx.Rows) error {
		return r.Scan(&c.r.JournalEntries)
	})
	var unbalanced []string
	c.query(ctx, events.SourceAccounting, `
		SELECT e.id::text, coalesce(l.currency, ''), coalesce(sum(l.debit_minor), 0), coalesce(sum(l.credit_minor), 0)
		FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id
		GROUP BY e.id, l.currency
		HAVING coalesce(sum(l.debit_minor), 0) <> coalesce(sum(l.credit_minor), 0) OR count(l.entry_id) = 0`,
		func(r pgx.Rows) error {
			var id, cur string
			var d, cr int64
			err := r.Scan(&id, &cur, &d, &cr)
			unbalanced = append(unbalanced, fmt.Sprintf("%s (%s: debits %d, credits %d)", id, cur, d, cr))
			return err
		})
	c.violateIDs("journal entr(y/ies) that do not balance or have no lines", unbalanced)

	c.query(ctx, events.SourceAccounting, `
		SELECT currency, sum(debit_minor), sum(credit_minor) FROM journal_lines
		GROUP BY currency HAVING sum(debit_minor) <> sum(credit_minor)`,
		func(r pgx.Rows) error {
			var cur string
			var d, cr int64
			err := r.Scan(&cur, &d, &cr)
			c.violate("%s: total debits %d differ from total credits %d", cur, d, cr)
			return err
		})

	var differ []string
	c.query(ctx, events.SourceAccounting, `
		SELECT coalesce(j.account, b.account), coalesce(j.currency, b.currency),
		       coalesce(j.debit, 0), coalesce(j.credit, 0), coalesce(b.debit_minor, 0), coalesce(b.credit_minor, 0)
		FROM (SELECT account, currency, sum(debit_minor) AS debit, sum(credit_minor) AS credit
		      FROM journal_lines GROUP BY account, currency) j
		FULL JOIN account_balances b ON b.account = j.account AND b.currency = j.currency
		WHERE coalesce(j.debit, 0) <> coalesce(b.debit_minor, 0) OR coalesce(j.credit, 0) <> coalesce(b.credit_minor, 0)`,
		func(r pgx.Rows) error {
			var account, cur string
			var jd, jc, bd, bc int64
			err := r.Scan(&account, &cur, &jd, &jc, &bd, &bc)
			differ = append(differ, fmt.Sprintf("%s/%s (journal %d/%d, balances %d/%d)", account, cur, jd, jc, bd, bc))
			return err
		})
	c.violateIDs("account balance(s) that differ from the journal (debits/credits)", differ)
}

// forwarderEnvelope is how watermill's forwarder stores a message in the
// outbox table: the destination and the original message, whose payload is
// our event envelope.
type forwarderEnvelope struct {
	UUID    string `json:"uuid"`
	Payload []byte `json:"payload"`
}

// audit: every event in the outboxes (commands aside) is in the audit log
// exactly once.
func (c *checker) audit(ctx context.Context) {
	audited := map[string]int{}
	c.query(ctx, events.SourceAudit, `SELECT event_id, count(*) FROM audit_events GROUP BY event_id`, func(r pgx.Rows) error {
		var id string
		var n int
		err := r.Scan(&id, &n)
		audited[id] = n
		c.r.AuditEvent += n
		return err
	})
	var twice []string
	for id, n := range audited {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d)", id, n))
		}
	}
	c.violateIDs("event(s) held more than once in audit_events", twice)

	for _, service := range outboxServices {
		var missing, undecodable []string
		c.query(ctx, service, `SELECT "offset", payload::text FROM watermill_outbox`, func(r pgx.Rows) error {
			var offset int64
			var payload string
			if err := r.Scan(&offset, &payload); err != nil {
				return err
			}
			c.r.OutboxEvents++
			id, messageType, err := eventID(payload)
			if err != nil {
				undecodable = append(undecodable, fmt.Sprintf("offset %d (%v)", offset, err))
				return nil
			}
			// A command is a request, not a fact: it goes to its receiver
			// alone, and the audit log records the events that answer it.
			if audited[id] == 0 && !events.IsCommand(messageType) {
				missing = append(missing, id)
			}
			return nil
		})
		c.violateIDs(service+" outbox event(s) missing from audit_events", missing)
		c.violateIDs(service+" outbox row(s) that do not decode", undecodable)
	}
}

// eventID returns the id of the event envelope inside an outbox row.
func eventID(payload string) (id, messageType string, err error) {
	var fe forwarderEnvelope
	if err := json.Unmarshal([]byte(payload), &fe); err != nil {
		return "", "", fmt.Errorf("forwarder envelope: %w", err)
	}
	var env events.Envelope
	if err := json.Unmarshal(fe.Payload, &env); err != nil {
		return "", "", fmt.Errorf("event envelope: %w", err)
	}
	if env.ID == "" || env.ID != fe.UUID {
		return "", "", fmt.Errorf("event id %q, message uuid %q", env.ID, fe.UUID)
	}
	return env.ID, env.Type, nil
}

// views: every claim's view shows its write-side status and version, and an
// approved claim's payment status is its reimbursement's status.
func (c *checker) views(ctx context.Context) {
	payment := map[string]string{} // expense id → reimbursement status
	c.query(ctx, events.SourceReimbursement, `SELECT expense_id, status FROM reimbursements`, func(r pgx.Rows) error {
		var id, status string
		err := r.Scan(&id, &status)
		payment[id] = status
		return err
	})
	var noView, stale, wrongPayment, orphan []string
	c.query(ctx, events.SourceApproval, `
		SELECT coalesce(e.id, v.id)::text, coalesce(e.status, ''), coalesce(e.version, 0),
		       v.id IS NOT NULL, coalesce(v.status, ''), coalesce(v.version, 0), coalesce(v.payment_status, '')
		FROM expenses e FULL JOIN expense_views v ON v.id = e.id`,
		func(r pgx.Rows) error {
			var id, status, viewStatus, viewPayment string
			var version, viewVersion int64
			var hasView bool
			if err := r.Scan(&id, &status, &version, &hasView, &viewStatus, &viewVersion, &viewPayment); err != nil {
				return err
			}
			switch {
			case status == "":
				orphan = append(orphan, id)
			case !hasView:
				noView = append(noView, id)
			case viewStatus != status || viewVersion != version:
				stale = append(stale, fmt.Sprintf("%s (view %s v%d, expense %s v%d)", id, viewStatus, viewVersion, status, version))
			case status == "approved" && viewPayment != payment[id]:
				wrongPayment = append(wrongPayment, fmt.Sprintf("%s (view %q, reimbursement %q)", id, viewPayment, payment[id]))
			}
			return nil
		})
	c.violateIDs("expense(s) without a view", noView)
	c.violateIDs("view(s) whose status or version differs from the expense", stale)
	c.violateIDs("approved expense view(s) whose payment status differs from the reimbursement", wrongPayment)
	c.violateIDs("view(s) of no expense", orphan)
}

// notifications only counts: which events notify whom is the notification
// service's rule, tested there.
func (c *checker) notifications(ctx context.Context) {
	c.query(ctx, events.SourceNotification, `SELECT count(*) FROM notifications`, func(r pgx.Rows) error {
		return r.Scan(&c.r.Notifications)
	})
}

func (c *checker) queues(ctx context.Context) {
	if c.src.Broker.URL == "" {
		return
	}
	qs, err := c.src.Broker.Queues(ctx)
	if err != nil {
		c.violate("cannot list queues: %v", err)
		return
	}
	c.r.QueueDepths = map[string]int{}
	for _, q := range qs {
		c.r.QueueDepths[q.Name] = q.Messages
	}
}

// deadLetters: each dead-letter queue holds exactly the expected message ids.
func (c *checker) deadLetters(ctx context.Context) {
	if c.src.AMQPURL == "" {
		c.violate("cannot check dead letters: no AMQP URL")
		return
	}
	dl, err := amqpx.DialDeadLetters(c.src.AMQPURL)
	if err != nil {
		c.violate("cannot check dead letters: %v", err)
		return
	}
	defer dl.Close()
	c.r.DeadLetters = map[string]int{}
	for _, service := range Services {
		letters, err := dl.List(service)
		if err != nil {
			c.violate("cannot list the dead letters of %s: %v", service, err)
			continue
		}
		c.r.DeadLetters[service] = len(letters)
		var got []string
		for _, l := range letters {
			got = append(got, l.MessageID)
		}
		want := slices.Clone(c.src.ExpectedDeadLetters[service])
		slices.Sort(got)
		slices.Sort(want)
		var unexpected, absent []string
		for _, id := range got {
			if !slices.Contains(want, id) {
				unexpected = append(unexpected, id)
			}
		}
		for _, id := range want {
			if !slices.Contains(got, id) {
				absent = append(absent, id)
			}
		}
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				unexpected = append(unexpected, got[i]+" (again)")
			}
		}
		c.violateIDs("unexpected dead letter(s) for "+service, unexpected)
		c.violateIDs("expected dead letter(s) missing for "+service, absent)
	}
}

// webhooks checks the public edge: for every endpoint, every event of a
// type it subscribes to that happened after the endpoint was registered
// (the audit log has them all) has a delivery, and every delivery is
// delivered (a 2xx attempt on record) or visibly failed (with its reason);
// none is still pending once the system is quiet.
func (c *checker) webhooks(ctx context.Context) {
	type endpoint struct {
		id       string
		patterns []string
		created  time.Time
	}
	var endpoints []endpoint
	delivered := map[[2]string]bool{} // (endpoint, event) → a delivery exists
	var pending, unproven, silent []string
	ok := c.query(ctx, events.SourceWebhooks, `SELECT id::text, event_types::text, created_at FROM webhook_endpoints`, func(r pgx.Rows) error {
		var e endpoint
		var patterns string
		if err := r.Scan(&e.id, &patterns, &e.created); err != nil {
			return err
		}
		endpoints = append(endpoints, e)
		return json.Unmarshal([]byte(patterns), &endpoints[len(endpoints)-1].patterns)
	}) && c.query(ctx, events.SourceWebhooks, `SELECT d.id::text, d.endpoint_id::text, d.event_id::text, d.status, d.last_error,
			EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.status_code BETWEEN 200 AND 299)
		FROM webhook_deliveries d`, func(r pgx.Rows) error {
		var id, endpointID, eventID, status, lastError string
		var accepted bool
		if err := r.Scan(&id, &endpointID, &eventID, &status, &lastError, &accepted); err != nil {
			return err
		}
		c.r.WebhookDeliveries++
		delivered[[2]string{endpointID, eventID}] = true
		switch {
		case status == "pending":
			pending = append(pending, id)
		case status == "delivered" && !accepted:
			unproven = append(unproven, id)
		case status == "failed" && lastError == "":
			silent = append(silent, id)
		}
		return nil
	})
	if !ok {
		return
	}
	c.violateIDs("webhook deliveries still pending", pending)
	c.violateIDs("webhook deliveries delivered without a 2xx attempt on record", unproven)
	c.violateIDs("webhook deliveries failed without a reason", silent)
	if len(endpoints) == 0 {
		return
	}
	var missing []string
	known := events.Types()
	c.query(ctx, events.SourceAudit, `SELECT event_id, type, event_time FROM audit_events`, func(r pgx.Rows) error {
		var id, typ string
		var at time.Time
		if err := r.Scan(&id, &typ, &at); err != nil {
			return err
		}
		if !slices.Contains(known, typ) {
			return nil // not an event this build sends (dead-lettered)
		}
		for _, e := range endpoints {
			if at.Before(e.created) || delivered[[2]string{e.id, id}] {
				continue
			}
			for _, p := range e.patterns {
				if events.Matches(p, typ) {
					missing = append(missing, typ+" "+id+" for endpoint "+e.id)
					break
				}
			}
		}
		return nil
	})
	c.violateIDs("subscribed event(s) with no webhook delivery", missing)
}
