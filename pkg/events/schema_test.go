package events_test

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/expenseflow/expenseflow/pkg/events"
)

// payloads is the Go side of the contract: one payload struct per wire type.
// TestContractIsComplete keeps it equal to the type constants and decoders.
var payloads = []events.Payload{
	events.ExpenseSubmittedV1{},
	events.ExpenseSubmittedV2{},
	events.ExpenseApprovedV1{},
	events.ExpenseRejectedV1{},
	events.ExpenseWithdrawnV1{},
	events.ReimbursementScheduledV1{},
	events.ReimbursementPaidV1{},
	events.ReimbursementFailedV1{},
	events.LedgerEntryPostedV1{},
	events.ExpenseVoidRequestedV1{},
	events.ExpenseVoidedV1{},
	events.ReimbursementCancelledV1{},
	events.ReimbursementCancellationDeclinedV1{},
	events.StopPayoutV1{},
	events.PostVoidEntryV1{},
	events.WebhookEndpointDisabledV1{},
}

// Every type constant, decoder, payload struct, schema file and fixture
// comes with all the others: adding a version without its schema or fixture
// (or leaving an orphan file behind) fails here.
func TestContractIsComplete(t *testing.T) {
	want := typeConstants(t)
	var fromPayloads []string
	for _, p := range payloads {
		fromPayloads = append(fromPayloads, p.EventType())
	}
	sets := map[string][]string{
		"decoders":                 events.DecoderTypes(),
		"payloads in this test":    fromPayloads,
		"schemas/*.json":           typesOfFiles(t, "schemas/*.json", "envelope.json"),
		"testdata/fixtures/*.json": typesOfFiles(t, "testdata/fixtures/*.json"),
	}
	for name, got := range sets {
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v\nwant the type constants of types.go: %v", name, got, want)
		}
	}
}

// Each fixture is a message exactly as a producer emits it: it validates
// against its schema, decodes, and events.New rebuilds it from its own
// payload and attributes. Rebuilding proves that what New emits for every
// type validates too.
func TestFixtures(t *testing.T) {
	for _, p := range payloads {
		eventType := p.EventType()
		t.Run(eventType, func(t *testing.T) {
			body := readFile(t, "testdata/fixtures/"+eventType+".json")
			if err := events.ValidateSchema(body); err != nil {
				t.Fatalf("fixture breaks its schema: %v", err)
			}
			ev, err := events.Decode(body)
			if err != nil {
				t.Fatalf("fixture no longer decodes: %v", err)
			}
			if ev.Type != eventType {
				t.Fatalf("fixture has type %q", ev.Type)
			}

			// Decode upcasts v1 submissions; everything else comes out as sent.
			if eventType == events.ExpenseSubmittedV1Type {
				v2, ok := ev.Payload.(events.ExpenseSubmittedV2)
				if !ok || v2.CostCenter != events.DefaultCostCenter {
					t.Fatalf("v1 not upcast to v2 with the default cost center: %#v", ev.Payload)
				}
			} else if reflect.TypeOf(ev.Payload) != reflect.TypeOf(p) {
				t.Fatalf("decoded as %T", ev.Payload)
			}

			sent := reflect.New(reflect.TypeOf(p))
			if err := json.Unmarshal(ev.Data, sent.Interface()); err != nil {
				t.Fatal(err)
			}
			rebuilt, err := events.New(sent.Elem().Interface().(events.Payload), events.Meta{
				ID: ev.ID, Source: ev.Source, Time: ev.Time, Sequence: ev.Sequence,
				CorrelationID: ev.CorrelationID, CausationID: ev.CausationID, TraceParent: ev.TraceParent,
			})
			if err != nil {
				t.Fatal(err)
			}
			wire, err := events.Encode(rebuilt)
			if err != nil {
				t.Fatal(err)
			}
			if err := events.ValidateSchema(wire); err != nil {
				t.Fatalf("events.New output breaks the schema: %v", err)
			}
			if !reflect.DeepEqual(asJSON(t, wire), asJSON(t, body)) {
				t.Fatalf("events.New emits\n%s\nthe fixture says\n%s", wire, body)
			}
		})
	}
}

// TestIntegerSequencesStillDecode: events published before the sequence
// became a CloudEvents string carry a JSON integer. Those copies of the
// fixtures validate and decode forever, to the same event as the new form.
func TestIntegerSequencesStillDecode(t *testing.T) {
	for _, p := range payloads {
		eventType := p.EventType()
		old := readFile(t, "testdata/integer-sequence/"+eventType+".json")
		if err := events.ValidateSchema(old); err != nil {
			t.Fatalf("%s: an integer sequence breaks the schema: %v", eventType, err)
		}
		was, err := events.Decode(old)
		if err != nil {
			t.Fatalf("%s: no longer decodes: %v", eventType, err)
		}
		now, err := events.Decode(readFile(t, "testdata/fixtures/"+eventType+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if was.Sequence != now.Sequence || was.Sequence < 1 {
			t.Errorf("%s: sequence %d from the integer, %d from the string", eventType, was.Sequence, now.Sequence)
		}
	}
	for _, bad := range []string{`"12a"`, `""`, `-3`, `"99999999999999999999"`, `1.5`} {
		body := strings.Replace(string(readFile(t, "testdata/fixtures/expense.approved.v1.json")), `"0000000000000000002"`, bad, 1)
		if _, err := events.Decode([]byte(body)); err == nil {
			t.Errorf("sequence %s decoded", bad)
		}
	}
}

// TestSequenceOrdersAsAString: the reason for the padding.
func TestSequenceOrdersAsAString(t *testing.T) {
	wire := func(seq int64) string {
		env, err := events.New(events.ExpenseWithdrawnV1{ExpenseID: "00000000-0000-4000-8000-00000000e001", EmployeeID: "alice", WithdrawnAt: time.Now()},
			events.Meta{ID: "i", Source: "approval", Time: time.Now(), Sequence: seq})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := events.Encode(env)
		var attrs struct{ Sequence string }
		if err := json.Unmarshal(b, &attrs); err != nil {
			t.Fatal(err)
		}
		return attrs.Sequence
	}
	if nine, ten := wire(9), wire(10); nine >= ten {
		t.Fatalf("%q does not order before %q", nine, ten)
	}
}

// The schemas and the Go structs describe the same fields. The rule: every
// json-tagged field is a schema property of the matching JSON type; it is
// required unless its tag says omitempty/omitzero (encoding/json always
// writes it otherwise). Nested structs (ledger lines) are compared the same way.
func TestSchemasMatchGoTypes(t *testing.T) {
	envelope := readSchema(t, "envelope")
	matchFields(t, "envelope.json", reflect.TypeFor[events.Envelope](), envelope)

	for _, p := range payloads {
		eventType := p.EventType()
		schema := readSchema(t, eventType)
		if schema["$id"] != events.SchemaURI(eventType) {
			t.Errorf("%s: $id %v, want events.SchemaURI = %s", eventType, schema["$id"], events.SchemaURI(eventType))
		}
		data := dig(schema, "properties", "data")
		if data["additionalProperties"] != true {
			t.Errorf("%s: data must allow additional properties (optional fields may be added within a version)", eventType)
		}
		matchFields(t, eventType+" data", reflect.TypeOf(p), data)
	}
}

func matchFields(t *testing.T, where string, typ reflect.Type, schema map[string]any) {
	t.Helper()
	props := dig(schema, "properties")
	required := map[string]bool{}
	for _, r := range asSlice(schema["required"]) {
		required[r.(string)] = true
	}
	inGo := map[string]bool{}
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Errorf("%s: Go field %s has no json name; wire names are explicit", where, f.Name)
			continue
		}
		inGo[name] = true
		prop, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s: Go field %s (%q) is missing from the schema", where, f.Name, name)
			continue
		}
		optional := slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
		if required[name] == optional {
			t.Errorf("%s: %q is required=%v in the schema but its tag is %q", where, name, required[name], f.Tag.Get("json"))
		}
		if where == "envelope.json" && name == "sequence" {
			// Envelope.MarshalJSON writes it as a zero-padded string; the
			// integer of older events stays valid.
			alts := asSlice(prop["oneOf"])
			if len(alts) != 2 || alts[0].(map[string]any)["type"] != "string" || alts[1].(map[string]any)["type"] != "integer" {
				t.Errorf("envelope.json: sequence must be oneOf a string (written now) and an integer (older events), got %v", prop)
			}
			continue
		}
		if want := jsonType(f.Type); prop["type"] != want {
			t.Errorf("%s: %q has type %v in the schema, the Go type %s wants %q", where, name, prop["type"], f.Type, want)
		}
		if f.Type == reflect.TypeFor[time.Time]() && prop["format"] != "date-time" {
			t.Errorf("%s: %q is a time.Time; the schema wants format date-time", where, name)
		}
		if elem := f.Type; elem.Kind() == reflect.Slice && elem.Elem().Kind() == reflect.Struct {
			matchFields(t, where+"."+name+"[]", elem.Elem(), dig(prop, "items"))
		}
	}
	for name := range props {
		if !inGo[name] {
			t.Errorf("%s: schema property %q has no Go field", where, name)
		}
	}
	for name := range required {
		if !inGo[name] {
			t.Errorf("%s: schema requires %q, which has no Go field", where, name)
		}
	}
}

// jsonType is the JSON Schema type encoding/json produces for t.
func jsonType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "string"
	case t == reflect.TypeFor[json.RawMessage]():
		return "object" // the envelope's data
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	case reflect.Struct:
		return "object"
	}
	return "unsupported Go kind " + t.Kind().String()
}

// Schema validation catches what a producer in any language could get wrong.
// Each case changes one thing in a valid fixture.
func TestSchemaRejects(t *testing.T) {
	cases := []struct {
		name, fixture string
		change        func(m map[string]any)
		want          error  // nil: still valid
		at            string // where the schema complains
	}{
		{"wrong currency", "expense.submitted.v2", func(m map[string]any) { data(m)["currency"] = "eur" }, events.ErrMalformed, "/data/currency"},
		{"missing expense_id", "expense.approved.v1", func(m map[string]any) { delete(data(m), "expense_id") }, events.ErrMalformed, "expense_id"},
		{"negative amount", "reimbursement.paid.v1", func(m map[string]any) { data(m)["amount_minor"] = -4250 }, events.ErrMalformed, "/data/amount_minor"},
		{"fractional amount", "expense.approved.v1", func(m map[string]any) { data(m)["amount_minor"] = 42.5 }, events.ErrMalformed, "/data/amount_minor"},
		{"id not a uuid", "expense.rejected.v1", func(m map[string]any) { m["id"] = "evt-42" }, events.ErrMalformed, "/id"},
		{"bad date", "expense.submitted.v1", func(m map[string]any) { data(m)["incurred_on"] = "2024-13-02" }, events.ErrMalformed, "/data/incurred_on"},
		{"bad date-time", "expense.withdrawn.v1", func(m map[string]any) { data(m)["withdrawn_at"] = "yesterday" }, events.ErrMalformed, "/data/withdrawn_at"},
		{"sequence 0", "reimbursement.scheduled.v1", func(m map[string]any) { m["sequence"] = 0 }, events.ErrMalformed, "/sequence"},
		{"other type's dataschema", "expense.submitted.v2", func(m map[string]any) { m["dataschema"] = events.SchemaURI(events.ExpenseSubmittedV1Type) }, events.ErrMalformed, "/dataschema"},
		{"bad traceparent", "expense.approved.v1", func(m map[string]any) { m["traceparent"] = "trace-me" }, events.ErrMalformed, "/traceparent"},
		{"no correlationid", "reimbursement.failed.v1", func(m map[string]any) { delete(m, "correlationid") }, events.ErrMalformed, "correlationid"},
		{"ledger line both debit and credit", "ledger.entry_posted.v1", func(m map[string]any) {
			asSlice(data(m)["lines"])[0].(map[string]any)["credit_minor"] = 1
		}, events.ErrMalformed, "/data/lines/0"},
		{"unknown type", "expense.approved.v1", func(m map[string]any) { m["type"] = "payroll.run.v1" }, events.ErrUnknownType, "payroll.run.v1"},
		{"extra data field (allowed)", "expense.approved.v1", func(m map[string]any) { data(m)["receipt_url"] = "https://example.com/r/1" }, nil, ""},
		{"extra attribute (allowed)", "expense.approved.v1", func(m map[string]any) { m["tracestate"] = "vendor=1" }, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := asJSON(t, readFile(t, "testdata/fixtures/"+tc.fixture+".json")).(map[string]any)
			tc.change(m)
			body, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			err = events.ValidateSchema(body)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, events.ErrUndecodable) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.at) {
				t.Fatalf("error does not point at %q: %v", tc.at, err)
			}
			var ve *jsonschema.ValidationError
			if tc.want == events.ErrMalformed && !errors.As(err, &ve) {
				t.Fatalf("no *jsonschema.ValidationError in %v", err)
			}
		})
	}
	for _, body := range []string{"{oops", `{"id":"x"}`, `[]`} {
		if err := events.ValidateSchema([]byte(body)); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%s: want ErrMalformed, got %v", body, err)
		}
	}
}

// typeConstants reads the wire types declared in types.go (the constants
// named *Type), so a new constant without a schema and fixture is noticed.
func typeConstants(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasSuffix(name.Name, "Type") {
					v, _ := strconv.Unquote(lit.Value)
					types = append(types, v)
				}
			}
		}
	}
	slices.Sort(types)
	if len(types) == 0 {
		t.Fatal("no *Type constants found in types.go")
	}
	return types
}

// typesOfFiles lists "<type>.json" files as types, leaving out the given names.
func typesOfFiles(t *testing.T, pattern string, except ...string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, f := range files {
		if base := filepath.Base(f); !slices.Contains(except, base) {
			types = append(types, strings.TrimSuffix(base, ".json"))
		}
	}
	return types
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readSchema(t *testing.T, name string) map[string]any {
	t.Helper()
	return asJSON(t, readFile(t, "schemas/"+name+".json")).(map[string]any)
}

func asJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// dig follows object keys; a missing one yields an empty object, so the
// comparison reports the missing fields instead of panicking.
func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func data(m map[string]any) map[string]any { return dig(m, "data") }

func asSlice(v any) []any { s, _ := v.([]any); return s }
