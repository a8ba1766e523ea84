package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/directory"
)

func (c *Console) systemPage(g *gin.Context) {
	data := c.base(g, "System")
	data["Overview"] = c.System.Overview(g.Request.Context())
	period := time.Now().UTC().Format("2006-01")
	budgets, err := c.Backend.Budgets(g.Request.Context(), period)
	data["Period"], data["Budgets"] = period, budgets
	if err != nil {
		data["BudgetsErr"] = "accounting did not answer: " + err.Error()
	}
	data["CanReplay"] = c.System.CanReplay() && user(g).Role == directory.RoleFinance
	c.render(g, http.StatusOK, "system.html", data)
}

// replay sends one dead letter back to the queue it failed in: finance
// only, as the operator's broker user (the one a consumer believes a
// replay from). Safe to press twice: consumers are idempotent, and a
// letter already replayed is no longer there.
func (c *Console) replay(g *gin.Context) {
	if user(g).Role != directory.RoleFinance {
		g.Redirect(http.StatusSeeOther, "/system?error="+url.QueryEscape("only finance replays dead letters"))
		return
	}
	service, id := g.Param("service"), g.Param("id")
	ok, err := c.System.Replay(g.Request.Context(), service, id)
	msg := "replayed " + id + " to " + service
	switch {
	case err != nil:
		g.Redirect(http.StatusSeeOther, "/system?error="+url.QueryEscape(err.Error()))
		return
	case !ok:
		msg = id + " is no longer among " + service + "'s dead letters (replayed already?)"
	}
	c.Log.Info("dead letter replayed from the console", "service", service, "message_id", id, "by", user(g).UserID)
	g.Redirect(http.StatusSeeOther, "/system?notice="+url.QueryEscape(msg))
}
