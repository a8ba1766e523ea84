package testinfra

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/authz"
	"github.com/expenseflow/expenseflow/pkg/directory"
	"github.com/expenseflow/expenseflow/pkg/httpx"
)

// Callers are the demo users the authorization matrix calls as, one per role,
// and Other owns "someone else's" resources in it.
var (
	Callers = map[string]string{
		directory.RoleEmployee: "alice",
		directory.RoleManager:  "bob",
		directory.RoleFinance:  "carol",
		directory.RoleAuditor:  "dave",
	}
	Other = "erin"
)

// Matrix is a running service seen through its authorization table.
type Matrix struct {
	Client Client
	Engine gin.RoutesInfo // every route the service mounted: p.HTTP.Routes()
	Routes []httpx.Route  // the routes it mounted with an action: p.API.List()
	Table  authz.Table    // the service's app.Access
	// Request returns the path to call (ids filled in, query added) and the
	// body to send for r on a fresh resource owned by owner, in a state in
	// which the action succeeds for a caller the table allows. On a route
	// without a path parameter there is no resource; owner is the caller.
	Request func(t *testing.T, r httpx.Route, owner string) (path string, body any)
}

// unauthenticated are the operational endpoints httpx.NewEngine mounts
// outside /v1, for probes and Prometheus.
var unauthenticated = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// WalkMatrix proves that a service enforces its table, route by route:
//   - every route mounted (but the operational ones) has an action with a
//     rule, and every rule is reachable by a route;
//   - for every route, no token gets 401; for every role, calling on the
//     caller's own resource and on someone else's (routes with a path
//     parameter) gets exactly what the table says: 403 for a role without
//     scope (and for "all but own" on one's own), 404 for someone else's when
//     the scope is own, a 2xx otherwise.
func WalkMatrix(t *testing.T, m Matrix) {
	t.Helper()
	checkRoutes(t, m)
	for _, r := range m.Routes {
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			client := m.Client.For(t)
			path, body := m.Request(t, r, Other)
			expect(t, client.Call(r.Method, path, "", body, nil), http.StatusUnauthorized, "no token")
			for _, role := range authz.Roles {
				caller := auth.Principal{UserID: Callers[role], Role: role}
				owners := []string{caller.UserID}
				if strings.Contains(r.Path, "/:") {
					owners = append(owners, Other)
				}
				for _, owner := range owners {
					want := wantStatus(t, m.Table, r, caller, owner)
					path, body := m.Request(t, r, owner)
					resp := client.Call(r.Method, path, caller.UserID, body, nil)
					expect(t, resp, want, fmt.Sprintf("%s (%s) on %s's", caller.UserID, role, owner))
				}
			}
		})
	}
}

func checkRoutes(t *testing.T, m Matrix) {
	t.Helper()
	withAction := map[string]bool{}
	used := map[string]bool{}
	for _, r := range m.Routes {
		withAction[r.Method+" "+r.Path] = true
		used[r.Action] = true
		if _, ok := m.Table[r.Action]; !ok {
			t.Errorf("%s %s: action %q has no row in the table", r.Method, r.Path, r.Action)
		}
	}
	for _, r := range m.Engine {
		// /internal/ routes are for other services, with service tokens
		// (auth.ServiceVerifier), not users: the services test them.
		if !unauthenticated[r.Path] && !strings.HasPrefix(r.Path, "/internal/") && !withAction[r.Method+" "+r.Path] {
			t.Errorf("%s %s is mounted without an action: register it through httpx.Routes", r.Method, r.Path)
		}
	}
	for action := range m.Table {
		if !used[action] {
			t.Errorf("the table's row %q is used by no route: the matrix cannot prove it", action)
		}
	}
}

// wantStatus is the status the table implies; 0 stands for any 2xx.
func wantStatus(t *testing.T, table authz.Table, r httpx.Route, caller auth.Principal, owner string) int {
	t.Helper()
	var err error
	if strings.Contains(r.Path, "/:") {
		err = table.Check(caller, r.Action, owner)
	} else {
		_, err = table.Allow(caller, r.Action)
	}
	switch kind := apperr.KindOf(err); {
	case err == nil:
		return 0
	case kind == apperr.Forbidden:
		return http.StatusForbidden
	case kind == apperr.NotFound:
		return http.StatusNotFound
	default:
		t.Fatalf("%s: the table answers %v", r.Action, err)
		return 0
	}
}

func expect(t *testing.T, resp *http.Response, want int, who string) {
	t.Helper()
	ok := resp.StatusCode == want || want == 0 && resp.StatusCode/100 == 2
	if want != 0 && ok && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s: %d without a problem document", who, resp.StatusCode)
	}
	if !ok {
		wantText := fmt.Sprint(want)
		if want == 0 {
			wantText = "2xx"
		}
		t.Errorf("%s: want %s, got %d", who, wantText, resp.StatusCode)
	}
}

// AccessDoc renders the table as the "Who may do what" section of a README:
// one line per route, one column per role.
func AccessDoc(routes []httpx.Route, table authz.Table) string {
	cell := map[authz.Scope]string{authz.None: "–", authz.Own: "own", authz.All: "all", authz.Others: "all but own"}
	var b strings.Builder
	b.WriteString("| route | action | " + strings.Join(authz.Roles, " | ") + " |\n|---|---|")
	b.WriteString(strings.Repeat("---|", len(authz.Roles)) + "\n")
	for _, r := range routes {
		fmt.Fprintf(&b, "| `%s %s` | `%s` |", r.Method, pathParam.ReplaceAllString(r.Path, "{$1}"), r.Action)
		for _, role := range authz.Roles {
			b.WriteString(" " + cell[table[r.Action][role]] + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

var pathParam = regexp.MustCompile(`:(\w+)`)

// CheckAccessDoc fails unless the README at path shows AccessDoc verbatim:
// the documented rules are the enforced ones, and changing a rule means
// changing, and reviewing, its documentation too.
func CheckAccessDoc(t *testing.T, path string, routes []httpx.Route, table authz.Table) {
	t.Helper()
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc := AccessDoc(routes, table); !strings.Contains(string(readme), doc) {
		t.Errorf("%s does not show the authorization table; its \"Who may do what\" section must be:\n\n%s", path, doc)
	}
}
