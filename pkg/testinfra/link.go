package testinfra

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Link is a TCP proxy between services and a server (toxiproxy, in-process)
// that a test can cut and restore, to play a network failure.
type Link struct {
	t     testing.TB
	proxy *toxiproxy.Proxy
}

// NewLink proxies to the host:port of upstreamURL and returns the link and
// upstreamURL rewritten to go through it. It is removed when the test ends.
func NewLink(t testing.TB, upstreamURL string) (*Link, string) {
	t.Helper()
	u, err := url.Parse(upstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	// Its port must stay free while the link is cut: not an ephemeral one
	// (see FreeAddr).
	p := toxiproxy.NewProxy(server, "link", FreeAddr(t), u.Host)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	u.Host = p.Listen // the address it really listens on
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		t.Fatalf("proxy address %q: %v", p.Listen, err)
	}
	return &Link{t: t, proxy: p}, u.String()
}

// Cut closes every connection through the link and refuses new ones.
func (l *Link) Cut() { l.proxy.Stop() }

// Restore accepts connections again, on the same address.
func (l *Link) Restore() {
	l.t.Helper()
	if err := l.proxy.Start(); err != nil {
		l.t.Fatalf("restore the link: %v", err)
	}
}

// Slow delays everything the upstream sends back by latency (a toxiproxy
// latency toxic), until Fast.
func (l *Link) Slow(latency time.Duration) {
	l.t.Helper()
	toxic := fmt.Sprintf(`{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":%d}}`, latency.Milliseconds())
	if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
		l.t.Fatalf("slow the link: %v", err)
	}
}

// Fast takes the delay of Slow away.
func (l *Link) Fast() {
	l.t.Helper()
	if err := l.proxy.Toxics.RemoveToxic(context.Background(), "slow"); err != nil {
		l.t.Fatalf("speed the link up: %v", err)
	}
}
