package testinfra

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address with a free port for a process a
// test starts (which must bind it itself, so the port cannot be held open).
//
// The port is drawn at random from below Linux's ephemeral range
// (32768–60999), not asked of the kernel with port 0: a port-0 answer is an
// ephemeral port, and between the check and the child's bind any outgoing
// connection on the machine — a database or broker client of a test running
// in parallel — may be given it. The child would then fail to bind while
// the other process answered in its place.
func FreeAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port in 20000–31999")
	return ""
}
