// Package dnsx is check-smtp's DNS client: typed MX, A, AAAA, TXT and TLSA
// lookups through the configured resolvers (--dns-server, else
// /etc/resolv.conf), under the caller's deadline, with the DNSSEC AD bit
// reported and judged trustworthy or not (RFC 7672: trusted only from a
// loopback resolver, or with --dns-trust-ad).
//
// Queries carry EDNS0 (UDP size 1232) with the DO bit and RD; they go over
// UDP first and over TCP when the reply is truncated. Servers are tried in
// order: SERVFAIL, REFUSED, any other error rcode, a malformed reply, a
// network error or no answer within the server's share of the deadline move
// on to the next server; NXDOMAIN and NODATA are answers and stop.
//
// A server's share of the deadline is the time left divided by the number of
// servers not yet tried (the last one gets all that is left), so a server that
// never answers cannot eat the whole deadline while others remain, and a
// server that fails fast leaves its share to the next. Without a deadline in
// the context each server gets DefaultServerTimeout. Within its share a UDP
// query is re-sent every second without an answer, as stub resolvers do
// against lost datagrams.
//
// The package has no package-level state and does nothing at init;
// golang.org/x/net/dns/dnsmessage, which reads and writes the messages, only
// makes its error values (6 allocations; miekg/dns, used before, built lookup
// maps: 80). A Client is immutable and safe for concurrent use.
package dnsx

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// DefaultServerTimeout bounds one server's attempt when the context carries
// no deadline, so that a lookup can never hang.
const DefaultServerTimeout = 5 * time.Second

// DefaultResolvConf is read when Config.Servers is empty and
// Config.ResolvConf is not set.
const DefaultResolvConf = "/etc/resolv.conf"

const (
	ednsUDPSize       = 1232 // the DNS flag day 2020 size: no IP fragmentation
	udpResendInterval = time.Second
)

// Config says which resolvers to ask and whose AD bit to believe.
type Config struct {
	// Servers are the resolvers, tried in order: "ADDR" (port 53) or
	// "ADDR:PORT", an IPv6 address bare or in brackets ("::1", "[::1]:53").
	// Empty: the nameserver lines of ResolvConf.
	Servers []string
	// ResolvConf is the resolv.conf path read when Servers is empty;
	// "" means DefaultResolvConf.
	ResolvConf string
	// TrustAD believes the AD bit from every server (--dns-trust-ad).
	TrustAD bool
	// Trusted, if set, replaces the default rule for whose AD bit is
	// believed when TrustAD is false. The default trusts a server on a
	// loopback address only (127.0.0.0/8, ::1): the path to it cannot be
	// tampered with. Tests inject it to show an untrusted server's AD.
	Trusted func(server netip.AddrPort) bool
}

// Client sends the lookups. It is immutable after New and safe for
// concurrent use.
type Client struct {
	servers []netip.AddrPort
	trusted []bool // per server, resolved once in New
	trustAD bool   // every server trusted
	resend  time.Duration
}

// New checks cfg and returns a Client. A server that is not an IP address
// (with an optional port) is an error naming it; so is having no server at
// all.
func New(cfg Config) (*Client, error) {
	var servers []netip.AddrPort
	if len(cfg.Servers) > 0 {
		for _, s := range cfg.Servers {
			ap, err := parseServer(s)
			if err != nil {
				return nil, err
			}
			servers = append(servers, ap)
		}
	} else {
		path := cfg.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		var err error
		if servers, err = readResolvConf(path); err != nil {
			return nil, err
		}
	}
	if len(servers) == 0 {
		return nil, errors.New("dns: no nameserver configured")
	}
	trustedFn := cfg.Trusted
	if trustedFn == nil {
		trustedFn = isLoopback
	}
	c := &Client{servers: servers, trustAD: true, resend: udpResendInterval}
	for _, s := range servers {
		ok := cfg.TrustAD || trustedFn(s)
		c.trusted = append(c.trusted, ok)
		c.trustAD = c.trustAD && ok
	}
	return c, nil
}

func isLoopback(s netip.AddrPort) bool { return s.Addr().Unmap().IsLoopback() }

// TrustsAD reports whether the AD bit of every configured server is
// believed (all on loopback, or Config.TrustAD, or Config.Trusted says so).
func (c *Client) TrustsAD() bool { return c.trustAD }

// Servers returns the resolvers in the order they are tried, as "IP:PORT"
// ("[::1]:53" for IPv6).
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.String()
	}
	return out
}

// parseServer parses a resolver address as given to --dns-server: an IP
// address with an optional port ("192.0.2.1", "192.0.2.1:5353", "::1",
// "[::1]", "[::1]:53", "fe80::1%eth0"); the port defaults to 53. Host names
// are refused: resolving the resolver would need a resolver.
func parseServer(s string) (netip.AddrPort, error) {
	bad := func(why string) (netip.AddrPort, error) {
		return netip.AddrPort{}, fmt.Errorf("dns server %q: %s", s, why)
	}
	if s == "" {
		return bad("empty address")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53), nil
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return bad("not an IPv6 address in brackets")
		}
		return netip.AddrPortFrom(a, 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return bad("not an IP address or IP:PORT (IPv6 with a port as [::1]:53; host names are not accepted)")
	}
	if ap.Port() == 0 {
		return bad("port 0")
	}
	return ap, nil
}
