// Package authz is the one place a service says who may do what. Each service
// declares a Table next to its use cases: for every action (one per use case)
// a Rule mapping each role to the Scope of resources it may act on. Use cases
// call the table before they read or change anything; the HTTP edge only maps
// routes to actions, and a generated test walks every route against the table.
//
// The package is pure (no HTTP, no database) so the rules can be read, and
// tested, on their own.
package authz

import (
	"fmt"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/directory"
)

// Scope is how much of a kind of resource a role may act on. The zero value
// is None: a role a rule does not mention may do nothing (fail closed).
type Scope int

const (
	None   Scope = iota // not at all: 403
	Own                 // only resources the caller owns; anyone else's is 404
	All                 // any resource
	Others              // any resource but the caller's own (segregation of duties): own is 403
)

func (s Scope) String() string {
	return [...]string{"none", "own", "all", "others"}[s]
}

// Roles are the roles of docs/security.md, in the order tables and matrices list them.
var Roles = []string{directory.RoleEmployee, directory.RoleManager, directory.RoleFinance, directory.RoleAuditor}

// Rule maps a role to its scope for one action.
type Rule map[string]Scope

// Everyone gives every role the same scope.
func Everyone(s Scope) Rule {
	r := Rule{}
	for _, role := range Roles {
		r[role] = s
	}
	return r
}

// Table maps each action of a service to its rule.
type Table map[string]Rule

// Allow checks the role part of action's rule: it returns the caller's scope,
// or Unauthorized without a caller and Forbidden for a role with no scope.
// Use cases call it before touching the store, so a wrong role gets 403
// whether or not the resource exists, and lists narrow themselves to the
// caller's own resources when the scope is Own.
//
// An action missing from the table is a programming error: it fails closed
// with an internal error (500), which tests notice, rather than a 403 that
// would look like a rule.
func (t Table) Allow(caller auth.Principal, action string) (Scope, error) {
	if caller.UserID == "" {
		return None, apperr.New(apperr.Unauthorized, "a valid bearer token is required")
	}
	rule, ok := t[action]
	if !ok {
		return None, fmt.Errorf("authz: no rule for action %q", action)
	}
	scope := rule[caller.Role]
	if scope == None {
		return None, apperr.New(apperr.Forbidden, "%s needs one of the roles %v", action, rule.roles())
	}
	return scope, nil
}

// Check is Allow for one resource owned by owner. Someone else's resource,
// for a caller limited to their own, is NotFound rather than Forbidden: the
// answer must not tell whether it exists. An empty owner is nobody's, so it
// never passes an Own check.
func (t Table) Check(caller auth.Principal, action, owner string) error {
	scope, err := t.Allow(caller, action)
	if err != nil {
		return err
	}
	switch {
	case scope == Own && owner != caller.UserID:
		return apperr.New(apperr.NotFound, "not found")
	case scope == Others && owner == caller.UserID:
		return apperr.New(apperr.Forbidden, "%s is not allowed on your own resource", action)
	}
	return nil
}

// roles lists the roles with any scope, in Roles order, for error messages.
func (r Rule) roles() []string {
	var out []string
	for _, role := range Roles {
		if r[role] != None {
			out = append(out, role)
		}
	}
	return out
}
