package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/httpx"
)

// The session is the user's token itself, in a cookie the page's scripts
// cannot read (HttpOnly) and other sites cannot make the browser send
// (SameSite=Strict). The console stores nothing: signing out deletes the
// cookie, and the token expires on its own.
const sessionCookie = "expenseflow_session"

const (
	userKey  = "console.user"
	tokenKey = "console.token"
)

// authenticate takes the bearer token, else the session cookie. A page
// without either goes to the sign-in page; an API-like request (/events,
// a fragment) gets a 401 problem.
func (c *Console) authenticate(g *gin.Context) {
	token, ok := strings.CutPrefix(g.GetHeader("Authorization"), "Bearer ")
	if !ok {
		if cookie, err := g.Cookie(sessionCookie); err == nil {
			token = cookie
		}
	}
	p, err := c.Verifier.Verify(strings.TrimSpace(token))
	if err != nil {
		if wantsPage(g) {
			g.Redirect(http.StatusSeeOther, "/?expired=1")
		} else {
			httpx.WriteError(g, apperr.New(apperr.Unauthorized, "sign in to the console, or send a bearer token"))
		}
		g.Abort()
		return
	}
	g.Set(userKey, p)
	g.Set(tokenKey, strings.TrimSpace(token))
}

// wantsPage: a browser navigating (not a script fetching a fragment or
// a stream).
func wantsPage(g *gin.Context) bool {
	return g.Request.Method == http.MethodGet && strings.Contains(g.GetHeader("Accept"), "text/html") &&
		g.GetHeader("X-Console-Fragment") == ""
}

func user(g *gin.Context) auth.Principal {
	p, _ := g.Get(userKey)
	principal, _ := p.(auth.Principal)
	return principal
}

func token(g *gin.Context) string { return g.GetString(tokenKey) }

// setSession stores token in the session cookie for as long as it is valid.
func (c *Console) setSession(g *gin.Context, token string, ttl time.Duration) {
	http.SetCookie(g.Writer, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: g.Request.TLS != nil || g.GetHeader("X-Forwarded-Proto") == "https",
	})
}

func (c *Console) signInPage(g *gin.Context) {
	if cookie, err := g.Cookie(sessionCookie); err == nil {
		if _, err := c.Verifier.Verify(cookie); err == nil {
			g.Redirect(http.StatusSeeOther, "/claims")
			return
		}
	}
	c.render(g, http.StatusOK, "signin.html", map[string]any{
		"Demo": c.DemoSignIn, "Users": c.Directory.Users(), "Expired": g.Query("expired") != "", "Error": g.Query("error"),
	})
}

// signIn takes a demo user (DEV_MODE only) or a pasted token.
func (c *Console) signIn(g *gin.Context) {
	tok := strings.TrimSpace(g.PostForm("token"))
	if id := g.PostForm("user"); id != "" {
		u, ok := c.Directory.Lookup(id)
		if !c.DemoSignIn || !ok {
			c.render(g, http.StatusForbidden, "signin.html", map[string]any{"Demo": c.DemoSignIn, "Users": c.Directory.Users(),
				"Error": "demo sign-in is only for the demo users, and only with DEV_MODE=true"})
			return
		}
		var err error
		if tok, err = auth.Mint(c.JWT, u, time.Now(), c.SessionTTL); err != nil {
			httpx.WriteError(g, err)
			return
		}
	}
	if _, err := c.Verifier.Verify(tok); err != nil {
		c.render(g, http.StatusUnauthorized, "signin.html", map[string]any{"Demo": c.DemoSignIn, "Users": c.Directory.Users(),
			"Error": "that is not a valid token for this system"})
		return
	}
	c.setSession(g, tok, c.SessionTTL)
	g.Redirect(http.StatusSeeOther, "/claims")
}

func (c *Console) signOut(g *gin.Context) {
	c.setSession(g, "", -time.Second)
	g.Redirect(http.StatusSeeOther, "/")
}
