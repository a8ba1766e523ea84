package testinfra

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// Listen listens on 127.0.0.1 at a free port drawn at random from below
// Linux's ephemeral range (32768–60999), not asked of the kernel with port
// 0. A port-0 answer is an ephemeral port: once its owner lets it go — a
// child process about to bind it, a test server stopped to simulate an
// outage — any listener or outgoing connection of a test running in
// parallel may be given it, and the test would then reach a stranger in
// its place. Ports below the range are only ever taken by explicit binds.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000)))
		if err == nil {
			return l
		}
	}
	t.Fatal("no free port in 20000–31999")
	return nil
}

// FreeAddr returns an address from Listen, closed again, for a process the
// test starts and that must bind the address itself.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l := Listen(t)
	defer l.Close()
	return l.Addr().String()
}
