package main

import (
	"strings"
	"testing"
	"time"

	"github.com/expenseflow/expenseflow/pkg/auth"
)

const secret = "0123456789abcdef0123456789abcdef-test"

// devtoken signs what the services verify, and only for directory users: a
// made-up id (or role) gets no token.
func TestMintsOnlyForDirectoryUsers(t *testing.T) {
	t.Setenv("JWT_SECRET", secret)
	t.Setenv("USER_DIRECTORY", "")
	var out strings.Builder
	if err := mint(&out, "carol", time.Minute); err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{Secret: secret, Issuer: "expenseflow", Audience: "expenseflow"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(strings.TrimSpace(out.String())); err != nil || p.UserID != "carol" || p.Role != "finance" {
		t.Fatalf("the minted token: %+v, %v", p, err)
	}

	for _, id := range []string{"mallory", "", "finance", "Carol"} {
		var none strings.Builder
		if err := mint(&none, id, time.Minute); err == nil || none.Len() > 0 {
			t.Errorf("%q: minted %q (err %v)", id, none.String(), err)
		}
	}
}

func TestRefusesAShortSecret(t *testing.T) {
	t.Setenv("JWT_SECRET", "short")
	var out strings.Builder
	if err := mint(&out, "alice", time.Minute); err == nil || out.Len() > 0 {
		t.Fatalf("minted with a short secret: %q", out.String())
	}
}
