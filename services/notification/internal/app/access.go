package app

import "github.com/expenseflow/expenseflow/pkg/authz"

// Actions of the notification service: one per use case, the keys of Access.
const (
	ReadInbox            = "notifications.list"
	MarkNotificationRead = "notifications.read"
)

// Access says who may do what (docs/security.md, "Authorization"): every role has an inbox, and
// nobody reads or marks another's. The owner of a notification is its
// recipient.
var Access = authz.Table{
	ReadInbox:            authz.Everyone(authz.Own),
	MarkNotificationRead: authz.Everyone(authz.Own),
}
