package platform_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/correlation"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/outbox"
	"github.com/expenseflow/expenseflow/pkg/platform"
	"github.com/expenseflow/expenseflow/pkg/postgres"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// Three services on one vhost, all exporting to one in-memory exporter:
//
//	HTTP POST /approve → front: outbox expense.approved.v1
//	  → middle: consumes it, outbox reimbursement.scheduled.v1
//	    → back: consumes it
//
// Real services cannot be started together in one process (each one's
// wiring is internal to it); these stand-ins use exactly the platform the
// services use, so the hops are the same.
var (
	frontSub  = amqpx.Subscription{Queue: "front.reimbursement-scheduled", Patterns: []string{"reimbursement.scheduled.*"}}
	middleSub = amqpx.Subscription{Queue: "middle.expense-approved", Patterns: []string{"expense.approved.*"}}
	backSub   = amqpx.Subscription{Queue: "back.reimbursement-scheduled", Patterns: []string{"reimbursement.scheduled.*"}}

	// standsInFor: front publishes approvals, middle reimbursements.
	standsInFor = map[string]string{"front": "approval", "middle": "reimbursement", "back": "audit"}
)

const callerTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestOneTraceAcrossThreeServicesAndTheirMetrics(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	amqpURL, _ := testinfra.VHost(t, "observability")
	testinfra.DeclareTopology(t, amqpURL, amqpx.QueueClassic, amqpx.Topology{"front": {frontSub}, "middle": {middleSub}, "back": {backSub}})
	// Each stand-in connects as the broker user of the service whose events
	// it publishes (consumers believe no one else), with permissions on its
	// own queue in this vhost only.
	start := func(name string, spec platform.Spec) *platform.Platform {
		t.Helper()
		spec.Migrations = postgres.Migrations{Name: "stand_in", FS: fstest.MapFS{"1_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}}
		cfg, _ := testinfra.PlatformConfig(t, name)
		user := amqpx.User{Name: standsInFor[name], Configure: amqpx.Nothing, Read: amqpx.OneOf(spec.Subscriptions[0].Queue),
			Write: amqpx.OneOf(amqpx.EventsExchange, amqpx.DeadLetterExchange), Publish: amqpx.StartsWith("expense.", "reimbursement.")}
		cfg.AMQPURL, cfg.TraceExporter, cfg.LogOutput = testinfra.BrokerUser(t, amqpURL, user), spans, io.Discard
		p, err := platform.Start(context.Background(), cfg, spec)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Every platform runs at least one consumer (a Watermill router with no
	// handler does not stop with its context): front's hears the last hop.
	front := start("front", platform.Spec{Publishes: true, Subscriptions: []amqpx.Subscription{frontSub}})
	front.Router.Handle("front.handler", frontSub, func(context.Context, events.Event) error { return nil })
	front.HTTP.POST("/approve", func(c *gin.Context) {
		ctx := c.Request.Context()
		env := newEvent(t, ctx, events.ExpenseApprovedV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", ApproverID: "bob",
			AmountMinor: 100, Currency: "EUR", Category: "meals", ApprovedAt: time.Now()})
		if err := front.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return outbox.Publish(ctx, tx, env) }); err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.Status(http.StatusAccepted)
	})

	middle := start("middle", platform.Spec{Publishes: true, Subscriptions: []amqpx.Subscription{middleSub}})
	middle.Router.Handle("middle.handler", middleSub, func(ctx context.Context, e events.Event) error {
		env := newEvent(t, ctx, events.ReimbursementScheduledV1{ReimbursementID: "00000000-0000-4000-8000-00000000a001", ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", AmountMinor: 100, Currency: "EUR"})
		return middle.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return outbox.Publish(ctx, tx, env) })
	})

	back := start("back", platform.Spec{Subscriptions: []amqpx.Subscription{backSub}})
	back.Router.Handle("back.handler", backSub, func(context.Context, events.Event) error { return nil })

	frontURL, middleURL := testinfra.Run(t, front), testinfra.Run(t, middle)
	testinfra.Run(t, back)
	<-middle.Router.Running()
	<-back.Router.Running()

	req, _ := http.NewRequest(http.MethodPost, frontURL+"/approve", nil)
	req.Header.Set(correlation.TraceParentKey, callerTraceParent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /approve: %v %v", resp, err)
	}
	resp.Body.Close()
	// The answer names the trace it is in, so the caller can look it up.
	if got := resp.Header.Get("traceresponse"); !strings.HasPrefix(got, "00-"+strings.Split(callerTraceParent, "-")[1]+"-") {
		t.Errorf("traceresponse %q: want the caller's trace", got)
	}

	// The caller's trace id is kept: every hop is in the caller's trace.
	traceID, _ := trace.TraceIDFromHex(strings.Split(callerTraceParent, "-")[1])
	find := func(service, name string) *tracetest.SpanStub {
		for _, s := range spans.GetSpans() {
			if s.SpanContext.TraceID() == traceID && s.Name == name && serviceOf(s) == service {
				return &s
			}
		}
		return nil
	}
	testinfra.Eventually(t, 15*time.Second, "the back service handled the event in the caller's trace", func() bool {
		return find("back", "handle back.handler") != nil
	})

	// Each hop is a child of the one before: HTTP → outbox write → consumer
	// → its outbox write → consumer; relay publishes hang off the writes.
	chain := []struct{ service, name string }{
		{"front", "POST /approve"},
		{"front", "outbox.Publish"},
		{"middle", "handle middle.handler"},
		{"middle", "outbox.Publish"},
		{"back", "handle back.handler"},
	}
	parent := trace.SpanID{}
	copy(parent[:], mustHex(t, strings.Split(callerTraceParent, "-")[2]))
	for _, hop := range chain {
		s := find(hop.service, hop.name)
		if s == nil {
			t.Fatalf("no span %q of %s in the trace; got %s", hop.name, hop.service, names(spans.GetSpans()))
		}
		if s.Parent.SpanID() != parent {
			t.Errorf("span %q of %s: parent %s, want %s", hop.name, hop.service, s.Parent.SpanID(), parent)
		}
		parent = s.SpanContext.SpanID()
	}
	// A relay span ends when the broker confirms the publish, which can be
	// after the consumer already has the message: wait for it.
	for _, relay := range []struct{ service, name string }{{"front", "publish expense.approved.v1"}, {"middle", "publish reimbursement.scheduled.v1"}} {
		testinfra.Eventually(t, 15*time.Second, "relay span "+relay.name+" of "+relay.service+" in the trace", func() bool {
			return find(relay.service, relay.name) != nil
		})
	}

	// Metrics: HTTP and outbox on front; Watermill handler metrics and the
	// dead-letter counter on middle (after a poison message).
	testinfra.Publish(t, amqpURL, "expense.approved.v1", uuid.NewString(), []byte("not json"))
	testinfra.Eventually(t, 15*time.Second, "the poison message is dead-lettered", func() bool {
		return strings.Contains(scrape(t, middleURL), `expenseflow_dead_letters_total{handler="middle.handler"} 1`)
	})
	testinfra.Eventually(t, 10*time.Second, "front's outbox backlog drains", func() bool {
		return strings.Contains(scrape(t, frontURL), "expenseflow_outbox_backlog_messages 0\n")
	})
	for url, series := range map[string][]string{
		frontURL: {
			`http_requests_total{method="POST",route="/approve",status="202"} 1`,
			`http_request_duration_seconds_count{method="POST",route="/approve"} 1`,
			"expenseflow_outbox_oldest_unrelayed_age_seconds 0",
		},
		middleURL: {
			`expenseflow_handler_execution_time_seconds_count{handler_name="middle.handler",success="true"} 1`,
			`expenseflow_subscriber_messages_received_total{acked="acked",handler_name="middle.handler"`,
			"expenseflow_outbox_backlog_messages",
		},
	} {
		got := scrape(t, url)
		for _, s := range series {
			if !strings.Contains(got, s) {
				t.Errorf("%s/metrics has no %s", url, s)
			}
		}
	}
}

func newEvent(t *testing.T, ctx context.Context, p events.Payload) events.Envelope {
	env, err := events.New(p, correlation.Stamp(ctx, events.Meta{ID: uuid.NewString(), Source: "test", Time: time.Now(), Sequence: 1}))
	if err != nil {
		t.Error(err)
	}
	return env
}

func serviceOf(s tracetest.SpanStub) string {
	for _, kv := range s.Resource.Attributes() {
		if kv.Key == "service.name" {
			return kv.Value.AsString()
		}
	}
	return ""
}

func names(spans tracetest.SpanStubs) string {
	var out []string
	for _, s := range spans {
		out = append(out, serviceOf(s)+":"+s.Name+"@"+s.SpanContext.TraceID().String())
	}
	return strings.Join(out, ", ")
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	id, err := trace.SpanIDFromHex(s)
	if err != nil {
		t.Fatal(err)
	}
	return id[:]
}
