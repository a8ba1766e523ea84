package events

import (
	"maps"
	"slices"
)

// DecoderTypes exposes the keys of the decoders map to the external tests,
// which check that each one has a schema and a fixture.
func DecoderTypes() []string { return slices.Sorted(maps.Keys(decoders)) }
