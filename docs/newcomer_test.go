package docs

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/expenseflow/expenseflow/pkg/directory"
)

// TestANewcomerIsToldWhoAndWhere checks what the first hour depends on:
// the README's table of demo users and the `make run` banner name every
// user of the demo directory with their role, and the README's URL table
// names every port `make run` serves, the console's first.
func TestANewcomerIsToldWhoAndWhere(t *testing.T) {
	readme := read(t, "../README.md")
	banner := read(t, "../scripts/run-local.sh")
	dir, err := directory.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range dir.Users() {
		row := regexp.MustCompile("(?m)^\\|[^|\\n]*`" + u.ID + "`[^|\\n]*\\| " + u.Role + " \\|")
		if !row.MatchString(readme) {
			t.Errorf("the README's demo-user table does not give %s the role %s", u.ID, u.Role)
		}
		line := regexp.MustCompile(`(?m)^\s+[a-z, ]*\b` + u.ID + `\b[a-z, ]*\s+` + u.Role + `\s`)
		if !line.MatchString(banner) {
			t.Errorf("the make run banner (scripts/run-local.sh) does not list %s as %s", u.ID, u.Role)
		}
	}
	ports := regexp.MustCompile(`\[([a-z]+)\]=(80[0-9]{2})`).FindAllStringSubmatch(banner, -1)
	if len(ports) < 7 {
		t.Fatalf("scripts/run-local.sh: found the ports %v, want the console's and the six services'", ports)
	}
	urls := section(t, readme, "| open | URL | login |")
	for _, p := range ports {
		if !strings.Contains(urls, "localhost:"+p[2]) && !strings.Contains(urls, ":"+p[2]) {
			t.Errorf("the README's URL table does not say where %s is (port %s)", p[1], p[2])
		}
	}
	if !strings.Contains(urls, "http://localhost:8080") {
		t.Error("the README's URL table does not list the console, http://localhost:8080")
	}
	if !strings.Contains(readme, "Without Docker (`make run`) the console and the REST APIs are the URLs") {
		t.Error("the README does not say which pages exist without Docker")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the Markdown table that starts with header.
func section(t *testing.T, text, header string) string {
	t.Helper()
	i := strings.Index(text, header)
	if i < 0 {
		t.Fatalf("no table %q", header)
	}
	end := strings.Index(text[i:], "\n\n")
	if end < 0 {
		return text[i:]
	}
	return text[i : i+end]
}
