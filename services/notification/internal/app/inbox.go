package app

import (
	"context"
	"fmt"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/authz"
)

// Inbox returns the caller's own notifications, newest first, up to limit+1
// of them: the extra one tells httpx.NewPage that there is a next page.
func (a *App) Inbox(ctx context.Context, caller auth.Principal, unreadOnly bool, limit int, beforeID string) ([]Notification, error) {
	recipient, err := inboxOf(caller, ReadInbox)
	if err != nil {
		return nil, err
	}
	return a.store.List(ctx, recipient, unreadOnly, limit+1, beforeID)
}

// maxAboutOneClaim bounds SentAbout: a claim's story is a handful of
// events, each told to a few people.
const maxAboutOneClaim = 200

// SentAbout returns the notifications made about one expense, oldest first:
// every recipient's for a caller whose scope is All, else the caller's own.
func (a *App) SentAbout(ctx context.Context, caller auth.Principal, expenseID string) ([]Notification, error) {
	scope, err := Access.Allow(caller, ListSentAbout)
	if err != nil {
		return nil, err
	}
	if expenseID == "" {
		return nil, apperr.Fields([]apperr.FieldError{{Field: "expense_id", Message: "is required"}})
	}
	recipient := caller.UserID
	if scope == authz.All {
		recipient = ""
	}
	return a.store.About(ctx, expenseID, recipient, maxAboutOneClaim)
}

// MarkRead marks one of the caller's notifications read. Marking it again is
// harmless; someone else's notification is, for the caller, not found.
func (a *App) MarkRead(ctx context.Context, caller auth.Principal, id string) (Notification, error) {
	recipient, err := inboxOf(caller, MarkNotificationRead)
	if err != nil {
		return Notification{}, err
	}
	return a.store.MarkRead(ctx, recipient, id)
}

// inboxOf checks action against Access and returns whose notifications the
// caller may act on: their own. The store then looks ids up only among
// those, in the same statement that reads or marks them, so someone else's
// notification is NotFound exactly as an Own rule says, with no window
// between check and write. An inbox has no "all", so a table granting more
// than Own fails loudly instead of being quietly narrowed.
func inboxOf(caller auth.Principal, action string) (string, error) {
	scope, err := Access.Allow(caller, action)
	if err == nil && scope != authz.Own {
		err = fmt.Errorf("%s: scope %v is not supported, an inbox is its owner's only", action, scope)
	}
	return caller.UserID, err
}
