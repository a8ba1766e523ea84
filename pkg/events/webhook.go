package events

import "time"

// WebhookEndpointDisabledV1: the webhooks service stopped sending to an
// endpoint that kept failing (FailedInARow deliveries in a row used up
// their attempts); finance is told, and enables it again once the
// receiver is fixed. The subject is the endpoint.
type WebhookEndpointDisabledV1 struct {
	EndpointID   string    `json:"endpoint_id"`
	URL          string    `json:"url"`
	Reason       string    `json:"reason"`
	FailedInARow int       `json:"failed_in_a_row"`
	DisabledAt   time.Time `json:"disabled_at"`
}

func (WebhookEndpointDisabledV1) EventType() string   { return WebhookEndpointDisabledV1Type }
func (p WebhookEndpointDisabledV1) SubjectID() string { return p.EndpointID }

func (p WebhookEndpointDisabledV1) Validate() error {
	return check(id("endpoint_id", p.EndpointID), required("url", p.URL), required("reason", p.Reason))
}
