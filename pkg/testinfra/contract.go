package testinfra

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

var uuidFormat sync.Once

// Contract checks real responses against an OpenAPI document: give it to a
// Client and every response the test receives is validated (status, headers,
// content type, body schema). Covered reports which documented operations
// the test exercised, so a test can insist on all of them.
type Contract struct {
	doc     *openapi3.T
	router  routers.Router
	mu      sync.Mutex
	covered map[string]bool
}

// LoadContract reads and validates the OpenAPI document at path.
func LoadContract(t testing.TB, path string) *Contract {
	t.Helper()
	uuidFormat.Do(func() {
		// Formats are not checked unless registered; uuid is not by default.
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(
			`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`))
	})
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", path, err)
	}
	doc.Servers = nil // match paths on whatever host the test runs
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Contract{doc: doc, router: router, covered: map[string]bool{}}
}

// check validates one response; an undocumented route or status fails t.
func (c *Contract) check(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
		return
	}
	c.mu.Lock()
	c.covered[route.Operation.OperationID] = true
	c.mu.Unlock()
}

// Uncovered lists the documented operations no checked response came from.
func (c *Contract) Uncovered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !c.covered[op.OperationID] {
				out = append(out, op.OperationID)
			}
		}
	}
	sort.Strings(out)
	return out
}

// SharedContract is one OpenAPI document shared by all tests of a package,
// so that together they must exercise every documented operation:
//
//	var openapi = testinfra.NewSharedContract("../../../../docs/openapi/x.yaml")
//	func TestMain(m *testing.M) { openapi.Main(m) }
//	... testinfra.Client{..., Contract: openapi.Get(t)}
type SharedContract struct {
	path     string
	once     sync.Once
	contract *Contract
}

// NewSharedContract names the document; it is loaded on first use.
func NewSharedContract(path string) *SharedContract { return &SharedContract{path: path} }

// Get loads the document once and returns it.
func (s *SharedContract) Get(t testing.TB) *Contract {
	s.once.Do(func() { s.contract = LoadContract(t, s.path) })
	return s.contract
}

// Main runs the package's tests, then fails the package if they left a
// documented operation unexercised: the document may not promise what no
// test checks.
func (s *SharedContract) Main(m *testing.M) {
	code := m.Run()
	if code == 0 && s.contract != nil {
		if missing := s.contract.Uncovered(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "operations of %s no test exercised: %v\n", s.path, missing)
			code = 1
		}
	}
	os.Exit(code)
}
