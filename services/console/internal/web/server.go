// Package web is the console's HTTP edge: server-rendered pages (Go's
// html/template), a little JavaScript that listens to the live feed and
// re-reads fragments of the page from the server, and the /events stream.
// docs/adr/0015-console-server-rendered.md says why it is built this way.
//
// The console keeps no business data and decides nothing: every page is
// read from the services at the moment it is drawn, every button is the
// signed-in user's own call to the service that owns the decision, and the
// services' own authorization answers it.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/services/console/internal/backend"
	"github.com/expenseflow/expenseflow/services/console/internal/live"
	"github.com/expenseflow/expenseflow/services/console/internal/system"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Console is everything the pages need.
type Console struct {
	Backend   *backend.Backend
	Feed      *live.Feed
	System    *system.Broker
	JWT       auth.Config
	Verifier  *auth.Verifier
	Directory directory.Directory
	// DemoSignIn offers "sign in as" buttons for the demo users (DEV_MODE):
	// the console mints their tokens, which is only fine on a laptop.
	DemoSignIn bool
	SessionTTL time.Duration
	// JaegerURL, when set, links each trace id to its trace.
	JaegerURL string
	Log       *slog.Logger

	pages map[string]*template.Template
}

// Mount adds the console's routes to r (an httpx engine: /healthz,
// /readyz, /metrics and the shared middleware are already there).
func (c *Console) Mount(r *gin.Engine) error {
	if err := c.parseTemplates(); err != nil {
		return err
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return err
	}
	r.StaticFS("/static", http.FS(static))

	r.GET("/", c.signInPage)
	r.POST("/sign-in", sameOrigin, c.signIn)
	r.POST("/sign-out", sameOrigin, c.signOut)

	// Everything else needs a signed-in user: the session cookie or a bearer
	// token.
	in := r.Group("", c.authenticate)
	in.GET("/claims", c.claimsPage)
	in.POST("/claims", sameOrigin, c.submit)
	in.GET("/claims/:id", c.claimPage)
	in.GET("/claims/:id/status", c.statusFragment)
	in.GET("/claims/:id/timeline", c.timelineFragment)
	in.POST("/claims/:id/:verb", sameOrigin, c.decide)
	in.POST("/payouts", sameOrigin, c.runPayouts)
	in.GET("/system", c.systemPage)
	in.POST("/system/dead-letters/:service/:id/replay", sameOrigin, c.replay)
	in.GET("/webhooks", c.showWebhooks)
	in.POST("/webhooks", sameOrigin, c.registerWebhook)
	in.POST("/webhooks/:resource/:id/:verb", sameOrigin, c.webhookCommand)
	in.GET("/events", c.events)
	return nil
}

// sameOrigin refuses a state-changing request another site's page sent.
// The session cookie is SameSite=Strict, so such a request would arrive
// without it anyway; checking Origin as well costs nothing.
func sameOrigin(g *gin.Context) {
	if o := g.GetHeader("Origin"); o != "" && o != "http://"+g.Request.Host && o != "https://"+g.Request.Host {
		g.AbortWithStatus(http.StatusForbidden)
	}
}
