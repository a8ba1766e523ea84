// Package events is the message contract of expenseflow and nothing else:
// the CloudEvents-style envelope, one payload struct per event type and
// version, constructors, and Decode, which upcasts older versions so a
// consumer only ever sees the newest one.
//
// Rules the rest of the code relies on:
//   - A type string (e.g. "expense.approved.v1") is the routing key on the
//     exchange and never changes once published. Go names may change; wire
//     names are the constants in types.go.
//   - Money is amount_minor (int64 minor units) plus an ISO 4217 currency.
//   - Every event about an expense carries expense_id in its data.
//   - schemas/<type>.json is the same contract as JSON Schema, for other
//     languages and docs/asyncapi.yaml; ValidateSchema checks a message
//     against it, and the tests keep schemas, Go structs and the golden
//     fixtures in testdata/fixtures in agreement.
//   - Decode never guesses: malformed input, an unknown type or a version
//     newer than this build knows is an error wrapping ErrUndecodable, which
//     consumers route to the dead-letter queue instead of dropping.
package events
