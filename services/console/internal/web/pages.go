package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/events"
	"github.com/expenseflow/expenseflow/services/console/internal/backend"
	"github.com/expenseflow/expenseflow/services/console/internal/domain"
)

// Currencies and categories the submit form offers: the contract's lists.
var categories = []string{"travel", "meals", "lodging", "equipment", "software", "training", "other"}

func (c *Console) claimsPage(g *gin.Context) {
	q := url.Values{"limit": {"50"}}
	if s := g.Query("status"); s != "" {
		q.Set("status", s)
	}
	claims, err := c.Backend.Expenses(g.Request.Context(), token(g), q)
	data := c.base(g, "Claims")
	data["Claims"], data["Status"] = claims, g.Query("status")
	data["Currencies"], data["Categories"], data["Today"] = events.Currencies, categories, time.Now().Format(time.DateOnly)
	data["Key"] = uuid.NewString()
	if err != nil {
		data["Error"] = "approval did not answer: " + err.Error()
	}
	if msg := g.Query("error"); msg != "" {
		data["Error"] = msg
	}
	c.render(g, http.StatusOK, "claims.html", data)
}

// submit files the form's claim as the user. The form carries its own
// Idempotency-Key, made when the form was drawn: a double click or a
// resubmitted page files one claim, and gets that claim back.
func (c *Console) submit(g *gin.Context) {
	amount, err := parseAmount(g.PostForm("amount"), g.PostForm("currency"))
	if err != nil {
		g.Redirect(http.StatusSeeOther, "/claims?error="+url.QueryEscape(err.Error()))
		return
	}
	e, err := c.Backend.Submit(g.Request.Context(), token(g), g.PostForm("idempotency_key"), domain.Claim{
		AmountMinor: amount, Currency: g.PostForm("currency"), Category: g.PostForm("category"),
		Description: g.PostForm("description"), IncurredOn: g.PostForm("incurred_on"),
	})
	if err != nil {
		g.Redirect(http.StatusSeeOther, "/claims?error="+url.QueryEscape(err.Error()))
		return
	}
	g.Redirect(http.StatusSeeOther, fmt.Sprintf("/claims/%s?written=%d", e.ID, e.Version))
}

// parseAmount reads "42.50" as 4250 minor units (whole units for JPY).
func parseAmount(s, currency string) (int64, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	digits := 2
	if currency == "JPY" {
		digits = 0
	}
	if len(frac) > digits {
		return 0, fmt.Errorf("amount %q: at most %d decimals in %s", s, digits, currency)
	}
	n, err := strconv.ParseInt(whole+frac+strings.Repeat("0", digits-len(frac)), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("amount %q: a positive number, like 42.50", s)
	}
	return n, nil
}

// claimPage draws the claim; the status panel and the timeline are the
// same fragments the browser re-reads as events arrive.
func (c *Console) claimPage(g *gin.Context) {
	e, err := c.Backend.Expense(g.Request.Context(), token(g), g.Param("id"), written(g))
	if err != nil {
		c.failPage(g, err)
		return
	}
	data := c.base(g, "Claim "+e.ID)
	data["Claim"] = e
	data["Written"] = written(g)
	data["Status"] = c.status(g, e)
	data["Timeline"] = c.timeline(g.Request.Context(), e.ID)
	data["EventTypes"] = strings.Join(events.Types(), " ")
	c.render(g, http.StatusOK, "claim.html", data)
}

func written(g *gin.Context) int64 {
	n, _ := strconv.ParseInt(g.Query("written"), 10, 64)
	return n
}

func (c *Console) statusFragment(g *gin.Context) {
	e, err := c.Backend.Expense(g.Request.Context(), token(g), g.Param("id"), 0)
	if err != nil {
		g.String(statusOf(err), err.Error())
		return
	}
	c.renderFragment(g, "status", c.status(g, e))
}

func (c *Console) timelineFragment(g *gin.Context) {
	// As the user first: the timeline of a claim they may not see is a 404.
	e, err := c.Backend.Expense(g.Request.Context(), token(g), g.Param("id"), 0)
	if err != nil {
		g.String(statusOf(err), err.Error())
		return
	}
	c.renderFragment(g, "timeline", c.timeline(g.Request.Context(), e.ID))
}

// statusView is the status panel: the effects, and what the user may do.
type statusView struct {
	Claim   domain.Expense
	View    domain.View
	Written int64
	Key     string
	Can     map[string]bool
}

// status reads every owner's side of the claim at once and builds the
// panel. The user has just been shown the claim by approval, so the
// console reads its effects with its own read-only identity.
func (c *Console) status(g *gin.Context, e domain.Expense) statusView {
	ctx := g.Request.Context()
	f := domain.Facts{Expense: e, Written: written(g)}
	var wg sync.WaitGroup
	wg.Go(func() { f.Reimbursement, f.ReimbursementErr = c.Backend.Reimbursement(ctx, e.ID) })
	wg.Go(func() { f.Entries, f.EntriesErr = c.Backend.LedgerEntries(ctx, e.ID) })
	wg.Go(func() { f.Notifications, f.NotificationsErr = c.Backend.Notifications(ctx, e.ID) })
	wg.Go(func() { f.Audit, f.AuditErr = c.Backend.AuditEvents(ctx, e.ID) })
	if e.Status == "voiding" || e.Status == "voided" {
		wg.Go(func() { f.Void, f.VoidErr = c.Backend.Void(ctx, e.ID) })
	}
	wg.Wait()
	v := domain.Build(f)
	u := user(g)
	scheduled := f.Reimbursement != nil && f.Reimbursement.Status == "scheduled"
	return statusView{Claim: e, View: v, Written: f.Written, Key: uuid.NewString(), Can: map[string]bool{
		// What the services allow, so no button is offered that would only
		// be refused; the service decides anyway.
		"approve":  e.Status == "submitted" && u.Role == directory.RoleManager && e.EmployeeID != u.UserID,
		"reject":   e.Status == "submitted" && u.Role == directory.RoleManager && e.EmployeeID != u.UserID,
		"withdraw": e.Status == "submitted" && e.EmployeeID == u.UserID,
		"payouts":  scheduled && u.Role == directory.RoleFinance,
		"void":     domain.Approved(e.Status) && u.Role == directory.RoleFinance,
	}}
}

// timelineView is the claim's story across services, as the audit log
// recorded it, oldest first.
type timelineView struct {
	Events []timelineEvent
	Err    string
}

type timelineEvent struct {
	domain.AuditEvent
	TraceID   string
	TraceURL  string
	Envelope  string // indented, for the expandable view
	ShortHash string
}

func (c *Console) timeline(ctx context.Context, expenseID string) timelineView {
	evs, err := c.Backend.AuditEvents(ctx, expenseID)
	var v timelineView
	if err != nil {
		v.Err = "audit did not answer: " + err.Error()
	}
	for _, e := range evs {
		t := timelineEvent{AuditEvent: e, TraceID: TraceID(e.TraceParent), ShortHash: short(e.Hash)}
		if t.TraceID != "" && c.JaegerURL != "" {
			t.TraceURL = strings.TrimSuffix(c.JaegerURL, "/") + "/trace/" + t.TraceID
		}
		var pretty strings.Builder
		var raw any
		if json.Unmarshal(e.Raw, &raw) == nil {
			enc := json.NewEncoder(&pretty)
			enc.SetIndent("", "  ")
			_ = enc.Encode(raw)
		}
		t.Envelope = pretty.String()
		v.Events = append(v.Events, t)
	}
	return v
}

// TraceID is the trace id of a W3C traceparent ("00-<trace>-<span>-<flags>").
func TraceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// decide sends the user's approve, reject or withdraw to approval, then
// shows the claim waiting for the version it wrote.
func (c *Console) decide(g *gin.Context) {
	verb := g.Param("verb")
	if verb != "approve" && verb != "reject" && verb != "withdraw" && verb != "void" {
		g.String(http.StatusNotFound, "no such action")
		return
	}
	id := g.Param("id")
	e, err := c.Backend.Decide(g.Request.Context(), token(g), g.PostForm("idempotency_key"), id, verb, g.PostForm("reason"))
	if err != nil {
		g.Redirect(http.StatusSeeOther, "/claims/"+url.PathEscape(id)+"?error="+url.QueryEscape(err.Error()))
		return
	}
	g.Redirect(http.StatusSeeOther, fmt.Sprintf("/claims/%s?written=%d", url.PathEscape(e.ID), e.Version))
}

// runPayouts runs a payout batch as the user (finance), then goes back to
// the claim it was pressed on.
func (c *Console) runPayouts(g *gin.Context) {
	back := "/claims"
	if id := g.PostForm("claim"); id != "" {
		back = "/claims/" + url.PathEscape(id)
	}
	sum, err := c.Backend.RunPayouts(g.Request.Context(), token(g), g.PostForm("idempotency_key"))
	msg := fmt.Sprintf("payout batch: %d paid, %d failed, %d retrying", sum.Paid, sum.Failed, sum.Retrying)
	if err != nil {
		msg = err.Error()
	}
	g.Redirect(http.StatusSeeOther, back+"?notice="+url.QueryEscape(msg))
}

// base is what every page's layout needs.
func (c *Console) base(g *gin.Context, title string) map[string]any {
	return map[string]any{"Title": title, "User": user(g), "Notice": g.Query("notice"), "Error": g.Query("error")}
}

// failPage shows a service's refusal as a page with its status: 404 for a
// claim the user may not see, 503 when approval is down.
func (c *Console) failPage(g *gin.Context, err error) {
	data := c.base(g, "Not available")
	data["Error"] = err.Error()
	c.render(g, statusOf(err), "error.html", data)
}

func statusOf(err error) int {
	if s := backend.Status(err); s >= 400 {
		return s
	}
	return http.StatusServiceUnavailable
}

var funcs = template.FuncMap{
	"money": domain.Money,
	"since": func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05.000") },
	"words": strings.Fields,
}

func (c *Console) parseTemplates() error {
	c.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		page := strings.TrimPrefix(n, "templates/")
		if page == "layout.html" || page == "fragments.html" {
			continue
		}
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/fragments.html", n)
		if err != nil {
			return err
		}
		c.pages[page] = t
	}
	frags, err := template.New("fragments").Funcs(funcs).ParseFS(templateFiles, "templates/fragments.html")
	if err != nil {
		return err
	}
	c.pages["fragments"] = frags
	return nil
}

func (c *Console) render(g *gin.Context, status int, page string, data any) {
	g.Status(status)
	g.Header("Content-Type", "text/html; charset=utf-8")
	if err := c.pages[page].ExecuteTemplate(g.Writer, "layout", data); err != nil {
		c.Log.Error("render", "page", page, "error", err)
	}
}

func (c *Console) renderFragment(g *gin.Context, name string, data any) {
	g.Header("Content-Type", "text/html; charset=utf-8")
	g.Header("Cache-Control", "no-store")
	if err := c.pages["fragments"].ExecuteTemplate(g.Writer, name, data); err != nil {
		c.Log.Error("render", "fragment", name, "error", err)
	}
}
