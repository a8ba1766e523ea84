package main

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/directory"
)

// The plan shows every status, is run by users of the demo directory in the
// roles their steps need, and can be recognised on a second run (claim names
// and each employee's descriptions are unique). deploy/compose_test.go runs
// the seeder against the real services.
func TestPlanIsSound(t *testing.T) {
	dir, err := directory.Load("")
	if err != nil {
		t.Fatal(err)
	}
	role := func(id string) string {
		u, ok := dir.Lookup(id)
		if !ok {
			t.Errorf("%q is not a demo user", id)
		}
		return u.Role
	}
	outcomes := map[string]bool{}
	names := map[string]bool{}
	descriptions := map[[2]string]bool{}
	for _, cl := range plan {
		outcomes[cl.outcome] = true
		if names[cl.name] || descriptions[[2]string{cl.employee, cl.description}] {
			t.Errorf("%s: a second claim with this name or employee and description", cl.name)
		}
		names[cl.name], descriptions[[2]string{cl.employee, cl.description}] = true, true
		if r := role(cl.employee); r != "employee" {
			t.Errorf("%s: submitted by %s, a %s", cl.name, cl.employee, r)
		}
		decided := cl.outcome == approved || cl.outcome == rejected || cl.outcome == paid
		if decided && role(cl.manager) != "manager" || !decided && cl.manager != "" {
			t.Errorf("%s: %s by %q", cl.name, cl.outcome, cl.manager)
		}
		if (cl.outcome == rejected) != (cl.reason != "") {
			t.Errorf("%s: a reason goes with a rejection and only with one", cl.name)
		}
	}
	for _, s := range []string{submitted, approved, rejected, withdrawn, paid} {
		if !outcomes[s] {
			t.Errorf("no claim ends %s", s)
		}
	}
}
