package soak

import (
	"cmp"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expenseflow/expenseflow/pkg/invariants"
)

// Service is what a bench reports about one service process: its private
// memory idle, how long its first start took, and what its binary is made
// of.
type Service struct {
	Name    string
	RssAnon int64         // bytes of private (anonymous) memory, idle, before the flows
	Ready   time.Duration // from exec to a ready /readyz on fresh databases (0: unknown)
	Binary  BinarySize
}

// BinarySize is an executable's file size by what it holds.
type BinarySize struct {
	File     int64
	Sections map[string]int64 // code, read-only data, Go's tables, debug info, symbols, other
	Packages []PackageSize    // the biggest contributors of code, by package tree
}

// PackageSize is the code (and read-only data) of one package tree.
type PackageSize struct {
	Name  string
	Bytes int64
}

// services reads, for each service with a <name>.pid in dir, its process's
// RssAnon and the <name>.ready-ms that scripts/soak.sh writes, and sizes the
// binary bin/<name>.
func services(pidDir, binDir string) []Service {
	var out []Service
	for _, name := range invariants.Services {
		s := Service{Name: name}
		if pid, err := os.ReadFile(filepath.Join(pidDir, name+".pid")); err == nil {
			s.RssAnon = rssAnon(strings.TrimSpace(string(pid)))
		}
		if ms, err := os.ReadFile(filepath.Join(pidDir, name+".ready-ms")); err == nil {
			n, _ := strconv.Atoi(strings.TrimSpace(string(ms)))
			s.Ready = time.Duration(n) * time.Millisecond
		}
		s.Binary, _ = sizeOf(filepath.Join(binDir, name))
		out = append(out, s)
	}
	return out
}

// rssAnon is a process's RssAnon from /proc/<pid>/status, in bytes.
func rssAnon(pid string) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// sizeOf breaks an ELF executable down by section kind and its code by
// package tree (the first three path elements of a module path, or the
// standard library's first element).
func sizeOf(path string) (BinarySize, error) {
	st, err := os.Stat(path)
	if err != nil {
		return BinarySize{}, err
	}
	f, err := elf.Open(path)
	if err != nil {
		return BinarySize{}, err
	}
	defer f.Close()
	b := BinarySize{File: st.Size(), Sections: map[string]int64{}}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS {
			continue // not in the file
		}
		b.Sections[sectionKind(s.Name)] += int64(s.FileSize) // compressed DWARF: its size on disk
	}
	syms, err := f.Symbols()
	if err != nil {
		return b, nil // stripped: no breakdown by package
	}
	byPkg := map[string]int64{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC && elf.ST_TYPE(s.Info) != elf.STT_OBJECT {
			continue
		}
		if s.Section >= elf.SectionIndex(len(f.Sections)) || f.Sections[s.Section].Type == elf.SHT_NOBITS {
			continue
		}
		byPkg[packageTree(s.Name)] += int64(s.Size)
	}
	for name, n := range byPkg {
		b.Packages = append(b.Packages, PackageSize{name, n})
	}
	slices.SortFunc(b.Packages, func(x, y PackageSize) int { return cmp.Compare(y.Bytes, x.Bytes) })
	return b, nil
}

func sectionKind(name string) string {
	switch {
	case name == ".text":
		return "code"
	case name == ".rodata" || name == ".typelink" || name == ".itablink":
		return "read-only data"
	case name == ".gopclntab" || name == ".gosymtab":
		return "Go's function tables (stack traces, GC)"
	case strings.HasPrefix(name, ".debug_") || strings.HasPrefix(name, ".zdebug_"):
		return "debug info (DWARF; -ldflags=-w drops it)"
	case name == ".symtab" || name == ".strtab":
		return "symbol table (-ldflags=-s drops it)"
	case name == ".data" || name == ".noptrdata":
		return "initialised data"
	}
	return "other"
}

func packageTree(symbol string) string {
	name := symbol
	if i := strings.IndexAny(name, "("); i > 0 {
		name = name[:i]
	}
	parts := strings.Split(name, "/")
	last := parts[len(parts)-1]
	if i := strings.Index(last, "."); i >= 0 {
		parts[len(parts)-1] = last[:i]
	}
	if !strings.Contains(parts[0], ".") { // the standard library, the runtime, go:…
		name, _, _ := strings.Cut(parts[0], ":")
		return name
	}
	return strings.Join(parts[:min(len(parts), 3)], "/")
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
