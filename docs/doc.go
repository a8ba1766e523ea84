// Package docs holds no code: it is where the tests live that keep the
// Markdown of this repository true (docs_test.go). `make test` runs them.
//
// They read every Markdown file in the repository (node_modules and hidden
// directories aside) and fail, naming file and line, when
//
//   - a relative link points at a file or directory that does not exist;
//   - a link's #anchor names no heading of its target (GitHub's slug rules:
//     lower case, punctuation dropped, spaces become hyphens, repeats get -1,
//     -2, …);
//   - a link to Go code names a symbol the code does not have.
//
// The convention for the last one: a link whose text is a Go identifier in
// backticks and whose target is a .go file or a package directory names a
// declaration in that file or directory, and the test parses the code with
// go/parser to find it:
//
//	[`outbox.Publish`](../pkg/outbox/outbox.go)          a func, type, const or var
//	[`Expenses.Update`](internal/postgres/store.go)      a method (or field) of a type
//	[`app.Project`](internal/app/projection.go)          in package app: any top-level name or method
//	[`TestReadYourWritesAndRebuild`](../e2e/readside_test.go)
//
// The package qualifier, when there is one, must be the package's name.
// Links whose text is a path (`internal/httpapi`) or the file's own name are
// only checked for existence. External links (http, mailto) are not fetched.
package docs
