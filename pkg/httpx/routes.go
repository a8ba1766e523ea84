package httpx

import (
	"path"

	"github.com/gin-gonic/gin"
)

// Route is one endpoint and the authorization action (a key of the service's
// authz.Table) of the use case it calls.
type Route struct{ Method, Path, Action string }

// Routes mounts endpoints on a gin group and records each with its action, so
// that a test can walk every route against the authorization table and notice
// a route mounted without one.
type Routes struct {
	group *gin.RouterGroup
	list  []Route
}

// NewRoutes records the routes mounted on group.
func NewRoutes(group *gin.RouterGroup) *Routes { return &Routes{group: group} }

// Handle mounts h at method relPath (relative to the group) for action.
func (r *Routes) Handle(method, relPath, action string, h gin.HandlerFunc) {
	r.group.Handle(method, relPath, h)
	r.list = append(r.list, Route{Method: method, Path: path.Join(r.group.BasePath(), relPath), Action: action})
}

// List returns the routes mounted so far, full paths in gin's syntax.
func (r *Routes) List() []Route { return append([]Route(nil), r.list...) }
