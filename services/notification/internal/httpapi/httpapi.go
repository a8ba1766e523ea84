// Package httpapi is the notification service's REST edge: the caller's own
// inbox and marking a notification read. Errors go to httpx.WriteError,
// which turns them into problem+json.
package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/notification/internal/app"
)

// Register mounts the notification routes on api (the authenticated /v1
// group), each with the action of app.Access its use case checks.
func Register(api *httpx.Routes, a *app.App) {
	h := handlers{app: a}
	api.Handle(http.MethodGet, "/notifications", app.ReadInbox, h.list)
	api.Handle(http.MethodPost, "/notifications/:id/read", app.MarkNotificationRead, h.markRead)
	api.Handle(http.MethodGet, "/notifications/sent", app.ListSentAbout, h.sent)
}

type handlers struct{ app *app.App }

// notificationResponse is the notification resource of docs/openapi/notification.yaml. The
// recipient is always the caller, and delivery is the service's business.
type notificationResponse struct {
	ID        string    `json:"id"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	ExpenseID string    `json:"expense_id"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	Read      bool      `json:"read"`
	CreatedAt time.Time `json:"created_at"`
}

func (h handlers) list(c *gin.Context) {
	unreadOnly, limit, beforeID, err := inboxQuery(c)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	ns, err := h.app.Inbox(c.Request.Context(), auth.PrincipalOf(c), unreadOnly, limit, beforeID)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]notificationResponse, len(ns))
	for i, n := range ns {
		out[i] = fromNotification(n)
	}
	c.JSON(http.StatusOK, httpx.NewPage(out, limit, func(n notificationResponse) string { return n.ID }))
}

// inboxQuery reads ?unread=, ?limit= and ?cursor= (the id of the last
// notification of the previous page).
func inboxQuery(c *gin.Context) (unreadOnly bool, limit int, beforeID string, err error) {
	limit, before, err := httpx.ListParams[string](c)
	if err != nil {
		return false, 0, "", err
	}
	if before != nil {
		if uuid.Validate(*before) != nil {
			return false, 0, "", apperr.Fields([]apperr.FieldError{{Field: "cursor", Message: "is not a cursor this API issued"}})
		}
		beforeID = *before
	}
	if s := c.Query("unread"); s != "" {
		if unreadOnly, err = strconv.ParseBool(s); err != nil {
			return false, 0, "", apperr.Fields([]apperr.FieldError{{Field: "unread", Message: "must be true or false"}})
		}
	}
	return unreadOnly, limit, beforeID, nil
}

// sentResponse is a notification as finance, an auditor or the console
// sees it among those about one claim: to whom, and whether the mail went.
type sentResponse struct {
	notificationResponse
	RecipientID    string `json:"recipient_id"`
	DeliveryStatus string `json:"delivery_status"`
}

func (h handlers) sent(c *gin.Context) {
	ns, err := h.app.SentAbout(c.Request.Context(), auth.PrincipalOf(c), c.Query("expense_id"))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]sentResponse, len(ns))
	for i, n := range ns {
		out[i] = sentResponse{notificationResponse: fromNotification(n), RecipientID: n.RecipientID, DeliveryStatus: n.DeliveryStatus}
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (h handlers) markRead(c *gin.Context) {
	id, err := httpx.PathID(c, "notification")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	n, err := h.app.MarkRead(c.Request.Context(), auth.PrincipalOf(c), id)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, fromNotification(n))
}

func fromNotification(n app.Notification) notificationResponse {
	return notificationResponse{
		ID: n.ID, EventID: n.EventID, EventType: n.EventType, ExpenseID: n.ExpenseID,
		Subject: n.Subject, Body: n.Body, Read: n.Read, CreatedAt: n.CreatedAt,
	}
}
