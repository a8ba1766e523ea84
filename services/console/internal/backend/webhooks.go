package backend

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WebhookEndpoint is a receiver finance registered (services/webhooks);
// Secret is set only in the answer that made or rotated it.
type WebhookEndpoint struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	EventTypes     []string  `json:"event_types"`
	Description    string    `json:"description"`
	Status         string    `json:"status"`
	DisabledReason string    `json:"disabled_reason"`
	Secret         string    `json:"secret"`
	CreatedAt      time.Time `json:"created_at"`
}

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

// WebhookEndpoints lists the endpoints, as the user: finance and auditors
// may, anyone else is refused by the webhooks service.
func (b *Backend) WebhookEndpoints(ctx context.Context, token string) ([]WebhookEndpoint, error) {
	var p page[WebhookEndpoint]
	err := b.get(ctx, token, b.urls.Webhooks+"/v1/webhooks/endpoints", &p)
	return p.Items, err
}

// WebhookDeliveries lists an endpoint's latest n deliveries, as the user.
func (b *Backend) WebhookDeliveries(ctx context.Context, token, endpointID string, n int) ([]WebhookDelivery, error) {
	var p page[WebhookDelivery]
	err := b.get(ctx, token, b.urls.Webhooks+"/v1/webhooks/endpoints/"+url.PathEscape(endpointID)+"/deliveries?limit="+strconv.Itoa(n), &p)
	return p.Items, err
}

// RegisterWebhook registers an endpoint as the user (finance); the answer
// holds its secret.
func (b *Backend) RegisterWebhook(ctx context.Context, token, key, target string, eventTypes []string, description string) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	body := map[string]any{"url": target, "event_types": eventTypes, "description": description}
	err := b.send(ctx, http.MethodPost, b.urls.Webhooks+"/v1/webhooks/endpoints", token, key, body, &e)
	return e, err
}

// WebhookCommand is one of finance's commands on an endpoint ("rotate-secret",
// "enable") or a delivery ("redeliver"), as the user. The endpoint commands
// answer with the endpoint (with its new secret after a rotation).
func (b *Backend) WebhookCommand(ctx context.Context, token, key, resource, id, verb string) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	var out any = &e
	if resource == "deliveries" {
		out = nil
	}
	err := b.send(ctx, http.MethodPost, b.urls.Webhooks+"/v1/webhooks/"+resource+"/"+url.PathEscape(id)+"/"+verb, token, key, nil, out)
	return e, err
}
