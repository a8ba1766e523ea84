package soak

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A real line's shape: utime and stime are the 14th and 15th fields.
	line := "4242 (beam.smp) S 1 4242 4242 0 -1 4194560 88131 0 3 0 1234 567 0 0 20 0 31 0 2960 3370717184 47561 18446744073709551615"
	comm, cpu, ok := parseStat(line)
	if !ok || comm != "beam.smp" || cpu != 18010*time.Millisecond {
		t.Fatalf("got %q %s %v, want beam.smp 18.01s", comm, cpu, ok)
	}
	if comm, _, ok := parseStat("7 (a (weird) name) R 1 7 7 0 -1 0 0 0 0 0 100 100 0 0 20 0 1 0 1 1 1 1"); !ok || comm != "a (weird) name" {
		t.Fatalf("a name with parentheses: %q %v", comm, ok)
	}
	if _, _, ok := parseStat("garbage"); ok {
		t.Fatal("garbage parsed")
	}
}

func TestPgbenchTPSLine(t *testing.T) {
	out := "number of transactions actually processed: 57012\nlatency average = 4.209 ms\n" +
		"initial connection time = 6.442 ms\ntps = 1900.452337 (without initial connection time)\n"
	m := tpsLine.FindStringSubmatch(out)
	if m == nil || m[1] != "1900.452337" {
		t.Fatalf("got %v", m)
	}
	if c := (&Bench{PgbenchTPS: 1900}).Ceiling(); c != 76 {
		t.Fatalf("ceiling %v, want 1900 / 25 = 76", c)
	}
}

func TestPackageTree(t *testing.T) {
	for sym, want := range map[string]string{
		"runtime.mallocgc":                               "runtime",
		"crypto/internal/fips140/sha256.blockSHANI":      "crypto",
		"github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec":  "github.com/jackc/pgx",
		"gorm.io/gorm.(*DB).Transaction":                 "gorm.io/gorm",
		"go.opentelemetry.io/otel/sdk/trace.(*span).End": "go.opentelemetry.io/otel/sdk",
		"go:func.*": "go",
		"github.com/expenseflow/expenseflow/pkg/soak.Run": "github.com/expenseflow/expenseflow",
	} {
		if got := packageTree(sym); got != want {
			t.Errorf("%s: %q, want %q", sym, got, want)
		}
	}
}

// The test binary is an ELF executable like the services: its size
// breaks down into parts that add up to no more than the file.
func TestSizeOfAnExecutable(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := sizeOf(self)
	if err != nil {
		t.Fatal(err)
	}
	var parts int64
	for _, n := range b.Sections {
		parts += n
	}
	if b.File == 0 || b.Sections["code"] == 0 || parts > b.File {
		t.Fatalf("%+v", b)
	}
	// go test strips its binaries; the services' keep their symbols.
	if _, symbols := b.Sections["symbol table (-ldflags=-s drops it)"]; symbols && (len(b.Packages) == 0 || b.Packages[0].Bytes == 0) {
		t.Fatalf("symbols but no package breakdown: %+v", b)
	}
}
