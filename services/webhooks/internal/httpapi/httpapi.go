// Package httpapi is the webhooks service's REST edge (docs/openapi/
// webhooks.yaml): finance's endpoints, their deliveries and attempts.
// Errors go to httpx.WriteError, which turns them into problem+json.
package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/app"
	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// Register mounts the webhooks routes on api (the authenticated /v1
// group), each with the action of app.Access its use case checks.
func Register(api *httpx.Routes, a *app.App) {
	h := handlers{app: a}
	api.Handle(http.MethodPost, "/webhooks/endpoints", app.CreateEndpoint, h.create)
	api.Handle(http.MethodGet, "/webhooks/endpoints", app.ListEndpoints, h.list)
	api.Handle(http.MethodGet, "/webhooks/endpoints/:id", app.ReadEndpoint, h.get)
	api.Handle(http.MethodDelete, "/webhooks/endpoints/:id", app.DeleteEndpoint, h.delete)
	api.Handle(http.MethodPost, "/webhooks/endpoints/:id/rotate-secret", app.RotateSecret, h.rotate)
	api.Handle(http.MethodPost, "/webhooks/endpoints/:id/enable", app.EnableEndpoint, h.enable)
	api.Handle(http.MethodGet, "/webhooks/endpoints/:id/deliveries", app.ListDeliveries, h.deliveries)
	api.Handle(http.MethodGet, "/webhooks/deliveries/:id", app.ReadDelivery, h.delivery)
	api.Handle(http.MethodPost, "/webhooks/deliveries/:id/redeliver", app.RedeliverAction, h.redeliver)
}

type handlers struct{ app *app.App }

type endpointRequest struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
}

// endpointResponse is the endpoint resource. Secret is set only in the
// answers that create or rotate it.
type endpointResponse struct {
	ID                  string     `json:"id"`
	URL                 string     `json:"url"`
	EventTypes          []string   `json:"event_types"`
	Description         string     `json:"description"`
	Status              string     `json:"status"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	PreviousSecretUntil *time.Time `json:"previous_secret_valid_until,omitempty"`
	Secret              string     `json:"secret,omitempty"`
	CreatedBy           string     `json:"created_by"`
	CreatedAt           time.Time  `json:"created_at"`
}

func fromEndpoint(e *domain.Endpoint, withSecret bool) endpointResponse {
	r := endpointResponse{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description,
		Status: e.Status, DisabledReason: e.DisabledReason, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt}
	if e.PreviousSecret != "" && e.PreviousUntil != nil && time.Now().Before(*e.PreviousUntil) {
		r.PreviousSecretUntil = e.PreviousUntil
	}
	if withSecret {
		r.Secret = e.Secret
	}
	return r
}

// deliveryResponse is the delivery resource; one read on its own also
// lists its attempts.
type deliveryResponse struct {
	ID             string            `json:"id"`
	EndpointID     string            `json:"endpoint_id"`
	EventID        string            `json:"event_id"`
	EventType      string            `json:"event_type"`
	Status         string            `json:"status"`
	Attempts       int               `json:"attempts"`
	LastStatusCode *int              `json:"last_status_code"`
	LastError      string            `json:"last_error,omitempty"`
	NextAttemptAt  *time.Time        `json:"next_attempt_at"`
	DeliveredAt    *time.Time        `json:"delivered_at,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	AttemptLog     []attemptResponse `json:"attempt_log,omitempty"`
}

type attemptResponse struct {
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMs int64     `json:"duration_ms"`
}

// statusCode is nil for "no answer" (0): null in JSON, not a status.
func statusCode(code int) *int {
	if code == 0 {
		return nil
	}
	return &code
}

func fromDelivery(d *domain.Delivery) deliveryResponse {
	r := deliveryResponse{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType,
		Status: d.Status, Attempts: d.Attempts, LastStatusCode: statusCode(d.LastStatusCode), LastError: d.LastError,
		DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt}
	if d.Status == domain.DeliveryPending {
		r.NextAttemptAt = &d.NextAttemptAt
	}
	return r
}

func (h handlers) create(c *gin.Context) {
	var in endpointRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.WriteError(c, err)
		return
	}
	e, err := h.app.CreateEndpoint(c.Request.Context(), auth.PrincipalOf(c),
		app.NewEndpoint{URL: in.URL, EventTypes: in.EventTypes, Description: in.Description})
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.Header("Location", "/v1/webhooks/endpoints/"+e.ID)
	c.JSON(http.StatusCreated, fromEndpoint(e, true))
}

func (h handlers) list(c *gin.Context) {
	es, err := h.app.Endpoints(c.Request.Context(), auth.PrincipalOf(c))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]endpointResponse, len(es))
	for i := range es {
		out[i] = fromEndpoint(&es[i], false)
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

// withEndpoint runs one use case on the endpoint named in the path and
// answers with it (and its secret, if withSecret).
func (h handlers) withEndpoint(c *gin.Context, withSecret bool, use func(app *app.App, caller auth.Principal, id string) (*domain.Endpoint, error)) {
	id, err := httpx.PathID(c, "webhook endpoint")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	e, err := use(h.app, auth.PrincipalOf(c), id)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, fromEndpoint(e, withSecret))
}

func (h handlers) get(c *gin.Context) {
	h.withEndpoint(c, false, func(a *app.App, caller auth.Principal, id string) (*domain.Endpoint, error) {
		return a.Endpoint(c.Request.Context(), caller, id)
	})
}

func (h handlers) rotate(c *gin.Context) {
	h.withEndpoint(c, true, func(a *app.App, caller auth.Principal, id string) (*domain.Endpoint, error) {
		return a.RotateSecret(c.Request.Context(), caller, id)
	})
}

func (h handlers) enable(c *gin.Context) {
	h.withEndpoint(c, false, func(a *app.App, caller auth.Principal, id string) (*domain.Endpoint, error) {
		return a.EnableEndpoint(c.Request.Context(), caller, id)
	})
}

func (h handlers) delete(c *gin.Context) {
	id, err := httpx.PathID(c, "webhook endpoint")
	if err == nil {
		err = h.app.DeleteEndpoint(c.Request.Context(), auth.PrincipalOf(c), id)
	}
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h handlers) deliveries(c *gin.Context) {
	id, err := httpx.PathID(c, "webhook endpoint")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	limit, before, err := httpx.ListParams[string](c)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	var beforeID string
	if before != nil {
		if uuid.Validate(*before) != nil {
			httpx.WriteError(c, apperr.Fields([]apperr.FieldError{{Field: "cursor", Message: "is not a cursor this API issued"}}))
			return
		}
		beforeID = *before
	}
	ds, err := h.app.Deliveries(c.Request.Context(), auth.PrincipalOf(c), id, c.Query("status"), limit, beforeID)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := make([]deliveryResponse, len(ds))
	for i := range ds {
		out[i] = fromDelivery(&ds[i])
	}
	c.JSON(http.StatusOK, httpx.NewPage(out, limit, func(d deliveryResponse) string { return d.ID }))
}

func (h handlers) delivery(c *gin.Context) {
	id, err := httpx.PathID(c, "webhook delivery")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	d, attempts, err := h.app.Delivery(c.Request.Context(), auth.PrincipalOf(c), id)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	out := fromDelivery(d)
	out.AttemptLog = make([]attemptResponse, len(attempts))
	for i, a := range attempts {
		out.AttemptLog[i] = attemptResponse{At: a.At, StatusCode: statusCode(a.StatusCode), Error: a.Error, DurationMs: a.Duration.Milliseconds()}
	}
	c.JSON(http.StatusOK, out)
}

func (h handlers) redeliver(c *gin.Context) {
	id, err := httpx.PathID(c, "webhook delivery")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	d, err := h.app.Redeliver(c.Request.Context(), auth.PrincipalOf(c), id)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, fromDelivery(d))
}
