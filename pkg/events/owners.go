package events

import (
	"errors"
	"fmt"
	"strings"
)

// Every event type has exactly one publisher: the service that owns the
// aggregate the event is about. The broker authenticates each service as its
// own user, stamps that user on every message it accepts (the AMQP user-id
// property, which RabbitMQ refuses to let a publisher fake), and lets a user
// publish only its own routing keys; a consumer then checks the stamp against
// this table before it acts on anything (docs/security.md, "The bus").
// A broker user is named after its service.
var owners = map[string]string{
	"expense":       SourceApproval,
	"reimbursement": SourceReimbursement,
	"ledger":        SourceAccounting,
	"webhook":       SourceWebhooks,
}

// commandSenders says who alone may send each command, by its type without
// the version: a command is addressed to its owner (the first word of its
// type) but sent by the service that asks, here approval's void
// orchestrator.
var commandSenders = map[string]string{
	"reimbursement.stop_payout":  SourceApproval,
	"accounting.post_void_entry": SourceApproval,
}

// SendsCommands reports whether service sends any command: its broker
// user may then write to the commands exchange.
func SendsCommands(service string) bool {
	for _, sender := range commandSenders {
		if sender == service {
			return true
		}
	}
	return false
}

// IsCommand reports whether a wire type is a command (sent on the commands
// exchange) rather than an event.
func IsCommand(messageType string) bool {
	family, _, ok := splitVersion(messageType)
	_, command := commandSenders[family]
	return ok && command
}

// Owner returns the service that alone may publish messages of eventType
// (e.g. "expense.approved.v1" → "approval"; for a command, the service that
// sends it: "reimbursement.stop_payout.v1" → "approval"), and false for a
// type no service owns. An event's owner is decided by the first word of
// the type, so a new version or a new event of an existing aggregate needs
// no entry here.
func Owner(eventType string) (string, bool) {
	if family, _, ok := splitVersion(eventType); ok {
		if sender, ok := commandSenders[family]; ok {
			return sender, true
		}
	}
	aggregate, _, _ := strings.Cut(eventType, ".")
	service, ok := owners[aggregate]
	return service, ok
}

// OwnedRoutingKeys returns the routing-key prefixes service may publish
// (e.g. "expense." for approval), sorted: the broker's topic permissions
// are built from them.
func OwnedRoutingKeys(service string) []string {
	var keys []string
	for _, aggregate := range []string{"expense", "ledger", "reimbursement", "webhook"} {
		if owners[aggregate] == service {
			keys = append(keys, aggregate+".")
		}
	}
	return keys
}

// ErrForged is wrapped by CheckPublisher's errors: the message did not come
// from the service that owns its type.
var ErrForged = errors.New("not published by the owner of its event type")

// CheckPublisher checks that publisher, the broker user that published an
// event (its user-id property, "" if it had none), is the owner of
// eventType.
func CheckPublisher(eventType, publisher string) error {
	owner, ok := Owner(eventType)
	switch {
	case !ok:
		return fmt.Errorf("%w: no service publishes %q", ErrForged, eventType)
	case publisher == "":
		return fmt.Errorf("%w: %s is published only by %s, and this message carries no user-id", ErrForged, eventType, owner)
	case publisher != owner:
		return fmt.Errorf("%w: %s is published only by %s, and this message was published by broker user %q", ErrForged, eventType, owner, publisher)
	}
	return nil
}
