package events

// Wire names of every event type and version. These strings are routing keys
// and stored history: never rename one, add a new version instead.
const (
	ExpenseSubmittedV1Type = "expense.submitted.v1"
	ExpenseSubmittedV2Type = "expense.submitted.v2"
	ExpenseApprovedV1Type  = "expense.approved.v1"
	ExpenseRejectedV1Type  = "expense.rejected.v1"
	ExpenseWithdrawnV1Type = "expense.withdrawn.v1"

	ReimbursementScheduledV1Type = "reimbursement.scheduled.v1"
	ReimbursementPaidV1Type      = "reimbursement.paid.v1"
	ReimbursementFailedV1Type    = "reimbursement.failed.v1"

	LedgerEntryPostedV1Type = "ledger.entry_posted.v1"
)

// Sources: the service names used in the envelope's source attribute.
const (
	SourceApproval      = "approval"
	SourceAccounting    = "accounting"
	SourceReimbursement = "reimbursement"
	SourceNotification  = "notification"
	SourceAudit         = "audit"
)
