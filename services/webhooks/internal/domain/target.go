package domain

import (
	"net/netip"
)

// Addresses a webhook is never sent to, unless private targets are allowed
// (a demo or a test, with WEBHOOK_ALLOW_PRIVATE): a URL finance enters must
// not become a way to reach the service's own network — its database, the
// broker's management API, a cloud's metadata service (169.254.169.254,
// fd00:ec2::254) — from inside (server-side request forgery).
var forbidden = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "'this' network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/3"), "multicast or reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 (an IPv4 address in disguise)"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (private, cloud metadata)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// ForbiddenAddress returns why a webhook may not be sent to ip, or "" if
// it may. An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as
// the IPv4 address it is.
func ForbiddenAddress(ip netip.Addr) string {
	ip = ip.Unmap()
	for _, f := range forbidden {
		if f.prefix.Contains(ip) {
			return ip.String() + " is a " + f.what + " address"
		}
	}
	return ""
}
