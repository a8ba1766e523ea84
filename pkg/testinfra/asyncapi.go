package testinfra

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
)

// AsyncAPIPath is the messaging contract, relative to the module root. Its
// syntax and references are checked by tools/asyncapi (scripts/test.sh); the
// tests that use AsyncAPI check that it says what the code does.
const AsyncAPIPath = "docs/asyncapi.yaml"

// AsyncAPI is the part of docs/asyncapi.yaml that the code also states: the
// channels on the events exchange, the queues with their bindings, and which
// service receives from each queue (an operation's tag names its service).
type AsyncAPI struct {
	Channels   map[string]AsyncAPIChannel   `json:"channels"`
	Operations map[string]AsyncAPIOperation `json:"operations"`
}

// AsyncAPIChannel is a channel with its local $refs resolved.
type AsyncAPIChannel struct {
	Address    string                             `json:"address"`
	Parameters map[string]struct{ Enum []string } `json:"parameters"`
	Messages   map[string]struct{ Name string }   `json:"messages"`
	Bindings   struct {
		AMQP struct {
			Is       string `json:"is"` // "routingKey" or "queue"
			Exchange struct {
				Name, Type string
				Durable    bool
			} `json:"exchange"`
			Queue struct {
				Name    string
				Durable bool
			} `json:"queue"`
			// What the AMQP bindings 0.3.0 have no field for: the exchange
			// a queue is bound to and its binding keys.
			BoundTo     string   `json:"x-exchange"`
			BindingKeys []string `json:"x-binding-keys"`
		} `json:"amqp"`
	} `json:"bindings"`
}

// AsyncAPIOperation is an operation with its channel and tags resolved.
type AsyncAPIOperation struct {
	Action  string          `json:"action"` // "send" or "receive"
	Channel AsyncAPIChannel `json:"channel"`
	Tags    []struct{ Name string }
}

// MessageNames returns the names of the channel's messages, sorted.
func (c AsyncAPIChannel) MessageNames() []string {
	var names []string
	for _, m := range c.Messages {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names
}

// LoadAsyncAPI reads docs/asyncapi.yaml from the module root, wherever the
// test runs, and resolves its local $refs (#/...). References to other files
// (the payload schemas) are left alone.
func LoadAsyncAPI(t testing.TB) *AsyncAPI {
	t.Helper()
	path := filepath.Join(ModuleRoot(t), AsyncAPIPath)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", AsyncAPIPath, err)
	}
	resolved, err := resolveLocalRefs(raw, raw, 0)
	if err != nil {
		t.Fatalf("%s: %v", AsyncAPIPath, err)
	}
	// The resolved tree is plain maps and slices; JSON turns it into types.
	j, err := json.Marshal(resolved)
	if err != nil {
		t.Fatalf("%s: %v", AsyncAPIPath, err)
	}
	doc := &AsyncAPI{}
	if err := json.Unmarshal(j, doc); err != nil {
		t.Fatalf("%s: %v", AsyncAPIPath, err)
	}
	return doc
}

// EventChannels returns the addresses (routing keys) of the channels on the
// events exchange, sorted: one per event type and version.
func (d *AsyncAPI) EventChannels() []string {
	var keys []string
	for _, c := range d.Channels {
		if b := c.Bindings.AMQP; b.Is == "routingKey" && b.Exchange.Name == amqpx.EventsExchange {
			keys = append(keys, c.Address)
		}
	}
	slices.Sort(keys)
	return keys
}

// Queues returns the queue channels bound to exchange, by queue name.
func (d *AsyncAPI) Queues(exchange string) map[string]AsyncAPIChannel {
	queues := map[string]AsyncAPIChannel{}
	for _, c := range d.Channels {
		if b := c.Bindings.AMQP; b.Is == "queue" && b.BoundTo == exchange {
			queues[b.Queue.Name] = c
		}
	}
	return queues
}

// RequireSubscriptions fails t unless the document describes service's
// queues exactly as subs declares them: each one a durable queue on the
// exchange it names (events or commands) with the same binding keys, received from by an operation
// tagged with service, and no other such queue for service. It also requires
// the service's dead-letter queue on the dead-letter exchange, and a send
// operation of service to that exchange.
func (d *AsyncAPI) RequireSubscriptions(t testing.TB, service string, subs []amqpx.Subscription) {
	t.Helper()
	documented := map[string][]string{} // queue -> binding keys
	exchanges := map[string]string{}    // queue -> exchange
	deadLetters := false
	for id, op := range d.Operations {
		if !slices.ContainsFunc(op.Tags, func(tag struct{ Name string }) bool { return tag.Name == service }) {
			continue
		}
		b := op.Channel.Bindings.AMQP
		switch {
		case op.Action == "receive" && b.Is == "queue" && (b.BoundTo == amqpx.EventsExchange || b.BoundTo == amqpx.CommandsExchange):
			if !b.Queue.Durable {
				t.Errorf("%s: operation %s: queue %s is not durable", AsyncAPIPath, id, b.Queue.Name)
			}
			if _, dup := documented[b.Queue.Name]; dup {
				t.Errorf("%s: %s receives from queue %s twice", AsyncAPIPath, service, b.Queue.Name)
			}
			documented[b.Queue.Name] = sorted(b.BindingKeys)
			exchanges[b.Queue.Name] = b.BoundTo
		case op.Action == "send" && b.Is == "routingKey" && b.Exchange.Name == amqpx.DeadLetterExchange:
			deadLetters = deadLetters || op.Channel.addresses(amqpx.DeadLetterQueue(service))
		}
	}
	for _, s := range subs {
		keys, ok := documented[s.Queue]
		if !ok {
			t.Errorf("%s: no receive operation of %s on queue %s (bound to %v)", AsyncAPIPath, service, s.Queue, s.Patterns)
			continue
		}
		if want := sorted(s.Patterns); !slices.Equal(keys, want) {
			t.Errorf("%s: queue %s is bound to %v in the document, to %v in the code", AsyncAPIPath, s.Queue, keys, want)
		}
		if exchanges[s.Queue] != s.BoundTo() {
			t.Errorf("%s: queue %s is bound to exchange %s in the document, to %s in the code", AsyncAPIPath, s.Queue, exchanges[s.Queue], s.BoundTo())
		}
		delete(documented, s.Queue)
	}
	for q, keys := range documented {
		t.Errorf("%s: %s receives from queue %s (bound to %v), which the code does not declare", AsyncAPIPath, service, q, keys)
	}

	dlq := amqpx.DeadLetterQueue(service)
	if c, ok := d.Queues(amqpx.DeadLetterExchange)[dlq]; !ok {
		t.Errorf("%s: no dead-letter queue %s on %s", AsyncAPIPath, dlq, amqpx.DeadLetterExchange)
	} else if b := c.Bindings.AMQP; !b.Queue.Durable || !slices.Equal(b.BindingKeys, []string{dlq}) {
		t.Errorf("%s: dead-letter queue %s must be durable and bound to [%s], is bound to %v", AsyncAPIPath, dlq, dlq, b.BindingKeys)
	}
	if !deadLetters {
		t.Errorf("%s: no send operation of %s to %s with routing key %s", AsyncAPIPath, service, amqpx.DeadLetterExchange, dlq)
	}
}

// addresses reports whether the channel's address is key, or becomes key
// with one of the enum values of its parameters, e.g. "{service}.dead-letters".
func (c AsyncAPIChannel) addresses(key string) bool {
	if c.Address == key {
		return true
	}
	for name, p := range c.Parameters {
		for _, v := range p.Enum {
			if strings.ReplaceAll(c.Address, "{"+name+"}", v) == key {
				return true
			}
		}
	}
	return false
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// resolveLocalRefs replaces every {"$ref": "#/..."} in node by its target
// within root. depth bounds the chain of references, against cycles.
func resolveLocalRefs(root, node any, depth int) (any, error) {
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok && strings.HasPrefix(ref, "#/") {
			if depth > 32 {
				return nil, fmt.Errorf("$ref %s: too deep, a cycle?", ref)
			}
			target, err := jsonPointer(root, strings.TrimPrefix(ref, "#/"))
			if err != nil {
				return nil, fmt.Errorf("$ref %s: %w", ref, err)
			}
			return resolveLocalRefs(root, target, depth+1)
		}
		out := make(map[string]any, len(n))
		for k, v := range n {
			r, err := resolveLocalRefs(root, v, depth)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			r, err := resolveLocalRefs(root, v, depth)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return node, nil
}

// jsonPointer follows an RFC 6901 pointer (without its leading "/") in root.
func jsonPointer(root any, pointer string) (any, error) {
	node := root
	for _, tok := range strings.Split(pointer, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch n := node.(type) {
		case map[string]any:
			v, ok := n[tok]
			if !ok {
				return nil, fmt.Errorf("no %q", tok)
			}
			node = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil, fmt.Errorf("no index %q", tok)
			}
			node = n[i]
		default:
			return nil, fmt.Errorf("%q: not an object or array", tok)
		}
	}
	return node, nil
}

// ModuleRoot is the nearest directory above the working directory (a test's
// package directory) that holds go.mod: the repository's root.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
