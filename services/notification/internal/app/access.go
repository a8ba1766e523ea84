package app

import (
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Actions of the notification service: one per use case, the keys of Access.
const (
	ReadInbox            = "notifications.list"
	MarkNotificationRead = "notifications.read"
	ListSentAbout        = "notifications.sent"
)

// Access says who may do what (docs/security.md, "Authorization"): every role has an inbox, and
// nobody reads or marks another's. The owner of a notification is its
// recipient.
var Access = authz.Table{
	ReadInbox:            authz.Everyone(authz.Own),
	MarkNotificationRead: authz.Everyone(authz.Own),
	// What was said about one claim, and whether the mail went: finance
	// and auditors (and the console, as an auditor) see every recipient's,
	// anyone else only what they were told.
	ListSentAbout: {
		directory.RoleEmployee: authz.Own,
		directory.RoleManager:  authz.Own,
		directory.RoleFinance:  authz.All,
		directory.RoleAuditor:  authz.All,
	},
}
