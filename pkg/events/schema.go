package events

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFiles holds one JSON Schema per event type and version, named
// "<type>.json", plus envelope.json, which they all reference. They describe
// the whole wire message, so other languages and docs/asyncapi.yaml can use
// them without reading Go.
//
//go:embed schemas/*.json
var schemaFiles embed.FS

// envelopeSchema is the shared part; it is not an event type.
const envelopeSchema = "envelope.json"

// schemas compiles the embedded schemas on first use, keyed by event type.
// A schema that does not compile is a bug in this package, not bad input, so
// it panics (and the tests, which compile them all, catch it first).
var schemas = sync.OnceValue(func() map[string]*jsonschema.Schema {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat() // without it "uuid", "date" and "date-time" are mere annotations
	names, err := fs.Glob(schemaFiles, "schemas/*.json")
	if err != nil {
		panic(err)
	}
	// Register every file under the URL it is published at, so the
	// relative "$ref": "envelope.json" resolves without any network access.
	for _, name := range names {
		b, err := schemaFiles.ReadFile(name)
		if err != nil {
			panic(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			panic(fmt.Sprintf("events: embedded %s: %v", name, err))
		}
		if err := c.AddResource(SchemaURI(strings.TrimSuffix(path.Base(name), ".json")), doc); err != nil {
			panic(err)
		}
	}
	compiled := make(map[string]*jsonschema.Schema)
	for _, name := range names {
		if path.Base(name) == envelopeSchema {
			continue
		}
		eventType := strings.TrimSuffix(path.Base(name), ".json")
		compiled[eventType] = c.MustCompile(SchemaURI(eventType))
	}
	return compiled
})

// ValidateSchema checks a wire message against the JSON Schema of the type
// named in its envelope. It is the language-neutral contract, checked
// independently of Decode: the end-to-end tests run it on every event the
// services publish.
//
// Errors wrap ErrMalformed (not JSON, no type, or breaks the schema; a
// *jsonschema.ValidationError is available through errors.As) or
// ErrUnknownType (no schema for the type), so a consumer can dead-letter
// them like Decode errors.
func ValidateSchema(body []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	obj, _ := doc.(map[string]any)
	eventType, _ := obj["type"].(string)
	if eventType == "" {
		return fmt.Errorf("%w: type: required", ErrMalformed)
	}
	s, ok := schemas()[eventType]
	if !ok {
		return fmt.Errorf("%w: no schema for %q", ErrUnknownType, eventType)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, eventType, err)
	}
	return nil
}
