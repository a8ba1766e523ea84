package k8s_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const (
	modulePath = "github.com/expenseflow/expenseflow"
	moduleRoot = "../.." // this package's directory is deploy/k8s
)

// services are the services the manifests run, and their ports
// (docs/architecture.md).
var services = map[string]int32{
	"approval":      8081,
	"accounting":    8082,
	"reimbursement": 8083,
	"notification":  8084,
	"audit":         8085,
	"webhooks":      8086,
}

// readByLibraries are variables read outside the services' Config structs:
// by the OpenTelemetry SDK and autoexport (pkg/platform/tracing.go leaves
// exporter, endpoint, sampler and batching to them), and by the Go runtime.
// Listed one by one, so that a misspelt OTEL_ name still fails.
var readByLibraries = setOf(
	"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	"GOMEMLIMIT", "GOMAXPROCS", "GOGC", "GODEBUG",
)

// readByService returns every variable the service's binary reads: the env
// tags of its Config (services/<name>/internal/service), found by parsing
// the source the way caarlos0/env walks the struct — through untagged
// struct fields, embedded or not, into other packages of this module —
// plus readByLibraries. Parsing rather than reflection, because the
// services' packages are internal and cannot be imported from here.
func readByService(t *testing.T, service string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for n := range readByLibraries {
		names[n] = true
	}
	collectEnvTags(t, filepath.Join(moduleRoot, "services", service, "internal", "service"), "Config", names)
	if !names["HTTP_ADDR"] || !names["DATABASE_URL"] {
		t.Fatalf("%s: found no platform variables in its Config (%v); has the config moved?", service, names)
	}
	return names
}

func collectEnvTags(t *testing.T, dir, typeName string, names map[string]bool) {
	t.Helper()
	st, file := findStruct(t, dir, typeName)
	if st == nil {
		return // not a struct (e.g. a named string type): nothing to walk into
	}
	for _, field := range st.Fields.List {
		var tag reflect.StructTag
		if field.Tag != nil {
			raw, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				t.Fatal(err)
			}
			tag = reflect.StructTag(raw)
		}
		if _, ok := tag.Lookup("envPrefix"); ok {
			t.Fatalf("%s.%s: envPrefix is not understood by this test; teach it", dir, typeName)
		}
		if name, ok := tag.Lookup("env"); ok {
			if name, _, _ = strings.Cut(name, ","); name != "" && name != "-" {
				names[name] = true
			}
			continue
		}
		switch typ := field.Type.(type) {
		case *ast.Ident: // a type of the same package
			collectEnvTags(t, dir, typ.Name, names)
		case *ast.SelectorExpr: // pkg.Type: follow it if pkg is in this module
			if pkg, ok := typ.X.(*ast.Ident); ok {
				if sub, ok := strings.CutPrefix(importPath(file, pkg.Name), modulePath+"/"); ok {
					collectEnvTags(t, filepath.Join(moduleRoot, filepath.FromSlash(sub)), typ.Sel.Name, names)
				}
			}
		}
	}
}

// findStruct parses the non-test Go files of dir and returns the struct
// type typeName with the file declaring it, or nil if it is not a struct
// declared there.
func findStruct(t *testing.T, dir, typeName string) (*ast.StructType, *ast.File) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				if ts := spec.(*ast.TypeSpec); ts.Name.Name == typeName {
					st, _ := ts.Type.(*ast.StructType)
					return st, file
				}
			}
		}
	}
	return nil, nil
}

// importPath returns the path file imports under the name pkg ("" if none).
// Without an explicit name, the last path element is taken as the package
// name, which holds for this module's packages (the only ones followed).
func importPath(file *ast.File, pkg string) string {
	for _, imp := range file.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		if name == pkg {
			return p
		}
	}
	return ""
}

func setOf(items ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range items {
		m[s] = true
	}
	return m
}

// TestConfigParsingFindsEveryKnob guards the source walk itself: a
// variable from each level (platform, auth through platform, a service's
// own, a nested struct in a service package) must be found.
func TestConfigParsingFindsEveryKnob(t *testing.T) {
	for service, want := range map[string][]string{
		"approval":      {"HTTP_ADDR", "AMQP_PREFETCH", "SHUTDOWN_GRACE", "JWT_SECRET", "DEV_MODE", "AUDIT_URL"},
		"reimbursement": {"PAYOUT_INTERVAL", "GATEWAY_LATENCY"},
		"notification":  {"SMTP_ADDR", "USER_DIRECTORY"},
	} {
		names := readByService(t, service)
		for _, n := range want {
			if !names[n] {
				t.Errorf("%s: %s not found among %v", service, n, names)
			}
		}
		if names["AUDIT_URL"] != (service == "approval") {
			t.Errorf("%s: AUDIT_URL found = %v; only approval reads it", service, names["AUDIT_URL"])
		}
	}
}
