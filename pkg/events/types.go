package events

// Wire names of every event type and version. These strings are routing keys
// and stored history: never rename one, add a new version instead.
const (
	ExpenseSubmittedV1Type = "expense.submitted.v1"
	ExpenseSubmittedV2Type = "expense.submitted.v2"
	ExpenseApprovedV1Type  = "expense.approved.v1"
	ExpenseRejectedV1Type  = "expense.rejected.v1"
	ExpenseWithdrawnV1Type = "expense.withdrawn.v1"
	// Void (docs/patterns/choreography-and-orchestration.md): finance takes
	// an approval back; approval's orchestrator drives it.
	ExpenseVoidRequestedV1Type = "expense.void_requested.v1"
	ExpenseVoidedV1Type        = "expense.voided.v1"

	ReimbursementScheduledV1Type = "reimbursement.scheduled.v1"
	ReimbursementPaidV1Type      = "reimbursement.paid.v1"
	ReimbursementFailedV1Type    = "reimbursement.failed.v1"
	// The replies to StopPayoutV1: stopped, or too late (it was paid).
	ReimbursementCancelledV1Type            = "reimbursement.cancelled.v1"
	ReimbursementCancellationDeclinedV1Type = "reimbursement.cancellation_declined.v1"

	LedgerEntryPostedV1Type = "ledger.entry_posted.v1"

	// The public edge (docs/patterns/webhooks.md): an endpoint that kept
	// failing was disabled.
	WebhookEndpointDisabledV1Type = "webhook.endpoint_disabled.v1"
)

// Wire names of the commands: requests to one service, sent on the
// commands exchange with the type as routing key (<owner>.<verb>.v<N>),
// in the same envelope as events. The owner answers with events.
const (
	StopPayoutV1Type    = "reimbursement.stop_payout.v1"
	PostVoidEntryV1Type = "accounting.post_void_entry.v1"
)

// Sources: the service names used in the envelope's source attribute.
const (
	SourceApproval      = "approval"
	SourceAccounting    = "accounting"
	SourceReimbursement = "reimbursement"
	SourceNotification  = "notification"
	SourceAudit         = "audit"
	SourceWebhooks      = "webhooks"
)
