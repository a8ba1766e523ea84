package main

import (
	"os/exec"
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

// TestMakeTokenPrintsTheTokenAlone: `ALICE=$(make token AS=alice)` must
// capture a token and nothing else (no build line), and the user must be
// the one named: AS, or USER given on make's command line, never the
// login name in the environment's USER.
func TestMakeTokenPrintsTheTokenAlone(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	t.Setenv("JWT_SECRET", secret)
	t.Setenv("USER_DIRECTORY", "")
	t.Setenv("USER", "root") // a login name that is no demo user
	v, err := auth.NewVerifier(auth.Config{Secret: secret, Issuer: "expenseflow", Audience: "expenseflow"})
	if err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{"AS=bob": "bob", "": "alice", "USER=carol": "carol"} {
		cmd := exec.Command("make", "-C", "../..", "--no-print-directory", "token")
		if args != "" {
			cmd.Args = append(cmd.Args, args)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("make token %s: %v", args, err)
		}
		if p, err := v.Verify(strings.TrimSuffix(string(out), "\n")); err != nil || p.UserID != want {
			t.Errorf("make token %s printed %q: %+v, %v; want a token of %s alone", args, out, p, err, want)
		}
	}
}
