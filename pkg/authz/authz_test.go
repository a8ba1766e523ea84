package authz_test

import (
	"testing"

	"github.com/expenseflow/expenseflow/pkg/apperr"
	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/authz"
)

var table = authz.Table{
	"read":    {"employee": authz.Own, "manager": authz.All},
	"approve": {"manager": authz.Others},
	"inbox":   authz.Everyone(authz.Own),
}

func TestCheck(t *testing.T) {
	alice := auth.Principal{UserID: "alice", Role: "employee"}
	bob := auth.Principal{UserID: "bob", Role: "manager"}
	carol := auth.Principal{UserID: "carol", Role: "finance"}
	cases := []struct {
		name          string
		caller        auth.Principal
		action, owner string
		want          apperr.Kind // "" for allowed
	}{
		{"no caller", auth.Principal{}, "read", "alice", apperr.Unauthorized},
		{"own", alice, "read", "alice", ""},
		{"someone else's is not found, not forbidden", alice, "read", "erin", apperr.NotFound},
		{"an empty owner is nobody's", alice, "read", "", apperr.NotFound},
		{"all", bob, "read", "alice", ""},
		{"role not in the rule", carol, "read", "carol", apperr.Forbidden},
		{"wrong role on someone else's is forbidden first", alice, "approve", "erin", apperr.Forbidden},
		{"others: someone else's", bob, "approve", "alice", ""},
		{"others: never their own", bob, "approve", "bob", apperr.Forbidden},
		{"everyone own", carol, "inbox", "carol", ""},
		{"unknown role", auth.Principal{UserID: "x", Role: "admin"}, "inbox", "x", apperr.Forbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := table.Check(tc.caller, tc.action, tc.owner)
			if got := apperr.KindOf(err); got != tc.want || (tc.want != "" && err == nil) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestUnknownActionFailsClosed(t *testing.T) {
	_, err := table.Allow(auth.Principal{UserID: "bob", Role: "manager"}, "delete")
	if err == nil || apperr.KindOf(err) != "" {
		t.Fatalf("want an internal error, got %v", err)
	}
}

func TestAllowReturnsTheScope(t *testing.T) {
	s, err := table.Allow(auth.Principal{UserID: "alice", Role: "employee"}, "read")
	if err != nil || s != authz.Own {
		t.Fatalf("got %v, %v", s, err)
	}
}
