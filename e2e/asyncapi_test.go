package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// eventTypes are the wire names of pkg/events. A type added there must be
// added here (TestAsyncAPIChannelsAreTheEventTypes insists) and documented.
var eventTypes = []string{
	events.ExpenseSubmittedV1Type, events.ExpenseSubmittedV2Type, events.ExpenseApprovedV1Type,
	events.ExpenseRejectedV1Type, events.ExpenseWithdrawnV1Type,
	events.ReimbursementScheduledV1Type, events.ReimbursementPaidV1Type, events.ReimbursementFailedV1Type,
	events.LedgerEntryPostedV1Type,
	events.ExpenseVoidRequestedV1Type, events.ExpenseVoidedV1Type,
	events.ReimbursementCancelledV1Type, events.ReimbursementCancellationDeclinedV1Type,
	events.WebhookEndpointDisabledV1Type,
}

// commandTypes are the commands of pkg/events: each has a channel on the
// commands exchange instead.
var commandTypes = []string{events.StopPayoutV1Type, events.PostVoidEntryV1Type}

// docs/asyncapi.yaml has one channel on the events exchange per event type
// and version, its address (the routing key) being the type, carrying one
// message of that name; and no channel for a type the code does not have.
// Each service's messaging_test.go checks its queues against the document.
func TestAsyncAPIChannelsAreTheEventTypes(t *testing.T) {
	if declared, listed := typeConstants(t), sorted(append(slices.Clone(eventTypes), commandTypes...)); !slices.Equal(declared, listed) {
		t.Fatalf("pkg/events declares the types %v, this test lists %v: update eventTypes or commandTypes", declared, listed)
	}
	for _, typ := range eventTypes {
		if events.IsCommand(typ) {
			t.Errorf("%s is a command: list it in commandTypes", typ)
		}
	}
	for _, typ := range commandTypes {
		if !events.IsCommand(typ) {
			t.Errorf("%s is not a command: list it in eventTypes", typ)
		}
	}
	doc := testinfra.LoadAsyncAPI(t)
	documented := doc.EventChannels()
	for _, typ := range eventTypes {
		if !slices.Contains(documented, typ) {
			t.Errorf("%s: no channel for event type %s", testinfra.AsyncAPIPath, typ)
		}
	}
	for _, addr := range documented {
		if !slices.Contains(eventTypes, addr) {
			t.Errorf("%s: channel %s is not an event type of pkg/events", testinfra.AsyncAPIPath, addr)
		}
	}
	commands := map[string]bool{}
	for id, c := range doc.Channels {
		if c.Bindings.AMQP.Is == "routingKey" && c.Bindings.AMQP.Exchange.Name == amqpx.CommandsExchange {
			commands[c.Address] = true
			if !slices.Equal(c.MessageNames(), []string{c.Address}) {
				t.Errorf("%s: command channel %s carries %v, want exactly the message %s", testinfra.AsyncAPIPath, id, c.MessageNames(), c.Address)
			}
		}
	}
	for _, typ := range commandTypes {
		if !commands[typ] {
			t.Errorf("%s: no channel on %s for the command %s", testinfra.AsyncAPIPath, amqpx.CommandsExchange, typ)
		}
		delete(commands, typ)
	}
	for addr := range commands {
		t.Errorf("%s: channel %s on %s is not a command of pkg/events", testinfra.AsyncAPIPath, addr, amqpx.CommandsExchange)
	}
	// As pkg/amqpx declares them (Connect): all durable; events topic, commands and dead letters direct.
	exchangeTypes := map[string]string{amqpx.EventsExchange: "topic", amqpx.CommandsExchange: "direct", amqpx.DeadLetterExchange: "direct"}
	for id, c := range doc.Channels {
		x := c.Bindings.AMQP.Exchange
		if want, ok := exchangeTypes[x.Name]; ok && (x.Type != want || !x.Durable) {
			t.Errorf("%s: channel %s: exchange %s is %s, durable %v; want %s, durable", testinfra.AsyncAPIPath, id, x.Name, x.Type, x.Durable, want)
		}
		if x.Name == amqpx.EventsExchange && !slices.Equal(c.MessageNames(), []string{c.Address}) {
			t.Errorf("%s: channel %s carries %v, want exactly the message %s", testinfra.AsyncAPIPath, id, c.MessageNames(), c.Address)
		}
	}
}

// Each queue on the events exchange lists exactly the event messages its
// binding keys route to it, by RabbitMQ's topic matching.
func TestAsyncAPIQueuesListWhatTheirBindingsRoute(t *testing.T) {
	doc := testinfra.LoadAsyncAPI(t)
	queues := doc.Queues(amqpx.EventsExchange)
	if len(queues) == 0 {
		t.Fatalf("%s: no queues bound to %s", testinfra.AsyncAPIPath, amqpx.EventsExchange)
	}
	for name, q := range queues {
		var want []string
		for _, key := range doc.EventChannels() {
			if slices.ContainsFunc(q.Bindings.AMQP.BindingKeys, func(p string) bool { return events.Matches(p, key) }) {
				want = append(want, key)
			}
		}
		if got := q.MessageNames(); !slices.Equal(got, want) {
			t.Errorf("%s: queue %s (bound to %v) lists %v, its bindings route %v",
				testinfra.AsyncAPIPath, name, q.Bindings.AMQP.BindingKeys, got, want)
		}
	}
}

// typeConstants reads the values of the exported string constants named
// "…Type" in pkg/events, sorted: the event types, including one added after
// this test was written.
func typeConstants(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../pkg/events/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !id.IsExported() || !strings.HasSuffix(id.Name, "Type") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						types = append(types, v)
					}
				}
			}
		}
	}
	if len(types) == 0 {
		t.Fatal("no event type constants found in ../pkg/events")
	}
	return sorted(types)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
