package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/expenseflow/expenseflow/pkg/testinfra"
)

// TestMarkdownLinksAnchorsAndSymbols checks every Markdown file of the
// repository against the files, headings and Go code it links to; see the
// package comment for the convention.
func TestMarkdownLinksAnchorsAndSymbols(t *testing.T) {
	root := testinfra.ModuleRoot(t)
	files := markdownFiles(t, root)
	if len(files) < 10 {
		t.Fatalf("found only %d Markdown files under %s: is the walk broken?", len(files), root)
	}
	c := &checker{root: root, docs: map[string]*document{}, code: map[string]*goCode{}}
	var problems []string
	for _, f := range files {
		problems = append(problems, c.check(f)...)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("checked %d links (%d to Go symbols) in %d Markdown files", c.links, c.symbols, len(files))
}

// The checker must see what a reader sees: these cases pin the parts that
// are easy to get subtly wrong.
func TestSlugsFollowGitHub(t *testing.T) {
	for heading, want := range map[string]string{
		"Running the tests": "running-the-tests",
		"Authentication — [`pkg/auth`](../pkg/auth/auth.go)":    "authentication--pkgauth",
		"Metrics (Prometheus, `GET /metrics` on every service)": "metrics-prometheus-get-metrics-on-every-service",
		"1. `ledger.entry_posted.v1`, **twice**":                "1-ledgerentry_postedv1-twice",
		"Read-your-writes & stale reads":                        "read-your-writes--stale-reads",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestLinksAreFoundOutsideCodeOnly(t *testing.T) {
	doc := parse("a.md", strings.Join([]string{
		"# Title",
		"See [`outbox.Publish`](../pkg/outbox/outbox.go) and [the map](README.md#map).",
		"`[not a link](nowhere.md)` and ![a picture](img/x.png)",
		"```sh",
		"[also not](nowhere.md)",
		"```",
		"[ref link][r] and a link that",
		"[spans two\nlines](two.md).",
		"",
		"[r]: ref.md",
	}, "\n"))
	var got []string
	for _, l := range doc.links {
		got = append(got, fmt.Sprintf("%d %s -> %s", l.line, l.text, l.target))
	}
	want := []string{
		"2 `outbox.Publish` -> ../pkg/outbox/outbox.go",
		"2 the map -> README.md#map",
		"3 a picture -> img/x.png",
		"7 ref link -> ref.md",
		"8 spans two\nlines -> two.md",
	}
	if !slices.Equal(got, want) {
		t.Errorf("links:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// ---------------------------------------------------------------------------

type checker struct {
	root           string
	docs           map[string]*document // by absolute path
	code           map[string]*goCode   // by absolute path of a file or directory
	links, symbols int
}

func (c *checker) check(path string) []string {
	doc, err := c.doc(path)
	if err != nil {
		return []string{err.Error()}
	}
	rel, _ := filepath.Rel(c.root, path)
	var problems []string
	for _, l := range doc.links {
		c.links++
		if msg := c.checkLink(path, l); msg != "" {
			problems = append(problems, fmt.Sprintf("%s:%d: [%s](%s): %s", rel, l.line, oneLine(l.text), l.target, msg))
		}
	}
	return problems
}

var external = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`) // http:, https:, mailto:, …

func (c *checker) checkLink(from string, l link) string {
	if external.MatchString(l.target) {
		return ""
	}
	target, anchor, _ := strings.Cut(l.target, "#")
	target, _, _ = strings.Cut(target, "?")
	target, err := url.PathUnescape(target)
	if err != nil {
		return "not a valid path: " + err.Error()
	}
	var abs string
	switch {
	case target == "":
		abs = from
	case strings.HasPrefix(target, "/"): // GitHub: relative to the repository root
		abs = filepath.Join(c.root, filepath.FromSlash(target))
	default:
		abs = filepath.Join(filepath.Dir(from), filepath.FromSlash(target))
	}
	if r, err := filepath.Rel(c.root, abs); err != nil || strings.HasPrefix(r, "..") {
		return "points outside the repository"
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "no such file or directory"
	}
	if anchor != "" {
		if msg := c.checkAnchor(abs, info, anchor); msg != "" {
			return msg
		}
	}
	return c.checkSymbols(abs, info, l.text)
}

var lineAnchor = regexp.MustCompile(`^L(\d+)(?:-L(\d+))?$`)

func (c *checker) checkAnchor(abs string, info fs.FileInfo, anchor string) string {
	switch {
	case info.IsDir():
		return ""
	case strings.EqualFold(filepath.Ext(abs), ".md"):
		doc, err := c.doc(abs)
		if err != nil {
			return err.Error()
		}
		if !doc.anchors[anchor] {
			return fmt.Sprintf("no heading has the anchor #%s (headings: %s)", anchor, strings.Join(doc.anchorList, ", "))
		}
	case lineAnchor.MatchString(anchor):
		body, err := os.ReadFile(abs)
		if err != nil {
			return err.Error()
		}
		lines := strings.Count(string(body), "\n") + 1
		for _, n := range lineAnchor.FindStringSubmatch(anchor)[1:] {
			if i, _ := strconv.Atoi(n); n != "" && (i < 1 || i > lines) {
				return fmt.Sprintf("the file has %d lines, not %d", lines, i)
			}
		}
	}
	return ""
}

var (
	codeSpan   = regexp.MustCompile("`([^`]+)`")
	identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$`)
	separators = regexp.MustCompile(`^[\s/,+&]*(and|or)?[\s/,+&]*$`)
)

// checkSymbols applies the convention of the package comment.
func (c *checker) checkSymbols(abs string, info fs.FileInfo, text string) string {
	if !info.IsDir() && filepath.Ext(abs) != ".go" {
		return ""
	}
	spans := codeSpan.FindAllStringSubmatch(text, -1)
	if len(spans) == 0 {
		return ""
	}
	for _, between := range codeSpan.Split(text, -1) {
		if !separators.MatchString(between) {
			return "" // prose with code in it, not a list of symbols
		}
	}
	var names []string
	for _, s := range spans {
		name := strings.TrimSuffix(s[1], "()")
		if !identifier.MatchString(name) || strings.HasSuffix(name, ".go") {
			return "" // a path or a file name: existence was enough
		}
		names = append(names, name)
	}
	code, err := c.goCode(abs, info.IsDir())
	if err != nil {
		return err.Error()
	}
	if code == nil {
		return "" // a directory without Go files
	}
	for _, name := range names {
		c.symbols++
		if msg := code.find(name); msg != "" {
			return msg
		}
	}
	return ""
}

func (c *checker) doc(path string) (*document, error) {
	if d, ok := c.docs[path]; ok {
		return d, nil
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := parse(path, string(body))
	c.docs[path] = d
	return d, nil
}

// ---------------------------------------------------------------------------
// Go code: the names a file or package declares.

type goCode struct {
	where    string
	packages map[string]bool            // package names (x and x_test)
	top      map[string]bool            // funcs, types, consts, vars
	members  map[string]map[string]bool // type -> methods and fields
}

func (c *checker) goCode(abs string, dir bool) (*goCode, error) {
	if g, ok := c.code[abs]; ok {
		return g, nil
	}
	files := []string{abs}
	if dir {
		files, _ = filepath.Glob(filepath.Join(abs, "*.go"))
		if len(files) == 0 {
			c.code[abs] = nil
			return nil, nil
		}
	}
	rel, _ := filepath.Rel(c.root, abs)
	g := &goCode{where: filepath.ToSlash(rel), packages: map[string]bool{}, top: map[string]bool{}, members: map[string]map[string]bool{}}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %v", f, err)
		}
		g.add(file)
	}
	c.code[abs] = g
	return g, nil
}

func (g *goCode) add(file *ast.File) {
	g.packages[file.Name.Name] = true
	member := func(typ, name string) {
		if g.members[typ] == nil {
			g.members[typ] = map[string]bool{}
		}
		g.members[typ][name] = true
	}
	for _, decl := range file.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil || len(d.Recv.List) == 0 {
				g.top[d.Name.Name] = true
				continue
			}
			member(receiverType(d.Recv.List[0].Type), d.Name.Name)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					g.top[s.Name.Name] = true
					var fields *ast.FieldList
					switch t := s.Type.(type) {
					case *ast.StructType:
						fields = t.Fields
					case *ast.InterfaceType:
						fields = t.Methods
					}
					if fields != nil {
						for _, f := range fields.List {
							for _, n := range f.Names {
								member(s.Name.Name, n.Name)
							}
							if len(f.Names) == 0 { // embedded: its name is the type's
								member(s.Name.Name, receiverType(f.Type))
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						g.top[n.Name] = true
					}
				}
			}
		}
	}
}

// receiverType is the name of T in T, *T, T[P], pkg.T.
func receiverType(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return receiverType(t.X)
	case *ast.IndexExpr:
		return receiverType(t.X)
	case *ast.IndexListExpr:
		return receiverType(t.X)
	case *ast.SelectorExpr:
		return t.Sel.Name
	case *ast.Ident:
		return t.Name
	}
	return ""
}

// find looks name up: Name, pkg.Name, Type.Member or pkg.Type.Member.
func (g *goCode) find(name string) string {
	parts := strings.Split(name, ".")
	qualified := false
	if len(parts) > 1 && g.packages[parts[0]] && !g.top[parts[0]] {
		parts, qualified = parts[1:], true
	}
	switch len(parts) {
	case 1:
		if g.top[parts[0]] {
			return ""
		}
		for _, members := range g.members {
			if members[parts[0]] {
				return "" // a method named without its type, e.g. app.Project
			}
		}
		return fmt.Sprintf("%s declares no %s", g.where, parts[0])
	case 2:
		// The type may be declared in another file of the package: a link
		// to the file with the method is the useful one.
		if g.members[parts[0]][parts[1]] {
			return ""
		}
		if !g.top[parts[0]] && g.members[parts[0]] == nil {
			if !qualified && len(strings.Split(name, ".")) == 2 {
				return fmt.Sprintf("%s is package %s, and declares no type %s nor methods of it", g.where, pkgNames(g), parts[0])
			}
			return fmt.Sprintf("%s declares no type %s nor methods of it", g.where, parts[0])
		}
		return fmt.Sprintf("%s: no method or field %s.%s", g.where, parts[0], parts[1])
	}
	return fmt.Sprintf("%s: %s is not Name, pkg.Name, Type.Member or pkg.Type.Member of package %s", g.where, name, pkgNames(g))
}

func pkgNames(g *goCode) string {
	var names []string
	for n := range g.packages {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, "/")
}

// ---------------------------------------------------------------------------
// Markdown: links and headings, outside code.

type link struct {
	line         int
	text, target string
}

type document struct {
	links      []link
	anchors    map[string]bool
	anchorList []string
}

var (
	fenceOpen = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
	atx       = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setext    = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
	refDef    = regexp.MustCompile(`^ {0,3}\[([^\]]+)\]:[ \t]*<?([^\s>]+)>?`)
	htmlID    = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// parse finds the headings (as GitHub anchors) and links of a Markdown file.
// Fenced code blocks are blanked first, keeping line numbers; inline code
// spans are skipped while scanning for links.
func parse(path, body string) *document {
	lines := strings.Split(body, "\n")
	d := &document{anchors: map[string]bool{}}
	seen := map[string]int{}
	addAnchor := func(s string) {
		if n := seen[s]; n > 0 {
			seen[s]++
			s = fmt.Sprintf("%s-%d", s, n)
		} else {
			seen[s] = 1
		}
		d.anchors[s] = true
		d.anchorList = append(d.anchorList, "#"+s)
	}
	refs := map[string]string{}
	fence := ""
	prose := make([]string, len(lines))
	for i, line := range lines {
		if fence != "" {
			if m := fenceOpen.FindStringSubmatch(line); m != nil && m[1][0] == fence[0] && len(m[1]) >= len(fence) && strings.TrimSpace(line[strings.Index(line, m[1])+len(m[1]):]) == "" {
				fence = ""
			}
			continue
		}
		if m := fenceOpen.FindStringSubmatch(line); m != nil {
			fence = m[1]
			continue
		}
		if m := refDef.FindStringSubmatch(line); m != nil {
			refs[strings.ToLower(m[1])] = m[2]
			continue
		}
		if m := atx.FindStringSubmatch(line); m != nil {
			addAnchor(slug(m[2]))
		} else if setext.MatchString(line) && i > 0 && strings.TrimSpace(prose[i-1]) != "" && !atx.MatchString(prose[i-1]) {
			addAnchor(slug(prose[i-1]))
		}
		for _, m := range htmlID.FindAllStringSubmatch(line, -1) {
			d.anchors[m[1]] = true
		}
		prose[i] = line
	}
	d.links = findLinks(strings.Join(prose, "\n"), refs)
	return d
}

// findLinks scans text for [text](target), ![alt](target) and [text][ref].
func findLinks(text string, refs map[string]string) []link {
	var out []link
	line := 1
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			line++
		case '`':
			end := skipCode(text, i)
			line += strings.Count(text[i:end], "\n")
			i = end - 1
		case '[':
			closeAt := matchBracket(text, i)
			if closeAt < 0 {
				continue
			}
			label := text[i+1 : closeAt]
			rest := text[closeAt+1:]
			var target string
			consumed := 0
			switch {
			case strings.HasPrefix(rest, "("):
				end := matchParen(rest)
				if end < 0 {
					continue
				}
				target = destination(rest[1:end])
				consumed = end + 1
			case strings.HasPrefix(rest, "["):
				end := strings.IndexByte(rest, ']')
				if end < 0 {
					continue
				}
				ref := rest[1:end]
				if ref == "" {
					ref = label
				}
				var ok bool
				if target, ok = refs[strings.ToLower(ref)]; !ok {
					continue
				}
				consumed = end + 1
			default:
				continue // [text] alone: a shortcut reference or just brackets
			}
			out = append(out, link{line: line, text: label, target: target})
			line += strings.Count(text[i:closeAt+1+consumed], "\n")
			i = closeAt + consumed
		}
	}
	return out
}

// skipCode returns the index after the code span starting at i, or after
// the backtick run when it is never closed.
func skipCode(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	run := s[i : i+n]
	for j := i + n; j < len(s); {
		k := strings.Index(s[j:], run)
		if k < 0 {
			break
		}
		j += k
		m := 0
		for j+m < len(s) && s[j+m] == '`' {
			m++
		}
		if m == n {
			return j + n
		}
		j += m
	}
	return i + n
}

// matchBracket returns the index of the ] closing the [ at i, skipping code
// spans and nested brackets; -1 if there is none.
func matchBracket(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '`':
			j = skipCode(s, j) - 1
		case '\\':
			j++
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return j
			}
		case '\n':
			if j+1 < len(s) && s[j+1] == '\n' {
				return -1 // a link never spans paragraphs
			}
		}
	}
	return -1
}

// matchParen returns the index of the ) closing the ( that s starts with.
func matchParen(s string) int {
	depth := 0
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j
			}
		case '\n':
			return -1
		}
	}
	return -1
}

// destination strips the optional <…> and "title" of a link destination.
func destination(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") {
		if end := strings.IndexByte(s, '>'); end > 0 {
			return s[1:end]
		}
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	return s
}

var (
	inlineLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
)

// slug is GitHub's anchor for a heading: the rendered text, lower case, with
// everything but letters, marks, digits, underscores, spaces and hyphens
// dropped, and each space turned into a hyphen.
func slug(heading string) string {
	s := inlineLink.ReplaceAllString(heading, "$1")
	s = htmlTag.ReplaceAllString(s, "")
	s = strings.NewReplacer("`", "", "*", "").Replace(s)
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ---------------------------------------------------------------------------

// markdownFiles is every .md file of the repository, without dependencies
// (node_modules) and hidden or build directories.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") || path == filepath.Join(root, "bin")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestCitesOnlyWhatTheRepositoryHolds: a comment or a page may send the
// reader to a document, and that document must be here. The design this
// project started from lives outside the repository; what it says is in
// docs/ now, in the project's own words.
func TestCitesOnlyWhatTheRepositoryHolds(t *testing.T) {
	root := testinfra.ModuleRoot(t)
	outside := regexp.MustCompile(`DESIGN(\.md| §)`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "bin" || d.Name() == "results") {
			return filepath.SkipDir
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".yaml", ".yml", ".sql", ".sh", ".conf", ".json":
		default:
			if name := filepath.Base(path); name != "Makefile" && name != "Dockerfile" {
				return nil
			}
		}
		if filepath.Base(path) == "docs_test.go" {
			return nil // this test names what it looks for
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if loc := outside.FindIndex(raw); loc != nil {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s:%d cites %q, which is not in the repository: cite the page in docs/ instead",
				rel, 1+strings.Count(string(raw[:loc[0]]), "\n"), raw[loc[0]:loc[1]])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
