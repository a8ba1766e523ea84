package app

import (
	"context"

	"github.com/expenseflow/expenseflow/pkg/auth"
)

// Inbox returns the caller's own notifications, newest first, up to limit+1
// of them: the extra one tells httpx.NewPage that there is a next page.
// Every role has an inbox; nobody can read another's.
func (a *App) Inbox(ctx context.Context, caller auth.Principal, unreadOnly bool, limit int, beforeID string) ([]Notification, error) {
	return a.store.List(ctx, caller.UserID, unreadOnly, limit+1, beforeID)
}

// MarkRead marks one of the caller's notifications read. Marking it again is
// harmless; someone else's notification is, for the caller, not found.
func (a *App) MarkRead(ctx context.Context, caller auth.Principal, id string) (Notification, error) {
	return a.store.MarkRead(ctx, caller.UserID, id)
}
