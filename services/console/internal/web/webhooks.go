package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/services/console/internal/backend"
)

// recentDeliveries is how many of each endpoint's deliveries the page shows.
const recentDeliveries = 10

// endpointView is an endpoint with its latest deliveries.
type endpointView struct {
	backend.WebhookEndpoint
	Deliveries    []backend.WebhookDelivery
	DeliveriesErr string
}

// webhooksPage shows the endpoints and their latest deliveries, read as
// the user: the webhooks service decides who may see them (finance,
// auditors). secret, when set, is the one just made: shown this once.
func (c *Console) webhooksPage(g *gin.Context, status int, secret *backend.WebhookEndpoint) {
	data := c.base(g, "Webhooks")
	ctx := g.Request.Context()
	endpoints, err := c.Backend.WebhookEndpoints(ctx, token(g))
	if err != nil {
		data["Error"] = "webhooks: " + err.Error()
	}
	views := make([]endpointView, len(endpoints))
	for i, e := range endpoints {
		views[i].WebhookEndpoint = e
		if views[i].Deliveries, err = c.Backend.WebhookDeliveries(ctx, token(g), e.ID, recentDeliveries); err != nil {
			views[i].DeliveriesErr = err.Error()
		}
	}
	data["Endpoints"], data["Fresh"], data["Key"] = views, secret, uuid.NewString()
	data["CanManage"] = user(g).Role == directory.RoleFinance
	c.render(g, status, "webhooks.html", data)
}

func (c *Console) showWebhooks(g *gin.Context) { c.webhooksPage(g, http.StatusOK, nil) }

// registerWebhook registers the form's endpoint as the user. The answer
// holds the secret: the page is drawn with it, never redirected to (a
// secret in a URL would end up in history and logs).
func (c *Console) registerWebhook(g *gin.Context) {
	var types []string
	for _, t := range strings.FieldsFunc(g.PostForm("event_types"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		types = append(types, strings.TrimSpace(t))
	}
	e, err := c.Backend.RegisterWebhook(g.Request.Context(), token(g), g.PostForm("idempotency_key"), g.PostForm("url"), types, g.PostForm("description"))
	if err != nil {
		g.Redirect(http.StatusSeeOther, "/webhooks?error="+url.QueryEscape(err.Error()))
		return
	}
	c.webhooksPage(g, http.StatusOK, &e)
}

// webhookCommand runs finance's command on an endpoint (rotate-secret,
// enable) or a delivery (redeliver), as the user.
func (c *Console) webhookCommand(g *gin.Context) {
	resource, verb := g.Param("resource"), g.Param("verb")
	allowed := map[string]bool{"endpoints/rotate-secret": true, "endpoints/enable": true, "deliveries/redeliver": true}
	if !allowed[resource+"/"+verb] {
		g.Redirect(http.StatusSeeOther, "/webhooks?error="+url.QueryEscape("no such command"))
		return
	}
	e, err := c.Backend.WebhookCommand(g.Request.Context(), token(g), g.PostForm("idempotency_key"), resource, g.Param("id"), verb)
	switch {
	case err != nil:
		g.Redirect(http.StatusSeeOther, "/webhooks?error="+url.QueryEscape(err.Error()))
	case verb == "rotate-secret":
		c.webhooksPage(g, http.StatusOK, &e)
	case verb == "enable":
		g.Redirect(http.StatusSeeOther, "/webhooks?notice="+url.QueryEscape("enabled "+e.URL+": what failed while it was disabled is being sent"))
	default:
		g.Redirect(http.StatusSeeOther, "/webhooks?notice="+url.QueryEscape("delivery "+g.Param("id")+" is due again now"))
	}
}
